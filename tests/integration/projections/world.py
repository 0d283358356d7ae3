"""A small shop's worth of domain events, made with the real aggregates, for projection tests.

Orders are placed over the last two weeks (every other one paid at the channel),
reserved at one warehouse, then confirmed, cancelled, rejected (no stock),
allocated (confirmed by the allocation, as the engine does it), shipped in one
shipment (some late, some with a failed delivery) and delivered, as the engine's
sagas would drive them.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.events import produce as produce  # the projection tests write events as the bench does

from oms_events import deadletter, topics
from oms_events.domain import (
    Address,
    Customer,
    InventoryItem,
    Money,
    Order,
    OrderLine,
    PaymentMethod,
    ReservationOutcome,
    Shipment,
    ShipmentLine,
)
from oms_events.kafka.connection import producer
from oms_events.kafka.port import Producer
from oms_events.settings import Settings

SKUS = ("SKU-TEA", "SKU-CUP", "SKU-POT", "SKU-MAT")
LOCATIONS = ("WH-SH", "WH-BJ")
CHANNELS = ("web", "tmall", "jd", "pos")
PROVINCES = (
    ("浙江省", "杭州市", "西湖区"),
    ("北京市", "北京市", "朝阳区"),
    ("广东省", "深圳市", "南山区"),
)


@dataclass
class World:
    """The aggregates and every event they recorded, in recording order."""

    now: datetime
    items: dict[tuple[str, str], InventoryItem] = field(default_factory=dict)
    orders: list[Order] = field(default_factory=list)
    shipments: list[Shipment] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)

    def collect(self, *aggregates: Any) -> None:
        """Move the aggregates' pending events into ``events``."""
        for a in aggregates:
            self.events.extend(a.collect_events())


def build(n_orders: int, seed: int = 7, stock: int = 40) -> World:
    """A deterministic world of ``n_orders`` orders (event timestamps are wall-clock)."""
    rng = random.Random(seed)
    world = World(now=datetime.now(UTC))
    for sku in SKUS:
        for loc in LOCATIONS:
            item = InventoryItem.register(sku, loc, low_stock_threshold=10)
            item.receive(stock, "purchase order")
            world.items[(sku, loc)] = item
            world.collect(item)
    for i in range(n_orders):
        province, city, district = rng.choice(PROVINCES)
        skus = rng.sample(SKUS, rng.randint(1, 2))
        lines = [
            OrderLine(
                n,
                sku,
                rng.randint(1, 3),
                Money(rng.randint(10, 90) * 100, "CNY"),
                Money(rng.choice((0, 0, 100, 250)), "CNY"),
                ("满100减10",),
            )
            for n, sku in enumerate(skus, start=1)
        ]
        channel = rng.choice(CHANNELS)
        external_id = f"X{seed}-{i}-{uuid.uuid4().hex[:6]}"
        order = Order.place(
            order_no=f"OMS-{seed}-{i:05d}",
            channel=channel,
            external_id=external_id,
            customer=Customer(f"客户{i % 50}", f"138{i % 50:08d}", f"acct{i % 50}"),
            address=Address("文三路 90 号", "CN", city, province, district),
            lines=lines,
            payment_method=rng.choice(list(PaymentMethod)),
            placed_at=world.now
            - timedelta(
                days=rng.randint(0, 13), hours=rng.randint(0, 23), minutes=rng.randint(0, 59)
            ),
            paid_at_channel=f"{channel}:{external_id}" if i % 2 else None,
        )
        loc = rng.choice(LOCATIONS)
        touched: list[Any] = [order]
        reserved: list[tuple[InventoryItem, uuid.UUID]] = []
        answers: list[tuple[int, uuid.UUID, str]] = []  # one reply for the order's lines
        for line in lines:
            item = world.items[(line.sku, loc)]
            touched.append(item)
            rid = order.reservation_id(line.line_no)
            if item.try_reserve(rid, order.id, line.quantity) is ReservationOutcome.RESERVED:
                answers.append((line.line_no, rid, loc))
                reserved.append((item, rid))
        if answers:
            order.reserve_lines(answers)
        fate = rng.random()
        if len(reserved) < len(lines):
            order.reject("out_of_stock")
            for item, rid in reserved:
                item.release(rid)
        elif fate < 0.15:
            order.cancel("customer changed mind")
            for item, rid in reserved:
                item.release(rid)
        elif fate <= 0.25:
            order.confirm()
        else:
            order.allocate()  # confirmed by the allocation, as the engine does it
            shipment = Shipment.create(
                order.id,
                loc,
                [
                    ShipmentLine(ln.line_no, ln.sku, ln.quantity, order.reservation_id(ln.line_no))
                    for ln in lines
                ],
            )
            touched.append(shipment)
            world.shipments.append(shipment)
            if fate > 0.4:
                shipment.pick()
                shipment.pack()
                shipment.ship("SF", f"SF{i:08d}")
                order.ship_lines([ln.line_no for ln in lines], str(shipment.id))
                for item, rid in reserved:
                    item.commit(rid)
                if fate > 0.9:
                    shipment.fail_delivery("nobody home")
                if fate > 0.55:
                    shipment.deliver()
                    order.deliver()
        world.orders.append(order)
        world.collect(*touched)
    return world


def event_topics(settings: Settings) -> list[str]:
    """The full names of the topics the projections read."""
    return [topics.name(settings, topics.events(t)) for t in topics.AGGREGATE_TYPES] + [
        topics.name(settings, topics.DEADLETTER)
    ]


def produce_dead_letters(settings: Settings, count: int) -> None:
    """Raw undecodable inputs with their reasons in the contract's headers, each from its
    own (made-up) intake offset."""
    p: Producer = producer(settings)
    for i in range(count):
        letter = deadletter.DeadLetter(
            deadletter.technical("decode.error", ValueError(f"bad input {i}"), field="lines"),
            deadletter.Source(topics.name(settings, topics.intake("web")), 0, i),
            "intake",
        )
        p.send(
            topics.name(settings, topics.DEADLETTER),
            key=f"in-{i}".encode(),
            value=b"\x00garbage" + bytes([i]),
            headers=letter.headers(),
        )
    p.flush()
    p.close()


def notified_orders(count: int, *, shipped: bool = True) -> tuple[list[Order], list[Any]]:
    """``count`` web shop orders to Chinese addresses, each confirmed and, when
    ``shipped``, shipped with SF, out for delivery and delivered: (orders, events).

    Customer ``i`` has phone ``1380000000i`` and email ``buyer{i}@example.com`` (their
    account), so each step calls for a mail and an SMS.
    """
    now = datetime.now(UTC)
    orders: list[Order] = []
    events: list[Any] = []
    for i in range(count):
        line = OrderLine(1, "SKU-TEA", 1, Money(12900, "CNY"), Money(0, "CNY"), ())
        order = Order.place(
            order_no=f"N-{uuid.uuid4().hex[:6]}-{i}",
            channel="web",
            external_id=f"{4000 + i}",
            customer=Customer(f"客户{i}", f"1380000000{i}", f"buyer{i}@example.com"),
            address=Address("文三路 90 号", "CN", "杭州市", "浙江省", "西湖区"),
            lines=[line],
            payment_method=PaymentMethod.ALIPAY,
            placed_at=now,
            paid_at_channel=f"web:{i}",
        )
        order.reserve_lines([(1, order.reservation_id(1), "WH-SH")])
        order.confirm()
        events.extend(order.collect_events())
        if shipped:
            shipment = Shipment.create(
                order.id, "WH-SH", [ShipmentLine(1, "SKU-TEA", 1, order.reservation_id(1))]
            )
            shipment.pick()
            shipment.pack()
            shipment.ship("SF", f"SF{9000000000 + i}")
            shipment.record_out_for_delivery(occurred_at=now)
            shipment.deliver()
            events.extend(shipment.collect_events())
        orders.append(order)
    return orders, events
