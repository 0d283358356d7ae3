"""Scan-to-verify packing (验货): the units scanned against what the parcel should hold.

The packer scans every unit's barcode (the sku, as printed on the unit's label); the
parcel is packed only when the scans are exactly its lines: no sku it does not hold,
none too many, none missing. Each mismatch has a message in Chinese and English.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

Kind = Literal["unknown", "over", "short"]


@dataclass(frozen=True)
class Mismatch:
    """One sku whose scans differ from the parcel."""

    kind: Kind  # unknown: not in the parcel; over: too many; short: missing units
    sku: str
    expected: int
    scanned: int

    def message(self, language: str = "en") -> str:
        """The mismatch in ``language`` (``zh`` or ``en``)."""
        gap = abs(self.scanned - self.expected)
        if language.startswith("zh"):
            return {
                "unknown": f"{self.sku} 不属于此包裹（扫了 {self.scanned} 件），请取出",
                "over": f"{self.sku} 多扫 {gap} 件：应 {self.expected} 件，扫了 {self.scanned} 件",
                "short": f"{self.sku} 少 {gap} 件：应 {self.expected} 件，扫了 {self.scanned} 件",
            }[self.kind]
        return {
            "unknown": f"{self.sku} is not in this parcel ({self.scanned} scanned): take it out",
            "over": f"{self.sku}: {self.scanned} scanned, {self.expected} expected "
            f"({gap} too many)",
            "short": f"{self.sku}: {self.scanned} scanned, {self.expected} expected "
            f"({gap} missing)",
        }[self.kind]


def read_scans(lines: Iterable[str]) -> list[str]:
    """Barcodes from a scanner's lines (one per line; blanks and spaces ignored)."""
    return [s.strip() for s in lines if s.strip()]


def check(expected: Mapping[str, int], scans: Iterable[str]) -> list[Mismatch]:
    """The mismatches between the parcel's units per sku and the scans; empty: a match.

    Unknown skus first (the unit in the packer's hand is wrong), then too many, then
    missing, each by sku.
    """
    scanned = Counter(scans)
    found: list[Mismatch] = []
    for sku in sorted(scanned.keys() - expected.keys()):
        found.append(Mismatch("unknown", sku, 0, scanned[sku]))
    for sku in sorted(expected):
        want, got = expected[sku], scanned.get(sku, 0)
        if got > want:
            found.append(Mismatch("over", sku, want, got))
    for sku in sorted(expected):
        want, got = expected[sku], scanned.get(sku, 0)
        if got < want:
            found.append(Mismatch("short", sku, want, got))
    return found
