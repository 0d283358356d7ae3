"""Returns through the services without Kafka: the order takes a return and opens it at
the return service, the rules approve it, the goods come back, inspected lines are
restocked or written off, the order prices the refund and the payment is asked for it;
refund-only, an exchange's replacement order, a rejection, and completion once the
return window closes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from oms_events import eventlog
from oms_events.avro.codec import SingleObjectCodec
from oms_events.domain.order import OrderStatus
from oms_events.domain.return_policy import ReturnPolicy
from oms_events.domain.returns import ReturnStatus
from oms_events.domain.workflow import Workflow
from oms_events.engine import snapshots
from oms_events.engine.commands import (
    CancelOrder,
    CancelReturn,
    CloseReturn,
    Command,
    DeliverShipment,
    ExchangeLine,
    InspectedLine,
    InspectReturn,
    OpenReturn,
    PlaceOrder,
    ReceiveReturn,
    RecordPayment,
    RecordReturnRefund,
    RequestRefund,
    RequestReturn,
    RestockLines,
    ReturnLineRequest,
    ShipLines,
    ShipReturn,
)
from oms_events.engine.handling import Outcome
from oms_events.engine.order_saga import OrderSaga
from oms_events.engine.order_service import OrderService
from oms_events.engine.records import partition_for
from oms_events.engine.return_service import ReturnService
from oms_events.engine.sourcing import StockView
from tests.unit.engine.flow import SETTINGS, Flow, Result, place

NOW = datetime.now(UTC)
LOG = eventlog.EventLog(SingleObjectCodec())


class Returns:
    """An order flow and a return flow, commands passed between them by hand."""

    def __init__(self, policy: ReturnPolicy | None = None) -> None:
        policy = policy or ReturnPolicy()
        self.orders = Flow(
            stock={("TEA", "SH"): 5, ("CUP", "SH"): 5, ("TEA-L", "SH"): 5},
            service=OrderService(OrderSaga(Workflow(), StockView()), policy),
        )
        self.orders.service.saga.stock = self.orders.view
        self.returns = Flow(stock={}, service=ReturnService(policy))

    def shipped(self, external_id: str = "R1", method: str = "alipay") -> uuid.UUID:
        placed = place(external_id, [("TEA", 2), ("CUP", 1)], paid=method != "cod", method=method)
        asks = self.orders.send(placed).asks()
        self.orders.answer(*asks)
        order_id = uuid.UUID(placed.key)
        self.orders.send(
            ShipLines(
                command_id=str(uuid.uuid4()),
                order_id=order_id,
                shipment_id=uuid.uuid4(),
                line_nos=(1, 2),
            )
        )
        return order_id

    def request(self, order_id: uuid.UUID, *lines: tuple[int, int], **kw: Any) -> Result:
        kw.setdefault("reason", "quality")
        return self.orders.send(
            RequestReturn(
                command_id=str(uuid.uuid4()),
                order_id=order_id,
                return_no=kw.pop("return_no", "RMA-1"),
                lines=tuple(ReturnLineRequest(line_no=n, quantity=q) for n, q in lines),
                requested_at=NOW,
                **kw,
            )
        )

    def to_return(self, command: Command) -> Result:
        return self.returns.send(command)

    def ret(self, return_id: uuid.UUID) -> Any:
        number = partition_for(str(return_id).encode(), SETTINGS.kafka.partitions)
        return self.returns.partitions[number].get(return_id)


def test_goods_back_restocked_and_written_off_then_refunded_at_the_lines_net() -> None:
    flow = Returns()
    order_id = flow.shipped()
    asked = flow.request(order_id, (1, 2), (2, 1))
    assert asked.events == ["ReturnOpened"]
    [opened] = asked.commands(OpenReturn)
    approved = flow.to_return(opened)
    assert [w.short for w in approved.written] == ["ReturnRequested", "ReturnApproved"]
    rid = opened.return_id
    flow.to_return(
        ShipReturn(command_id="s", return_id=rid, carrier="SF", tracking_no="SF1234567890123")
    )
    flow.to_return(ReceiveReturn(command_id="r", return_id=rid, location="SH"))
    inspected = flow.to_return(
        InspectReturn(
            command_id="i",
            return_id=rid,
            lines=(
                InspectedLine(line_no=1, outcome="resellable"),
                InspectedLine(line_no=2, outcome="damaged", reason="cracked"),
            ),
        )
    )
    [restock] = inspected.commands(RestockLines)
    assert restock.restock_id == rid and restock.reason == "return RMA-1"
    assert [(ln.sku, ln.location, ln.quantity) for ln in restock.lines] == [("TEA", "SH", 2)]
    [close] = inspected.commands(CloseReturn)
    assert close.refund and close.outcome == "refunded"
    refunded = flow.orders.send(close)
    assert refunded.events == ["RefundAgreed", "ReturnResolved"]
    [money] = refunded.commands(RequestRefund)
    assert (money.refund_id, money.amount) == ("RMA-1", 3000)  # 2 TEA + 1 CUP at ¥10
    [told] = refunded.commands(RecordReturnRefund)
    flow.to_return(told)
    assert flow.ret(rid).status is ReturnStatus.REFUNDED
    assert flow.ret(rid).refunded.amount == 3000
    # Everything came back: nothing more to return.
    again = flow.request(order_id, (1, 1), return_no="RMA-2")
    assert again.outcome is Outcome.REJECTED


def test_refund_only_refunds_without_a_parcel() -> None:
    flow = Returns()
    order_id = flow.shipped()
    [opened] = flow.request(order_id, (2, 1), reason="missing", refund_only=True).commands(
        OpenReturn
    )
    [close] = flow.to_return(opened).commands(CloseReturn)
    assert close.refund and [(k.line_no, k.quantity) for k in close.lines] == [(2, 1)]
    [money] = flow.orders.send(close).commands(RequestRefund)
    assert money.amount == 1000


def test_an_exchange_places_a_free_replacement_order_and_refunds_nothing() -> None:
    flow = Returns()
    order_id = flow.shipped()
    asked = flow.request(order_id, (1, 1), exchange_lines=(ExchangeLine(sku="TEA-L", quantity=1),))
    [replacement] = asked.commands(PlaceOrder)
    assert replacement.channel == "exchange" and replacement.external_id == "RMA-1"
    assert [(ln.sku, ln.unit_price) for ln in replacement.lines] == [("TEA-L", 0)]
    # The replacement goes through the ordinary order flow: its stock is asked for.
    assert [a.sku for a in flow.orders.send(replacement).asks()] == ["TEA-L"]
    [opened] = asked.commands(OpenReturn)
    assert opened.exchange_order_id == uuid.UUID(replacement.key)
    flow.to_return(opened)
    flow.to_return(ReceiveReturn(command_id="r", return_id=opened.return_id, location="SH"))
    inspected = flow.to_return(
        InspectReturn(
            command_id="i",
            return_id=opened.return_id,
            lines=(InspectedLine(line_no=1, outcome="resellable"),),
        )
    )
    [close] = inspected.commands(CloseReturn)
    assert (close.outcome, close.refund) == ("exchanged", False)
    assert flow.orders.send(close).commands(RequestRefund) == []


def test_the_rules_reject_a_non_returnable_sku_and_cancel_the_exchange() -> None:
    flow = Returns(ReturnPolicy(non_returnable=frozenset({"TEA"})))
    order_id = flow.shipped()
    asked = flow.request(
        order_id,
        (1, 1),
        reason="no_reason_7d",
        exchange_lines=(ExchangeLine(sku="TEA-L", quantity=1),),
    )
    [opened] = asked.commands(OpenReturn)
    rejected = flow.to_return(opened)
    assert "ReturnRejected" in [w.short for w in rejected.written]
    [close] = rejected.commands(CloseReturn)
    [cancel] = rejected.commands(CancelOrder)
    assert cancel.order_id == opened.exchange_order_id
    flow.orders.send(close)
    assert flow.orders.order(order_id).returnable_units() == {1: 2, 2: 1}


def test_an_unknown_reason_is_refused_not_dead_lettered() -> None:
    flow = Returns()
    order_id = flow.shipped()
    refused = flow.request(order_id, (1, 1), reason="bored")
    assert refused.outcome is Outcome.REJECTED and not refused.dead


def delivered(flow: Returns, external_id: str, ago: timedelta, method: str = "alipay") -> uuid.UUID:
    """A shipped order whose shipment the carrier delivered ``ago``."""
    order_id = flow.shipped(external_id, method)
    [shipment] = set(flow.orders.order(order_id).shipments.values())
    flow.orders.send(
        DeliverShipment(
            command_id=f"delivered/{shipment}",
            order_id=order_id,
            shipment_id=uuid.UUID(shipment),
            # From the clock now, not the module's import: the order service's timer
            # reads the real clock, and a full run imports this module long before.
            delivered_at=datetime.now(UTC) - ago,
            carrier="SF",
            tracking_no="SF1234567890123",
        )
    )
    return order_id


def test_a_delivered_order_completes_when_its_window_closes_with_no_return_open() -> None:
    flow = Returns(ReturnPolicy(window=timedelta(seconds=60)))
    recent = delivered(flow, "R2", timedelta(seconds=30))
    order_id = delivered(flow, "R1", timedelta(seconds=61))
    [opened] = flow.request(order_id, (1, 1)).commands(OpenReturn)
    assert flow.orders.tick() is None  # R1's window closed, but a return is open
    flow.orders.send(
        CloseReturn(
            command_id="c",
            order_id=order_id,
            return_id=opened.return_id,
            return_no="RMA-1",
            outcome="rejected",
            reason="quality",
        )
    )
    ticked = flow.orders.tick()
    assert ticked is not None and ticked.events == ["OrderCompleted"]
    assert flow.orders.order(order_id).status is OrderStatus.COMPLETED
    assert flow.orders.order(recent).status is OrderStatus.DELIVERED  # 30 s of 60: open
    assert flow.orders.tick() is None


def test_a_channel_names_the_line_by_sku() -> None:
    flow = Returns()
    order_id = flow.shipped()
    asked = flow.orders.send(
        RequestReturn(
            command_id="tmall-refund",
            order_id=order_id,
            return_no="RMA-tmall-1",
            lines=(ReturnLineRequest(line_no=0, quantity=1, sku="CUP"),),
            reason="damaged",
            requested_at=NOW,
        )
    )
    [opened] = asked.commands(OpenReturn)
    assert [(ln.line_no, ln.sku) for ln in opened.lines] == [(2, "CUP")]
    bad = flow.orders.send(
        RequestReturn(
            command_id="tmall-refund-2",
            order_id=order_id,
            return_no="RMA-tmall-2",
            lines=(ReturnLineRequest(line_no=0, quantity=1, sku="NOT-ORDERED"),),
            reason="damaged",
            requested_at=NOW,
        )
    )
    assert bad.outcome is Outcome.DEAD  # the channel sent what we cannot match: looked at


def test_a_withdrawn_exchange_frees_its_units_and_cancels_the_replacement() -> None:
    flow = Returns()
    order_id = flow.shipped()
    asked = flow.request(order_id, (1, 2), exchange_lines=(ExchangeLine(sku="TEA-L", quantity=2),))
    [opened] = asked.commands(OpenReturn)
    flow.to_return(opened)
    withdrawn = flow.to_return(
        CancelReturn(command_id="w", return_id=opened.return_id, reason="kept it")
    )
    [close] = withdrawn.commands(CloseReturn)
    [cancel] = withdrawn.commands(CancelOrder)
    assert (close.outcome, cancel.order_id) == ("cancelled", opened.exchange_order_id)
    flow.orders.send(close)
    assert flow.orders.order(order_id).returnable_units() == {1: 2, 2: 1}


def test_a_delivered_order_out_of_memory_still_completes_after_a_restart() -> None:
    """A delivered order rests out of memory until its window closes; a restarted engine
    knows it only from its snapshot record, and must still complete it (a full-life run
    killed mid-way once left such an order delivered for ever)."""
    window = timedelta(seconds=60)
    flow = Returns(ReturnPolicy(window=window))
    order_id = delivered(flow, "R1", timedelta(seconds=61))
    number = partition_for(str(order_id).encode(), SETTINGS.kafka.partitions)
    partition = flow.orders.partitions[number]
    at_ms = int(datetime.now(UTC).timestamp() * 1000)
    settlement = snapshots.settle(
        partition, LOG, "order", at_ms, 200, 60_000, wake=flow.orders.service.wake_ms
    )
    assert order_id in settlement.leaving  # a delivered order is dormant: it leaves
    written = [eventlog.Record(v, k, h, timestamp=at_ms) for k, v, h in settlement.records]

    def load(aggregate_id: uuid.UUID, stub: snapshots.Stub) -> tuple[Any, list[str]]:
        found = snapshots.find(written, aggregate_id, stub.version, stub.closed)
        assert found is not None
        return snapshots.restore(LOG, found.value)

    # The restart: the partition rebuilt from its snapshots alone, a fresh service.
    rebuilt = snapshots.rebuild(number, written, lambda since: [], LOG, at_ms, 60_000, load)
    assert order_id not in rebuilt.partition.aggregates
    again = Returns(ReturnPolicy(window=window)).orders
    again.partitions[number] = rebuilt.partition
    again.service.rebuilt(rebuilt.partition)
    ticked = again.tick()
    assert ticked is not None and ticked.events == ["OrderCompleted"]
    assert again.order(order_id).status is OrderStatus.COMPLETED


def test_a_cod_return_inspected_before_the_courier_remits_is_refunded_when_the_cash_comes() -> None:
    # The customer paid the courier at the door and sent the goods back; the return was
    # inspected before the courier's remittance was recorded (CI, round six: the refund
    # was refused, the return stayed open on the order and it never completed).
    flow = Returns()
    order_id = delivered(flow, "R1", timedelta(hours=1), method="cod")
    [opened] = flow.request(order_id, (1, 1)).commands(OpenReturn)
    rid = opened.return_id
    flow.to_return(opened)
    flow.to_return(
        ShipReturn(command_id="s", return_id=rid, carrier="SF", tracking_no="SF1234567890123")
    )
    flow.to_return(ReceiveReturn(command_id="r", return_id=rid, location="SH"))
    inspected = flow.to_return(
        InspectReturn(
            command_id="i", return_id=rid, lines=(InspectedLine(line_no=1, outcome="resellable"),)
        )
    )
    [close] = inspected.commands(CloseReturn)
    closed = flow.orders.send(close)
    assert closed.events == ["RefundWaiting", "ReturnResolved"]
    assert not closed.commands(RequestRefund) and not closed.commands(RecordReturnRefund)
    assert not flow.orders.order(order_id).completable  # unpaid, its refund waiting
    paid = flow.orders.send(
        RecordPayment(
            command_id="cod",
            order_id=order_id,
            payment_id="cod:SF:SF1234567890123",
            amount=3000,
            currency="CNY",
        )
    )
    assert paid.events == ["PaymentRecorded", "RefundAgreed"]
    [money] = paid.commands(RequestRefund)
    assert (money.refund_id, money.amount) == ("RMA-1", 1000)  # one TEA at ¥10
    [told] = paid.commands(RecordReturnRefund)
    flow.to_return(told)
    assert flow.ret(rid).status is ReturnStatus.REFUNDED
    assert flow.orders.order(order_id).completable  # once its return window closes


def test_a_waiting_refund_refunded_meanwhile_never_refuses_the_payment() -> None:
    # The units were refunded another way while the refund waited: the courier's cash
    # is still recorded (the refund stays waiting, visibly) rather than refused.
    flow = Returns()
    order_id = delivered(flow, "R1", timedelta(hours=1), method="cod")
    order = flow.orders.order(order_id)
    order.open_return(uuid.UUID(int=5), "RMA-5", {1: 2}, "quality")
    order.refund_return("RMA-5", uuid.UUID(int=5), {1: 2}, "return: quality")
    order.refunded_units = ((1, 1),)  # one of the two units refunded meanwhile
    order.payments["cod:SF:SF1"] = order.total
    assert order.agree_waiting_refunds() == []
    assert [w[0] for w in order.refunds_waiting] == ["RMA-5"]
