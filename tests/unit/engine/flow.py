"""An order processor without Kafka: commands in as records, what the transaction would
write out, decoded. Drives the same pure step (``handling.Step``) the processor runs."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from oms_events.avro.codec import SingleObjectCodec
from oms_events.domain.order import Order
from oms_events.domain.workflow import Workflow
from oms_events.engine.commands import CommandWriter, partition_for
from oms_events.engine.handling import Outcome, Step
from oms_events.engine.order_processor import OrderService
from oms_events.engine.order_saga import OrderSaga
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition
from oms_events.engine.sourcing import StockView
from oms_events.eventlog import EventRecord
from oms_events.settings import Settings

CODEC = SingleObjectCodec()
SETTINGS = Settings().replace(kafka={"topic_prefix": "", "partitions": 6})


@dataclass(frozen=True)
class Written:
    """One record the transaction would write, decoded."""

    topic: str
    name: str  # Avro full name, e.g. oms.inventory.commands.ReserveStock
    payload: dict[str, Any]
    headers: dict[str, bytes]

    @property
    def short(self) -> str:
        """The last part of the name: ReserveStock, OrderPlaced, ..."""
        return self.name.rsplit(".", 1)[-1]


@dataclass
class Result:
    """What one command did."""

    outcome: Outcome
    written: list[Written] = field(default_factory=list)

    def named(self, short: str) -> list[dict[str, Any]]:
        """Payloads of the written records called ``short`` (dead letters excluded)."""
        return [w.payload for w in self.written if w.short == short and "deadletter" not in w.topic]

    @property
    def dead(self) -> list[Written]:
        """Dead letters written."""
        return [w for w in self.written if w.topic.endswith("oms.deadletter")]

    @property
    def events(self) -> list[str]:
        """Names of the order events written, in order."""
        return [w.short for w in self.written if w.topic.endswith("oms.order.events")]


class Flow:
    """The order service and its saga, a partition map, and a record counter."""

    def __init__(
        self,
        stock: dict[tuple[str, str], int] | None = None,
        workflow: Workflow | None = None,
    ) -> None:
        self.view = StockView()
        self.items: dict[tuple[str, str], uuid.UUID] = {}
        for (sku, location), quantity in (
            stock if stock is not None else {("TEA", "SH"): 5}
        ).items():
            self.receive(sku, location, quantity)
        self.service = OrderService(OrderSaga(workflow or Workflow(), self.view))
        self.step = Step(self.service, SETTINGS, CODEC)
        self.writer = CommandWriter(SETTINGS, CODEC)
        self.partitions: dict[int, Partition] = {}
        self.offset = 0

    def receive(self, sku: str, location: str, quantity: int) -> None:
        """The stock view sees ``quantity`` more units of ``sku`` arrive at ``location``."""
        item = self.items.get((sku, location))
        now = datetime.now(UTC)
        if item is None:
            item = self.items[(sku, location)] = uuid.uuid4()
            self.view.apply(
                EventRecord(
                    "inventory",
                    "ItemRegistered",
                    item,
                    1,
                    now,
                    {"sku": sku, "location": location, "low_stock_threshold": 0},
                )
            )
        self.view.apply(
            EventRecord(
                "inventory", "StockReceived", item, 2, now, {"quantity": quantity, "reason": "po"}
            )
        )

    def tick(self) -> Result | None:
        """Run the order service's timers as the processor does: only when due."""
        now = time.time()
        if not self.service.due(now, self.partitions):
            return None
        out = Outbox(SETTINGS, CODEC)
        self.service.tick(now, self.partitions, out)
        return Result(Outcome.APPLIED, self._decode(out))

    def _decode(self, out: Outbox) -> list[Written]:
        written = []
        for o in out.records:
            full, decoded = CODEC.decode(o.value)
            written.append(Written(o.topic, full, decoded, dict(o.headers)))
        return written

    def send(self, name: str, payload: dict[str, Any]) -> Result:
        """Handle one order command as the processor would, in a fresh outbox."""
        key = self.service.key(name, payload)
        r = self.writer.record("order", name, key, payload)
        number = partition_for(r.key or b"", SETTINGS.kafka.partitions)
        record = SimpleNamespace(
            topic=r.topic,
            key=r.key,
            value=r.value,
            headers=r.headers,
            partition=number,
            offset=self.offset,
        )
        self.offset += 1
        out = Outbox(SETTINGS, CODEC)
        partition = self.partitions.get(number)
        if partition is None:
            partition = self.partitions[number] = Partition(number)
            self.service.rebuilt(partition)  # as the processor does on assignment
        outcome = self.step(record, partition, out)
        return Result(outcome, self._decode(out))

    def order(self, order_id: uuid.UUID | str) -> Order:
        """The order's in-memory state."""
        oid = uuid.UUID(str(order_id))
        number = partition_for(str(oid).encode(), SETTINGS.kafka.partitions)
        order: Order = self.partitions[number].get(oid)
        return order

    def answer(
        self, reserve: dict[str, Any], outcome: str = "reserved", available: int = 0
    ) -> Result:
        """The inventory's reply to one ReserveStock payload."""
        return self.send(
            "ReservationAnswered",
            {
                "command_id": f"{reserve['command_id']}/answer",
                "order_id": reserve["order_id"],
                "line_no": reserve["line_no"],
                "reservation_id": reserve["reservation_id"],
                "sku": reserve["sku"],
                "location": reserve["location"],
                "quantity": reserve["quantity"],
                "outcome": outcome,
                "reason": "" if outcome == "reserved" else "stock.insufficient",
                "available": available,
                "tried": list(reserve.get("tried") or []),
            },
        )


def place(
    external_id: str = "E1",
    lines: list[tuple[str, int]] | None = None,
    paid: bool = True,
    method: str = "alipay",
) -> dict[str, Any]:
    """A PlaceOrder payload; ``lines`` are (sku, quantity), numbered from 1."""
    return {
        "command_id": str(uuid.uuid4()),
        "order_no": f"SO-{external_id}",
        "channel": "web",
        "external_id": external_id,
        "customer": {"name": "张三", "phone": "13800000000", "account": None},
        "address": address(),
        "currency": "CNY",
        "lines": [
            line(n, sku, quantity)
            for n, (sku, quantity) in enumerate(lines or [("TEA", 1)], start=1)
        ],
        "payment_method": method,
        "paid": paid,
        "delivery_speed": "standard",
        "placed_at": datetime.now(UTC),
        "shipping_fee": 0,
    }


def line(line_no: int, sku: str, quantity: int) -> dict[str, Any]:
    """An order line payload at ¥10.00 a unit, no discount."""
    return {
        "line_no": line_no,
        "sku": sku,
        "quantity": quantity,
        "unit_price": 1000,
        "discount": 0,
        "promotions": [],
    }


def address(line1: str = "文三路 90 号") -> dict[str, Any]:
    """A valid Chinese address payload."""
    return {
        "country": "CN",
        "province": "浙江省",
        "city": "杭州市",
        "district": "西湖区",
        "postcode": "310000",
        "line1": line1,
    }


def change(
    placed: dict[str, Any], lines: list[tuple[int, str, int]], **extra: Any
) -> dict[str, Any]:
    """A ChangeOrder payload for ``placed`` with ``lines`` as (line no, sku, quantity)."""
    body = {k: placed[k] for k in ("order_no", "channel", "external_id", "customer", "currency")}
    version = uuid.uuid4().hex
    return {
        "command_id": str(uuid.uuid4()),
        **body,
        "address": extra.pop("address", placed["address"]),
        "lines": [line(n, sku, quantity) for n, sku, quantity in lines],
        "shipping_fee": 0,
        "paid": extra.pop("paid", False),
        "previous_hash": "0" * 32,
        "content_hash": version,
        "changed_at": datetime.now(UTC),
        **extra,
    }


def order_id(placed: dict[str, Any]) -> str:
    """The order id a PlaceOrder addresses."""
    return str(Order.create_id(placed["channel"], placed["external_id"]))
