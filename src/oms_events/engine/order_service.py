"""The order service: Order aggregates, with the order saga deciding each next step.

Consumes ``oms.order.commands`` keyed by order id:

* PlaceOrder (the intake contract) -> OrderPlaced (carrying the payment when paid at
  the channel) and one ReserveLines per inventory partition; a repeat of the same
  channel order is acknowledged and ignored (the order id is derived from channel +
  external id)
* ReservationsAnswered (the inventory's reply) -> OrderAllocated (confirmed, with the
  reservations) or LinesReserved, or compensate and reject, as the saga decides
* RecordPayment -> PaymentRecorded, and the saga may confirm
* CancelOrder -> OrderCancelled, ReleaseLines for every reservation and, once
  allocated, CancelShipment to each shipment; once shipped, CancellationRequested
  and the shipments intercepted (see the saga); an unknown order or one the customer
  has already is refused with a CommandRejected reply the sender can look up
  (``order.unknown``, also dead-lettered for an operator; ``order.cancel_too_late``)
* RecordInterception (from the shipment processor) -> ShipmentIntercepted and, all
  intercepted, OrderCancelled (refunded); or InterceptionFailed and OrderDelivered
* ChangeOrder (the intake's changed re-delivery: the whole new version) -> LineAdded /
  QuantityChanged / LineRemoved / AddressChanged, with stock released and reserved
  for the lines that changed; once allocated (or closed) it is refused with
  ``order.locked`` and a CommandRejected reply, an ordinary outcome, not a dead letter
* ShipLines (from the shipment processor) -> LinesShipped, or OrderShipped for the last;
  ignored by a cancelled order (its shipment is being intercepted)
* DeliverShipment (from the shipment processor, on a delivered carrier scan) ->
  OrderShipmentDelivered, or OrderDelivered (with delivered_at) once every shipment is;
  cash collected at the door -> CollectCod to the payment
* RecordShipmentReturned (from the shipment processor: a parcel returned to sender that
  we did not intercept, 拒收 / undeliverable; again once back at the warehouse) ->
  ShipmentReturnedToSender, ReturnedParcelReceived; with no parcel left on its way,
  OrderReturnedToSender (none delivered: RefundDue for what was paid, the COD tender
  voided) or RefundAgreed for the returned lines and OrderDelivered (some delivered)
* RefundOrder (the shop: lines, units, shipping) -> RefundAgreed, priced by the order
* RecordRefund (from the payment service: the provider took it) -> RefundRecorded
* RequestReturn / CloseReturn: returns (RMA), see ``engine.order_returns``
* HoldOrder / ReleaseOrder / ReviewOrder / EditOrder / RecordOfflinePayment: an
  operator's actions, see ``engine.order_operations``
* MergeOrders / JoinMerge / ReportMerge (合单) and SplitOrder (拆单, its backorder
  allocated when stock arrives): see ``engine.order_merging``

Money goes to the payment service (``oms.payment.commands``) in the same transaction
as the events that decided it: a channel's payment (OrderPlaced with its payment, or
PaymentRecorded on a paid change) -> CapturePayment; PaymentDue, or an OrderPlaced the
channel did not collect (prepaid, not COD) -> RequestPayment under a trade number of
our own (``ids.trade_no``), which the payment desk opens at the provider;
RefundDue / RefundAgreed -> RequestRefund. A PaymentRecorded of such a trade comes
from the payment service, which captured it already: it asks nothing more (nor for
cash a courier collected, ``cod:<carrier>:<waybill>``). A COD order asks for its COD
tender when placed; a cancelled or rejected order, an unpaid one whose lines change
(its tender replaced), or one returned to sender withdraws its open tenders
(VoidPayment, see ``_open_tenders``).

Timers (inside a transaction, like any command): cancel unpaid prepaid orders whose
reservations outlived the workflow's ``reservation_ttl``, releasing their stock; and
when stock of a sku a pre-order waits for is received, ask for it again, pre-orders
in arrival order (``placed_at``) as far as the stock view sees units; and complete
delivered orders whose return window closed with no return open.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog

from oms_events.domain.customer import Address, Customer
from oms_events.domain.errors import CancelTooLate, DomainError, OrderLocked, OrderUnknown
from oms_events.domain.ids import order_of_trade, trade_no
from oms_events.domain.line import OrderLine
from oms_events.domain.money import Money
from oms_events.domain.order import (
    COLLECTED_ON_HANDOVER,
    InterceptionOutcome,
    Order,
    OrderStatus,
    Tender,
)
from oms_events.domain.payment import COD_PAYMENT_PREFIX
from oms_events.domain.return_policy import ReturnPolicy
from oms_events.engine.commands import (
    AddressDetails,
    CancelOrder,
    CancelShipment,
    CapturePayment,
    ChangeOrder,
    CloseReturn,
    CollectCod,
    Command,
    DeliverShipment,
    LineDetails,
    PaymentCommand,
    PlaceOrder,
    RecordInterception,
    RecordPayment,
    RecordRefund,
    RecordShipmentReturned,
    RefundOrder,
    RequestPayment,
    RequestRefund,
    RequestReturn,
    ReservationAnswer,
    ReservationAnswered,
    ReservationsAnswered,
    RevealReceiver,
    ShipLines,
    VoidPayment,
)
from oms_events.engine.order_merging import OrderMerging, merge_refused
from oms_events.engine.order_operations import OrderOperations, operator_refused
from oms_events.engine.order_returns import OrderReturns, refused_return, tell_return_refunded
from oms_events.engine.order_saga import OrderChange, OrderSaga
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition
from oms_events.engine.service import Service

log = structlog.get_logger(__name__)

# Orders whose stock may expire: open, prepaid, not yet paid.
_EXPIRABLE = (OrderStatus.PENDING, OrderStatus.PRE_ORDER, OrderStatus.ON_HOLD)
EXPIRED = "reservation.expired"


def line_from_command(line: LineDetails, currency: str) -> OrderLine:
    """An OrderLine from a PlaceOrder / ChangeOrder line (amounts in minor units)."""
    return OrderLine(
        line_no=line.line_no,
        sku=line.sku,
        quantity=line.quantity,
        unit_price=Money(line.unit_price, currency),
        discount=Money(line.discount, currency),
        promotions=line.promotions,
    )


def address_from_command(address: AddressDetails) -> Address:
    """The domain Address of a command's address (raises a DomainError when invalid)."""
    return Address(
        line1=address.line1,
        country=address.country,
        city=address.city,
        province=address.province,
        district=address.district,
        postcode=address.postcode,
    )


def order_from_command(command: PlaceOrder) -> Order:
    """The Order a PlaceOrder places; paid at the channel records the payment."""
    currency = command.currency
    customer = command.customer
    order = Order.place(
        order_no=command.order_no,
        channel=command.channel,
        external_id=command.external_id,
        customer=Customer(customer.name, customer.phone, customer.account),
        address=address_from_command(command.address),
        lines=[line_from_command(line, currency) for line in command.lines],
        payment_method=command.payment_method,
        placed_at=command.placed_at,
        delivery_speed=command.delivery_speed,
        shipping_fee=Money(command.shipping_fee, currency),
        paid_at_channel=f"{command.channel}:{command.external_id}" if command.paid else None,
        tenders=[Tender(t.method, Money(t.amount, currency), t.reference) for t in command.tenders],
        receiver_masked=command.receiver_masked,
        tax=Money(command.tax, currency) if command.tax else None,
    )
    return order


def change_from(command: ChangeOrder) -> OrderChange:
    """The saga's form of a ChangeOrder (raises a DomainError for bad values)."""
    currency = command.currency
    return OrderChange(
        address=address_from_command(command.address),
        shipping_fee=Money(command.shipping_fee, currency),
        lines=tuple(line_from_command(line, currency) for line in command.lines),
        paid=command.paid,
        version=command.content_hash or command.command_id,
    )


def money_commands(order: Order, new: Sequence[Any], cause: str) -> list[PaymentCommand]:
    """What the payment must do about the order's new events (see the module doc)."""
    head: dict[str, Any] = {
        "order_id": order.id,
        "order_no": order.order_no,
        "channel": order.channel,
        "currency": order.currency,
        "order_method": order.payment_method,
    }
    found: list[PaymentCommand] = []
    # A balance asked and withdrawn by the same command was never asked for.
    withdrawn = {e.reference for e in new if type(e).__name__ == "PaymentAskWithdrawn"}
    asked = {
        trade_no(order.id, e.originator_version) for e in new if type(e).__name__ == "PaymentDue"
    }
    for e in new:
        name = type(e).__name__
        ref = f"{order.order_no}-{e.originator_version}"  # a tender's out_trade_no
        if name == "OrderPlaced" and e.payment:
            found.extend(_placed_tenders(order, e.payment, head, cause))
        elif name == "OrderPlaced" and not order.is_cod and order.total.amount > 0:
            # Not collected at the channel: we open a trade for the customer to pay.
            found.append(
                RequestPayment(
                    command_id=f"{cause}/request/{e.originator_version}",
                    **head,
                    reference=trade_no(order.id, e.originator_version),
                    method=order.payment_method.value,
                    amount=order.total.amount,
                )
            )
        elif name == "PaymentRecorded" and (
            order_of_trade(e.payment_id) == order.id or e.payment_id.startswith(COD_PAYMENT_PREFIX)
        ):
            # A trade we opened, paid, or cash a courier collected: the payment service
            # recorded it and told us.
            continue
        elif name == "PaymentRecorded":
            found.append(
                CapturePayment(
                    command_id=f"{cause}/capture/{e.originator_version}",
                    **head,
                    reference=ref,
                    method=order.payment_method.value,
                    amount=e.amount["amount"],
                    provider_reference=e.payment_id,
                )
            )
            if order.amount_held >= order.total and order.status not in _CLOSED_STATUSES:
                # Paid in full another way (an operator's offline payment): the trades
                # we opened for it must not be payable too.
                found.append(
                    VoidPayment(
                        command_id=f"{cause}/settled/{e.originator_version}",
                        **{k: v for k, v in head.items() if k != "order_method"},
                        reason=f"paid in full by {e.payment_id}",
                    )
                )
        elif name == "PaymentAskWithdrawn" and e.reference not in asked:
            found.append(
                VoidPayment(
                    command_id=f"{cause}/withdraw/{e.originator_version}",
                    **{k: v for k, v in head.items() if k != "order_method"},
                    reason=e.reason,
                    reference=e.reference,
                )
            )
        elif (
            name == "PaymentDue"
            and not any(type(x).__name__ == "PaymentRecorded" for x in new)
            and e is [x for x in new if type(x).__name__ == "PaymentDue"][-1]
            and trade_no(order.id, e.originator_version) not in withdrawn
        ):
            # Unless the channel collected it in this same change (a PaymentRecorded).
            # Each PaymentDue states the whole balance owed: of several in one command
            # (an edit of two lines) only the last is asked for, or it would be twice.
            found.append(
                RequestPayment(
                    command_id=f"{cause}/request/{e.originator_version}",
                    **head,
                    reference=trade_no(order.id, e.originator_version),
                    method=order.payment_method.value,
                    amount=e.amount["amount"],
                )
            )
        elif name in ("RefundDue", "RefundAgreed"):
            refund_id = getattr(e, "refund_id", None) or f"{order.order_no}-R{e.originator_version}"
            found.append(
                RequestRefund(
                    command_id=f"{cause}/refund/{e.originator_version}",
                    # A refund names no method: the tenders it goes back to do.
                    **{k: v for k, v in head.items() if k != "order_method"},
                    refund_id=refund_id,
                    amount=e.amount["amount"],
                    reason=getattr(e, "reason", None) or "order changed",
                )
            )
    found.extend(_open_tenders(order, new, head, cause))
    return found


# Changes that move an order's total (an address change may too, through its shipping
# fee, but its event cannot say whether the fee moved: it replaces nothing, see below).
_TOTAL_CHANGES = frozenset({"LineAdded", "LineRemoved", "QuantityChanged"})
_CLOSED_STATUSES = (
    OrderStatus.CANCELLED,
    OrderStatus.REJECTED,
    OrderStatus.COMPLETED,
    OrderStatus.RETURNED_TO_SENDER,
)


def _open_tenders(
    order: Order, new: Sequence[Any], head: dict[str, Any], cause: str
) -> list[PaymentCommand]:
    """The tenders the order asks for and withdraws, beyond what the channel paid.

    * A COD order asks for its cash-on-delivery tender when placed (what the courier
      must collect, so a collection can be checked against it).
    * An order that took no money yet and whose lines change replaces its open tender:
      the old one (a trade for the old total) is withdrawn and a new one asked for the
      new total, so the customer can no longer pay the old amount.
    * A cancelled or rejected order, or one whose parcels all came back undelivered,
      withdraws every tender still asked for.

    The payment desk closes at their providers the trades of withdrawn tenders.
    """
    found: list[PaymentCommand] = []
    changed = [e for e in new if type(e).__name__ in _TOTAL_CHANGES]
    if (
        changed
        and order.amount_held.is_zero
        and order.status not in _CLOSED_STATUSES
        and order.total.amount > 0
    ):
        version = changed[-1].originator_version
        found.append(
            VoidPayment(
                command_id=f"{cause}/replace/{version}",
                **{k: v for k, v in head.items() if k != "order_method"},
                reason="order changed: tender replaced",
            )
        )
        found.append(
            RequestPayment(
                command_id=f"{cause}/request/{version}",
                **head,
                reference=trade_no(order.id, version),
                method=order.payment_method.value,
                amount=order.total.amount,
            )
        )
    for e in new:
        name = type(e).__name__
        if name == "OrderPlaced" and order.is_cod and not e.payment and order.total.amount > 0:
            found.append(
                RequestPayment(
                    command_id=f"{cause}/request/{e.originator_version}",
                    **head,
                    reference=trade_no(order.id, e.originator_version),
                    method="cod",
                    amount=order.total.amount,
                )
            )
        elif name in ("OrderCancelled", "OrderRejected", "OrderReturnedToSender"):
            found.append(
                VoidPayment(
                    command_id=f"{cause}/void/{e.originator_version}",
                    **{k: v for k, v in head.items() if k != "order_method"},
                    reason=getattr(e, "reason", "") or name,
                )
            )
    return found


def _placed_tenders(
    order: Order, payment: dict[str, Any], head: dict[str, Any], cause: str
) -> list[PaymentCommand]:
    """The channel's payment at placing, tender by tender (one tender of the order's
    method for the whole amount when the channel named none). Tenders paid only at
    handover (COD, pay at pickup) are asked for, not captured."""
    tenders = order.tenders or (
        Tender(order.payment_method.value, Money.from_dict(payment["amount"]), None),
    )
    found: list[PaymentCommand] = []
    for n, tender in enumerate(tenders, 1):
        # Our reference of the trade (its out_trade_no): the order number, numbered
        # when the order has several tenders.
        reference = order.order_no if len(tenders) == 1 else f"{order.order_no}-{n}"
        if tender.amount.is_zero:
            continue
        if tender.method in COLLECTED_ON_HANDOVER:
            found.append(
                RequestPayment(
                    command_id=f"{cause}/request/{n}",
                    **head,
                    reference=reference,
                    method=tender.method,
                    amount=tender.amount.amount,
                )
            )
            continue
        found.append(
            CapturePayment(
                command_id=f"{cause}/capture/{n}",
                **head,
                reference=reference,
                method=tender.method,
                amount=tender.amount.amount,
                provider_reference=tender.reference or payment["payment_id"],
            )
        )
    return found


class OrderService(OrderReturns, OrderOperations, OrderMerging, Service):
    """Handlers of order commands; the saga is consulted after each one."""

    name = "order"
    aggregate_type = "order"
    has_timers = True

    def __init__(self, saga: OrderSaga, policy: ReturnPolicy | None = None) -> None:
        self.saga = saga
        self.policy = policy or ReturnPolicy()
        self.handlers = {
            PlaceOrder: self.place,
            ReservationsAnswered: self.answered,
            ReservationAnswered: self.answered_one,
            RecordPayment: self.record_payment,
            CancelOrder: self.cancel,
            RecordInterception: self.intercepted,
            ChangeOrder: self.change,
            RevealReceiver: self.reveal_receiver,
            ShipLines: self.ship_lines,
            DeliverShipment: self.deliver_shipment,
            RecordShipmentReturned: self.shipment_returned,
            RefundOrder: self.refund,
            RecordRefund: self.record_refund,
            RequestReturn: self.request_return,
            CloseReturn: self.close_return,
            **self.operator_handlers(),
            **self.merge_handlers(),
        }
        # partition -> ids of orders that may expire (kept small: only unpaid ones)
        self.unpaid: dict[int, set[UUID]] = {}
        # partition -> pre-order id -> receipts of its missing skus when last asked
        # (-1: not asked since it became a pre-order or since the partition was rebuilt)
        self.waiting: dict[int, dict[UUID, int]] = {}
        # partition -> delivered order id -> when its return window closes
        self.completing: dict[int, dict[UUID, float]] = {}
        self.deadlines: list[tuple[float, str, int]] = []  # (deadline, order id, partition)

    def place(self, command: PlaceOrder, partition: Partition, out: Outbox) -> None:
        """Place the order and ask for its stock; the same channel order again is
        acknowledged and ignored."""
        if partition.get(UUID(command.key)) is not None:
            return
        order = order_from_command(command)
        self.saga.placed(order, out, command.command_id)
        self._save(partition, order, out, command.command_id)

    def answered(self, command: ReservationsAnswered, partition: Partition, out: Outbox) -> None:
        """The inventory answered for some lines: the saga carries on."""
        order = self._order(partition, command.order_id)
        answers = self.reroute_answers(order, command.answers, out, command.command_id)
        answers = self.backorder_answers(order, answers, out, command.command_id)
        if answers:
            self.saga.answered(order, answers, out, command.command_id)
        self._save(partition, order, out, command.command_id)

    def answered_one(self, command: ReservationAnswered, partition: Partition, out: Outbox) -> None:
        """An earlier version's answer for one line: the same, with one answer."""
        answer = ReservationAnswer(
            line_no=command.line_no,
            reservation_id=command.reservation_id,
            sku=command.sku,
            location=command.location,
            quantity=command.quantity,
            outcome=command.outcome,
            reason=command.reason,
            available=command.available,
            tried=command.tried,
        )
        order = self._order(partition, command.order_id)
        self.saga.answered(order, (answer,), out, command.command_id)
        self._save(partition, order, out, command.command_id)

    def record_payment(self, command: RecordPayment, partition: Partition, out: Outbox) -> None:
        """Money arrived; the saga may confirm."""
        order = self._order(partition, command.order_id)
        order.record_payment(command.payment_id, Money(command.amount, command.currency))
        for return_id, return_no in order.agree_waiting_refunds():
            refunded = f"{command.command_id}/refunded/{return_no}"
            tell_return_refunded(order, return_id, return_no, refunded, out)
        self.saga.advance(order, out, command.command_id)
        self._save(partition, order, out, command.command_id)

    def cancel(self, command: CancelOrder, partition: Partition, out: Outbox) -> None:
        """Cancel the order: release, stop the shipments or have them intercepted."""
        order: Order | None = partition.get(command.order_id)
        if order is None:
            raise OrderUnknown(order_id=str(command.order_id))
        if order.rerouting is not None:
            self.abandon_reroute(order, out, command.command_id)
        self.saga.cancel(order, command.reason, out, command.command_id)
        self.leave_on_cancel(order, out, command.command_id)
        self._save(partition, order, out, command.command_id)

    def intercepted(self, command: RecordInterception, partition: Partition, out: Outbox) -> None:
        """The carrier intercepted a shipment of the order, or delivered it first."""
        order = self._order(partition, command.order_id)
        outcome = InterceptionOutcome(command.outcome)
        self.saga.intercepted(
            order, command.shipment_id, outcome, command.reason, out, command.command_id
        )
        self._save(partition, order, out, command.command_id)

    def reveal_receiver(self, command: RevealReceiver, partition: Partition, out: Outbox) -> None:
        """The platform decrypted the receiver: record it, and allocate if the order only
        waited for it."""
        order = self._order(partition, command.order_id)
        customer = command.customer
        was_masked = order.receiver_masked
        order.reveal_receiver(
            Customer(customer.name, customer.phone, customer.account),
            address_from_command(command.address),
        )
        if was_masked and order.status in (OrderStatus.PENDING, OrderStatus.PRE_ORDER):
            self.saga.advance(order, out, command.command_id)
        self._save(partition, order, out, command.command_id)

    def change(self, command: ChangeOrder, partition: Partition, out: Outbox) -> None:
        """Apply the channel's new version of the order (refused once allocated)."""
        order = self._order(partition, UUID(command.key))
        self.saga.change(order, change_from(command), out, command.command_id)
        self._save(partition, order, out, command.command_id)

    def ship_lines(self, command: ShipLines, partition: Partition, out: Outbox) -> None:
        """A shipment left with these lines."""
        order = self._order(partition, command.order_id)
        if order.status is OrderStatus.CANCELLED:
            # Cancelled while the parcel left: the shipment asks the carrier to bring
            # it back (CancelShipment found it on the road); nothing ships here.
            log.info("shipped after cancel", order_id=str(order.id))
            return
        order.ship_lines(command.line_nos, str(command.shipment_id))
        if order.cancelling is not None:
            # Another parcel of an order being cancelled left: intercept it too, or the
            # order would wait for an answer about it forever.
            out.command(
                CancelShipment(
                    command_id=f"{command.command_id}/cancel",
                    shipment_id=command.shipment_id,
                    reason=order.cancelling,
                )
            )
        self._save(partition, order, out, command.command_id)

    def deliver_shipment(self, command: DeliverShipment, partition: Partition, out: Outbox) -> None:
        """A shipment reached the customer: the order is delivered once all have; cash
        collected at the door goes on to the payment (once, with the delivery)."""
        order = self._order(partition, command.order_id)
        recorded = order.deliver_shipment(str(command.shipment_id), command.delivered_at)
        cash = command.cod_collected
        if recorded and cash is not None:
            # The cash's own currency: a courier's remittance in another currency than
            # the order's is for the payment to refuse, visibly, not for us to relabel.
            # A COD order split over parcels has its tender collected in parts: each
            # parcel is judged short or over against its own lines' price, which only
            # the order knows (an order whose channel took other tenders too is owed
            # its COD tender whole, by whichever parcel: no per-parcel price).
            price = order.parcel_price(str(command.shipment_id))
            expected = price.amount if price is not None and not order.tenders else None
            out.command(
                CollectCod(
                    command_id=f"{command.command_id}/cod",
                    order_id=order.id,
                    order_no=order.order_no,
                    channel=order.channel,
                    currency=cash.currency,
                    amount=cash.amount,
                    carrier=command.carrier,
                    tracking_no=command.tracking_no,
                    collected_at=command.delivered_at,
                    expected=expected,
                )
            )
        self._save(partition, order, out, command.command_id)

    def shipment_returned(
        self, command: RecordShipmentReturned, partition: Partition, out: Outbox
    ) -> None:
        """A parcel came back undelivered (not intercepted): the order notes it and,
        once it is back at the warehouse and no parcel is still on its way, settles (the
        money follows from its events: RefundDue / RefundAgreed, VoidPayment)."""
        order = self._order(partition, command.order_id)
        order.return_shipment(
            str(command.shipment_id), command.reason, command.received_back, command.occurred_at
        )
        self._save(partition, order, out, command.command_id)

    def refund(self, command: RefundOrder, partition: Partition, out: Outbox) -> None:
        """Agree the refund (no lines and no shipping: everything not refunded yet)."""
        order = self._order(partition, command.order_id)
        lines = {line.line_no: line.quantity for line in command.lines}
        shipping = command.shipping
        if not lines and not shipping:
            lines, shipping = order.refundable_units(), True
        order.agree_refund(command.refund_id, lines, shipping, command.reason)
        self._save(partition, order, out, command.command_id)

    def record_refund(self, command: RecordRefund, partition: Partition, out: Outbox) -> None:
        """The provider gave the money back."""
        order = self._order(partition, command.order_id)
        order.record_refund(command.refund_id, Money(command.amount, command.currency))
        self._save(partition, order, out, command.command_id)

    def refusal(self, command: Command, error: DomainError) -> bool:
        """A channel changing an order that has gone to the warehouse (or closed) is
        told so; that is the contract of ChangeOrder, not bad input. Likewise a
        cancellation of an order the customer already has, and a return the order cannot
        take (nothing shipped, too many units, an unknown reason). A cancellation of an
        order never placed is also dead-lettered: an operator sees it in the exceptions
        and can replay it should the order arrive after its own cancellation."""
        if isinstance(command, CancelOrder):
            return isinstance(error, CancelTooLate)
        return (
            (isinstance(command, ChangeOrder) and isinstance(error, OrderLocked))
            or refused_return(command, error)
            or operator_refused(command, error)
            or merge_refused(command, error)
        )

    @staticmethod
    def _order(partition: Partition, order_id: UUID) -> Order:
        order: Order | None = partition.get(order_id)
        if order is None:
            raise ValueError(f"order {order_id} does not exist")
        return order

    def _save(self, partition: Partition, order: Order, out: Outbox, cause: str) -> None:
        # Queue what the command changed, tell the payment what it owes, and keep the
        # timers' indexes current.
        new = out.events("order", partition, order, cause)
        for command in money_commands(order, new, cause):
            out.command(command)
        self._index(partition.number, order)

    # --- timers: reservation expiry, pre-orders -----------------------------------

    def _index(self, number: int, order: Order) -> None:
        unpaid = self.unpaid.setdefault(number, set())
        if order.status in _EXPIRABLE and not (order.is_paid or order.is_cod):
            unpaid.add(order.id)
        else:
            unpaid.discard(order.id)
        waiting = self.waiting.setdefault(number, {})
        if order.status is OrderStatus.PRE_ORDER or order.backorder_waiting:
            waiting.setdefault(order.id, -1)
        else:
            waiting.pop(order.id, None)
        self.index_completion(number, order)

    def _arrivals(self, order: Order) -> int:
        # Receipts so far of the skus the pre-order (or backorder) still lacks: a change
        # means stock came.
        lacking = order.unreserved_lines() or sorted(order.backordered)
        return sum(self.saga.stock.arrived(order.lines[n].sku) for n in lacking)

    def rebuilt(self, partition: Partition) -> None:
        """Index the partition's unpaid open orders and its pre-orders for the timers."""
        self.unpaid[partition.number] = set()
        self.waiting[partition.number] = {}
        self.completing[partition.number] = {}
        for order in partition.aggregates.values():
            if isinstance(order, Order):
                self._index(partition.number, order)
        self.index_resting(partition)

    def revoked(self, number: int) -> None:
        """Forget the timers' indexes of a partition now owned elsewhere."""
        self.unpaid.pop(number, None)
        self.waiting.pop(number, None)
        self.completing.pop(number, None)

    def due(self, now: float, partitions: dict[int, Partition]) -> bool:
        """True when some unpaid order's reservations have expired, or stock arrived for
        a pre-order."""
        at = datetime.fromtimestamp(now, UTC)
        return any(
            self.saga.expired(order, at)
            for number, partition in partitions.items()
            for order_id in self.unpaid.get(number, ())
            if (order := partition.get(order_id)) is not None
        ) or bool(self._restocked(partitions) or self.completion_due(now))

    def _restocked(self, partitions: dict[int, Partition]) -> list[tuple[Partition, Order]]:
        """Pre-orders whose missing skus were received since they last asked, oldest first."""
        found = [
            (partition, order)
            for number, partition in partitions.items()
            for order_id, mark in self.waiting.get(number, {}).items()
            if (order := partition.get(order_id)) is not None and self._arrivals(order) != mark
        ]
        return sorted(found, key=lambda po: (po[1].placed_at, str(po[1].id)))

    def tick(self, now: float, partitions: dict[int, Partition], out: Outbox) -> None:
        """Cancel orders whose reservations expired, releasing their stock; ask again for
        pre-orders whose stock arrived, in arrival order."""
        promised: dict[tuple[str, str], int] = {}
        for partition, order in self._restocked(partitions):
            arrivals = self._arrivals(order)
            # Unique per round: an earlier round's ReserveStock may already have been
            # refused (an event carrying its command id), and must not hide this one.
            cause = f"restock/{order.id}/{arrivals}/{int(now * 1000)}"
            self.saga.retry(order, promised, out, cause)
            self.waiting[partition.number][order.id] = arrivals
        at = datetime.fromtimestamp(now, UTC)
        for number, partition in partitions.items():
            for order_id in list(self.unpaid.get(number, ())):
                order = partition.get(order_id)
                if self.saga.expired(order, at):
                    cause = f"expire/{order_id}"
                    self.saga.cancel(order, EXPIRED, out, cause)
                    self._save(partition, order, out, cause)
                    log.info("reservation expired", order_id=str(order_id))
        self.complete_due(now, partitions, out)
