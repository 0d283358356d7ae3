"""Sourcing: which location should serve an order line.

The rule today: a location already serving another line of the order when the view
sees enough there (one parcel, one allocation and one shipment fewer), else the
location with the most units available, as a local view of the inventory events
shows it. The view lags the inventory by a transaction or
two, which is fine: it only proposes, and the InventoryItem accepts or rejects.
With a rules file (``OMS_FULFILMENT_RULES``) the saga asks
``oms_events.fulfilment.sourcing_plan`` instead (priority, distance, cost, pickup,
drop-ship); this view is its stock either way. No Kafka here:
``stock_watcher.StockWatcher`` feeds the view from the inventory events.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from oms_events import eventlog

# How each inventory event moves (on hand, reserved).
_ON_HAND = {
    "StockReceived": 1,
    "StockRestocked": 1,
    "TransferReceived": 1,
    "ReservationCommitted": -1,
    "TransferDispatched": -1,
}
# Events carrying a signed on-hand ``delta``.
_DELTA = frozenset({"StockAdjusted", "StockCounted"})
# Every event StockView.apply folds; the stock watcher skips the rest (rejections,
# low-stock alerts) by their ``event`` header, without decoding them.
FOLDED = frozenset({*_ON_HAND, *_DELTA, "ItemRegistered", "StockReserved", "ReservationReleased"})


@dataclass
class StockView:
    """Available units per sku and location, folded from inventory events."""

    on_hand: dict[tuple[str, str], int] = field(default_factory=dict)
    reserved: dict[tuple[str, str], int] = field(default_factory=dict)
    locations: dict[str, set[str]] = field(default_factory=dict)  # sku -> locations
    # sku -> receipts seen (StockReceived, StockRestocked): pre-orders wait for a change
    arrivals: dict[str, int] = field(default_factory=dict)
    _items: dict[str, tuple[str, str]] = field(default_factory=dict)  # item id -> (sku, loc)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def apply(self, record: eventlog.EventRecord) -> None:
        """Fold one inventory event."""
        p = record.payload
        item_id = str(record.originator_id)
        with self.lock:
            if record.name == "ItemRegistered":
                key = (p["sku"], p["location"])
                self._items[item_id] = key
                self.locations.setdefault(key[0], set()).add(key[1])
                self.on_hand.setdefault(key, 0)
                self.reserved.setdefault(key, 0)
                return
            found = self._items.get(item_id)
            if found is None:
                return
            if record.name in _ON_HAND:
                self.on_hand[found] += _ON_HAND[record.name] * p["quantity"]
                if _ON_HAND[record.name] > 0:
                    self.arrivals[found[0]] = self.arrivals.get(found[0], 0) + 1
            elif record.name in _DELTA:
                self.on_hand[found] += p["delta"]
            if record.name == "StockReserved":
                self.reserved[found] += p["quantity"]
            elif record.name in ("ReservationReleased", "ReservationCommitted"):
                self.reserved[found] -= p["quantity"]

    def available(self, sku: str, location: str) -> int:
        """Units the view believes can be reserved."""
        key = (sku, location)
        return self.on_hand.get(key, 0) - self.reserved.get(key, 0)

    def holders(self, sku: str) -> set[str]:
        """Locations that stock ``sku`` (sourcing rules rank them)."""
        with self.lock:
            return set(self.locations.get(sku, ()))

    def arrived(self, sku: str) -> int:
        """How many receipts of ``sku`` the view has seen, at any location."""
        return self.arrivals.get(sku, 0)

    def note(self, sku: str, location: str, available: int) -> None:
        """Take a fresher figure from a reservation answer until the events catch up."""
        key = (sku, location)
        with self.lock:
            if key in self.on_hand:
                self.on_hand[key] = available + self.reserved[key]

    def choose(
        self,
        sku: str,
        quantity: int,
        tried: Iterable[str] = (),
        prefer: Iterable[str] = (),
    ) -> str | None:
        """The location to ask for ``quantity`` of ``sku``, or None.

        A location in ``prefer`` (those serving the order's other lines) where the
        view sees enough comes first. Otherwise, first ask (nothing tried): the
        location with the most available, even if the view thinks it is short,
        because only the inventory may say no. A retry only goes where the view sees
        enough, so a shortage ends quickly.
        """
        skip = set(tried)
        with self.lock:
            candidates = sorted(
                (loc for loc in self.locations.get(sku, ()) if loc not in skip),
                key=lambda loc: (-self.available(sku, loc), loc),
            )
        if not candidates:
            return None
        preferred = set(prefer)
        for loc in candidates:
            if loc in preferred and self.available(sku, loc) >= quantity:
                return loc
        best = candidates[0]
        if skip and self.available(sku, best) < quantity:
            return None
        return best

    def choose_with(
        self, sku: str, quantity: int, promised: dict[tuple[str, str], int]
    ) -> str | None:
        """The location with the most units left after ``promised``, if enough for
        ``quantity``; None when the view sees no location that could serve it."""
        with self.lock:
            left = {
                loc: self.available(sku, loc) - promised.get((sku, loc), 0)
                for loc in self.locations.get(sku, ())
            }
        best = min(left, key=lambda loc: (-left[loc], loc), default=None)
        return best if best is not None and left[best] >= quantity else None


class PromisedView:
    """A stock view less what one round of pre-order retries has asked for already
    (``promised``, per (sku, location)), so the rules' plan sends a later pre-order
    only where units are still left."""

    def __init__(self, stock: StockView, promised: dict[tuple[str, str], int]) -> None:
        self.stock = stock
        self.promised = promised

    def available(self, sku: str, location: str) -> int:
        """Units the view believes reservable, less those promised this round."""
        return self.stock.available(sku, location) - self.promised.get((sku, location), 0)

    def holders(self, sku: str) -> set[str]:
        """Locations that stock ``sku``."""
        return self.stock.holders(sku)
