"""The full-life audit: after a simulation, do the books balance and did every order end?

It folds the committed events itself — never through the aggregates, whose code is
what is being checked — and says what is wrong:

* stock, per (sku, location): received + restocked + adjusted (found, written off,
  counted) + transferred in − out − shipped, summed from the inventory events, must
  equal on hand in the projection
  (``inventory_level``), which must also agree on reserved; available (on hand −
  reserved) never below zero after any event;
* what the inventory committed (ReservationCommitted) equals what the shipments shipped
  (their lines, once ShipmentShipped): the two aggregates agree on what left;
* every order (of a simulation run: ``order_no`` prefix) in a terminal state — completed,
  cancelled, rejected, returned (a refunded return), or returned_to_sender (every parcel
  came back undelivered); the others are listed by status.

``oms check life`` prints it; the integration test of the full life asserts it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from oms_events import eventlog, topics
from oms_events.avro.codec import Codec
from oms_events.kafka.connection import read_to_end
from oms_events.settings import Settings

Item = tuple[str, str]  # (sku, location)

TERMINAL = frozenset({"completed", "cancelled", "rejected", "returned", "returned_to_sender"})

# The order event that puts an order in a status (the order aggregate's own words).
ORDER_STATUS = {
    "OrderPlaced": "pending",
    "PreOrdered": "pre_order",
    "OrderHeld": "on_hold",
    "OrderConfirmed": "confirmed",
    "LinesReserved": "pending",
    "OrderAllocated": "allocated",
    "LineShipped": "partially_shipped",
    "LinesShipped": "partially_shipped",
    "OrderShipped": "shipped",
    "OrderDelivered": "delivered",
    "OrderCompleted": "completed",
    "OrderCancelled": "cancelled",
    "OrderRejected": "rejected",
    "OrderReturnedToSender": "returned_to_sender",
}


@dataclass
class StockBook:
    """One (sku, location)'s movements, summed from its events."""

    received: int = 0
    restocked: int = 0  # returned goods back on hand (returns, returned parcels)
    adjusted: int = 0  # net of StockAdjusted and StockCounted: found (+), written off (−)
    written_off: int = 0  # the negative adjustments, as a positive number
    transferred_in: int = 0  # TransferReceived
    transferred_out: int = 0  # TransferDispatched
    shipped: int = 0  # ReservationCommitted, ReleasedStockShipped
    reserved: int = 0
    on_hand: int = 0  # applied event by event, to see available never goes negative
    went_negative: int = 0  # events after which available was below zero

    @property
    def balance(self) -> int:
        """received + restocked + adjusted + transferred in − out − shipped: what on hand
        must be."""
        moved = self.transferred_in - self.transferred_out
        return self.received + self.restocked + self.adjusted + moved - self.shipped

    @property
    def available(self) -> int:
        """on hand − reserved."""
        return self.on_hand - self.reserved


@dataclass
class Audit:
    """What the audit found; ``problems`` empty means the books balance."""

    stock: dict[Item, StockBook] = field(default_factory=dict)
    orders: dict[str, str] = field(default_factory=dict)  # order id -> status
    numbers: dict[str, str] = field(default_factory=dict)  # order id -> order number
    problems: list[str] = field(default_factory=list)

    def open_orders(self) -> Counter[str]:
        """Orders not in a terminal state, counted by status."""
        return Counter(s for s in self.orders.values() if s not in TERMINAL)

    def by_status(self) -> Counter[str]:
        """Every audited order, counted by status."""
        return Counter(self.orders.values())


def read_events(
    settings: Settings, codec: Codec, aggregate_type: str
) -> list[eventlog.EventRecord]:
    """Every committed event of ``aggregate_type``, up to the end offsets of now."""
    log = eventlog.EventLog(codec, settings=settings)
    topic = topics.name(settings, topics.events(aggregate_type))
    return [log.record(r) for r in read_to_end(settings, topic)]


# Inventory events that move no stock: the fold has nothing to add for them.
STILL = frozenset(
    {"ItemRegistered", "LowStock", "StockReplenished", "ThresholdSet", "ReservationRejected"}
) | {"TransferExpected"}  # in transit to the item: not on hand until received
MOVING = frozenset(
    {
        "StockReceived",
        "StockRestocked",
        "StockAdjusted",
        "StockCounted",
        "TransferDispatched",
        "TransferReceived",
        "StockReserved",
        "ReservationReleased",
        "ReservationCommitted",
        "ReleasedStockShipped",
    }
)


def fold_stock(
    events: Iterable[eventlog.EventRecord], unknown: set[str] | None = None
) -> dict[Item, StockBook]:
    """Sum the inventory events per (sku, location); the names of events the fold does
    not know are added to ``unknown`` (they might move stock it cannot see)."""
    items: dict[str, Item] = {}
    books: dict[Item, StockBook] = defaultdict(StockBook)
    for e in events:
        item_id, p = str(e.originator_id), e.payload
        if e.name == "ItemRegistered":
            items[item_id] = (p["sku"], p["location"])
        elif e.name not in MOVING and e.name not in STILL and unknown is not None:
            unknown.add(e.name)
        key = items.get(item_id)
        if key is None:
            continue  # an item registered before the log's start: nothing to balance
        book = books[key]
        if e.name == "StockReceived":
            book.received += p["quantity"]
            book.on_hand += p["quantity"]
        elif e.name == "StockRestocked":
            book.restocked += p["quantity"]
            book.on_hand += p["quantity"]
        elif e.name in ("StockAdjusted", "StockCounted"):
            book.adjusted += p["delta"]
            book.written_off += max(0, -p["delta"])
            book.on_hand += p["delta"]
        elif e.name == "TransferDispatched":
            book.transferred_out += p["quantity"]
            book.on_hand -= p["quantity"]
        elif e.name == "TransferReceived":
            book.transferred_in += p["quantity"]
            book.on_hand += p["quantity"]
        elif e.name == "ReleasedStockShipped":  # a cancelled order's parcel left anyway
            book.shipped += p["quantity"]
            book.on_hand -= p["quantity"]
        elif e.name == "StockReserved":
            book.reserved += p["quantity"]
        elif e.name == "ReservationReleased":
            book.reserved -= p["quantity"]
        elif e.name == "ReservationCommitted":
            book.reserved -= p["quantity"]
            book.shipped += p["quantity"]
            book.on_hand -= p["quantity"]
        if book.available < 0 or book.reserved < 0:
            book.went_negative += 1
    return dict(books)


def shipped_by_shipments(events: Iterable[eventlog.EventRecord]) -> Counter[Item]:
    """Units that left per (sku, location), from the shipments: the lines of every
    shipment once it shipped."""
    lines: dict[str, tuple[str, list[dict[str, Any]]]] = {}
    left: Counter[Item] = Counter()
    for e in events:
        if e.name == "ShipmentCreated":
            lines[str(e.originator_id)] = (e.payload["location"], e.payload["lines"])
        elif e.name == "ShipmentShipped" and str(e.originator_id) in lines:
            location, shipped = lines.pop(str(e.originator_id))
            for line in shipped:
                left[(line["sku"], location)] += line["quantity"]
    return left


def order_statuses(
    orders: Iterable[eventlog.EventRecord],
    returns: Iterable[eventlog.EventRecord] = (),
    order_no_prefix: str = "",
    numbers: dict[str, str] | None = None,
) -> dict[str, str]:
    """Each order's status from its events (and ``returned`` once a return of it is
    refunded), for the orders whose number starts with ``order_no_prefix``; their
    numbers go into ``numbers`` when given."""
    status: dict[str, str] = {}
    held_from: dict[str, str] = {}
    for e in orders:
        oid = str(e.originator_id)
        if e.name == "OrderPlaced":
            if not str(e.payload.get("order_no", "")).startswith(order_no_prefix):
                continue
            status[oid] = "pending"
            if numbers is not None:
                numbers[oid] = str(e.payload.get("order_no", ""))
        elif oid not in status:
            continue
        elif e.name == "OrderHeld":
            held_from[oid] = status[oid]
            status[oid] = "on_hold"
        elif e.name == "OrderReleased":
            status[oid] = held_from.pop(oid, "pending")
        elif e.name in ORDER_STATUS:
            status[oid] = ORDER_STATUS[e.name]
    return_of: dict[str, str] = {}
    for e in returns:
        if e.name == "ReturnRequested":
            return_of[str(e.originator_id)] = str(e.payload["order_id"])
        elif e.name == "ReturnRefunded":
            order_id = return_of.get(str(e.originator_id))
            if order_id in status:
                status[order_id] = "returned"
    return status


def projected_levels(conn: psycopg.Connection[Any], schema: str) -> dict[Item, tuple[int, int]]:
    """(on hand, reserved) per (sku, location) in the ``inventory_level`` projection."""
    rows = conn.execute(
        sql.SQL("SELECT sku, location, on_hand, reserved FROM {}.inventory_level").format(
            sql.Identifier(schema)
        )
    ).fetchall()
    return {(sku, location): (on_hand, reserved) for sku, location, on_hand, reserved in rows}


def audit(
    stock_events: Iterable[eventlog.EventRecord],
    shipment_events: Iterable[eventlog.EventRecord],
    order_events: Iterable[eventlog.EventRecord],
    return_events: Iterable[eventlog.EventRecord] = (),
    projected: dict[Item, tuple[int, int]] | None = None,
    order_no_prefix: str = "",
    sku_prefix: str = "",
) -> Audit:
    """Check the invariants (module docstring) on events already read; ``projected``
    (from :func:`projected_levels`) adds the projection's side. ``sku_prefix`` limits the
    stock checks to one run's skus."""
    result = Audit()
    unknown: set[str] = set()
    books = fold_stock(stock_events, unknown)
    books = {k: b for k, b in books.items() if k[0].startswith(sku_prefix)}
    result.problems += [
        f"inventory event {name} is not folded by the audit" for name in sorted(unknown)
    ]
    result.stock = books
    left = shipped_by_shipments(shipment_events)
    for (sku, location), book in sorted(books.items()):
        where = f"{sku}@{location}"
        if book.went_negative:
            result.problems.append(
                f"{where}: available or reserved below zero after {book.went_negative} event(s)"
            )
        if left.get((sku, location), 0) != book.shipped:
            result.problems.append(
                f"{where}: inventory committed {book.shipped} units, "
                f"shipments shipped {left.get((sku, location), 0)}"
            )
        if projected is not None:
            seen = projected.get((sku, location))
            if seen != (book.balance, book.reserved):
                moved = ""
                if book.transferred_in or book.transferred_out:
                    moved = f"+ in {book.transferred_in} - out {book.transferred_out} "
                result.problems.append(
                    f"{where}: received {book.received} + restocked {book.restocked} + "
                    f"adjusted {book.adjusted} {moved}- shipped {book.shipped} = "
                    f"{book.balance} on hand, {book.reserved} reserved; inventory_level says "
                    + (f"{seen[0]} on hand, {seen[1]} reserved" if seen else "nothing")
                )
    result.orders = order_statuses(order_events, return_events, order_no_prefix, result.numbers)
    for status, n in sorted(result.open_orders().items()):
        some = sorted(result.numbers[o] for o, s in result.orders.items() if s == status)[:3]
        result.problems.append(f"{n} order(s) not at an end: {status} (e.g. {', '.join(some)})")
    return result


def audit_live(
    settings: Settings,
    codec: Codec,
    schema: str | None,
    order_no_prefix: str = "",
    sku_prefix: str = "",
) -> Audit:
    """Read the events of ``settings``' topics (and the projection in ``schema`` when
    given) and audit them."""
    projected = None
    if schema is not None:
        with psycopg.connect(settings.postgres.dsn) as conn:
            projected = projected_levels(conn, schema)
    return audit(
        read_events(settings, codec, "inventory"),
        read_events(settings, codec, "shipment"),
        read_events(settings, codec, "order"),
        read_events(settings, codec, "return"),
        projected,
        order_no_prefix,
        sku_prefix,
    )
