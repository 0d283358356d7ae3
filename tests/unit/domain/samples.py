"""Builders for domain tests: a valid order, item, shipment, payment and return in one line."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from oms_events.domain import (
    Address,
    Customer,
    DeliverySpeed,
    Inspection,
    InventoryItem,
    Money,
    Order,
    OrderLine,
    Payment,
    PaymentMethod,
    Return,
    ReturnLine,
    Shipment,
    ShipmentLine,
)
from oms_events.domain.order import InterceptionOutcome

PLACED_AT = datetime(2025, 11, 11, 0, 0, 1, tzinfo=UTC)
SCANNED_AT = datetime(2025, 11, 13, 7, 30, 5, 123456, tzinfo=UTC)  # a carrier's scan


def cny(amount: int) -> Money:
    """Money in fen."""
    return Money(amount, "CNY")


def address() -> Address:
    """A valid Chinese address."""
    return Address(
        line1="望京街 10 号",
        city="北京市",
        country="CN",
        province="北京市",
        district="朝阳区",
        postcode="100102",
    )


def line(
    line_no: int = 1,
    sku: str = "SKU-1",
    quantity: int = 2,
    price: int = 1000,
    discount: int = 0,
    promotions: Sequence[str] = (),
) -> OrderLine:
    """An order line in CNY."""
    return OrderLine(line_no, sku, quantity, cny(price), cny(discount), tuple(promotions))


def order(
    lines: Sequence[OrderLine] | None = None,
    payment_method: PaymentMethod = PaymentMethod.ALIPAY,
    external_id: str = "T-1001",
    phone: str = "13800000000",
    shipping_fee: int = 0,
    paid_at_channel: str | None = None,
    receiver_masked: bool = False,
) -> Order:
    """A freshly placed order with its OrderPlaced event still pending."""
    return Order.place(
        order_no="SO-1001",
        channel="tmall",
        external_id=external_id,
        customer=Customer(name="张三", phone=phone, account="zhangsan"),
        address=address(),
        lines=list(lines) if lines is not None else [line()],
        payment_method=payment_method,
        delivery_speed=DeliverySpeed.EXPRESS,
        placed_at=PLACED_AT,
        shipping_fee=cny(shipping_fee),
        paid_at_channel=paid_at_channel,
        receiver_masked=receiver_masked,
    )


def legacy_order_events(external_id: str = "T-OLD") -> list[Any]:
    """The log an earlier version wrote for a 2-line order paid at the channel, from
    placed to shipped: PaymentRecorded apart, a LineReserved and a LineShipped per line,
    OrderConfirmed before OrderAllocated, an empty OrderShipped.

    Built with the Order's event methods one by one, as those versions called them; the
    domain keeps these events so such logs replay.
    """
    o: Any = order(lines=[line(1, "SKU-1"), line(2, "SKU-2", 1, 500)], external_id=external_id)
    o._payment_recorded(payment_id=f"tmall:{external_id}", amount=o.total.to_dict())
    for n, location in ((1, "WH-SH"), (2, "WH-BJ")):
        o._line_reserved(line_no=n, reservation_id=o.reservation_id(n), location=location)
    o._confirmed()
    o._allocated(
        allocations=[
            {
                "line_no": n,
                "sku": o.lines[n].sku,
                "quantity": o.lines[n].quantity,
                "location": o.reservations[n][1],
                "reservation_id": o.reservations[n][0],
            }
            for n in sorted(o.lines)
        ],
        confirmed=False,  # as today's reader reads theirs
    )
    o._line_shipped(line_no=1, shipment_id="shipment-1")
    o._line_shipped(line_no=2, shipment_id="shipment-2")
    o._shipped(line_nos=[], shipment_id=None)  # as today's reader reads their empty one
    return list(o.collect_events())


def todays_order(external_id: str = "T-OLD") -> Order:
    """The order of :func:`legacy_order_events` as today's version writes it (events
    not yet collected): OrderPlaced with the channel's payment, line 1 reserved, one
    answer reserving line 2 and allocating both, one shipment per line."""
    o = order(
        lines=[line(1, "SKU-1"), line(2, "SKU-2", 1, 500)],
        external_id=external_id,
        paid_at_channel=f"tmall:{external_id}",
    )
    o.reserve_line(1, o.reservation_id(1), "WH-SH")
    o.allocate([(2, o.reservation_id(2), "WH-BJ")])
    o.ship_line(1, "shipment-1")
    o.ship_line(2, "shipment-2")
    return o


def reserve_all(o: Order, location: str = "WH-SH") -> None:
    """Reserve every unreserved line of ``o`` at ``location``."""
    for n in o.unreserved_lines():
        o.reserve_line(n, o.reservation_id(n), location)


def item(
    sku: str = "SKU-1", location: str = "WH-SH", on_hand: int = 10, threshold: int = 0
) -> InventoryItem:
    """An inventory item with ``on_hand`` units received."""
    i = InventoryItem.register(sku, location, low_stock_threshold=threshold)
    if on_hand:
        i.receive(on_hand, "purchase order PO-1")
    return i


def shipment(order_id: UUID, reservation_id: UUID, parcel_price: int | None = None) -> Shipment:
    """A created shipment of one line (``parcel_price``: one parcel of a split order)."""
    return Shipment.create(
        order_id, "WH-SH", [ShipmentLine(1, "SKU-1", 2, reservation_id)], parcel_price
    )


def payment(order_id: UUID, amount: int = 2000) -> Payment:
    """An order's payment with its channel capture (Alipay, tender ``O-1``)."""
    p = Payment.request(order_id, PaymentMethod.ALIPAY, cny(amount), "O-1", "O-1", "web")
    p.capture("O-1", PaymentMethod.ALIPAY, cny(amount), "ali-1")
    return p


def return_line(
    line_no: int = 1, quantity: int = 1, ordered: int = 3, price: int = 1000, discount: int = 100
) -> ReturnLine:
    """A return line: ``quantity`` of ``ordered`` units, the line discounted by ``discount``."""
    return ReturnLine(
        line_no, f"SKU-{line_no}", quantity, ordered, cny(price), cny(discount), "WH-SH"
    )


def a_return(order_id: UUID, lines: Sequence[ReturnLine] | None = None) -> Return:
    """A requested return."""
    return Return.request(order_id, "RMA-1", list(lines or [return_line()]), "does not fit")


def replay(events: Sequence[Any]) -> Aggregate:
    """Rebuild an aggregate from its events, as the processor does after a restart."""
    aggregate: Any = None
    for e in events:
        aggregate = e.mutate(aggregate)
    assert aggregate is not None
    return aggregate  # type: ignore[no-any-return]


def state(aggregate: Aggregate) -> dict[str, Any]:
    """The aggregate's state without its pending events, for comparing live and replayed."""
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


def events_of_every_kind() -> list[Any]:
    """Run every aggregate through every command once; return all recorded events.

    The schema test checks this list covers every registered event class, so
    a new event without a sample (and without a schema) fails loudly.
    """
    recorded: list[Any] = []

    # Order: paid, changed, held, released, allocated, shipped in two steps, completed.
    o = order(lines=[line(1, "SKU-1", 2, 1000, 200, ["DOUBLE11"]), line(2, "SKU-2", 1, 500)])
    o.record_payment("pay-1", o.total)
    reserve_all(o)
    o.add_line("SKU-3", 1, cny(300))  # PaymentDue
    o.remove_line(3)  # back to the paid total
    o.change_quantity(1, 1)  # RefundDue
    o.record_refund("refund-1", cny(900))
    o.change_address(address(), shipping_fee=cny(0))
    reserve_all(o)
    o.record_operator_action("hold", "ops", "amount above threshold")
    o.hold("amount above threshold")
    o.release_hold()
    o.confirm()
    o.allocate()
    o.ship_line(1, "shipment-1")  # LinesShipped
    o.ship_line(2, "shipment-2")  # OrderShipped, with the line
    o.deliver_shipment("shipment-1", SCANNED_AT)  # OrderShipmentDelivered
    o.deliver_shipment("shipment-2", SCANNED_AT)  # OrderDelivered, with delivered_at
    o.open_return(UUID(int=9), "RMA-9", {1: 1}, "quality")  # ReturnOpened
    o.close_return(UUID(int=9), "rejected", {})  # ReturnResolved
    o.complete()
    recorded += o.collect_events()

    # COD: a return inspected before the courier remitted the cash waits for it.
    cod = order(external_id="T-COD", payment_method=PaymentMethod.COD)
    reserve_all(cod)
    cod.confirm()
    cod.allocate()
    cod.ship_line(1, "shipment-cod")
    cod.deliver_shipment("shipment-cod", SCANNED_AT)
    cod.open_return(UUID(int=10), "RMA-10", {1: 1}, "quality")
    cod.refund_return("RMA-10", UUID(int=10), {1: 1}, "return: quality")  # RefundWaiting
    cod.close_return(UUID(int=10), "refunded", {1: 1})
    cod.record_payment("cod:SF:SF100", cod.total)
    assert cod.agree_waiting_refunds() == [(UUID(int=10), "RMA-10")]  # RefundAgreed
    recorded += cod.collect_events()

    # Paid at the channel (OrderPlaced carries the payment), allocated by the answer.
    paid = order(external_id="T-4", paid_at_channel="tmall:T-4")
    paid.allocate([(1, paid.reservation_id(1), "WH-SH")])
    # Re-routed by an operator (SH -> GZ), then a re-route given up (GZ -> BJ).
    paid.record_operator_action("reroute", "ops", "WH-SH -> WH-GZ")
    [moving] = paid.request_reroute("WH-SH", "WH-GZ")  # RerouteRequested
    paid.reroute_answered(1, moving["reservation_id"])  # RerouteReserved
    paid.complete_reroute()  # AllocationRerouted
    paid.request_reroute("WH-GZ", "WH-BJ")
    paid.fail_reroute("WH-BJ: stock.insufficient")  # RerouteFailed
    recorded += paid.collect_events()

    # Placed with the receiver masked by the platform, revealed by its decrypt API.
    masked = order(external_id="T-MASKED", phone="138****0000", receiver_masked=True)
    masked.reveal_receiver(Customer(name="张三", phone="13800000000"), address())
    recorded += masked.collect_events()

    # Merged (合单): a lead and a member, formed, dispatched; another group left.
    lead = order(external_id="T-7", paid_at_channel="tmall:T-7")
    member = order(external_id="T-8", paid_at_channel="tmall:T-8")
    group = UUID(int=77)
    lead.request_merge(group, [lead.id, member.id], "ops")  # MergeRequested
    member.join_merge(group, lead.id, "ops")  # MergeJoined
    facts = {
        "order_no": member.order_no,
        "channel": member.channel,
        "identities": ["phone:13800000000"],
        "address": "cn",
        "currency": "CNY",
        "status": "pending",
        "paid": True,
        "placed_at": member.placed_at,
    }
    lead.record_merge_report(member.id, "joined", facts=facts)  # MergeReported
    lead.form_merge()  # MergeFormed
    ready = [
        {
            "line_no": 1,
            "sku": "SKU-1",
            "quantity": 1,
            "location": "WH-SH",
            "reservation_id": member.reservation_id(1),
        }
    ]
    lead.record_merge_report(member.id, "ready", lines=ready)
    lead.dispatch_merge([{"location": "WH-SH", "shipment_id": UUID(int=78)}])  # MergeDispatched
    member.leave_merge("order cancelled")  # MergeLeft
    recorded += lead.collect_events() + member.collect_events()
    # Split (拆单): 3 of 5 now, 2 backordered and allocated when stock arrives.
    split = order(lines=[line(1, "SKU-1", 5, 1000, 100)], external_id="T-9")
    split.split("availability", [(1, 3, cny(60))], [line(2, "SKU-1", 2, 1000, 40)], [2])
    split.allocate([(1, split.reservation_id(1), "WH-SH")])
    split.allocate_backorder(UUID(int=79), "WH-BJ", [(2, split.reservation_id(2))])
    recorded += split.collect_events()

    # What earlier versions wrote for an order, one event per line.
    recorded += legacy_order_events()

    # Orders that end early: pre-order then reject, and cancel.
    short = order(external_id="T-2")
    short.pre_order()
    short.reject("stock.insufficient")
    recorded += short.collect_events()
    cancelled = order(external_id="T-3")
    cancelled.cancel("customer changed mind")
    recorded += cancelled.collect_events()
    # Cancelled once shipped: one parcel intercepted, one delivered first.
    late = order(lines=[line(1), line(2, "SKU-2", 1, 500)], external_id="T-5")
    late.allocate([(1, late.reservation_id(1), "WH-SH"), (2, late.reservation_id(2), "WH-BJ")])
    late.ship_line(1, "shipment-1")
    late.ship_line(2, "shipment-2")
    late.cancel("customer changed mind")  # CancellationRequested
    late.record_interception("shipment-1", InterceptionOutcome.INTERCEPTED, "")
    late.record_interception("shipment-2", InterceptionOutcome.DELIVERED, "signed")
    recorded += late.collect_events()
    # Refused at the door (拒收): back at the warehouse, the order returned to sender.
    refused = order(external_id="T-6", paid_at_channel="tmall:T-6")
    refused.allocate([(1, refused.reservation_id(1), "WH-SH")])
    refused.ship_line(1, "shipment-1")
    refused.return_shipment("shipment-1", "拒收", False, SCANNED_AT)  # ShipmentReturnedToSender
    refused.return_shipment("shipment-1", "拒收", True, SCANNED_AT)  # ...Received, ...ToSender
    recorded += refused.collect_events()

    # Inventory: receive, adjust, reserve, reject, release, commit, restock, low stock.
    i = item(on_hand=10, threshold=3)
    i.adjust(-1, "cycle count")
    r1, r2 = UUID(int=1), UUID(int=2)
    i.reserve(r1, o.id, 5)
    i.try_reserve(r2, o.id, 100)  # ReservationRejected
    i.release(r1)
    i.reserve(r2, o.id, 7)  # LowStock
    i.commit(r2)
    i.restock(UUID(int=3), 4, "return RMA-1")  # StockReplenished
    i.set_threshold(5)
    i.reserve(UUID(int=4), o.id, 1)
    i.release(UUID(int=4))
    i.ship_released(UUID(int=4), 1)  # a cancelled order shipped anyway
    i.set_threshold(5, actor="ops")
    i.count(9, actor="ops", note="cycle count")
    i.dispatch_transfer(UUID(int=5), "WH-BJ", 2, actor="ops")
    recorded += i.collect_events()
    # The transfer's other side: in transit at the destination, then received.
    b = item(location="WH-BJ")
    b.expect_transfer(UUID(int=5), i.location, 2, actor="ops")
    b.receive_transfer(UUID(int=5), actor="ops")
    recorded += b.collect_events()

    # Shipments: delivered after a failed attempt, cancelled, returned.
    s = shipment(o.id, r2)
    s.pick()
    s.pack()
    s.ship("SF Express", "SF1234567890")
    s.fail_delivery("nobody home")
    s.record_in_transit("re-attempt")
    s.record_out_for_delivery(occurred_at=SCANNED_AT, location="上海", eta=SCANNED_AT)
    s.deliver(occurred_at=SCANNED_AT, location="上海", signer="李雷")
    recorded += s.collect_events()
    s2 = Shipment.create(o.id, "WH-BJ", [ShipmentLine(2, "SKU-2", 1, r1)])
    s2.cancel("order cancelled")
    recorded += s2.collect_events()
    s3 = Shipment.create(o.id, "WH-GZ", [ShipmentLine(2, "SKU-2", 1, r1)])
    s3.assign_waybill("YTO", "YT7000000000001", "W-WH-GZ-1")
    s3.pick()
    s3.pack()
    s3.ship("YTO", "YT7000000000001")
    s3.return_to_sender("refused")
    s3.receive_back()
    recorded += s3.collect_events()
    # A merged parcel (合单): two orders' lines; one order cancelled before it left.
    merged = Shipment.create(
        o.id,
        "WH-SH",
        [ShipmentLine(1, "SKU-1", 1, r1), ShipmentLine(1, "SKU-2", 1, r2, UUID(int=8))],
        shipment_id=UUID(int=80),
    )
    merged.withdraw_order(UUID(int=8), "order cancelled")  # ShipmentOrderWithdrawn
    recorded += merged.collect_events()
    s4 = Shipment.create(o.id, "WH-CD", [ShipmentLine(2, "SKU-2", 1, r1)])
    s4.pick()
    s4.pack()
    s4.ship("SF", "SF2")
    s4.intercept("order cancelled")
    recorded += s4.collect_events()

    # Payment: a channel capture, a collected balance, COD cash; refunds taken and failed.
    p = payment(o.id)
    p.request_more("O-1-2", PaymentMethod.CARD, cny(300))
    p.authorize("O-1-2", cny(300), "auth-1")
    p.capture("O-1-2", PaymentMethod.CARD, cny(300), "psp-1")
    p.request_more("O-1-cod", PaymentMethod.COD, cny(100))
    p.collect_cod("SF100", "SF", cny(90), datetime(2026, 12, 1, 10, tzinfo=UTC))
    p.remit_cod("SF100", "SF-batch1", cny(90), cny(2), "2026-12-03")
    p.request_more("O-1-cod2", PaymentMethod.COD, cny(50))
    p.collect_cod("SF200", "SF", cny(50), None)
    p.cod_missing("SF200", "SF-batch1")
    p.request_more("O-1-3", PaymentMethod.WECHAT_PAY, cny(50))
    p.void("O-1-3", "order cancelled")
    p.trade_closed("O-1-3")
    p.request_refund("refund-1", cny(500), "line removed")
    p.refund_succeeded("refund-1", {"O-1": "ali-r-1"})
    p.request_refund("refund-2", cny(100), "shipping")
    p.refund_failed("refund-2", "ACQ.TRADE_HAS_CLOSE")
    recorded += p.collect_events()
    o2 = Order.place(
        order_no="O-R",
        channel="web",
        external_id="R",
        customer=Customer("a", None, "a"),
        address=o.address,
        lines=[OrderLine(1, "SKU-1", 2, cny(1000), cny(100))],
        payment_method=PaymentMethod.ALIPAY,
        placed_at=o.placed_at,
        paid_at_channel="web:R",
    )
    o2.agree_refund("refund-3", {1: 1}, shipping=False, reason="return")
    recorded += o2.collect_events()

    # Returns: approved, shipped, scanned, received, inspected (restocked and written
    # off), refunded; an exchange closed; one rejected, one cancelled.
    ret = a_return(o.id, [return_line(1), return_line(2)])
    ret.approve("rules", o.placed_at)
    ret.ship("SF", "SF1234567890123")
    ret.record_scan("SF", "SF1234567890123", "in_transit", o.placed_at, "深圳", None)
    ret.receive("WH-SH")
    ret.inspect({1: (Inspection.RESELLABLE, None), 2: (Inspection.DAMAGED, "crushed box")})
    ret.record_refund(cny(900), [(1, cny(900))])
    recorded += ret.collect_events()
    swap = Return.request(
        o.id,
        "RMA-3",
        [return_line()],
        "wrong size",
        exchange_order_id=UUID(int=7),
        exchange_lines={"SKU-1-L": 1},
    )
    swap.approve("ops", None)
    swap.receive("WH-SH")
    swap.inspect({1: (Inspection.RESELLABLE, None)})
    swap.close("exchanged")
    recorded += swap.collect_events()
    refused = Return.request(o.id, "RMA-4", [return_line()], "no_reason_7d")
    refused.reject("rules", "return.window_closed")
    recorded += refused.collect_events()
    withdrawn = Return.request(o.id, "RMA-2", [return_line()], "wrong size")
    withdrawn.cancel("customer kept it")
    recorded += withdrawn.collect_events()
    return recorded
