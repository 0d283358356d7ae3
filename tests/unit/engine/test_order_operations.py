"""An operator's order actions through the order service, without Kafka: hold and
release, review (held by a rule, approved or rejected), edit, offline payment."""

from __future__ import annotations

from oms_events.domain.money import Money
from oms_events.domain.order import OrderStatus
from oms_events.domain.review import ReviewRules
from oms_events.domain.shipment import Shipment
from oms_events.domain.workflow import Workflow
from oms_events.engine.commands import (
    AddedLine,
    CancelOrder,
    CapturePayment,
    CreateShipment,
    EditOrder,
    HoldOrder,
    NewQuantity,
    PlaceOrder,
    RecordOfflinePayment,
    RecordShipmentWithdrawn,
    ReleaseOrder,
    RequestPayment,
    RerouteOrder,
    ReviewOrder,
    VoidPayment,
    WithdrawShipment,
)
from oms_events.engine.handling import Outcome, Step
from oms_events.engine.order_saga import OrderSaga
from oms_events.engine.order_service import OrderService
from tests.unit.engine.flow import CODEC, SETTINGS, Ask, Flow, Result, order_id, place

RULES = ReviewRules(enabled=True, amount_above=Money(1500, "CNY"))


def flow_with(rules: ReviewRules = RULES) -> Flow:
    """A Flow whose saga reviews with ``rules``; TEA and CUP in stock at SH and BJ."""
    flow = Flow({("TEA", "SH"): 10, ("CUP", "SH"): 10, ("TEA", "BJ"): 10})
    flow.service = OrderService(OrderSaga(Workflow(), flow.view, review=rules))
    flow.step = Step(flow.service, SETTINGS, CODEC)
    return flow


def test_an_order_failing_review_is_held_with_its_rules_then_approved_and_allocated() -> None:
    flow = flow_with()
    placed = place(lines=[("TEA", 2)])  # ¥20.00 > ¥15.00
    [ask] = flow.send(placed).asks()
    answered = flow.answer(ask)
    assert answered.events == ["LinesReserved", "OrderHeld"]
    assert answered.named("OrderHeld")[0]["reason"] == "review: risk.amount"
    approved = flow.send(
        ReviewOrder(command_id="r1", order_id=order_id(placed), approve=True, actor="li.si")
    )
    assert approved.events == ["OperatorActed", "OrderReleased", "OrderAllocated"]
    assert approved.named("OperatorActed")[0]["actor"] == "li.si"
    assert flow.order(order_id(placed)).status is OrderStatus.ALLOCATED


def test_an_order_within_the_rules_is_allocated_without_review() -> None:
    flow = flow_with()
    placed = place(lines=[("TEA", 1)])
    [ask] = flow.send(placed).asks()
    assert flow.answer(ask).events == ["OrderAllocated"]


def test_a_rejected_review_cancels_and_releases_the_stock() -> None:
    flow = flow_with()
    placed = place(lines=[("TEA", 2)])
    [ask] = flow.send(placed).asks()
    flow.answer(ask)
    rejected = flow.send(
        ReviewOrder(
            command_id="r1", order_id=order_id(placed), approve=False, reason="fraud", actor="a"
        )
    )
    assert rejected.events[:2] == ["OperatorActed", "OrderCancelled"]
    assert [r.reservation_id for r in rejected.releases()] == [ask.reservation_id]


def test_an_operator_hold_keeps_the_order_from_the_warehouse_until_released() -> None:
    flow = flow_with(ReviewRules())
    placed = place(lines=[("TEA", 1)])
    [ask] = flow.send(placed).asks()
    held = flow.send(
        HoldOrder(command_id="h1", order_id=order_id(placed), reason="call first", actor="a")
    )
    assert held.events == ["OperatorActed", "OrderHeld"]
    assert flow.answer(ask).events == ["LinesReserved"]  # reserved, not allocated
    released = flow.send(ReleaseOrder(command_id="r1", order_id=order_id(placed), actor="a"))
    assert released.events == ["OperatorActed", "OrderReleased", "OrderAllocated"]


def test_a_refused_action_is_answered_not_dead_lettered() -> None:
    flow = flow_with(ReviewRules())
    placed = place(lines=[("TEA", 1)])
    [ask] = flow.send(placed).asks()
    flow.answer(ask)  # allocated
    refused = flow.send(
        HoldOrder(command_id="h1", order_id=order_id(placed), reason="late", actor="a")
    )
    assert refused.outcome is Outcome.REJECTED
    assert refused.named("CommandRejected")[0]["code"] == "status.invalid_transition"
    assert not refused.dead and refused.events == []
    release = flow.send(ReleaseOrder(command_id="r1", order_id=order_id(placed), actor="a"))
    assert release.named("CommandRejected") and not release.dead


def test_an_edit_adding_a_line_to_a_paid_order_asks_stock_and_the_difference() -> None:
    flow = flow_with(ReviewRules())
    placed = place(lines=[("TEA", 1)])
    [ask] = flow.send(placed).asks()
    flow.send(HoldOrder(command_id="h1", order_id=order_id(placed), reason="edit", actor="a"))
    flow.answer(ask)
    edited = flow.send(
        EditOrder(
            command_id="e1",
            order_id=order_id(placed),
            add=(AddedLine(sku="CUP", quantity=2, unit_price=250),),
            quantities=(NewQuantity(line_no=1, quantity=2),),
            actor="a",
        )
    )
    # Each change states the whole balance; the second withdraws the first's ask, and
    # only the last is asked for (no VoidPayment: the first was never sent).
    assert edited.events == [
        "OperatorActed",
        "QuantityChanged",
        "PaymentDue",
        "LineAdded",
        "PaymentAskWithdrawn",
        "PaymentDue",
    ]
    assert edited.commands(VoidPayment) == []
    assert [r.reservation_id for r in edited.releases()] == [ask.reservation_id]
    assert sorted(a.sku for a in edited.asks()) == ["CUP", "TEA"]
    assert sum(c.amount for c in edited.commands(RequestPayment)) == 1000 + 500
    order = flow.order(order_id(placed))
    assert order.total.amount == 2500 and order.status is OrderStatus.ON_HOLD


def test_an_offline_payment_pays_the_order_and_captures_under_its_method() -> None:
    flow = flow_with(ReviewRules())
    placed = place(lines=[("TEA", 1)], paid=False)
    [ask] = flow.send(placed).asks()
    flow.answer(ask)
    pay = RecordOfflinePayment(
        command_id="p1",
        order_id=order_id(placed),
        amount=1000,
        currency="CNY",
        method="bank_transfer",
        reference="TX-1",
        actor="cashier",
    )
    paid = flow.send(pay)
    assert paid.events == ["OperatorActed", "PaymentRecorded", "OrderAllocated"]
    [capture] = paid.commands(CapturePayment)
    assert (capture.method, capture.amount, capture.provider_reference) == (
        "bank_transfer",
        1000,
        "offline:bank_transfer:TX-1",
    )
    again = flow.send(RecordOfflinePayment(**{**pay.__dict__, "command_id": "p2"}))
    assert again.events == [] and not again.commands(CapturePayment)


# --- re-routing an allocation --------------------------------------------------------


def _allocated_at_sh() -> tuple[Flow, PlaceOrder, Ask]:
    """A paid order of 2 TEA allocated at SH (most stock), BJ holding some too."""
    flow = Flow({("TEA", "SH"): 10, ("TEA", "BJ"): 5})
    placed = place(lines=[("TEA", 2)])
    [ask] = flow.send(placed).asks()
    assert ask.location == "SH"
    assert flow.answer(ask).events == ["OrderAllocated"]
    return flow, placed, ask


def _reroute(flow: Flow, placed: PlaceOrder) -> Result:
    return flow.send(
        RerouteOrder(
            command_id="rr",
            order_id=order_id(placed),
            from_location="SH",
            to_location="BJ",
            actor="a",
        )
    )


def test_a_reroute_reserves_first_then_withdraws_the_old_shipment_then_moves() -> None:
    flow, placed, old = _allocated_at_sh()
    asked = _reroute(flow, placed)
    assert asked.events == ["OperatorActed", "RerouteRequested"]
    [new] = asked.asks()
    assert (new.location, new.quantity) == ("BJ", 2)

    reserved = flow.answer(new)
    assert reserved.events == ["RerouteReserved"]
    assert not reserved.releases()  # the new reservation is kept
    [withdraw] = reserved.commands(WithdrawShipment)
    assert withdraw.shipment_id == Shipment.create_id(order_id(placed), "SH")

    moved = flow.send(
        RecordShipmentWithdrawn(
            command_id="w",
            order_id=order_id(placed),
            shipment_id=withdraw.shipment_id,
            withdrawn=True,
        )
    )
    assert moved.events == ["AllocationRerouted"]
    assert [(r.reservation_id, r.location) for r in moved.releases()] == [
        (old.reservation_id, "SH")
    ]
    [allocation] = moved.named("Allocation")
    assert allocation["location"] == "BJ"
    [created] = moved.commands(CreateShipment)
    assert created.shipment_id == Shipment.create_id(order_id(placed), "BJ")
    order = flow.order(order_id(placed))
    assert order.reservations[1] == (new.reservation_id, "BJ")
    assert order.reservation_id(1) == new.reservation_id


def test_a_picked_shipment_refuses_and_the_new_reservation_is_given_back() -> None:
    flow, placed, old = _allocated_at_sh()
    [new] = _reroute(flow, placed).asks()
    [withdraw] = flow.answer(new).commands(WithdrawShipment)
    refused = flow.send(
        RecordShipmentWithdrawn(
            command_id="w",
            order_id=order_id(placed),
            shipment_id=withdraw.shipment_id,
            withdrawn=False,
            reason="the shipment is picked",
        )
    )
    assert refused.events == ["RerouteFailed"]
    assert [(r.reservation_id, r.location) for r in refused.releases()] == [
        (new.reservation_id, "BJ")
    ]
    assert flow.order(order_id(placed)).reservations[1] == (old.reservation_id, "SH")


def test_no_stock_at_the_new_location_leaves_the_order_where_it_is() -> None:
    flow, placed, old = _allocated_at_sh()
    [new] = _reroute(flow, placed).asks()
    failed = flow.answer(new, outcome="rejected")
    assert failed.events == ["RerouteFailed"]
    assert not failed.commands(WithdrawShipment) and not failed.releases()
    assert flow.order(order_id(placed)).reservations[1] == (old.reservation_id, "SH")


def test_a_reroute_is_refused_before_allocation_or_to_the_same_place() -> None:
    flow = flow_with(ReviewRules())
    placed = place(lines=[("TEA", 1)], paid=False)
    flow.send(placed)
    early = _reroute(flow, placed)
    assert early.named("CommandRejected")[0]["code"] == "status.invalid_transition"
    assert not early.dead


def test_cancelling_during_a_reroute_releases_both_locations() -> None:
    flow, placed, old = _allocated_at_sh()
    [new] = _reroute(flow, placed).asks()
    flow.answer(new)  # reserved at BJ, the withdrawal asked
    cancelled = flow.send(CancelOrder(command_id="c", order_id=order_id(placed), reason="r"))
    assert cancelled.events[:2] == ["RerouteFailed", "OrderCancelled"]
    assert sorted((r.location, r.reservation_id) for r in cancelled.releases()) == sorted(
        [("BJ", new.reservation_id), ("SH", old.reservation_id)]
    )
