"""Money: an integer amount of minor units (fen, cents) in one ISO 4217 currency.

Integers, never floats or Decimals, so totals add up exactly and every amount
encodes as an Avro ``long``. How many minor units a currency has comes from the ISO
4217 maintenance agency's table (the ``iso4217`` package), not from a list of our
own: KRW and JPY have none, BHD and KWD have three.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from iso4217 import Currency

from oms_events.domain.errors import AmountOverLimit, CurrencyMismatch, InvalidMoney
from oms_events.domain.limits import MAX_AMOUNT

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_SEEN: set[str] = set()  # currencies that passed _CURRENCY and minor_units


@lru_cache(maxsize=512)  # asked for every amount read at intake and every amount printed
def minor_units(currency: str) -> int:
    """The ISO 4217 exponent of ``currency``: CNY 2, JPY and KRW 0, BHD 3.

    Raises InvalidMoney for a code the table does not list and for the codes that are
    no money one can pay with (gold, SDR, the test code XTS: the table gives them none).
    """
    try:
        exponent = Currency(currency).exponent if _CURRENCY.match(currency) else None
    except ValueError:
        exponent = None
    if exponent is None:
        raise InvalidMoney(value=repr(currency))
    return exponent


def is_currency(code: str) -> bool:
    """True for an ISO 4217 code of a currency one can pay with."""
    try:
        minor_units(code)
    except InvalidMoney:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units of ``currency`` (``Money(1999, "CNY")`` is ¥19.99)."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        # The common case first: a plain int in a currency already seen (Money is built
        # dozens of times per order, and the regex was most of its cost).
        if (
            type(self.amount) is int
            and -MAX_AMOUNT <= self.amount <= MAX_AMOUNT
            and type(self.currency) is str
            and self.currency in _SEEN
        ):
            return
        # bool is an int subclass; True yuan is a bug, not money.
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise InvalidMoney(value=repr(self.amount))
        AmountOverLimit.check(self.amount)
        if not isinstance(self.currency, str):
            raise InvalidMoney(value=repr(self.currency))
        minor_units(self.currency)  # an ISO 4217 currency, or InvalidMoney
        _SEEN.add(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Nothing, in ``currency``."""
        return cls(0, currency)

    @classmethod
    def sum(cls, amounts: Iterable[Money], currency: str) -> Money:
        """Add up ``amounts``; the empty sum is zero in ``currency``."""
        # Sums plain ints and builds one Money: order totals are on the engine's hot path.
        total = cls.zero(currency)
        cents = 0
        for amount in amounts:
            total._same_currency(amount)
            cents += amount.amount
        return cls(cents, currency)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Money:
        """Build from the event form ``{"amount": int, "currency": str}``."""
        return cls(data["amount"], data["currency"])

    def to_dict(self) -> dict[str, Any]:
        """The event form ``{"amount": int, "currency": str}``."""
        return {"amount": self.amount, "currency": self.currency}

    def _same_currency(self, other: Money) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatch(left=self.currency, right=other.currency)

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __mul__(self, factor: int) -> Money:
        if not isinstance(factor, int) or isinstance(factor, bool):
            return NotImplemented
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount >= other.amount

    @property
    def is_zero(self) -> bool:
        """True when the amount is exactly zero."""
        return self.amount == 0

    @property
    def is_negative(self) -> bool:
        """True when the amount is below zero."""
        return self.amount < 0

    def allocate(self, weights: Sequence[int]) -> tuple[Money, ...]:
        """Split into parts proportional to ``weights`` that add up exactly.

        Largest-remainder method: each part is floored, and the minor units
        left over go one each to the parts with the largest remainders (ties to
        the earlier part), so no fen is created or lost.
        """
        if not weights or any(w < 0 for w in weights) or sum(weights) == 0:
            raise InvalidMoney(value=f"weights {list(weights)!r}")
        total_weight = sum(weights)
        sign = -1 if self.amount < 0 else 1
        magnitude = abs(self.amount)
        floors = [magnitude * w // total_weight for w in weights]
        remainders = [magnitude * w % total_weight for w in weights]
        left_over = magnitude - sum(floors)
        order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
        for i in order[:left_over]:
            floors[i] += 1
        return tuple(Money(sign * part, self.currency) for part in floors)

    def prorate(self, part: int, whole: int) -> Money:
        """The share ``part / whole`` of this amount, rounded down to a minor unit.

        ``prorate(whole, whole)`` is exactly this amount, so a full return
        refunds exactly what was paid for the line.
        """
        if whole <= 0 or part < 0 or part > whole:
            raise InvalidMoney(value=f"{part}/{whole}")
        share = abs(self.amount) * part // whole
        return Money(-share if self.amount < 0 else share, self.currency)

    def decimal_text(self) -> str:
        """The amount in major units with the currency's own decimals: ``"19.99"``,
        ``"1200"`` for 1200 JPY, ``"1.250"`` for 1250 BHD."""
        return decimal_text(self.amount, self.currency)

    def __str__(self) -> str:
        return f"{self.decimal_text()} {self.currency}"


def decimal_text(amount: int, currency: str) -> str:
    """``amount`` minor units of ``currency`` written in major units (``-12.50``)."""
    exponent = minor_units(currency)
    sign = "-" if amount < 0 else ""
    if exponent == 0:
        return f"{sign}{abs(amount)}"
    units, minor = divmod(abs(amount), 10**exponent)
    return f"{sign}{units}.{minor:0{exponent}d}"
