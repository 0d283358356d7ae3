"""Where each sku sits in a warehouse: its bin, whose name sorts in walking order.

A bin is named ``A07-03-2`` (aisle, bay, level). Pickers walk aisles in order and
each aisle's bays in order, so sorting by the name is the pick path. The bins come
from a CSV file (``OMS_WAREHOUSE_BINS``: ``location,sku,bin`` with a header row), the
export of a warehouse's slotting; a sku the file does not place gets a bin derived
from its name (a CRC-32 of the sku: 20 aisles × 30 bays × 5 levels), the same on
every run and every machine, so documents printed twice agree and a warehouse with no
slotting yet still gets a stable order.
"""

from __future__ import annotations

import csv
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

AISLES, BAYS, LEVELS = 20, 30, 5


def derived_bin(sku: str) -> str:
    """The bin of a sku no slotting places: deterministic from its name."""
    n = zlib.crc32(sku.encode("utf-8"))
    aisle, n = n % AISLES, n // AISLES
    bay, n = n % BAYS, n // BAYS
    return f"A{aisle + 1:02d}-{bay + 1:02d}-{n % LEVELS + 1}"


@dataclass(frozen=True)
class BinMap:
    """The bins of one or more locations: (location, sku) -> bin."""

    bins: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def bin(self, location: str, sku: str) -> str:
        """Where ``sku`` sits at ``location`` (slotted, else derived)."""
        return self.bins.get((location, sku)) or derived_bin(sku)

    @classmethod
    def load(cls, path: Path | None) -> BinMap:
        """Read a ``location,sku,bin`` CSV (None: every bin derived). A row with an empty
        field raises ValueError naming its line."""
        if path is None:
            return cls()
        bins: dict[tuple[str, str], str] = {}
        with path.open(newline="", encoding="utf-8") as f:
            for n, row in enumerate(csv.DictReader(f), start=2):
                location, sku, where = (row.get(k, "").strip() for k in ("location", "sku", "bin"))
                if not (location and sku and where):
                    raise ValueError(
                        f"{path}:{n}: location, sku and bin are required (header: location,sku,bin)"
                    )
                bins[(location, sku)] = where
        return cls(bins)
