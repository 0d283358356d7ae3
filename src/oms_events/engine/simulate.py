"""A load simulation: stock, orders from several channels, a warehouse that ships,
and with ``life="full"`` carriers that deliver and customers who change their minds.

``oms simulate`` drives a running engine (``oms run``) through its topics only:
it receives stock (ReceiveStock), publishes PlaceOrder commands keyed by order id
at a steady rate, answers every allocation as a warehouse would (picked, packed,
shipped with a carrier and a waybill number in that carrier's numbering), and measures,
from publish to the OrderAllocated that confirms it (or the OrderRejected) it reads back
on ``oms.order.events`` with read_committed, how long each order took.

The full life adds: a share of orders paid cash on delivery, a share cancelled after
allocation (CancelOrder; the warehouse holds their parcels), a share cancelled once
their parcel left (the carrier is asked to intercept it), the carriers (the
``oms dev up`` simulator when it follows these topics, else one run here with the
plan's failure rate) delivering every parcel, customers returning or exchanging a unit
(``simulated_returns.py``), and waits until the parcels' lives end and every unit sent
back was received.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from oms_events import eventlog, topics
from oms_events.avro.codec import Codec
from oms_events.carriersim.life import pick_carrier, waybill_number
from oms_events.carriersim.simulator import CarrierSimulator
from oms_events.devservices.carrier_simulator import CarrierSimulatorProcess
from oms_events.domain.order import Order, PaymentMethod
from oms_events.engine.commands import (
    AddressDetails,
    CancelOrder,
    Command,
    CustomerDetails,
    LineDetails,
    PlaceOrder,
    ReceiveStock,
)
from oms_events.engine.latency import Latencies
from oms_events.engine.records import CommandWriter
from oms_events.engine.simulated_returns import Parcel, ReturnsDesk, ReturnTally
from oms_events.kafka.connection import producer
from oms_events.kafka.follower import Follower
from oms_events.settings import Settings
from oms_events.topics import CHANNELS

WAREHOUSE_UPDATE = "oms.warehouse.WarehouseUpdate"
PARCEL_RETURNED = "oms.warehouse.ParcelReturned"
ALLOCATION = "oms.allocation.Allocation"
# SF route opCodes (carriersim/life.py) as carrier statuses, for the summary only.
_SF_STATUS = {"44": "out_for_delivery", "80": "delivered", "70": "delivery_failed"}
_SF_STATUS["99"] = "returned_to_sender"


@dataclass(frozen=True)
class Plan:
    """What to simulate."""

    orders: int = 1000
    channels: int = 3
    skus: int = 10
    locations: int = 3
    rate: float = 200.0  # orders per second
    stock: int = 0  # units per sku and location; 0: enough for about 90% of the orders
    seed: int = 7
    life: str = "decide"  # "decide": until allocated or rejected; "full": to each order's end
    cod_rate: float = 0.1  # share of orders paid cash on delivery
    cancel_rate: float = 0.0  # full life: share cancelled after allocation, before shipping
    intercept_rate: float = 0.0  # full life: share cancelled after shipping (intercepted)
    failed_delivery_rate: float = 0.1  # full life: share of delivery attempts that fail
    return_rate: float = 0.0  # full life: share of delivered orders returned (return service)
    exchange_rate: float = 0.0  # full life: share of delivered orders exchanged
    time_scale: float = 0.0  # full life: the carriers' time scale; 0: settings.carriersim
    # Full life: seconds without a parcel ending after which the run stops waiting for
    # the rest (a lost parcel never ends); 0: four simulated days, at least 5 s. Longer
    # when engines are killed on purpose: a dead engine's open transaction holds its
    # partitions' events back from everyone for up to the transaction timeout.
    quiet: float = 0.0
    # Full life: seconds from a parcel's return to sender until the warehouse has it back
    # (ParcelReturned); 0: a simulated day, at least 3 s. The carrier's push must have
    # reached the shipment first: the shipment refuses a parcel back it does not know
    # was returned (dead-lettered, never restocked).
    back_after: float = 0.0

    def __post_init__(self) -> None:
        if self.life not in ("decide", "full"):
            raise ValueError(f"--life {self.life!r} is unknown: use --life decide or --life full")
        shares = (
            "cod_rate",
            "cancel_rate",
            "intercept_rate",
            "failed_delivery_rate",
            "return_rate",
            "exchange_rate",
        )
        for name in shares:
            if not 0.0 <= getattr(self, name) <= 1.0:
                option = "--" + name.replace("_", "-")
                raise ValueError(f"{option} {getattr(self, name)} is not a share: use 0 to 1")

    def units_per_item(self) -> int:
        """Stock per (sku, location)."""
        if self.stock:
            return self.stock
        return max(1, int(self.orders * 1.5 * 0.9 / (self.skus * self.locations)))


@dataclass
class Summary:
    """What the simulation saw."""

    published: int = 0
    confirmed: int = 0
    rejected: int = 0
    shipped: int = 0
    cancelled: int = 0
    delivered: int = 0  # OrderDelivered seen
    parcels_shipped: int = 0  # shipped updates the warehouse sent
    parcels_ended: dict[str, int] = field(default_factory=dict)  # delivered / returned
    failed_attempts: int = 0
    cod_orders: int = 0  # orders placed cash on delivery
    cod_split_orders: int = 0  # of them, shipped in several parcels (cash on each)
    cod_collected: int = 0  # minor units, from the carriers' delivered pushes
    returns: ReturnTally = field(default_factory=ReturnTally)
    parcels_back: int = 0  # returned to sender and received again by the warehouse
    units_back: int = 0  # their units, restocked
    carrier: str = ""  # "dev" (oms dev up's simulator) or "inline", in full life
    seconds: float = 0.0
    latency: Latencies = field(default_factory=Latencies)

    @property
    def decided(self) -> int:
        """Orders confirmed or rejected."""
        return self.confirmed + self.rejected

    @property
    def per_second(self) -> float:
        """Orders decided per second, from the first publish to the last decision."""
        return self.decided / self.seconds if self.seconds else 0.0


class Simulation:
    """One run of a :class:`Plan` against the engine reachable through ``settings``."""

    def __init__(self, settings: Settings, codec: Codec, plan: Plan) -> None:
        self.settings, self.codec, self.plan = settings, codec, plan
        self.random = random.Random(plan.seed)
        self.warehouse_random = random.Random(plan.seed + 1)
        self.run_id = uuid.uuid4().hex[:6]
        self.skus = [f"SIM-{self.run_id}-{n:03d}" for n in range(plan.skus)]
        self.locations = [f"WH-{n:02d}" for n in range(plan.locations)]
        self.channels = [CHANNELS[n % len(CHANNELS)] for n in range(plan.channels)]
        self.summary = Summary()
        self.published_at: dict[str, float] = {}
        self.stocked = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.writer = CommandWriter(settings, codec)
        self.producer = producer(settings)
        self.to_cancel: set[str] = set()  # order ids cancelled once allocated
        self.to_intercept: set[str] = set()  # order ids cancelled once their parcel left
        self.cancels_sent: set[str] = set()
        self.waybills: set[str] = set()  # tracking numbers of this run's parcels
        self.parcel_of: dict[str, Parcel] = {}  # tracking number -> whose, from where
        self.backs_pending = 0  # parcels returned to sender, not yet back in the warehouse
        self.cod_ids: set[str] = set()  # orders paid cash on delivery
        self.parcel_count: dict[str, int] = {}  # order id -> parcels shipped
        self.wanted_returns: dict[str, str] = {}  # order id -> "return" | "exchange"
        self.desk = ReturnsDesk(self.run_id, plan.seed + 2, self.wanted_returns, self._send)
        self.summary.returns = self.desk.tally
        # The carriers' time scale: the plan's, else the settings' (the running
        # simulator's own when `oms dev up`'s delivers).
        self.time_scale = plan.time_scale or settings.carriersim.time_scale
        self.last_end = time.monotonic()

    # --- what comes back -----------------------------------------------------------

    def _on_order_event(self, record: Any) -> None:
        name = eventlog.header(record.headers, "event")
        # The engine confirms an order by allocating it (one OrderAllocated).
        if name not in (
            "OrderAllocated",
            "OrderRejected",
            "OrderShipped",
            "OrderCancelled",
            "OrderDelivered",
        ):
            return
        order_id = record.key.decode()
        now = time.monotonic()
        with self.lock:
            sent = self.published_at.get(order_id)
            if sent is None:
                return  # another run's order
            if name == "OrderAllocated":
                self.summary.confirmed += 1
                self.summary.latency.add(now - sent)
            elif name == "OrderRejected":
                self.summary.rejected += 1
            elif name == "OrderCancelled":
                self.summary.cancelled += 1
            elif name == "OrderDelivered":
                self.summary.delivered += 1
            else:
                self.summary.shipped += 1

    def _on_stock_event(self, record: Any) -> None:
        if eventlog.header(record.headers, "event") == "StockReceived":
            with self.lock:
                self.stocked += 1

    def _on_allocation(self, record: Any) -> None:
        """Be the warehouse: pick, pack and ship every allocation at once."""
        full, allocation = self.codec.decode(record.value)
        if full != ALLOCATION:
            return  # e.g. a cancelled allocation: nothing to pick
        order_id = str(allocation["order_id"])
        if order_id not in self.published_at and order_id not in self.desk.replacements:
            return
        if order_id in self.to_cancel:
            # The customer cancels after allocation: the warehouse holds the parcel.
            self._cancel(order_id, "顾客取消 (simulated cancel after allocation)")
            return
        # The warehouse's own random: it runs in the allocations' thread, the orders'
        # random in the publisher's.
        carrier = pick_carrier(self.warehouse_random)
        tracking_no = waybill_number(carrier, self.warehouse_random)
        for status in ("picked", "packed", "shipped"):
            shipped = status == "shipped"
            topic = topics.name(self.settings, topics.WAREHOUSE_UPDATES)
            self.producer.send(
                topic,
                key=allocation["shipment_id"].encode(),
                value=self.codec.encode(
                    WAREHOUSE_UPDATE,
                    {
                        "update_id": f"{allocation['shipment_id']}/{status}",
                        "shipment_id": allocation["shipment_id"],
                        "location": allocation["location"],
                        "status": status,
                        "carrier": carrier if shipped else None,
                        "tracking_no": tracking_no if shipped else None,
                        "at": datetime.now(UTC),
                    },
                    topic=topic,
                ),
            )
        first = allocation["lines"][0]
        with self.lock:
            self.summary.parcels_shipped += 1
            self.waybills.add(tracking_no)
            self.parcel_count[order_id] = self.parcel_count.get(order_id, 0) + 1
            if self.parcel_count[order_id] == 2 and order_id in self.cod_ids:
                self.summary.cod_split_orders += 1
            self.parcel_of[tracking_no] = Parcel(
                order_id,
                allocation["location"],
                first["line_no"],
                first["sku"],
                allocation["shipment_id"],
                sum(line["quantity"] for line in allocation["lines"]),
            )

    def _cancel(self, order_id: str, reason: str) -> None:
        """CancelOrder for ``order_id``, once."""
        if order_id in self.cancels_sent:
            return
        self.cancels_sent.add(order_id)
        r = self.writer.record(
            CancelOrder(
                command_id=f"{order_id}/simulated-cancel",
                order_id=uuid.UUID(order_id),
                reason=reason,
            )
        )
        self.producer.send(r.topic, key=r.key, value=r.value, headers=r.headers)
        self.producer.flush()

    def _on_carrier_update(self, record: Any) -> None:
        """Watch the carriers' pushes: which parcels ended, how, and the cash collected."""
        try:
            push = json.loads(record.value)
        except ValueError:
            return
        if push.get("format") == "generic":
            tracking_no, status = str(push.get("tracking_no")), str(push.get("status"))
            cod = (push.get("cod_collected") or {}).get("amount") or 0
        else:
            routes = (push.get("Body") or {}).get("WaybillRoute") or [{}]
            tracking_no = str(routes[0].get("mailno"))
            status = _SF_STATUS.get(str(routes[0].get("opCode")), "in_transit")
            cod = 0
        if status == "delivered" and self.desk.arrived(tracking_no):
            return  # a customer's return parcel, back at the warehouse
        with self.lock:
            if tracking_no not in self.waybills:
                return  # another run's parcel
            parcel = self.parcel_of.get(tracking_no)
            if status == "delivery_failed":
                self.summary.failed_attempts += 1
            if status in ("delivered", "returned_to_sender"):
                ended = self.summary.parcels_ended
                ended[status] = ended.get(status, 0) + 1
                self.summary.cod_collected += int(cod)
                self.last_end = time.monotonic()
        if parcel is not None and parcel.order_id in self.to_intercept:
            # The customer cancels once the parcel is on the road (its first scan): the
            # carrier is asked to intercept it (拦截).
            self._cancel(parcel.order_id, "顾客取消 (simulated cancel after shipping)")
        if status == "delivered" and parcel is not None:
            self.desk.delivered(parcel)
        if status == "returned_to_sender" and parcel is not None:
            # The carrier brings it back; a day later it is in the warehouse again (at
            # least 3 s, so the shipment has heard of the return first).
            with self.lock:
                self.backs_pending += 1
            delay = self.plan.back_after or max(3.0, 86400 / self.time_scale)
            threading.Timer(delay, self._parcel_back, (parcel, tracking_no)).start()

    def _parcel_back(self, parcel: Parcel, tracking_no: str) -> None:
        """Be the warehouse receiving a parcel the carrier returned (ParcelReturned)."""
        topic = topics.name(self.settings, topics.WAREHOUSE_UPDATES)
        self.producer.send(
            topic,
            key=parcel.shipment_id.encode(),
            value=self.codec.encode(
                PARCEL_RETURNED,
                {
                    "update_id": f"{parcel.shipment_id}/returned",
                    "shipment_id": parcel.shipment_id,
                    "location": parcel.location,
                    "tracking_no": tracking_no,
                    "at": datetime.now(UTC),
                },
                topic=topic,
            ),
        )
        self.producer.flush()
        with self.lock:
            self.backs_pending -= 1
            self.summary.parcels_back += 1
            self.summary.units_back += parcel.units

    def _on_return_event(self, record: Any) -> None:
        """An approved return: its customer ships the unit back."""
        if eventlog.header(record.headers, "event") == "ReturnApproved":
            self.desk.approved(record.key.decode())

    def _send(self, command: Command) -> None:
        r = self.writer.record(command)
        self.producer.send(r.topic, key=r.key, value=r.value, headers=r.headers)
        self.producer.flush()

    # --- what goes out -------------------------------------------------------------

    def receive_stock(self) -> None:
        """ReceiveStock for every sku at every location."""
        for sku in self.skus:
            for location in self.locations:
                r = self.writer.record(
                    ReceiveStock(
                        command_id=str(uuid.uuid4()),
                        sku=sku,
                        location=location,
                        quantity=self.plan.units_per_item(),
                        reason=f"simulation {self.run_id}",
                    )
                )
                self.producer.send(r.topic, key=r.key, value=r.value, headers=r.headers)
        self.producer.flush()

    def _order(self, n: int) -> PlaceOrder:
        channel = self.channels[n % len(self.channels)]
        external = f"{self.run_id}-{n:07d}"
        lines = self.random.choice((1, 1, 1, 2))
        skus = self.random.sample(self.skus, min(lines, len(self.skus)))
        cod = self.random.random() < self.plan.cod_rate
        order_id = str(Order.create_id(channel, external))
        self.summary.cod_orders += int(cod)
        if cod:
            self.cod_ids.add(order_id)
        if self.plan.life == "full":
            roll = self.random.random()
            if roll < self.plan.cancel_rate:
                self.to_cancel.add(order_id)
            elif roll < self.plan.cancel_rate + self.plan.intercept_rate:
                self.to_intercept.add(order_id)
            else:
                roll = self.random.random()
                if roll < self.plan.return_rate:
                    self.wanted_returns[order_id] = "return"
                elif roll < self.plan.return_rate + self.plan.exchange_rate:
                    self.wanted_returns[order_id] = "exchange"
        return PlaceOrder(
            command_id=str(uuid.uuid4()),
            order_no=f"SIM-{external}",
            channel=channel,
            external_id=external,
            customer=CustomerDetails(name="模拟顾客", phone=f"138{n % 10**8:08d}"),
            address=AddressDetails(
                country="CN",
                province="广东省",
                city="深圳市",
                district="南山区",
                postcode="518000",
                line1=f"科技园 {n} 号",
            ),
            currency="CNY",
            lines=tuple(
                LineDetails(line_no=i + 1, sku=sku, quantity=1, unit_price=9900)
                for i, sku in enumerate(skus)
            ),
            payment_method=PaymentMethod.COD if cod else PaymentMethod.ALIPAY,
            paid=not cod,
            placed_at=datetime.now(UTC),
        )

    def publish_orders(self, on_progress: Callable[[], None]) -> None:
        """Publish every order at the plan's rate."""
        start = time.monotonic()
        for n in range(self.plan.orders):
            due = start + n / self.plan.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            order = self._order(n)
            r = self.writer.record(order)
            with self.lock:
                self.published_at[order.key] = time.monotonic()
            self.producer.send(r.topic, key=r.key, value=r.value, headers=r.headers)
            self.summary.published += 1
            if n % 50 == 0:
                on_progress()
        self.producer.flush()

    # --- the whole run -------------------------------------------------------------

    def run(self, on_progress: Callable[[str, int, int], None], timeout: float = 600) -> Summary:
        """Stock, publish, wait for every order to be decided (or ``timeout``); in the
        full life, then wait for every parcel's life to end."""
        s = self.settings
        full = self.plan.life == "full"
        followers = [
            Follower(s, topics.name(s, topics.events("order")), self._on_order_event, self.stop),
            Follower(
                s, topics.name(s, topics.events("inventory")), self._on_stock_event, self.stop
            ),
            Follower(s, topics.name(s, topics.ALLOCATIONS), self._on_allocation, self.stop),
        ]
        carrier: threading.Thread | None = None
        if full:
            followers.append(
                Follower(
                    s, topics.name(s, topics.CARRIER_UPDATES), self._on_carrier_update, self.stop
                )
            )
            followers.append(
                Follower(
                    s, topics.name(s, topics.events("return")), self._on_return_event, self.stop
                )
            )
            carrier = self._carrier()
        for f in followers:
            f.start()
        try:
            items = len(self.skus) * len(self.locations)
            self.receive_stock()
            deadline = time.monotonic() + timeout
            while self.stocked < items and time.monotonic() < deadline:
                on_progress("stock", self.stocked, items)
                time.sleep(0.1)
            on_progress("stock", self.stocked, items)
            time.sleep(0.5)  # the engine's stock view follows the same events
            started = time.monotonic()
            publisher = threading.Thread(
                target=self.publish_orders,
                args=(lambda: on_progress("orders", self.summary.decided, self.plan.orders),),
                daemon=True,
            )
            publisher.start()
            while self.summary.decided < self.plan.orders and time.monotonic() < deadline:
                on_progress("orders", self.summary.decided, self.plan.orders)
                time.sleep(0.1)
            on_progress("orders", self.summary.decided, self.plan.orders)
            self.summary.seconds = time.monotonic() - started
            publisher.join()
            if full:
                self._wait_for_parcels(on_progress, deadline)
        finally:
            self.stop.set()
            for f in followers:
                f.join(5)
            if carrier is not None:
                carrier.join(10)
            self.producer.close()
        return self.summary

    def _carrier(self) -> threading.Thread | None:
        """The carriers: ``oms dev up``'s simulator when it follows these topics, else one
        here, with the plan's failure rate and time scale."""
        running = CarrierSimulatorProcess(self.settings)
        if running.follows(self.settings):
            self.summary.carrier = "dev"
            self.time_scale = running.status().time_scale or self.time_scale
            return None
        self.summary.carrier = "inline"
        changes: dict[str, Any] = {
            "failure_rate": self.plan.failed_delivery_rate,
            "seed": self.plan.seed,
        }
        if self.plan.time_scale:
            changes["time_scale"] = self.plan.time_scale
        settings = self.settings.replace(carriersim=changes)
        sim = CarrierSimulator(settings, self.codec)
        thread = threading.Thread(target=sim.run, args=(self.stop,), daemon=True, name="carriers")
        thread.start()
        sim.ready.wait(30)
        return thread

    def _wait_for_parcels(
        self, on_progress: Callable[[str, int, int], None], deadline: float
    ) -> None:
        # A lost parcel never ends: stop once every other one has, i.e. when no parcel
        # ended for a while (its length: a few days of simulated time, at least 5 s).
        quiet = self.plan.quiet or max(5.0, 4 * 86400 / self.time_scale)
        time.sleep(1.0)  # the last shipped updates reach the engine and the carriers
        while time.monotonic() < deadline:
            with self.lock:
                ended = sum(self.summary.parcels_ended.values())
                shipped = self.summary.parcels_shipped
                since = time.monotonic() - self.last_end
            on_progress("parcels", ended, shipped)
            done = ended >= shipped and not self.desk.open and not self.backs_pending
            if done or since > quiet:
                return
            time.sleep(0.2)
