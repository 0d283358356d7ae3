"""What each order came to, folded from its events; and the stock-outs of a window.

Pure: the same fold reads the live history and the fork, so the two sides of a
what-if are judged by one rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

# The order's last decision names its status; shipping and later events leave it.
STATUS_OF = {
    "OrderPlaced": "pending",
    "OrderConfirmed": "confirmed",
    "OrderAllocated": "confirmed",
    "PreOrdered": "backorder",
    "OrderRejected": "rejected",
    "OrderCancelled": "cancelled",
}
STATUSES = ("confirmed", "rejected", "cancelled", "backorder", "pending")


class Event(Protocol):
    """What the fold reads of an event (``eventlog.EventRecord`` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def originator_id(self) -> UUID: ...

    @property
    def payload(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class OrderOutcome:
    """What one order came to: its status, and the locations it ships from."""

    order_id: str
    channel: str
    province: str | None  # ship-to
    speed: str  # delivery speed promised
    status: str  # one of STATUSES
    locations: tuple[str, ...] = ()  # one per shipment (a location may repeat), sorted
    backordered: bool = False  # it waited for stock (PreOrdered) at some point


def order_outcomes(
    events: Iterable[Event], orders: Iterable[str] | None = None
) -> dict[str, OrderOutcome]:
    """Order id -> outcome, folding order events in log order (only ``orders`` when
    given). An order whose OrderPlaced is not among the events is left out."""
    wanted = None if orders is None else set(orders)
    found: dict[str, dict[str, Any]] = {}
    for e in events:
        order_id = str(e.originator_id)
        if wanted is not None and order_id not in wanted:
            continue
        p = e.payload
        if e.name == "OrderPlaced":
            found[order_id] = {
                "channel": p["channel"],
                "province": (p.get("address") or {}).get("province"),
                "speed": p.get("delivery_speed") or "standard",
                "status": "pending",
                "locations": (),
                "backordered": False,
            }
            continue
        state = found.get(order_id)
        if state is None:
            continue
        if e.name == "AddressChanged":
            state["province"] = (p.get("address") or {}).get("province")
        if e.name == "OrderAllocated":
            state["locations"] = tuple(sorted({a["location"] for a in p["allocations"]}))
        if e.name == "BackorderAllocated":  # backordered lines: a parcel of their own
            state["locations"] = tuple(sorted((*state["locations"], p["location"])))
        if e.name == "PreOrdered":
            state["backordered"] = True
        if e.name in STATUS_OF:
            state["status"] = STATUS_OF[e.name]
    return {
        order_id: OrderOutcome(
            order_id,
            s["channel"],
            s["province"],
            s["speed"],
            s["status"],
            s["locations"] if s["status"] == "confirmed" else (),
            s["backordered"],
        )
        for order_id, s in sorted(found.items())
    }


@dataclass(frozen=True)
class StockSample:
    """An inventory item (sku at location) right after one of its events."""

    sku: str
    location: str
    event: str  # the event's name
    available: int  # on hand - reserved, after it


def stock_outs(samples: Iterable[StockSample], opening: Mapping[tuple[str, str], int]) -> int:
    """Items (sku at location) that ran out in the window: a reservation left none
    available, or one was refused for lack of units. ``opening`` (available at the
    window's start) leaves out items that had none to begin with and were never
    restocked, which no sourcing rule could have kept in stock."""
    out: set[tuple[str, str]] = set()
    for s in samples:
        item = (s.sku, s.location)
        refused = s.event == "ReservationRejected" and opening.get(item, 0) > 0
        if refused or (s.event == "StockReserved" and s.available <= 0):
            out.add(item)
    return len(out)
