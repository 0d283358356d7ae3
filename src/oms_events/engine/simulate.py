"""A load simulation: stock, orders from several channels, a warehouse that ships.

``oms simulate`` drives a running engine (``oms run``) through its topics only:
it receives stock (ReceiveStock), publishes PlaceOrder commands keyed by order id
at a steady rate, answers every allocation as a warehouse would (picked, packed,
shipped), and measures, from publish to the OrderAllocated that confirms it (or the
OrderRejected) it reads back on ``oms.order.events`` with read_committed, how long each order took.
"""

from __future__ import annotations

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
from oms_events.domain.order import PaymentMethod
from oms_events.engine.commands import (
    AddressDetails,
    CustomerDetails,
    LineDetails,
    PlaceOrder,
    ReceiveStock,
)
from oms_events.engine.latency import Latencies
from oms_events.engine.records import CommandWriter
from oms_events.kafka.connection import producer
from oms_events.kafka.follower import Follower
from oms_events.settings import Settings
from oms_events.topics import CHANNELS

WAREHOUSE_UPDATE = "oms.warehouse.WarehouseUpdate"


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

    # --- what comes back -----------------------------------------------------------

    def _on_order_event(self, record: Any) -> None:
        name = eventlog.header(record.headers, "event")
        # The engine confirms an order by allocating it (one OrderAllocated).
        if name not in ("OrderAllocated", "OrderRejected", "OrderShipped"):
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
            else:
                self.summary.shipped += 1

    def _on_stock_event(self, record: Any) -> None:
        if eventlog.header(record.headers, "event") == "StockReceived":
            with self.lock:
                self.stocked += 1

    def _on_allocation(self, record: Any) -> None:
        """Be the warehouse: pick, pack and ship every allocation at once."""
        _, allocation = self.codec.decode(record.value)
        if allocation["order_id"] not in self.published_at:
            return
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
                        "carrier": "SF Express" if shipped else None,
                        "tracking_no": f"SF{self.random.randrange(10**12):012d}"
                        if shipped
                        else None,
                        "at": datetime.now(UTC),
                    },
                    topic=topic,
                ),
            )

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
        cod = self.random.random() < 0.1
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
        """Stock, publish, wait for every order to be decided (or ``timeout``)."""
        s = self.settings
        followers = [
            Follower(s, topics.name(s, topics.events("order")), self._on_order_event, self.stop),
            Follower(
                s, topics.name(s, topics.events("inventory")), self._on_stock_event, self.stop
            ),
            Follower(s, topics.name(s, topics.ALLOCATIONS), self._on_allocation, self.stop),
        ]
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
        finally:
            self.stop.set()
            for f in followers:
                f.join(5)
            self.producer.close()
        return self.summary
