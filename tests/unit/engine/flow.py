"""An order processor without Kafka: commands in as records, what the transaction would
write out, decoded. Drives the same pure step (``handling.Step``) the processor runs."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, Literal, TypeVar

from oms_events.avro.codec import SingleObjectCodec
from oms_events.domain.order import Order, PaymentMethod
from oms_events.domain.workflow import Workflow
from oms_events.engine import commands
from oms_events.engine.commands import (
    AddressDetails,
    ChangeOrder,
    Command,
    CustomerDetails,
    LineDetails,
    LineToRelease,
    LineToReserve,
    PlaceOrder,
    ReleaseLines,
    ReservationAnswer,
    ReservationsAnswered,
    ReserveLines,
)
from oms_events.engine.handling import Outcome, Step
from oms_events.engine.order_saga import OrderSaga
from oms_events.engine.order_service import OrderService
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition
from oms_events.engine.records import CommandWriter, Outgoing, partition_for
from oms_events.engine.service import Service
from oms_events.engine.sourcing import StockView
from oms_events.eventlog import EventRecord
from oms_events.settings import Settings

CODEC = SingleObjectCodec()
SETTINGS = Settings().replace(kafka={"topic_prefix": "", "partitions": 6})
C = TypeVar("C", bound=Command)


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


@dataclass(frozen=True)
class Ask:
    """One line of a ReserveLines, with the command that carried it."""

    command: ReserveLines
    line: LineToReserve

    def __getattr__(self, name: str) -> Any:
        # The line's fields (sku, location, quantity, tried, ...), then the command's.
        if name in ("command", "line"):
            raise AttributeError(name)
        if hasattr(self.line, name):
            return getattr(self.line, name)
        return getattr(self.command, name)


@dataclass
class Result:
    """What one command did."""

    outcome: Outcome
    written: list[Written] = field(default_factory=list)

    def named(self, short: str) -> list[dict[str, Any]]:
        """Payloads of the written records called ``short`` (dead letters excluded)."""
        return [w.payload for w in self.written if w.short == short and "deadletter" not in w.topic]

    def commands(self, kind: type[C]) -> list[C]:
        """The commands of type ``kind`` written (dead letters excluded), as typed."""
        return [
            command
            for w in self.written
            if w.name == kind.schema() and "deadletter" not in w.topic
            if isinstance(command := commands.from_record(w.name, w.payload), kind)
        ]

    def releases(self) -> list[LineToRelease]:
        """Every line of every ReleaseLines written, in order."""
        return [line for c in self.commands(ReleaseLines) for line in c.lines]

    def asks(self) -> list[Ask]:
        """Every line of every ReserveLines written, in order."""
        return [Ask(c, line) for c in self.commands(ReserveLines) for line in c.lines]

    @property
    def dead(self) -> list[Written]:
        """Dead letters written."""
        return [w for w in self.written if w.topic.endswith("oms.deadletter")]

    @property
    def events(self) -> list[str]:
        """Names of the order events written, in order."""
        return [w.short for w in self.written if w.topic.endswith("oms.order.events")]


class Flow:
    """The order service and its saga (or ``service``), a partition map, and a record
    counter."""

    def __init__(
        self,
        stock: dict[tuple[str, str], int] | None = None,
        workflow: Workflow | None = None,
        service: Service | None = None,
    ) -> None:
        self.view = StockView()
        self.items: dict[tuple[str, str], uuid.UUID] = {}
        for (sku, location), quantity in (
            stock if stock is not None else {("TEA", "SH"): 5}
        ).items():
            self.receive(sku, location, quantity)
        self.service: Any = service or OrderService(OrderSaga(workflow or Workflow(), self.view))
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
            assert o.value is not None  # the order service writes no tombstones
            full, decoded = CODEC.decode(o.value)
            written.append(Written(o.topic, full, decoded, dict(o.headers)))
        return written

    def send(self, command: Command) -> Result:
        """Handle one order command as the processor would, in a fresh outbox."""
        return self.deliver(self.writer.record(command))

    def deliver(self, r: Outgoing) -> Result:
        """Handle one record on the order commands topic as the processor would."""
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
        self,
        *asks: Ask,
        outcome: Literal["reserved", "rejected"] = "reserved",
        available: int = 0,
    ) -> Result:
        """The inventory's one reply for ``asks`` (lines of one order), all with
        ``outcome``."""
        first = asks[0]
        return self.send(
            ReservationsAnswered(
                command_id=f"{first.command.command_id}/answer/{first.line_no}",
                order_id=first.order_id,
                answers=tuple(
                    ReservationAnswer(
                        line_no=a.line_no,
                        reservation_id=a.reservation_id,
                        sku=a.sku,
                        location=a.location,
                        quantity=a.quantity,
                        outcome=outcome,
                        reason="" if outcome == "reserved" else "stock.insufficient",
                        available=available,
                        tried=a.tried,
                    )
                    for a in asks
                ),
            )
        )


def place(
    external_id: str = "E1",
    lines: list[tuple[str, int]] | None = None,
    paid: bool = True,
    method: str = "alipay",
    placed_at: datetime | None = None,
    channel: str = "web",
) -> PlaceOrder:
    """A PlaceOrder; ``lines`` are (sku, quantity), numbered from 1."""
    return PlaceOrder(
        command_id=str(uuid.uuid4()),
        order_no=f"SO-{external_id}",
        channel=channel,
        external_id=external_id,
        customer=CustomerDetails(name="张三", phone="13800000000"),
        address=address(),
        currency="CNY",
        lines=tuple(
            line(n, sku, quantity)
            for n, (sku, quantity) in enumerate(lines or [("TEA", 1)], start=1)
        ),
        payment_method=PaymentMethod(method),
        paid=paid,
        placed_at=placed_at or datetime.now(UTC),
    )


def line(line_no: int, sku: str, quantity: int) -> LineDetails:
    """An order line at ¥10.00 a unit, no discount."""
    return LineDetails(line_no=line_no, sku=sku, quantity=quantity, unit_price=1000)


def address(line1: str = "文三路 90 号") -> AddressDetails:
    """A valid Chinese address."""
    return AddressDetails(
        country="CN",
        province="浙江省",
        city="杭州市",
        district="西湖区",
        postcode="310000",
        line1=line1,
    )


def change(
    placed: PlaceOrder,
    lines: list[tuple[int, str, int]],
    paid: bool = False,
    address: AddressDetails | None = None,
) -> ChangeOrder:
    """A ChangeOrder for ``placed`` with ``lines`` as (line no, sku, quantity)."""
    return ChangeOrder(
        command_id=str(uuid.uuid4()),
        order_no=placed.order_no,
        channel=placed.channel,
        external_id=placed.external_id,
        customer=placed.customer,
        address=address or placed.address,
        currency=placed.currency,
        lines=tuple(line(n, sku, quantity) for n, sku, quantity in lines),
        paid=paid,
        previous_hash="0" * 32,
        content_hash=uuid.uuid4().hex,
        changed_at=datetime.now(UTC),
    )


def order_id(placed: PlaceOrder) -> uuid.UUID:
    """The order id a PlaceOrder addresses."""
    return Order.create_id(placed.channel, placed.external_id)
