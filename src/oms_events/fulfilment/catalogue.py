"""Sku sizes and weights (``OMS_FULFILMENT_SKUS``), for box and carrier choice.

A CSV with a header row ``sku,length_mm,width_mm,height_mm,weight_g``. A sku the file
does not list gets :data:`UNKNOWN` (a 20 cm cube of 1 kg): generous, so a parcel is
never put in too small a box or given to a carrier that cannot take it by guesswork.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

COLUMNS = ("sku", "length_mm", "width_mm", "height_mm", "weight_g")


@dataclass(frozen=True)
class SkuSize:
    """One unit of a sku: its sides in mm and its weight in g."""

    length_mm: int
    width_mm: int
    height_mm: int
    weight_g: int

    @property
    def dims(self) -> tuple[int, int, int]:
        """Sides, longest first."""
        a, b, c = sorted((self.length_mm, self.width_mm, self.height_mm), reverse=True)
        return a, b, c

    @property
    def volume(self) -> int:
        """Volume in mm³."""
        return self.length_mm * self.width_mm * self.height_mm


UNKNOWN = SkuSize(200, 200, 200, 1000)


@dataclass(frozen=True)
class Catalogue:
    """Sizes by sku."""

    sizes: dict[str, SkuSize]

    def size(self, sku: str) -> SkuSize:
        """The size of ``sku``, :data:`UNKNOWN` when not listed."""
        return self.sizes.get(sku, UNKNOWN)

    @classmethod
    def load(cls, path: Path | None) -> Catalogue:
        """Read the CSV at ``path`` (None: an empty catalogue); ValueError names the row
        and column at fault."""
        if path is None:
            return cls({})
        sizes: dict[str, SkuSize] = {}
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            if tuple(reader.fieldnames or ()) != COLUMNS:
                raise ValueError(f"{path}: the header must be {','.join(COLUMNS)}")
            for n, row in enumerate(reader, start=2):
                values = []
                for column in COLUMNS[1:]:
                    text = (row.get(column) or "").strip()
                    if not text.isdigit() or int(text) <= 0:
                        raise ValueError(
                            f"{path} line {n}: {column} {text!r} is not a whole number above 0"
                        )
                    values.append(int(text))
                sizes[row["sku"].strip()] = SkuSize(*values)
        return cls(sizes)
