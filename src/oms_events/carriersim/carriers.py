"""Every carrier at once, without Kafka: the parcels on the road and their next scans.

``Carriers`` takes in the events that matter to a courier — OrderPlaced (the delivery
city, the customer's name, what a COD order owes), ShipmentCreated (an order's lines in
a parcel), ShipmentShipped (carrier and waybill: the hand-over) — plans each parcel's
life (``life.plan``, seeded per waybill) and, asked what is due at an instant, gives the
pushes to publish (key: the waybill, value: generic JSON or SF's route push). Scans are
due at their simulated hour divided by ``time_scale``. The Kafka loop is simulator.py.
"""

from __future__ import annotations

import heapq
import random
import uuid
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple, TypeVar

from oms_events.carriersim import formats
from oms_events.carriersim.life import (
    CITIES,
    Life,
    Odds,
    destination_city,
    intercept,
    origin_city,
    plan,
)
from oms_events.eventlog import EventRecord
from oms_events.settings import CarrierSimSettings


class Push(NamedTuple):
    """One record for ``oms.carrier.updates``: the waybill (its key), the push's format
    (its ``format`` header: ``generic`` or ``sf``) and the push itself."""

    tracking_no: str
    format: str
    value: bytes


# --- what an order owes at the door ----------------------------------------------------


@dataclass(frozen=True)
class OrderFacts:
    """What the carrier needs from an OrderPlaced: where to, to whom, and the cash a COD
    order owes per line (and the shipping fee, on the parcel with the lowest line)."""

    order_no: str
    city: str
    customer: str | None
    currency: str
    cod_lines: Mapping[int, int]  # line_no -> minor units due at the door; empty: not COD
    shipping_fee: int
    first_line: int  # the parcel holding it collects the shipping fee or the COD tender
    cod_tendered: int | None = None  # a split payment's COD tender: all of it on one parcel


def order_facts(payload: Mapping[str, Any]) -> OrderFacts:
    """Read an OrderPlaced payload. A COD order (payment method ``cod``) owes each line's
    net; an order with tenders owes only its ``cod`` tenders."""
    currency = str(payload.get("currency") or "CNY")
    tenders = payload.get("tenders") or []
    cod_tendered: int | None = None
    cod_lines: dict[int, int] = {}
    if tenders:
        due = sum(t["amount"]["amount"] for t in tenders if t["method"] == "cod")
        cod_tendered = due or None
    elif payload.get("payment_method") == "cod":
        for line in payload.get("lines") or []:
            net = line["unit_price"]["amount"] * line["quantity"] - line["discount"]["amount"]
            cod_lines[int(line["line_no"])] = net
    address = payload.get("address") or {}
    customer = payload.get("customer") or {}
    fee = payload.get("shipping_fee") or {}
    return OrderFacts(
        order_no=str(payload.get("order_no") or ""),
        city=destination_city(address.get("city")),
        customer=customer.get("name") if isinstance(customer.get("name"), str) else None,
        currency=currency,
        cod_lines=cod_lines,
        shipping_fee=int(fee.get("amount") or 0) if cod_lines else 0,
        first_line=min((int(ln["line_no"]) for ln in payload.get("lines") or []), default=1),
        cod_tendered=cod_tendered,
    )


def cod_due(facts: OrderFacts, line_nos: Iterable[int]) -> int:
    """Cash the courier collects for the parcel holding ``line_nos``: the nets of its COD
    lines, plus the shipping fee (or a split payment's COD tender) on the parcel holding
    the order's first line."""
    lines = set(line_nos)
    due = sum(facts.cod_lines.get(n, 0) for n in lines)
    if facts.first_line in lines:
        due += facts.shipping_fee + (facts.cod_tendered or 0)
    return due


# --- the parcels on the road -----------------------------------------------------------

RECENT = 200_000  # orders and shipments remembered until their parcels leave

K = TypeVar("K")
V = TypeVar("V")


class Recent(OrderedDict[K, V]):
    """A dict that forgets its oldest entries beyond ``size``: bounded memory for a
    simulator that runs for weeks."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        if len(self) > self.size:
            self.popitem(last=False)


@dataclass
class Parcel:
    """A waybill the simulator is delivering."""

    shipment_id: str
    carrier: str
    tracking_no: str
    order_ref: str
    life: Life
    handed_over: float  # monotonic seconds
    cod: tuple[int, str] | None
    sf_format: bool
    pushed: int = 0  # scans pushed so far
    intercepted: bool = False  # its sender stopped it: on its way back

    def done(self) -> bool:
        """True once every scan of its life is pushed."""
        return self.pushed >= len(self.life.scans)


@dataclass
class Tally:
    """What the simulator did, for its log and tests."""

    parcels: int = 0
    pushed: int = 0
    delivered: int = 0
    returned: int = 0
    lost: int = 0
    cod_collected: int = 0
    intercepts_done: int = 0
    intercepts_refused: int = 0


class Carriers:
    """Every carrier at once: the parcels on the road and their scans to come."""

    def __init__(self, config: CarrierSimSettings) -> None:
        self.config = config
        self.odds = Odds(
            failure_rate=self.config.failure_rate,
            refusal_rate=self.config.refusal_rate,
            lost_rate=self.config.lost_rate,
            max_attempts=self.config.max_attempts,
        )
        seed = self.config.seed if self.config.seed is not None else random.randrange(2**32)
        self.seed = seed
        # What the events said, for parcels not yet handed over: the most recent ones
        # (an order delivered long ago, a shipment cancelled, is never asked for again).
        self.orders: Recent[str, OrderFacts] = Recent(RECENT)
        # shipment id -> (order id, its line numbers, stock location)
        self.shipments: Recent[str, tuple[str, tuple[int, ...], str]] = Recent(RECENT)
        self.parcels: dict[str, Parcel] = {}  # tracking number -> parcel
        # Waybills whose life ended: a redelivered hand-over of one starts no second life.
        self.finished: Recent[str, bool] = Recent(RECENT)
        self.due: list[tuple[float, int, str]] = []  # (monotonic due, seq, tracking number)
        self.seq = 0
        self.tally = Tally()

    # --- time ---------------------------------------------------------------------------

    def real_seconds(self, hours: float) -> float:
        """Real seconds of ``hours`` simulated hours at the configured time scale."""
        return hours * 3600.0 / self.config.time_scale

    def _rng(self, tracking_no: str) -> random.Random:
        # One random per parcel, from the seed and its waybill: a parcel's life does not
        # depend on the order parcels arrive in.
        return random.Random(self.seed ^ zlib.crc32(tracking_no.encode()))

    # --- what comes in ------------------------------------------------------------------

    def on_event(self, record: EventRecord, now: float) -> None:
        """Take in one order, shipment or return event."""
        oid, p = str(record.originator_id), record.payload
        if record.name == "OrderPlaced":
            self.orders[oid] = order_facts(p)
        elif record.name == "ShipmentCreated":
            lines = tuple(int(ln["line_no"]) for ln in p["lines"])
            self.shipments[oid] = (str(p["order_id"]), lines, str(p["location"]))
        elif record.name == "ShipmentShipped":
            self.hand_over(oid, str(p["carrier"]), str(p["tracking_no"]), now)
        elif record.name == "ReturnShipped":
            self.hand_over_return(oid, str(p["carrier"]), str(p["tracking_no"]), now)
        elif record.name in ("OrderCancelled", "OrderRejected"):
            self.orders.pop(oid, None)

    def hand_over_return(self, return_id: str, carrier: str, tracking_no: str, now: float) -> None:
        """A customer sends a return back (ReturnShipped): the parcel travels to the
        warehouse, which is always in and always signs, unless the parcel is lost."""
        if tracking_no in self.parcels or tracking_no in self.finished:
            return
        rng = self._rng(tracking_no)
        odds = Odds(failure_rate=0.0, refusal_rate=0.0, lost_rate=self.odds.lost_rate)
        life = plan(rng, rng.choice(CITIES), "退货仓", odds, customer="仓库签收")
        self.parcels[tracking_no] = Parcel(
            shipment_id=return_id,
            carrier=carrier,
            tracking_no=tracking_no,
            order_ref=return_id,
            life=life,
            handed_over=now,
            cod=None,
            sf_format=carrier == "SF" and rng.random() < self.config.sf_format_share,
        )
        self.tally.parcels += 1
        self._schedule(self.parcels[tracking_no])

    def hand_over(self, shipment_id: str, carrier: str, tracking_no: str, now: float) -> None:
        """A parcel leaves the warehouse with ``carrier``: plan its life, schedule scans."""
        if tracking_no in self.parcels or tracking_no in self.finished:
            return  # a redelivered ShipmentShipped
        order_id, lines, location = self.shipments.pop(shipment_id, ("", (), shipment_id))
        facts = self.orders.get(order_id)
        rng = self._rng(tracking_no)
        origin = origin_city(location)
        life = plan(
            rng,
            origin,
            facts.city if facts else "深圳",
            self.odds,
            facts.customer if facts else None,
        )
        cod = None
        if facts is not None:
            due = cod_due(facts, lines)
            cod = (due, facts.currency) if due > 0 else None
        # SF's route push carries no cash: a COD parcel always speaks the generic format.
        sf = carrier == "SF" and cod is None and rng.random() < self.config.sf_format_share
        self.parcels[tracking_no] = Parcel(
            shipment_id=shipment_id,
            carrier=carrier,
            tracking_no=tracking_no,
            order_ref=facts.order_no if facts else shipment_id,
            life=life,
            handed_over=now,
            cod=cod,
            sf_format=sf,
        )
        self.tally.parcels += 1
        self._schedule(self.parcels[tracking_no])

    def on_intercept(self, tracking_no: str, now: float) -> bool:
        """The sender asks to intercept a parcel (拦截): with ``intercept_success_rate``
        the rest of its life becomes one returned_to_sender scan; otherwise (or when it
        is too late) it goes on being delivered. True if intercepted."""
        parcel = self.parcels.get(tracking_no)
        if parcel is None:
            self.tally.intercepts_refused += 1
            return False
        if parcel.intercepted:
            return True  # the request again: one interception
        hours = (now - parcel.handed_over) * self.config.time_scale / 3600.0
        back = intercept(parcel.life, parcel.pushed, hours)
        if back is None or self._rng(tracking_no + "/intercept").random() >= (
            self.config.intercept_success_rate
        ):
            self.tally.intercepts_refused += 1
            return False
        parcel.life, parcel.intercepted = back, True
        self.tally.intercepts_done += 1
        self._schedule(parcel)
        return True

    def _schedule(self, parcel: Parcel) -> None:
        if parcel.done():
            return
        scan = parcel.life.scans[parcel.pushed]
        at = parcel.handed_over + self.real_seconds(scan.hours)
        self.seq += 1
        heapq.heappush(self.due, (at, self.seq, parcel.tracking_no))

    # --- what goes out ------------------------------------------------------------------

    def next_due(self) -> float | None:
        """When the next scan is due (monotonic seconds), or None."""
        return self.due[0][0] if self.due else None

    def pushes_due(self, now: float, wall: datetime) -> list[Push]:
        """The pushes of every scan whose time has come by ``now`` (monotonic), stamped
        ``wall`` (the carriers' clock, timezone-aware)."""
        pushes: list[Push] = []
        while self.due and self.due[0][0] <= now:
            at, _, tracking_no = heapq.heappop(self.due)
            parcel = self.parcels.get(tracking_no)
            if parcel is None or parcel.done():
                continue
            scan = parcel.life.scans[parcel.pushed]
            if parcel.handed_over + self.real_seconds(scan.hours) > at + 1e-9:
                continue  # a stale entry: an interception rescheduled this parcel
            fmt = "sf" if parcel.sf_format else "generic"
            pushes.append(Push(tracking_no, fmt, self._push(parcel, wall)))
            parcel.pushed += 1
            if parcel.done():
                self._finish(parcel)
            else:
                self._schedule(parcel)
        return pushes

    def _push(self, parcel: Parcel, occurred: datetime) -> bytes:
        scan = parcel.life.scans[parcel.pushed]
        if parcel.sf_format:
            push = formats.sf_route(
                parcel.tracking_no, parcel.order_ref, scan, occurred, uuid.uuid4().hex[:16]
            )
        else:
            eta = None
            if scan.status in ("in_transit", "out_for_delivery", "delivery_failed"):
                left = max(parcel.life.eta_hours - scan.hours, 0.0)
                eta = occurred + timedelta(seconds=self.real_seconds(left))
            cod = parcel.cod if scan.status == "delivered" else None
            push = formats.generic(parcel.carrier, parcel.tracking_no, scan, occurred, eta, cod)
            if cod:
                self.tally.cod_collected += cod[0]
        self.tally.pushed += 1
        return formats.encode(push)

    def _finish(self, parcel: Parcel) -> None:
        end = parcel.life.end.value
        if end == "delivered":
            self.tally.delivered += 1
        elif end == "returned":
            self.tally.returned += 1
        else:
            self.tally.lost += 1
        # A finished parcel is forgotten but for its waybill; an interception of it is
        # then refused.
        del self.parcels[parcel.tracking_no]
        self.finished[parcel.tracking_no] = True
