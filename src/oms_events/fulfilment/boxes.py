"""Box choice (装箱): a parcel's units into cartons of the catalogue.

First-fit decreasing by volume under a weight limit: units largest first, each into
the first open box where its sides fit the box's sides (both sorted, so a unit may be
turned), the volume left holds it and the weight stays within the box's limit; else a
new box, the largest of the catalogue the unit fits in (fewest boxes). Afterwards each
box is swapped for the smallest one that holds the same content by volume and weight. Volume
is a bound, not a layout: the packer at the bench has the last word, and FFD stays
within 11/9 of the fewest boxes by volume, good enough to print on a pack list.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from oms_events.fulfilment.catalogue import Catalogue, SkuSize
from oms_events.fulfilment.rules import Box


class Unpackable(ValueError):
    """A unit fits no box of the catalogue (too long or too heavy)."""


@dataclass
class Packed:
    """One box and the units (skus) in it."""

    box: Box
    skus: list[str]
    volume: int = 0
    weight_g: int = 0

    def takes(self, size: SkuSize) -> bool:
        """Whether a unit of ``size`` fits in what is left."""
        return (
            fits(size, self.box)
            and self.volume + size.volume <= self.box.volume
            and self.weight_g + size.weight_g <= self.box.max_weight_g
        )

    def add(self, sku: str, size: SkuSize) -> None:
        """Put one unit in."""
        self.skus.append(sku)
        self.volume += size.volume
        self.weight_g += size.weight_g


def fits(size: SkuSize, box: Box) -> bool:
    """A unit fits a box when each of its sides fits the box's side of the same rank."""
    return all(u <= b for u, b in zip(size.dims, box.dims, strict=True))


def pack(
    lines: Iterable[tuple[str, int]], catalogue: Catalogue, boxes: Sequence[Box]
) -> list[Packed]:
    """The boxes for ``lines`` ((sku, quantity)), with the units in each.

    Raises Unpackable naming the sku when a unit fits no box at all.
    """
    by_size = sorted(boxes, key=lambda b: (b.volume, b.max_weight_g, b.id))
    units = sorted(
        (sku for sku, quantity in lines for _ in range(quantity)),
        key=lambda sku: (-catalogue.size(sku).volume, -catalogue.size(sku).weight_g, sku),
    )
    packed: list[Packed] = []
    for sku in units:
        size = catalogue.size(sku)
        home = next((p for p in packed if p.takes(size)), None)
        if home is None:
            # The largest box it fits takes the most of what follows; it shrinks below.
            box = next(
                (b for b in reversed(by_size) if fits(size, b) and size.weight_g <= b.max_weight_g),
                None,
            )
            if box is None:
                raise Unpackable(
                    f"sku {sku} ({'x'.join(map(str, size.dims))} mm, {size.weight_g} g) fits no "
                    "box; add a larger [[boxes]] entry or correct its size in OMS_FULFILMENT_SKUS"
                )
            home = Packed(box, [])
            packed.append(home)
        home.add(sku, size)
    for p in packed:
        # A smaller box may hold what ended up in a large one.
        for box in by_size:
            trial = Packed(box, [])
            if all(_put(trial, sku, catalogue.size(sku)) for sku in p.skus):
                p.box = box
                break
    return packed


def _put(p: Packed, sku: str, size: SkuSize) -> bool:
    if not p.takes(size):
        return False
    p.add(sku, size)
    return True
