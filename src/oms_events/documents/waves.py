"""Pick waves (波次): up to N open shipments of one location, picked in one walk.

A wave takes the location's oldest shipments that have no waybill yet, gives each a
slot (the tote or shelf cell it is sorted into, 1..N, in the order they entered the
wave) and sums what to pick per bin and sku, in bin order: the picker walks the path
once and drops units into slots as the list says. Pure: no database, no Kafka.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from oms_events.documents.bins import BinMap
from oms_events.documents.parcels import Parcel


def wave_id(location: str, at: datetime) -> str:
    """A wave's name: location and the second it was made, e.g. ``W-WH-SH-20261201-143705``."""
    return f"W-{location}-{at:%Y%m%d-%H%M%S}"


@dataclass(frozen=True)
class PickRow:
    """One stop on the pick path: a sku in a bin, how many in all and into which slots."""

    bin: str
    sku: str
    quantity: int
    slots: tuple[tuple[int, int], ...]  # (slot, units), by slot


def pick_rows(parcels: Sequence[Parcel], bins: BinMap) -> list[PickRow]:
    """What to pick for ``parcels`` (slot i+1 is parcels[i]), in bin order."""
    by_stop: dict[tuple[str, str], dict[int, int]] = {}
    for slot, parcel in enumerate(parcels, start=1):
        for line in parcel.lines:
            stop = (bins.bin(parcel.location, line.sku), line.sku)
            slots = by_stop.setdefault(stop, {})
            slots[slot] = slots.get(slot, 0) + line.quantity
    return [
        PickRow(bin_, sku, sum(slots.values()), tuple(sorted(slots.items())))
        for (bin_, sku), slots in sorted(by_stop.items())
    ]
