"""The order saga and the processor's per-record step, without Kafka.

place -> ReserveLines per inventory partition -> every line reserved -> OrderAllocated
(confirmed, with the reservations) in the event of the last answer; a refused
line -> next location, else compensation and rejection (or a pre-order); cancel at
any step releases every reservation; a redelivered command has no second effect; a
command a domain rule refuses gets a CommandRejected reply.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from oms_events import deadletter
from oms_events.domain.order import OrderStatus
from oms_events.domain.shipment import Shipment
from oms_events.domain.workflow import ShortagePolicy, Workflow
from oms_events.engine.commands import (
    CancelOrder,
    CancelShipment,
    CreateShipment,
    CustomerDetails,
    DeliverShipment,
    PlaceOrder,
    RecordInterception,
    RecordPayment,
    ReleaseLines,
    ReserveLines,
    RevealReceiver,
    ShipLines,
)
from oms_events.engine.handling import Outcome
from oms_events.engine.records import partition_for
from tests.unit.engine.flow import (
    SETTINGS,
    Ask,
    Flow,
    Result,
    address,
    change,
    order_id,
    place,
)


def test_placing_asks_the_inventory_for_every_line() -> None:
    flow = Flow({("TEA", "SH"): 5, ("TEA", "BJ"): 2, ("CUP", "BJ"): 3})
    placed = place(lines=[("TEA", 2), ("CUP", 1)])
    result = flow.send(placed)
    assert result.outcome is Outcome.APPLIED
    assert result.events == ["OrderPlaced"]  # the channel's payment rides in it
    order = flow.order(order_id(placed))
    assert order.is_paid
    reserves = result.asks()
    assert [(r.line_no, r.sku, r.location, r.quantity) for r in reserves] == [
        (1, "TEA", "SH", 2),  # the location with the most available
        (2, "CUP", "BJ", 1),
    ]
    assert [r.reservation_id for r in reserves] == [
        order.reservation_id(1),
        order.reservation_id(2),
    ]
    assert order.status is OrderStatus.PENDING


def test_every_line_reserved_confirms_and_allocates() -> None:
    flow = Flow({("TEA", "SH"): 5, ("CUP", "SH"): 3})
    placed = place(lines=[("TEA", 2), ("CUP", 1)])
    first, second = flow.send(placed).asks()

    one = flow.answer(first)
    assert one.events == ["LinesReserved"]
    assert flow.order(order_id(placed)).status is OrderStatus.PENDING  # waits for line 2

    both = flow.answer(second)
    assert both.events == ["OrderAllocated"]  # reserved, confirmed and allocated at once
    order = flow.order(order_id(placed))
    assert order.status is OrderStatus.ALLOCATED
    assert order.reservations[2] == (second.reservation_id, "SH")
    [allocation] = both.named("Allocation")
    assert allocation["location"] == "SH"
    assert [line["sku"] for line in allocation["lines"]] == ["TEA", "CUP"]
    [shipment] = both.commands(CreateShipment)
    assert str(shipment.shipment_id) == allocation["shipment_id"]


def test_an_unpaid_order_waits_for_its_payment() -> None:
    flow = Flow()
    placed = place(paid=False)
    [reserve] = flow.send(placed).asks()
    assert flow.answer(reserve).events == ["LinesReserved"]
    paid = flow.send(
        RecordPayment(
            command_id="pay-1",
            order_id=order_id(placed),
            payment_id="alipay-1",
            amount=1000,
            currency="CNY",
        )
    )
    assert paid.events == ["PaymentRecorded", "OrderAllocated"]


def test_one_reserve_command_per_inventory_partition_and_one_event_per_answer() -> None:
    skus = [f"SKU-{n}" for n in range(12)]
    flow = Flow({(sku, "SH"): 5 for sku in skus})
    placed = place(lines=[(sku, 1) for sku in skus])
    commands = flow.send(placed).commands(ReserveLines)
    owners = [partition_for(c.key.encode(), SETTINGS.kafka.partitions) for c in commands]
    assert len(owners) == len(set(owners)) > 1  # one per partition that holds its items
    for c in commands:  # every line lands where its item lives
        assert {
            partition_for(line.item.encode(), SETTINGS.kafka.partitions) for line in c.lines
        } == {partition_for(c.key.encode(), SETTINGS.kafka.partitions)}
    assert sorted(line.line_no for c in commands for line in c.lines) == list(range(1, 13))
    *early, last = commands
    for c in early:
        answered = flow.answer(*[Ask(c, line) for line in c.lines])
        assert answered.events == ["LinesReserved"]  # one event for all its lines
    done = flow.answer(*[Ask(last, line) for line in last.lines])
    assert done.events == ["OrderAllocated"]
    assert flow.order(order_id(placed)).status is OrderStatus.ALLOCATED
    # Cancelled: the stock goes back the same way, one ReleaseLines per partition.
    cancelled = _cancel(flow, placed)
    releases = cancelled.commands(ReleaseLines)
    assert sorted(partition_for(c.key.encode(), SETTINGS.kafka.partitions) for c in releases) == (
        sorted(owners)
    )
    assert len(cancelled.releases()) == 12


def test_a_refusal_tries_the_next_location_with_stock() -> None:
    flow = Flow({("TEA", "SH"): 5, ("TEA", "BJ"): 2})
    [reserve] = flow.send(place()).asks()
    assert reserve.location == "SH"
    retry = flow.answer(reserve, outcome="rejected", available=0)
    [again] = retry.asks()
    assert (again.location, again.tried) == ("BJ", ("SH",))
    assert again.reservation_id == reserve.reservation_id  # same line, same quantity
    assert again.command_id != reserve.command_id


def test_a_shortage_releases_what_was_reserved_then_rejects() -> None:
    flow = Flow({("TEA", "SH"): 5, ("CUP", "SH"): 0})
    placed = place(lines=[("TEA", 2), ("CUP", 1)])
    tea, cup = flow.send(placed).asks()
    flow.answer(tea)
    refused = flow.answer(cup, outcome="rejected", available=0)
    assert "OrderRejected" in refused.events
    assert flow.order(order_id(placed)).status is OrderStatus.REJECTED
    [release] = refused.releases()
    assert (release.reservation_id, release.sku, release.location) == (
        tea.reservation_id,
        "TEA",
        "SH",
    )
    assert not refused.asks()  # no other location has CUP


def test_a_shortage_keeps_a_pre_order_when_the_workflow_says_so() -> None:
    flow = Flow(
        {("TEA", "SH"): 5, ("CUP", "SH"): 0},
        Workflow(on_shortage=ShortagePolicy.PREORDER),
    )
    placed = place(lines=[("TEA", 2), ("CUP", 1)])
    tea, cup = flow.send(placed).asks()
    flow.answer(tea)
    refused = flow.answer(cup, outcome="rejected", available=0)
    assert refused.events == ["PreOrdered"]
    assert not refused.releases()  # the reserved line keeps its stock
    order = flow.order(order_id(placed))
    assert order.status is OrderStatus.PRE_ORDER and list(order.reservations) == [1]


def test_a_late_answer_for_a_closed_order_is_given_back() -> None:
    flow = Flow({("TEA", "SH"): 5, ("CUP", "SH"): 0})
    placed = place(lines=[("TEA", 2), ("CUP", 1)])
    tea, cup = flow.send(placed).asks()
    flow.answer(cup, outcome="rejected", available=0)  # rejected before TEA answered
    late = flow.answer(tea)
    assert late.events == []
    [release] = late.releases()
    assert release.reservation_id == tea.reservation_id


def _cancel(flow: Flow, placed: PlaceOrder, command_id: str = "cancel-1") -> Result:
    return flow.send(
        CancelOrder(command_id=command_id, order_id=order_id(placed), reason="customer")
    )


@pytest.mark.parametrize("answered", [0, 1, 2])
def test_cancel_at_any_step_releases_every_reservation(answered: int) -> None:
    flow = Flow({("TEA", "SH"): 5, ("CUP", "SH"): 3})
    placed = place(lines=[("TEA", 2), ("CUP", 1)])
    reserves = flow.send(placed).asks()
    for reserve in reserves[:answered]:
        flow.answer(reserve)
    cancelled = _cancel(flow, placed)
    assert cancelled.outcome is Outcome.APPLIED
    assert cancelled.events[0] == "OrderCancelled"
    released = {r.reservation_id for r in cancelled.releases()}
    assert released == {r.reservation_id for r in reserves[:answered]}
    # Answers still in flight come back after the cancel: they are given back too.
    for reserve in reserves[answered:]:
        late = flow.answer(reserve)
        assert [r.reservation_id for r in late.releases()] == [reserve.reservation_id]
    assert flow.order(order_id(placed)).status is OrderStatus.CANCELLED


def test_a_redelivered_command_has_no_second_effect() -> None:
    flow = Flow()
    placed = place(paid=False)
    [reserve] = flow.send(placed).asks()
    flow.answer(reserve)
    first = _cancel(flow, placed, "cancel-7")
    again = _cancel(flow, placed, "cancel-7")
    assert first.outcome is Outcome.APPLIED
    assert again.outcome is Outcome.DUPLICATE
    assert again.written == []
    # The same for an inventory answer and for the placement itself.
    assert flow.answer(reserve).outcome is Outcome.DUPLICATE
    assert flow.send(placed).written == []


def test_a_command_refused_by_a_rule_gets_a_rejection_reply() -> None:
    flow = Flow()
    placed = place(paid=False)
    flow.send(placed)
    refused = flow.send(
        RecordPayment(
            command_id="pay-0", order_id=order_id(placed), payment_id="p0", amount=0, currency="CNY"
        )
    )
    assert refused.outcome is Outcome.DEAD
    [reply] = refused.named("CommandRejected")
    assert reply["code"] == "payment.amount_invalid"
    assert (reply["command_id"], reply["command"]) == ("pay-0", "order.RecordPayment")
    assert reply["aggregate_id"] == str(order_id(placed)) and reply["message_zh"]
    [dead] = refused.dead
    letter = deadletter.read(dead.headers.items())
    assert letter.reason.code == "payment.amount_invalid"  # bad input: operators see it
    assert letter.reason.en and letter.reason.zh and letter.processor == "engine.order"
    assert refused.events == []
    assert not flow.order(order_id(placed)).payments


def test_bad_input_is_dead_lettered_without_a_reply() -> None:
    flow = Flow()
    result = flow.send(
        RecordPayment(
            command_id="c", order_id=uuid.uuid4(), payment_id="p", amount=100, currency="CNY"
        )
    )
    assert result.outcome is Outcome.DEAD
    letter = deadletter.read(result.dead[0].headers.items())
    assert letter.reason.code == "command.invalid"  # no such order
    assert letter.source.topic.endswith("oms.order.commands") and letter.source.offset >= 0
    assert not result.named("CommandRejected")


def test_cancelling_an_order_never_placed_is_refused_visibly() -> None:
    flow = Flow()
    unknown = uuid.uuid4()
    result = flow.send(CancelOrder(command_id="c", order_id=unknown, reason="closed"))
    [reply] = result.named("CommandRejected")  # the sender can look it up
    assert reply["code"] == "order.unknown" and reply["aggregate_id"] == str(unknown)
    # ... and so can an operator (exceptions), who may replay it once the order exists.
    [dead] = result.dead
    assert deadletter.read(dead.headers.items()).reason.code == "order.unknown"


def test_cancelling_a_delivered_order_is_refused_with_the_way_forward() -> None:
    flow = Flow({("TEA", "SH"): 5})
    placed = place(lines=[("TEA", 1)])
    oid = _allocated(flow, placed)
    shipment_id = Shipment.create_id(oid, "SH")
    flow.send(ShipLines(command_id="s", order_id=oid, shipment_id=shipment_id, line_nos=(1,)))
    _cancel(flow, placed)
    # What the shipment sends for a delivered scan of an intercepted parcel.
    flow.send(
        RecordInterception(
            command_id="i", order_id=oid, shipment_id=shipment_id, outcome="delivered"
        )
    )
    delivered = flow.send(
        DeliverShipment(
            command_id="d",
            order_id=oid,
            shipment_id=shipment_id,
            delivered_at=datetime.now(UTC),
            carrier="SF",
            tracking_no="SF1",
        )
    )
    assert delivered.events == ["OrderDelivered"]
    again = _cancel(flow, placed, "cancel-2")
    assert again.outcome is Outcome.REJECTED and not again.dead  # an answer, not bad input
    [reply] = again.named("CommandRejected")
    assert reply["code"] == "order.cancel_too_late" and "return" in reply["message_en"]


def _allocated(flow: Flow, placed: PlaceOrder) -> uuid.UUID:
    for reserve in flow.send(placed).asks():
        flow.answer(reserve)
    assert flow.order(order_id(placed)).status is OrderStatus.ALLOCATED
    return order_id(placed)


def test_cancelling_an_allocated_order_stops_its_shipments() -> None:
    flow = Flow({("TEA", "SH"): 5})
    placed = place(lines=[("TEA", 2)])
    oid = _allocated(flow, placed)
    cancelled = _cancel(flow, placed)
    assert cancelled.events[:1] == ["OrderCancelled"] and "RefundDue" in cancelled.events
    [stop] = cancelled.commands(CancelShipment)
    assert stop.shipment_id == Shipment.create_id(oid, "SH") and stop.reason
    assert len(cancelled.releases()) == 1
    # The warehouse's shipped confirmation was on its way: the order ignores it (the
    # shipment has the carrier intercept the parcel); nothing is dead-lettered.
    late = flow.send(
        ShipLines(command_id="late", order_id=oid, shipment_id=stop.shipment_id, line_nos=(1,))
    )
    assert late.outcome is Outcome.APPLIED and late.events == [] and not late.dead


def test_cancelling_a_shipped_order_waits_for_the_carrier() -> None:
    flow = Flow({("TEA", "SH"): 5})
    placed = place(lines=[("TEA", 2)])
    oid = _allocated(flow, placed)
    shipment_id = Shipment.create_id(oid, "SH")
    flow.send(ShipLines(command_id="s", order_id=oid, shipment_id=shipment_id, line_nos=(1,)))
    asked = _cancel(flow, placed)
    assert asked.events == ["CancellationRequested"] and not asked.releases()
    assert [c.shipment_id for c in asked.commands(CancelShipment)] == [shipment_id]
    back = flow.send(
        RecordInterception(
            command_id="i", order_id=oid, shipment_id=shipment_id, outcome="intercepted"
        )
    )
    assert back.events == ["ShipmentIntercepted", "OrderCancelled", "RefundDue"]
    assert back.named("RequestRefund")  # the money goes back to the customer
    assert flow.order(oid).status is OrderStatus.CANCELLED


def test_a_parcel_leaving_while_the_order_is_being_cancelled_is_intercepted_too() -> None:
    flow = Flow({("TEA", "SH"): 5, ("CUP", "BJ"): 5})
    placed = place(lines=[("TEA", 1), ("CUP", 1)])  # one parcel from each location
    oid = _allocated(flow, placed)
    sh, bj = (Shipment.create_id(oid, loc) for loc in ("SH", "BJ"))
    allocations = flow.order(oid).allocations
    assert sorted(allocations.values()) == ["BJ", "SH"]
    shipped, other = (sh, bj) if allocations[1] == "SH" else (bj, sh)
    flow.send(ShipLines(command_id="s1", order_id=oid, shipment_id=shipped, line_nos=(1,)))
    assert [c.shipment_id for c in _cancel(flow, placed).commands(CancelShipment)] == [shipped]
    late = flow.send(ShipLines(command_id="s2", order_id=oid, shipment_id=other, line_nos=(2,)))
    assert [c.shipment_id for c in late.commands(CancelShipment)] == [other]
    for n, shipment_id in enumerate((shipped, other)):
        done = flow.send(
            RecordInterception(
                command_id=f"i{n}", order_id=oid, shipment_id=shipment_id, outcome="intercepted"
            )
        )
    assert "OrderCancelled" in done.events


# --- ChangeOrder ---------------------------------------------------------------------


def _reserved(flow: Flow, placed: PlaceOrder) -> list[Ask]:
    """Place ``placed`` and answer none of its reservations yet."""
    return flow.send(placed).asks()


def test_a_quantity_change_moves_the_reservation() -> None:
    flow = Flow({("TEA", "SH"): 5, ("CUP", "SH"): 3})
    placed = place(paid=False, lines=[("TEA", 2), ("CUP", 1)])
    tea, cup = _reserved(flow, placed)
    flow.answer(tea)
    flow.answer(cup)
    changed = flow.send(change(placed, [(1, "TEA", 3), (2, "CUP", 1)]))
    assert changed.outcome is Outcome.APPLIED
    assert changed.events == ["QuantityChanged"]
    [release] = changed.releases()
    assert release.reservation_id == tea.reservation_id
    [reserve] = changed.asks()
    assert (reserve.line_no, reserve.quantity) == (1, 3)
    assert reserve.reservation_id != tea.reservation_id  # a new id for a new quantity
    order = flow.order(order_id(placed))
    assert list(order.reservations) == [2]  # CUP keeps its stock
    # The new reservation is answered: the order goes on as before.
    flow.answer(reserve)
    assert sorted(flow.order(order_id(placed)).reservations) == [1, 2]


def test_added_and_removed_lines_reserve_and_release() -> None:
    flow = Flow({("TEA", "SH"): 5, ("CUP", "SH"): 3, ("POT", "SH"): 1})
    placed = place(paid=False, lines=[("TEA", 2), ("CUP", 1)])
    tea, cup = _reserved(flow, placed)
    flow.answer(tea)
    flow.answer(cup)
    changed = flow.send(change(placed, [(1, "TEA", 2), (3, "POT", 1)]))
    assert changed.events == ["LineAdded", "LineRemoved"]
    assert [r.reservation_id for r in changed.releases()] == [cup.reservation_id]
    [reserve] = changed.asks()
    assert (reserve.sku, reserve.line_no) == ("POT", 3)
    order = flow.order(order_id(placed))
    assert {n: line.sku for n, line in order.lines.items()} == {1: "TEA", 3: "POT"}


def test_a_change_of_address_moves_no_stock() -> None:
    flow = Flow()
    placed = place(paid=False)
    [tea] = _reserved(flow, placed)
    flow.answer(tea)
    changed = flow.send(change(placed, [(1, "TEA", 1)], address=address("文二路 1 号")))
    assert changed.events == ["AddressChanged"]
    assert not changed.releases() and not changed.asks()
    assert flow.order(order_id(placed)).address.line1 == "文二路 1 号"


def test_a_change_before_the_first_answer_releases_the_old_one_when_it_comes() -> None:
    flow = Flow({("TEA", "SH"): 5})
    placed = place(paid=False, lines=[("TEA", 2)])
    [tea] = _reserved(flow, placed)
    changed = flow.send(change(placed, [(1, "TEA", 1)]))
    assert not changed.releases()  # nothing held yet
    [reserve] = changed.asks()
    late = flow.answer(tea)  # the answer for quantity 2
    assert [r.reservation_id for r in late.releases()] == [tea.reservation_id]
    flow.answer(reserve)
    order = flow.order(order_id(placed))
    assert order.reservations[1][0] == order.reservation_id(1)


def test_a_paid_change_that_completes_the_reservations_allocates() -> None:
    flow = Flow({("TEA", "SH"): 5, ("CUP", "SH"): 0})
    placed = place(lines=[("TEA", 2), ("CUP", 1)], paid=False)
    tea, _ = _reserved(flow, placed)
    flow.answer(tea)
    # The buyer drops the line we could not get, and pays the new total.
    changed = flow.send(change(placed, [(1, "TEA", 2)], paid=True))
    assert changed.events == ["LineRemoved", "PaymentRecorded", "OrderAllocated"]


def test_a_change_after_allocation_is_refused_with_a_reply_not_a_dead_letter() -> None:
    flow = Flow()
    placed = place()
    [tea] = _reserved(flow, placed)
    assert "OrderAllocated" in flow.answer(tea).events
    refused = flow.send(change(placed, [(1, "TEA", 4)]))
    assert refused.outcome is Outcome.REJECTED
    assert refused.dead == []
    [reply] = refused.named("CommandRejected")
    assert (reply["code"], reply["command"]) == ("order.locked", "order.ChangeOrder")
    assert refused.events == [] and not refused.releases()
    order = flow.order(order_id(placed))
    assert order.status is OrderStatus.ALLOCATED and order.lines[1].quantity == 1


def test_a_redelivered_change_has_no_second_effect() -> None:
    flow = Flow({("TEA", "SH"): 5})
    placed = place(paid=False)
    [tea] = _reserved(flow, placed)
    flow.answer(tea)
    changed = change(placed, [(1, "TEA", 2)])
    assert flow.send(changed).events == ["QuantityChanged"]
    again = flow.send(changed)
    assert again.outcome is Outcome.DUPLICATE and again.written == []


# --- pre-orders ------------------------------------------------------------------------


def _pre_order(flow: Flow, external_id: str, placed_at: datetime) -> PlaceOrder:
    placed = place(external_id, placed_at=placed_at)
    [reserve] = flow.send(placed).asks()
    assert flow.answer(reserve, outcome="rejected", available=0).events == ["PreOrdered"]
    return placed


def test_received_stock_is_offered_to_pre_orders_in_arrival_order() -> None:
    flow = Flow({("TEA", "SH"): 0, ("TEA", "BJ"): 0}, Workflow(on_shortage=ShortagePolicy.PREORDER))
    start = datetime(2025, 11, 11, tzinfo=UTC)
    # Published out of order: arrival order is when the customer placed it.
    later = _pre_order(flow, "B", start + timedelta(minutes=2))
    first = _pre_order(flow, "A", start)
    last = _pre_order(flow, "C", start + timedelta(minutes=3))
    idle = flow.tick()
    assert idle is None or idle.written == []  # no stock: nothing asked
    assert flow.tick() is None

    flow.receive("TEA", "BJ", 2)  # enough for two of the three
    retried = flow.tick()
    assert retried is not None
    asks = retried.asks()
    assert [(a.order_id, a.location) for a in asks] == [
        (order_id(first), "BJ"),
        (order_id(later), "BJ"),
    ]
    assert flow.tick() is None  # asked once per arrival

    reserved = flow.answer(asks[0])
    assert reserved.events == ["OrderAllocated"]
    refused = flow.answer(asks[1], outcome="rejected", available=0)  # someone else was faster
    assert refused.events == [] and not refused.asks()
    assert flow.order(order_id(later)).status is OrderStatus.PRE_ORDER
    assert flow.order(order_id(last)).status is OrderStatus.PRE_ORDER

    flow.receive("TEA", "SH", 5)
    again = flow.tick()
    assert again is not None
    assert [a.order_id for a in again.asks()] == [
        order_id(later),
        order_id(last),
    ]


def test_a_masked_receiver_is_reserved_but_allocated_only_once_revealed() -> None:
    flow = Flow()
    placed = replace(
        place(channel="pdd"),
        customer=CustomerDetails(name="~AgAAAAEC~1~", phone="~AgAAAAED~1~"),
        receiver_masked=True,
    )
    [reserve] = flow.send(placed).asks()
    # Stock held and paid, but no warehouse gets a parcel for a masked address.
    assert flow.answer(reserve).events == ["LinesReserved"]
    assert flow.order(order_id(placed)).status is OrderStatus.PENDING
    revealed = flow.send(
        RevealReceiver(
            command_id="reveal-1",
            order_id=order_id(placed),
            customer=CustomerDetails(name="周芷若", phone="13912345678"),
            address=address("文三路 90 号 3 单元"),
        )
    )
    assert revealed.events == ["ReceiverRevealed", "OrderAllocated"]
    order = flow.order(order_id(placed))
    assert (order.customer.phone, order.address.line1) == ("13912345678", "文三路 90 号 3 单元")
    # A second answer of the decrypt desk changes nothing.
    again = flow.send(
        RevealReceiver(
            command_id="reveal-2",
            order_id=order_id(placed),
            customer=CustomerDetails(name="周芷若", phone="13912345678"),
            address=address("文三路 90 号 3 单元"),
        )
    )
    assert again.events == []
