"""The waybill number formats of the carriers we print labels for.

A carrier's e-waybill service hands out numbers from its own ranges; what we can know
of them is the shape. The shapes below are those the platforms' own validators and
public tracking-number parsers check (read with the ``search`` tool, Dec 2026):

* SF Express (顺丰): 12 digits on the older paper waybills; e-waybills since ~2019
  are ``SF`` + 13 digits (15 characters), the form the carriers' parsers match as
  ``SF`` followed by digits (e.g. packagex/vision-sdk's SF courier pattern).
* ZTO (中通): 12 digits with a range prefix — Taobao Assistant's ZTO validator lists
  prefixes such as 7518, 738, 757, 768, 778 — and 14-digit ``75``/``78`` numbers on
  newer e-waybills (vision-sdk: ``758`` + 11 digits).
* YTO (圆通): ``YT`` + digits, 13 on current e-waybills (parsers accept 8-20).
* STO (申通): 12 or 13 digits (Taobao Assistant's STO validator: 268/368/…/968 heads
  + 9 or 10 digits); current e-waybills are 13 digits beginning ``77``.
* JD Logistics (京东): ``JD`` + 13 upper-case letters or digits (JDVA…, JDVB…,
  JDVC… + 11 digits).

None of these five carriers documents a check digit for its domestic numbers (the
validators above check the shape only; Longbang's mod-7 digit is the exception among
Chinese carriers, and we do not ship with Longbang), so :func:`is_valid` checks the
shape and no number here carries a made-up one. Uniqueness is the issuer's job: a
serial per carrier, never reused (see ``issuer.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class WaybillFormat:
    """How one carrier's numbers look: what we issue (``head`` + ``serial_digits``
    zero-padded digits) and what we accept (``accepted``, the carrier's known shapes)."""

    carrier: str
    name_zh: str
    name_en: str
    head: str
    serial_digits: int
    accepted: re.Pattern[str]

    def make(self, serial: int) -> str:
        """The waybill number of ``serial`` (0 <= serial < 10**serial_digits)."""
        if not 0 <= serial < 10**self.serial_digits:
            raise ValueError(f"{self.carrier} serial {serial} is out of its range")
        return f"{self.head}{serial:0{self.serial_digits}d}"

    def is_valid(self, number: str) -> bool:
        """Whether ``number`` has one of this carrier's shapes."""
        return self.accepted.fullmatch(number) is not None


FORMATS: dict[str, WaybillFormat] = {
    f.carrier: f
    for f in (
        # SF + 13 digits; the older 12-digit numbers are still accepted.
        WaybillFormat("SF", "顺丰速运", "SF Express", "SF1", 12, re.compile(r"SF\d{13}|\d{12}")),
        # 12 digits from the 75 range (newer 14-digit 75/78 numbers are accepted).
        WaybillFormat(
            "ZTO", "中通快递", "ZTO Express", "75", 10, re.compile(r"7[358]\d{10}|7[58]\d{12}")
        ),
        WaybillFormat("YTO", "圆通速递", "YTO Express", "YT7", 12, re.compile(r"YT\d{13}")),
        # 13 digits from 77; the older 268/…/968 ranges are accepted.
        WaybillFormat(
            "STO",
            "申通快递",
            "STO Express",
            "77",
            11,
            re.compile(r"77\d{11}|[2-9]68\d{9,10}|888\d{9,10}"),
        ),
        WaybillFormat("JD", "京东物流", "JD Logistics", "JDVA", 11, re.compile(r"JD[0-9A-Z]{13}")),
    )
}


def waybill_format(carrier: str) -> WaybillFormat:
    """The format of ``carrier`` (a code: SF, ZTO, YTO, STO, JD); ValueError names the
    known ones."""
    try:
        return FORMATS[carrier]
    except KeyError:
        raise ValueError(f"unknown carrier {carrier!r}; known: {', '.join(FORMATS)}") from None
