"""The rules of returns (RMA): which reasons exist, how long the customer may return,
what may not come back without a fault, and which requests need no operator.

The settings' ``returns`` section builds one :class:`ReturnPolicy`; the engine asks it
when a return opens (``decide``) and when an order may complete (``window``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from oms_events.domain.errors import UnknownReturnReason

# Reason code -> (zh label, en label): the reasons customer service picks from.
REASONS: dict[str, tuple[str, str]] = {
    "no_reason_7d": ("七天无理由", "7-day no-reason return"),
    "quality": ("质量问题", "Quality problem"),
    "wrong_item": ("发错货", "Wrong item sent"),
    "missing": ("少件", "Items missing"),
    "damaged": ("破损", "Arrived damaged"),
    "not_as_described": ("与描述不符", "Not as described"),
}


class Verdict(StrEnum):
    """What the rules say about a new return."""

    APPROVE = "approve"  # no operator needed
    REJECT = "reject"  # the rules refuse it (window closed, sku not returnable)
    REVIEW = "review"  # an operator decides


@dataclass(frozen=True)
class Decision:
    """A verdict and why (a reason code of :mod:`oms_events.domain.errors` style)."""

    verdict: Verdict
    why: str


@dataclass(frozen=True)
class ReturnPolicy:
    """The return rules in force; every field comes from the ``returns`` settings."""

    window: timedelta = timedelta(days=7)
    reasons: Mapping[str, tuple[str, str]] = field(default_factory=lambda: dict(REASONS))
    # Reasons that are the customer's choice, not a fault: refused for non-returnable skus.
    no_fault_reasons: frozenset[str] = frozenset({"no_reason_7d"})
    non_returnable: frozenset[str] = frozenset()
    auto_approve_reasons: frozenset[str] = frozenset(
        {"quality", "wrong_item", "missing", "damaged"}
    )
    auto_approve_limit: int = 50_000  # minor units the returned lines may be worth
    parcel_due: timedelta = timedelta(days=7)  # approved -> the parcel is expected within

    def check_reason(self, code: str) -> None:
        """Raise UnknownReturnReason unless ``code`` is a configured reason."""
        if code not in self.reasons:
            raise UnknownReturnReason(reason=code, known=", ".join(sorted(self.reasons)))

    def label(self, code: str, language: str = "en") -> str:
        """The reason's label in ``language`` (zh or en); the code when unknown."""
        zh, en = self.reasons.get(code, (code, code))
        return zh if language.startswith("zh") else en

    def decide(
        self,
        *,
        reason: str,
        skus: Iterable[str],
        worth: int,
        requested_at: datetime,
        delivered_at: datetime | None,
    ) -> Decision:
        """Approve, reject or leave to an operator a return of ``skus`` for ``reason``,
        worth ``worth`` minor units, asked at ``requested_at`` of an order delivered at
        ``delivered_at`` (None: not delivered yet, so the window has not started)."""
        if delivered_at is not None and requested_at > delivered_at + self.window:
            return Decision(Verdict.REJECT, "return.window_closed")
        if reason in self.no_fault_reasons and any(s in self.non_returnable for s in skus):
            return Decision(Verdict.REJECT, "return.sku_not_returnable")
        if reason in self.auto_approve_reasons and worth <= self.auto_approve_limit:
            return Decision(Verdict.APPROVE, "rules")
        return Decision(Verdict.REVIEW, "operator")
