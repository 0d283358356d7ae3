"""The Order aggregate: one customer order from placement to completion.

Lifecycle::

    pending ─> confirmed ─> allocated ─> partially_shipped ─> shipped ─> delivered ─> completed
       ├──> allocated (confirmed by the allocation: the engine's way, one event)
       ├──> pre_order (awaits stock) ─> confirmed | allocated
       ├──> on_hold (amount, review); release returns it where it came from
       ├──> rejected (no stock)
       └──> cancelled (any time before the first shipment)
    shipped ─> a parcel returned to sender, not intercepted (拒收 refused, undeliverable):
        ShipmentReturnedToSender; once back at the warehouse, ReturnedParcelReceived,
        and when no parcel is still on its way the order settles:
        none delivered ─> returned_to_sender (closed; paid money owed back, COD voided)
        some delivered ─> delivered (the returned parcels' lines refunded when paid
        for) ─> completed after the return window
    allocated ─> cancelled: the saga cancels the shipments, the warehouses are told
    shipped ─(cancel)─> CancellationRequested: the carrier is asked to intercept (拦截);
        intercepted ─> cancelled (refunded) | delivered anyway ─> InterceptionFailed,
        delivered (the cancellation refused, visibly: a return or refund case)

Commands are public methods that check the rules and then call a private
``@event`` method; only the private method runs again on replay, so a rule
changed tomorrow never breaks the replay of yesterday's orders.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from oms_events.domain.customer import Address, Customer
from oms_events.domain.errors import (
    CancelTooLate,
    InvalidOrder,
    InvalidQuantity,
    InvalidTransition,
    LastLine,
    LineAlreadyShipped,
    LinesNotReserved,
    MergeNotAllowed,
    NotFullyPaid,
    OrderLocked,
    PaymentAmountInvalid,
    ReasonRequired,
    ReturnNotAllowed,
    ReturnQuantityInvalid,
    StaleReservation,
    UnknownLine,
)
from oms_events.domain.ids import natural_id, trade_no
from oms_events.domain.line import OrderLine
from oms_events.domain.money import Money


class OrderStatus(StrEnum):
    """Where an order is in its life."""

    PENDING = "pending"
    PRE_ORDER = "pre_order"
    ON_HOLD = "on_hold"
    CONFIRMED = "confirmed"
    ALLOCATED = "allocated"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    RETURNED_TO_SENDER = "returned_to_sender"  # every parcel came back undelivered (拒收退回)


class PaymentMethod(StrEnum):
    """How the customer pays; ``cod`` is cash collected by the carrier at delivery."""

    CARD = "card"
    ALIPAY = "alipay"
    WECHAT_PAY = "wechat_pay"
    COD = "cod"


# How a tender was paid, finer than PaymentMethod: the Avro enum of PaymentMethod cannot
# gain symbols (release v1 has no enum default, so its readers could not read them), so
# the tender's method is a string from this vocabulary.
TENDER_METHODS = frozenset(
    {
        "card",
        "alipay",
        "wechat_pay",
        "cod",  # cash collected by the carrier at delivery (货到付款)
        "cash",  # cash at the till
        "bank_transfer",  # company or bank-card transfer before dispatch (公司转账, 银行卡转账)
        "postal_remittance",  # 邮局汇款
        "pay_at_pickup",  # paid when the buyer collects the parcel (自提)
    }
)
# Tenders collected only when the goods are handed over: the order is not paid at intake.
COLLECTED_ON_HANDOVER = frozenset({"cod", "pay_at_pickup"})


@dataclass(frozen=True)
class Tender:
    """One part of how the customer pays the order: ``method`` (see TENDER_METHODS),
    ``amount``, and the channel's reference for it when it gave one."""

    method: str
    amount: Money
    reference: str | None = None

    def __post_init__(self) -> None:
        if self.method not in TENDER_METHODS:
            raise InvalidOrder(detail=f"unknown tender method {self.method[:30]!r}")
        if self.amount.is_negative:
            raise InvalidOrder(detail=f"tender {self.method} is negative")

    def to_dict(self) -> dict[str, Any]:
        """The event form."""
        return {"method": self.method, "amount": self.amount.to_dict(), "reference": self.reference}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tender:
        """Build from the event form."""
        return cls(data["method"], Money.from_dict(data["amount"]), data.get("reference"))


class DeliverySpeed(StrEnum):
    """The delivery promise bought by the customer."""

    STANDARD = "standard"
    EXPRESS = "express"
    NEXT_DAY = "next_day"
    SAME_DAY = "same_day"


# Statuses in which lines, quantities and the address may still change.
_CHANGEABLE = (
    OrderStatus.PENDING,
    OrderStatus.PRE_ORDER,
    OrderStatus.ON_HOLD,
    OrderStatus.CONFIRMED,
)
# Statuses in which stock can still be reserved for a line.
_RESERVABLE = (OrderStatus.PENDING, OrderStatus.PRE_ORDER, OrderStatus.ON_HOLD)
_CANCELLABLE = (*_CHANGEABLE, OrderStatus.ALLOCATED)
_CLOSED = (OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.RETURNED_TO_SENDER)
# Statuses in which a cancellation needs the carrier: something is on the road.
_ON_THE_ROAD = (OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED)
# Statuses in which the customer has the goods: a cancellation comes too late.
_RECEIVED = (OrderStatus.DELIVERED, OrderStatus.COMPLETED)


class InterceptionOutcome(StrEnum):
    """What became of a parcel the carrier was asked to intercept (拦截)."""

    INTERCEPTED = "intercepted"  # it comes back to the warehouse
    DELIVERED = "delivered"  # it reached the customer first


class Order(Aggregate):
    """A customer order; see the module docstring for its lifecycle."""

    # Read when a snapshot taken before orders had tenders is restored (its state has none).
    tenders: tuple[Tender, ...] = ()
    receiver_masked = False  # likewise: orders placed before masked receivers existed
    tax: Money | None = None  # likewise: before tax on top of prices existed
    # Likewise for refunds by line: immutable, so replaced (never changed) by the events.
    refunds_agreed: frozenset[str] = frozenset()
    refunded_units: tuple[tuple[int, int], ...] = ()  # (line_no, units refunded)
    shipping_refunded = False
    promised_back: Money | None = None  # None: nothing promised back (older snapshots)
    # Refunds of closed returns waiting for the money they give back: a COD courier
    # remits the cash after the customer may have sent the goods back already.
    # (return_no, return_id, ((line_no, units), ...), reason); replaced by the events.
    refunds_waiting: tuple[tuple[str, str, tuple[tuple[int, int], ...], str], ...] = ()
    # A cancellation waiting for the carrier's interception (its reason), and the
    # shipments intercepted so far; immutable, replaced by the events.
    cancelling: str | None = None
    intercepted: frozenset[str] = frozenset()
    not_intercepted: frozenset[str] = frozenset()  # delivered before the carrier stopped them
    # Delivery, tracked per shipment (an order can ship from several locations).
    delivered_shipments: frozenset[str] = frozenset()
    delivered_at: datetime | None = None
    # Parcels the carrier brought back undelivered (not intercepted), and those of them
    # back at the warehouse; immutable, replaced by the events.
    returning_shipments: frozenset[str] = frozenset()
    received_back: frozenset[str] = frozenset()
    # Returns (RMA): immutable, so replaced (never changed) by the events.
    open_returns: tuple[tuple[str, tuple[tuple[int, int], ...]], ...] = ()  # (id, units)
    returned_units: tuple[tuple[int, int], ...] = ()  # (line_no, units in returns)
    # A re-route under way: (from, to, ((line_no, new reservation id), ...)), and the
    # moving lines the new location reserved so far; immutable, replaced by the events.
    rerouting: tuple[str, str, tuple[tuple[int, str], ...]] | None = None
    reroute_reserved: frozenset[int] = frozenset()
    reroute_version = 0
    # Merging (合单), see "merging" below: the group the order ships in and the order
    # hosting it (its lead); on the lead, the group's orders, what each member reported
    # (its facts when it joined, its lines once allocated) and how far the group got.
    # Immutable, replaced by the events; class defaults for older snapshots.
    merge_group: str | None = None
    merge_lead: str | None = None
    merge_members: tuple[str, ...] = ()
    merge_facts: tuple[dict[str, Any], ...] = ()
    merge_ready: tuple[dict[str, Any], ...] = ()
    merge_formed = False
    merge_dispatched = False
    # Splitting (拆单): lines backordered (waiting for stock, allocated on their own
    # when it arrives), and the parcels of backorders allocated since.
    backordered: frozenset[int] = frozenset()
    backorder_parcels: tuple[tuple[str, tuple[int, ...]], ...] = ()  # (shipment id, lines)
    # Our trade asking for the balance of the last PaymentDue while it is unpaid: a new
    # balance withdraws it first (PaymentAskWithdrawn), or the customer could pay both.
    balance_ask: str | None = None

    @staticmethod
    def create_id(channel: str, external_id: str) -> UUID:
        """The order id: the same channel order always maps to the same aggregate."""
        return natural_id("order", channel, external_id)

    @staticmethod
    @lru_cache(maxsize=8192)  # the saga asks for a line's id several times per answer
    def reservation_id_for(order_id: UUID, line_no: int, since_version: int) -> UUID:
        """The reservation id for a line at the version that set its quantity.

        Deterministic, so a retried ReserveStock is a duplicate the inventory
        ignores, and a quantity change yields a fresh id.
        """
        return uuid5(order_id, f"line:{line_no}@{since_version}")

    # --- creation ---------------------------------------------------------------

    @classmethod
    def place(
        cls,
        *,
        order_no: str,
        channel: str,
        external_id: str,
        customer: Customer,
        address: Address,
        lines: Sequence[OrderLine],
        payment_method: PaymentMethod,
        placed_at: datetime,
        delivery_speed: DeliverySpeed = DeliverySpeed.STANDARD,
        shipping_fee: Money | None = None,
        paid_at_channel: str | None = None,
        tenders: Sequence[Tender] = (),
        receiver_masked: bool = False,
        tax: Money | None = None,
    ) -> Order:
        """Place a new order (event ``OrderPlaced``) after checking it is whole.

        ``paid_at_channel`` is the id of the channel's payment when the channel already
        collected the total: ``OrderPlaced`` records it, no ``PaymentRecorded`` follows.
        ``tenders`` say how the total is paid when the channel said so (split tenders at
        a till, a transfer): recorded as given, they must add up to the total.
        ``receiver_masked``: the platform sent the receiver masked or encrypted; the
        customer and address hold what it sent until the real ones are fetched.
        ``tax``: charged on top of the prices when the channel's prices exclude it; part
        of the total the customer owes.
        """
        for name, value in (("order_no", order_no), ("channel", channel)):
            if not value.strip():
                raise InvalidOrder(detail=f"{name} is empty")
        if not external_id.strip():
            raise InvalidOrder(detail="external_id is empty")
        if not lines:
            raise InvalidOrder(detail="an order needs at least one line")
        line_nos = [line.line_no for line in lines]
        if len(set(line_nos)) != len(line_nos):
            raise InvalidOrder(detail=f"duplicate line numbers {sorted(line_nos)}")
        currency = lines[0].currency
        fee = shipping_fee if shipping_fee is not None else Money.zero(currency)
        if any(line.currency != currency for line in lines) or fee.currency != currency:
            raise InvalidOrder(detail="lines and shipping fee must share one currency")
        if fee.is_negative:
            raise InvalidOrder(detail="shipping fee is negative")
        if placed_at.tzinfo is None:
            raise InvalidOrder(detail="placed_at must carry a time zone")
        if tax is not None and (tax.currency != currency or tax.is_negative):
            raise InvalidOrder(detail="tax must be a non-negative amount in the order's currency")
        total = Money.sum((line.net for line in lines), currency) + fee
        if tax is not None:
            total = total + tax
        if tenders:
            if any(t.amount.currency != currency for t in tenders):
                raise InvalidOrder(detail="tenders must be in the order's currency")
            paid_in = Money.sum((t.amount for t in tenders), currency)
            if paid_in != total:
                raise InvalidOrder(detail=f"tenders add up to {paid_in}, the order to {total}")
        payment = None
        if (
            paid_at_channel is not None
            and payment_method is not PaymentMethod.COD
            and total.amount > 0
        ):
            payment = {"payment_id": paid_at_channel, "amount": total.to_dict()}
        return cls(
            order_no=order_no,
            channel=channel,
            external_id=external_id,
            customer=customer.to_dict(),
            address=address.to_dict(),
            lines=[line.to_dict() for line in lines],
            payment_method=PaymentMethod(payment_method).value,
            delivery_speed=DeliverySpeed(delivery_speed).value,
            placed_at=placed_at,
            currency=currency,
            shipping_fee=fee.to_dict(),
            payment=payment,
            tenders=[t.to_dict() for t in tenders],
            receiver_masked=receiver_masked,
            tax=tax.to_dict() if tax is not None and not tax.is_zero else None,
        )

    @event("OrderPlaced")
    def __init__(
        self,
        order_no: str,
        channel: str,
        external_id: str,
        customer: dict[str, Any],
        address: dict[str, Any],
        lines: list[dict[str, Any]],
        payment_method: str,
        delivery_speed: str,
        placed_at: datetime,
        currency: str,
        shipping_fee: dict[str, Any],
        payment: dict[str, Any] | None = None,
        tenders: list[dict[str, Any]] | None = None,
        receiver_masked: bool = False,
        tax: dict[str, Any] | None = None,
    ) -> None:
        self.order_no = order_no
        self.channel = channel
        self.external_id = external_id
        self.customer = Customer.from_dict(customer)
        self.address = Address.from_dict(address)
        self.payment_method = PaymentMethod(payment_method)
        self.delivery_speed = DeliverySpeed(delivery_speed)
        self.placed_at = placed_at
        self.currency = currency
        self.shipping_fee = Money.from_dict(shipping_fee)
        self.status = OrderStatus.PENDING
        self.lines: dict[int, OrderLine] = {}
        # Version at which each line got its current quantity: names its reservation.
        self.line_versions: dict[int, int] = {}
        self.next_line_no = 1
        for data in lines:
            line = OrderLine.from_dict(data)
            self.lines[line.line_no] = line
            self.line_versions[line.line_no] = self.version
            self.next_line_no = max(self.next_line_no, line.line_no + 1)
        self.reservations: dict[int, tuple[UUID, str]] = {}  # line_no -> (reservation, location)
        self.allocations: dict[int, str] = {}  # line_no -> location
        self.shipments: dict[int, str] = {}  # line_no -> shipment id
        self.payments: dict[str, Money] = {}  # payment id -> amount
        if payment is not None:  # collected by the channel (absent in older events)
            self.payments[payment["payment_id"]] = Money.from_dict(payment["amount"])
        self.refunds: dict[str, Money] = {}  # refund id -> amount
        # How the channel said the total is paid (absent in older events: one tender of
        # payment_method for the whole total).
        self.tenders = tuple(Tender.from_dict(t) for t in tenders or ())
        # Absent in older events: the receiver was sent in clear.
        self.receiver_masked = receiver_masked
        self.tax = Money.from_dict(tax) if tax is not None else None
        self.held_from: OrderStatus | None = None
        self.hold_reason: str | None = None
        self.released_from_hold = False
        self.close_reason: str | None = None

    # --- derived state ----------------------------------------------------------

    @property
    def total(self) -> Money:
        """What the customer owes: line nets plus shipping, plus tax charged on top."""
        total = Money.sum((line.net for line in self.lines.values()), self.currency) + (
            self.shipping_fee
        )
        return total + self.tax if self.tax is not None else total

    @property
    def amount_paid(self) -> Money:
        """Payments recorded minus refunds recorded."""
        paid = Money.sum(self.payments.values(), self.currency)
        return paid - Money.sum(self.refunds.values(), self.currency)

    @property
    def amount_held(self) -> Money:
        """Payments recorded minus every refund owed or agreed (in flight or done): what
        a new balance is settled against, so two refunds never promise the same money."""
        # Refunds owed or agreed, recorded or not: money no longer ours to keep.
        promised = self.promised_back or Money.zero(self.currency)
        return Money.sum(self.payments.values(), self.currency) - promised

    @property
    def is_paid(self) -> bool:
        """True once payments cover the total."""
        return self.amount_paid >= self.total

    @property
    def is_cod(self) -> bool:
        """True for cash on delivery, collected by the carrier."""
        return self.payment_method is PaymentMethod.COD

    def reservation_id(self, line_no: int) -> UUID:
        """The reservation id the inventory must be asked for, for this line now."""
        self.check_line(line_no)
        return self.reservation_id_for(self.id, line_no, self.line_versions[line_no])

    def unreserved_lines(self) -> list[int]:
        """Line numbers still waiting for stock (a backorder's lines apart: they wait
        on their own, after the rest is allocated)."""
        return [n for n in self.lines if n not in self.reservations and n not in self.backordered]

    @property
    def all_lines_reserved(self) -> bool:
        """True when every line holds a reservation."""
        return not self.unreserved_lines()

    # --- checks -----------------------------------------------------------------

    def check_status(self, action: str, *allowed: OrderStatus) -> None:
        """Raise InvalidTransition unless the order is in one of ``allowed``."""
        if self.status not in allowed:
            raise InvalidTransition(entity="order", action=action, status=self.status.value)

    def check_line(self, line_no: int) -> None:
        """Raise UnknownLine unless the order has ``line_no``."""
        if line_no not in self.lines:
            raise UnknownLine(line_no=line_no)

    def check_changeable(self) -> None:
        """Raise OrderLocked once the order has gone to a warehouse (or is closed)."""
        if self.status not in _CHANGEABLE:
            raise OrderLocked(status=self.status.value)

    def check_currency(self, amount: Money) -> None:
        """Raise InvalidOrder unless ``amount`` is in the order's currency."""
        if amount.currency != self.currency:
            raise InvalidOrder(detail=f"{amount.currency} on a {self.currency} order")

    # --- reservation, confirmation, rejection -----------------------------------

    def reserve_line(self, line_no: int, reservation_id: UUID, location: str) -> None:
        """Record that the inventory reserved one line; see :meth:`reserve_lines`."""
        self.reserve_lines([(line_no, reservation_id, location)])

    def reserve_lines(self, reservations: Sequence[tuple[int, UUID, str]]) -> None:
        """Record the lines one inventory answer reserved (one ``LinesReserved``).

        Each is ``(line_no, reservation_id, location)``; a line already holding that
        reservation is skipped (the same answer delivered twice), and nothing is
        recorded when every line is such a repeat.
        """
        new = self._check_reservations(reservations)
        if new:
            self._lines_reserved(reservations=new)

    def _check_reservations(
        self, reservations: Sequence[tuple[int, UUID, str]]
    ) -> list[dict[str, Any]]:
        # The reservations that are new, as event data; raises if one cannot be taken.
        new: list[dict[str, Any]] = []
        for line_no, reservation_id, location in reservations:
            self.check_line(line_no)
            if self.reservations.get(line_no, (None, ""))[0] == reservation_id:
                continue
            self.check_status("reserve", *_RESERVABLE)
            if reservation_id != self.reservation_id(line_no):
                raise StaleReservation(reservation_id=reservation_id, line_no=line_no)
            if not location.strip():
                raise InvalidOrder(detail="reservation location is empty")
            new.append({"line_no": line_no, "reservation_id": reservation_id, "location": location})
        return new

    @event("LinesReserved")
    def _lines_reserved(self, reservations: list[dict[str, Any]]) -> None:
        for r in reservations:
            self.reservations[r["line_no"]] = (r["reservation_id"], r["location"])

    @event("LineReserved")
    def _line_reserved(self, line_no: int, reservation_id: UUID, location: str) -> None:
        # Written by earlier versions (one per line); kept so their logs replay.
        self.reservations[line_no] = (reservation_id, location)

    def confirm(self) -> None:
        """Confirm the order (``OrderConfirmed``); every line must be reserved."""
        self.check_status("confirm", OrderStatus.PENDING, OrderStatus.PRE_ORDER)
        if not self.all_lines_reserved:
            raise LinesNotReserved(line_nos=self.unreserved_lines())
        self._confirmed()

    @event("OrderConfirmed")
    def _confirmed(self) -> None:
        self.status = OrderStatus.CONFIRMED

    def pre_order(self) -> None:
        """Keep the order waiting for stock instead of rejecting it (``PreOrdered``).

        A held order becomes a pre-order too; the workflow holds it again once
        the stock is there, since no operator released it.
        """
        self.check_status("pre-order", OrderStatus.PENDING, OrderStatus.ON_HOLD)
        self._pre_ordered()

    @event("PreOrdered")
    def _pre_ordered(self) -> None:
        self.status = OrderStatus.PRE_ORDER
        self.held_from = None
        self.hold_reason = None

    def reject(self, reason: str) -> None:
        """Reject the order for lack of stock (``OrderRejected``), releasing what was reserved."""
        self.check_status("reject", *_RESERVABLE)
        self._check_reason(reason)
        self._rejected(reason=reason, releases=self._releases(self.reservations))
        self._refund_all_paid()

    @event("OrderRejected")
    def _rejected(self, reason: str, releases: list[dict[str, Any]]) -> None:
        self._close(OrderStatus.REJECTED, reason)

    # --- hold -------------------------------------------------------------------

    def hold(self, reason: str) -> None:
        """Put the order on hold (``OrderHeld``), e.g. above an amount or for review."""
        self.check_status("hold", OrderStatus.PENDING, OrderStatus.PRE_ORDER, OrderStatus.CONFIRMED)
        self._check_reason(reason)
        self._held(reason=reason)

    @event("OrderHeld")
    def _held(self, reason: str) -> None:
        self.held_from = self.status
        self.hold_reason = reason
        self.status = OrderStatus.ON_HOLD

    def release_hold(self) -> None:
        """Release the hold (``OrderReleased``); the order goes back where it was."""
        self.check_status("release", OrderStatus.ON_HOLD)
        self._released()

    @event("OrderReleased")
    def _released(self) -> None:
        self.status = self.held_from or OrderStatus.PENDING
        self.held_from = None
        self.hold_reason = None
        # An operator looked at it; the workflow must not hold it again.
        self.released_from_hold = True

    # --- cancellation -----------------------------------------------------------

    def cancel(self, reason: str) -> None:
        """Cancel the order.

        Before anything shipped: ``OrderCancelled``, every reservation to be released.
        Once a parcel is on the road: ``CancellationRequested`` (the saga asks the
        carrier to intercept; :meth:`record_interception` decides). Cancelling again
        changes nothing (a channel's redelivery, an operator's retry); once the
        customer has the goods it is refused with CancelTooLate.
        """
        self._check_reason(reason)
        if self.status in _RECEIVED:
            raise CancelTooLate(status=self.status.value)
        if self.status in (OrderStatus.CANCELLED, OrderStatus.RETURNED_TO_SENDER):
            return  # closed already, the money owed back
        if self.cancelling is not None:
            return
        if self.status in _ON_THE_ROAD:
            self._cancellation_requested(
                reason=reason, shipment_ids=sorted(set(self.shipments.values()))
            )
            return
        self.check_status("cancel", *_CANCELLABLE)
        self._cancelled(reason=reason, releases=self._releases(self.unshipped_reservations()))
        self._refund_all_paid()

    def unshipped_reservations(self) -> dict[int, tuple[UUID, str]]:
        """Reservations of lines no shipment took yet: what a cancellation releases."""
        return {n: r for n, r in self.reservations.items() if n not in self.shipments}

    @event("OrderCancelled")
    def _cancelled(self, reason: str, releases: list[dict[str, Any]]) -> None:
        self._close(OrderStatus.CANCELLED, reason)
        self.cancelling = None

    @event("CancellationRequested")
    def _cancellation_requested(self, reason: str, shipment_ids: list[str]) -> None:
        # The order stays where it is until the carrier answers.
        self.cancelling = reason
        self.intercepted = frozenset()

    def record_interception(
        self, shipment_id: str, outcome: InterceptionOutcome, reason: str
    ) -> None:
        """The carrier's answer for one intercepted shipment.

        Every shipped parcel intercepted: ``OrderCancelled`` (the paid amount owed back).
        One delivered first: ``InterceptionFailed`` (the cancellation is refused, with
        the reason, for customer service); the delivery itself is ``deliver_shipment``'s,
        whichever of the two the order hears first. A parcel shipped
        after the order was cancelled (the warehouse did not stop it) and delivered is
        ``InterceptionFailed`` on the cancelled order: the goods were given away.
        """
        outcome = InterceptionOutcome(outcome)
        if outcome is InterceptionOutcome.DELIVERED:
            if self.cancelling is None and self.status is not OrderStatus.CANCELLED:
                return  # nobody asked to intercept it
            if shipment_id in self.not_intercepted:
                return  # the carrier repeats itself
            # The order's delivery itself comes from the carrier's scan (deliver_shipment).
            self._interception_failed(shipment_id=shipment_id, reason=reason or "delivered")
            return
        if self.cancelling is None or shipment_id in self.intercepted:
            return
        if shipment_id not in set(self.shipments.values()):
            return  # not a parcel of this order on the road
        self._shipment_intercepted(shipment_id=shipment_id)
        if self.intercepted >= set(self.shipments.values()):
            self._cancelled(
                reason=self.cancelling, releases=self._releases(self.unshipped_reservations())
            )
            self._refund_all_paid()

    @event("ShipmentIntercepted")
    def _shipment_intercepted(self, shipment_id: str) -> None:
        self.intercepted = self.intercepted | {shipment_id}

    @event("InterceptionFailed")
    def _interception_failed(self, shipment_id: str, reason: str) -> None:
        self.cancelling = None
        self.not_intercepted = self.not_intercepted | {shipment_id}

    def _close(self, status: OrderStatus, reason: str) -> None:
        self.status = status
        self.close_reason = reason
        self.reservations.clear()
        self.held_from = None
        self.hold_reason = None

    # --- changes before allocation ----------------------------------------------

    def add_line(
        self,
        sku: str,
        quantity: int,
        unit_price: Money,
        discount: Money | None = None,
        promotions: Sequence[str] = (),
    ) -> int:
        """Add a line (``LineAdded``) and return its number; may owe a payment."""
        self.check_changeable()
        line = OrderLine(
            line_no=self.next_line_no,
            sku=sku,
            quantity=quantity,
            unit_price=unit_price,
            discount=discount if discount is not None else Money.zero(unit_price.currency),
            promotions=tuple(promotions),
        )
        self.check_currency(line.unit_price)
        old_total = self.total
        self._line_added(line=line.to_dict())
        self._note_balance(old_total)
        return line.line_no

    @event("LineAdded")
    def _line_added(self, line: dict[str, Any]) -> None:
        added = OrderLine.from_dict(line)
        self.lines[added.line_no] = added
        self.line_versions[added.line_no] = self.version + 1
        self.next_line_no = max(self.next_line_no, added.line_no + 1)
        self._unconfirm()

    def remove_line(self, line_no: int) -> None:
        """Remove a line (``LineRemoved``), releasing its reservation; may owe a refund."""
        self.check_changeable()
        self.check_line(line_no)
        if len(self.lines) == 1:
            raise LastLine()
        old_total = self.total
        self._line_removed(line_no=line_no, release=self._release(line_no))
        self._note_balance(old_total)

    @event("LineRemoved")
    def _line_removed(self, line_no: int, release: dict[str, Any] | None) -> None:
        del self.lines[line_no]
        del self.line_versions[line_no]
        self.reservations.pop(line_no, None)

    def change_quantity(self, line_no: int, quantity: int, discount: Money | None = None) -> None:
        """Change a line's quantity (``QuantityChanged``); the line must be reserved again."""
        self.check_changeable()
        self.check_line(line_no)
        InvalidQuantity.check(quantity)
        if discount is not None:
            self.check_currency(discount)
        line = self.lines[line_no]
        if quantity == line.quantity and (discount is None or discount == line.discount):
            return  # nothing changes; no event, no new reservation
        changed = line.with_quantity(quantity, discount)
        old_total = self.total
        self._quantity_changed(
            line_no=line_no,
            quantity=quantity,
            discount=changed.discount.to_dict(),
            release=self._release(line_no),
        )
        self._note_balance(old_total)

    @event("QuantityChanged")
    def _quantity_changed(
        self,
        line_no: int,
        quantity: int,
        discount: dict[str, Any],
        release: dict[str, Any] | None,
    ) -> None:
        self.lines[line_no] = self.lines[line_no].with_quantity(quantity, Money.from_dict(discount))
        self.line_versions[line_no] = self.version + 1
        self.reservations.pop(line_no, None)
        self._unconfirm()

    def change_address(self, address: Address, shipping_fee: Money | None = None) -> None:
        """Change the delivery address (``AddressChanged``), optionally with a new shipping fee."""
        self.check_changeable()
        fee = shipping_fee if shipping_fee is not None else self.shipping_fee
        self.check_currency(fee)
        if fee.is_negative:
            raise InvalidOrder(detail="shipping fee is negative")
        old_total = self.total
        self._address_changed(address=address.to_dict(), shipping_fee=fee.to_dict())
        self._note_balance(old_total)

    @event("AddressChanged")
    def _address_changed(self, address: dict[str, Any], shipping_fee: dict[str, Any]) -> None:
        self.address = Address.from_dict(address)
        self.shipping_fee = Money.from_dict(shipping_fee)

    def reveal_receiver(self, customer: Customer, address: Address) -> None:
        """The real receiver of an order placed masked (``ReceiverRevealed``), from the
        platform's decrypt API; nothing happens when the receiver is not masked (a
        second answer of the decrypt desk)."""
        if not self.receiver_masked:
            return
        self.check_status(
            "reveal the receiver", OrderStatus.PENDING, OrderStatus.PRE_ORDER, OrderStatus.ON_HOLD
        )
        self._receiver_revealed(customer=customer.to_dict(), address=address.to_dict())

    @event("ReceiverRevealed")
    def _receiver_revealed(self, customer: dict[str, Any], address: dict[str, Any]) -> None:
        self.customer = Customer.from_dict(customer)
        self.address = Address.from_dict(address)
        self.receiver_masked = False

    def _unconfirm(self) -> None:
        # A new or resized line has no stock yet, so the order is not confirmed any more.
        if self.status is OrderStatus.CONFIRMED:
            self.status = OrderStatus.PENDING
        if self.held_from is OrderStatus.CONFIRMED:
            self.held_from = OrderStatus.PENDING

    def _note_balance(self, old_total: Money) -> None:
        # Unpaid orders are charged the new total later; only money already
        # taken makes a difference someone must settle now.
        if self.total == old_total or self.amount_held.is_zero:
            return
        if self.balance_ask is not None:
            # Each PaymentDue states the whole balance: the trade of the last one must
            # not stay payable beside the next.
            self._ask_withdrawn(reference=self.balance_ask, reason="balance asked again")
        balance = self.total - self.amount_held
        if balance.amount > 0:
            self._payment_due(amount=balance.to_dict(), total=self.total.to_dict())
        elif balance.amount < 0:
            self._refund_due(amount=(-balance).to_dict(), total=self.total.to_dict())

    @event("PaymentDue")
    def _payment_due(self, amount: dict[str, Any], total: dict[str, Any]) -> None:
        """The customer owes ``amount`` more: asked for under our trade of this event's
        version (the version is set once the event is applied, hence the + 1)."""
        self.balance_ask = trade_no(self.id, self.version + 1)

    @event("PaymentAskWithdrawn")
    def _ask_withdrawn(self, reference: str, reason: str) -> None:
        """Our trade ``reference`` for a balance is withdrawn (VoidPayment of it)."""
        if self.balance_ask == reference:
            self.balance_ask = None

    @event("RefundDue")
    def _refund_due(self, amount: dict[str, Any], total: dict[str, Any]) -> None:
        """The customer is owed ``amount`` back."""
        self._promise_back(Money.from_dict(amount))

    def _promise_back(self, amount: Money) -> None:
        self.promised_back = (self.promised_back or Money.zero(self.currency)) + amount

    def _refund_all_paid(self) -> None:
        if self.amount_held.amount > 0:
            self._refund_due(amount=self.amount_held.to_dict(), total=self.total.to_dict())

    # --- money ------------------------------------------------------------------

    def record_payment(self, payment_id: str, amount: Money) -> None:
        """Record money received (``PaymentRecorded``); a repeated payment id is ignored.

        Money arriving for a cancelled or rejected order is owed straight back.
        """
        if payment_id in self.payments:
            return
        self.check_currency(amount)
        if amount.amount <= 0:
            raise PaymentAmountInvalid(action="record", amount=str(amount), limit="> 0")
        self._payment_recorded(payment_id=payment_id, amount=amount.to_dict())
        if self.status in _CLOSED:
            self._refund_due(amount=amount.to_dict(), total=self.total.to_dict())
        elif self.balance_ask is not None and self.amount_held >= self.total:
            # Paid in full another way (an offline payment, the channel): our trade for
            # the balance must not be paid as well.
            self._ask_withdrawn(reference=self.balance_ask, reason=f"paid in full by {payment_id}")

    @event("PaymentRecorded")
    def _payment_recorded(self, payment_id: str, amount: dict[str, Any]) -> None:
        self.payments[payment_id] = Money.from_dict(amount)
        if payment_id == self.balance_ask:
            self.balance_ask = None  # the customer paid it

    def record_refund(self, refund_id: str, amount: Money) -> None:
        """Record money given back (``RefundRecorded``); never more than was paid."""
        if refund_id in self.refunds:
            return
        self.check_currency(amount)
        if amount.amount <= 0 or amount > self.amount_paid:
            raise PaymentAmountInvalid(
                action="refund", amount=str(amount), limit=str(self.amount_paid)
            )
        self._refund_recorded(refund_id=refund_id, amount=amount.to_dict())

    @event("RefundRecorded")
    def _refund_recorded(self, refund_id: str, amount: dict[str, Any]) -> None:
        self.refunds[refund_id] = Money.from_dict(amount)

    def agree_refund(
        self, refund_id: str, lines: Mapping[int, int], shipping: bool, reason: str
    ) -> Money:
        """Agree to give back ``lines`` (line no -> units) and the shipping fee
        (``RefundAgreed``); return the amount, which the payment sends back.

        A line's refund is its net (after its share of order-level promotions, which
        intake spreads into the line discounts) prorated by units, counted from the
        units already refunded so that refunding a line unit by unit gives back
        exactly its net. A repeated refund id agrees nothing more.
        """
        self._check_reason(reason)
        if refund_id in self.refunds_agreed:
            return Money.zero(self.currency)
        parts = self._price_refund(lines)
        fee = self.shipping_fee if shipping and not self.shipping_refunded else None
        total = self._parts_value(parts) + (fee or Money.zero(self.currency))
        if total.amount <= 0 or total > self.amount_held:
            raise PaymentAmountInvalid(
                action="refund", amount=str(total), limit=str(self.amount_held)
            )
        self._refund_agreed(
            refund_id=refund_id,
            reason=reason,
            lines=parts,
            shipping=(fee or Money.zero(self.currency)).to_dict(),
            amount=total.to_dict(),
        )
        return total

    def refund_return(
        self, return_no: str, return_id: UUID, lines: Mapping[int, int], reason: str
    ) -> bool:
        """Refund the units a closed return kept (``RefundAgreed``, True), or, while the
        money they cost has not come in yet but is still to come (a COD courier's cash
        not remitted), keep the refund waiting for it (``RefundWaiting``, False): the
        payment that brings the money agrees it (:meth:`agree_waiting_refunds`).

        Before this, such a return's refund was refused, the return stayed open on the
        order and the order never completed."""
        if return_no in self.refunds_agreed or any(w[0] == return_no for w in self.refunds_waiting):
            return False
        value = self._parts_value(self._price_refund(lines))
        coming = self.owed - self.paid_in
        if value > self.amount_held and coming.amount > 0 and value <= self.amount_held + coming:
            self._refund_waiting(
                return_no=return_no,
                return_id=return_id,
                lines=[{"line_no": n, "quantity": q} for n, q in sorted(lines.items())],
                reason=reason,
            )
            return False
        self.agree_refund(return_no, lines, False, reason)
        return True

    @event("RefundWaiting")
    def _refund_waiting(
        self, return_no: str, return_id: UUID, lines: list[dict[str, Any]], reason: str
    ) -> None:
        units = tuple((d["line_no"], d["quantity"]) for d in lines)
        self.refunds_waiting = (*self.refunds_waiting, (return_no, str(return_id), units, reason))

    def agree_waiting_refunds(self) -> list[tuple[UUID, str]]:
        """Agree the waiting refunds the money held now covers, oldest first
        (``RefundAgreed`` each); their (return id, return number)."""
        agreed: list[tuple[UUID, str]] = []
        for return_no, return_id, units, reason in self.refunds_waiting:
            lines = dict(units)
            try:
                parts = self._price_refund(lines)
            except (PaymentAmountInvalid, UnknownLine):
                # Refunded meanwhile some other way: it stays waiting, visibly, rather
                # than refuse the payment that came in.
                continue
            if self._parts_value(parts) <= self.amount_held:
                self.agree_refund(return_no, lines, False, reason)
                agreed.append((UUID(return_id), return_no))
        return agreed

    def _parts_value(self, parts: Iterable[Mapping[str, Any]]) -> Money:
        """What the refund parts of :meth:`_price_refund` come to."""
        return Money.sum((Money.from_dict(p["amount"]) for p in parts), self.currency)

    def _price_refund(self, lines: Mapping[int, int]) -> list[dict[str, Any]]:
        # Each line's units at its net, prorated from the units refunded already (see
        # agree_refund); raises for units the line no longer has to refund.
        parts: list[dict[str, Any]] = []
        refunded = dict(self.refunded_units)
        for line_no, units in sorted(lines.items()):
            self.check_line(line_no)
            line = self.lines[line_no]
            done = refunded.get(line_no, 0)
            if units <= 0 or done + units > line.quantity:
                raise PaymentAmountInvalid(
                    action=f"refund {units} of line {line_no}",
                    amount=str(units),
                    limit=str(line.quantity - done),
                )
            amount = line.net.prorate(done + units, line.quantity) - line.net.prorate(
                done, line.quantity
            )
            parts.append(
                {"line_no": line_no, "sku": line.sku, "quantity": units, "amount": amount.to_dict()}
            )
        return parts

    def refundable_units(self) -> dict[int, int]:
        """Line no -> units not refunded yet (a full refund gives back all of them)."""
        done = dict(self.refunded_units)
        return {
            n: line.quantity - done.get(n, 0)
            for n, line in self.lines.items()
            if line.quantity > done.get(n, 0)
        }

    @event("RefundAgreed")
    def _refund_agreed(
        self,
        refund_id: str,
        reason: str,
        lines: list[dict[str, Any]],
        shipping: dict[str, Any],
        amount: dict[str, Any],
    ) -> None:
        self.refunds_agreed = self.refunds_agreed | {refund_id}
        self.refunds_waiting = tuple(w for w in self.refunds_waiting if w[0] != refund_id)
        self._promise_back(Money.from_dict(amount))
        units = dict(self.refunded_units)
        for part in lines:
            units[part["line_no"]] = units.get(part["line_no"], 0) + part["quantity"]
        self.refunded_units = tuple(sorted(units.items()))
        if shipping["amount"] > 0:
            self.shipping_refunded = True

    # --- fulfilment -------------------------------------------------------------

    def allocate(self, reserving: Sequence[tuple[int, UUID, str]] = ()) -> None:
        """Confirm the order and send it to the warehouses holding its reservations, in
        one ``OrderAllocated``.

        ``reserving`` are reservations just answered (as in :meth:`reserve_lines`) that
        complete the order: the event carries every line's reservation, so they need no
        ``LinesReserved`` of their own. An order confirmed by an earlier version (an
        ``OrderConfirmed`` in its log) is allocated the same way.
        """
        self.check_status(
            "allocate", OrderStatus.PENDING, OrderStatus.PRE_ORDER, OrderStatus.CONFIRMED
        )
        new = {r["line_no"]: r for r in self._check_reservations(reserving)}
        held = {n: (r["reservation_id"], r["location"]) for n, r in new.items()}
        held = {**self.reservations, **held}
        missing = [n for n in self.lines if n not in held and n not in self.backordered]
        if missing:
            raise LinesNotReserved(line_nos=missing)
        allocations = [
            {
                "line_no": n,
                "sku": line.sku,
                "quantity": line.quantity,
                "location": held[n][1],
                "reservation_id": held[n][0],
            }
            for n, line in self.lines.items()
            if n not in self.backordered
        ]
        self._allocated(allocations=allocations, confirmed=self.status is not OrderStatus.CONFIRMED)

    @event("OrderAllocated")
    def _allocated(self, allocations: list[dict[str, Any]], confirmed: bool) -> None:
        # ``confirmed``: this event confirmed the order too (earlier versions wrote an
        # OrderConfirmed before it; their events read as False).
        # Every line's reservation rides along: those this event completed, and those
        # held already (unchanged).
        for a in allocations:
            self.reservations[a["line_no"]] = (a["reservation_id"], a["location"])
        self.allocations = {a["line_no"]: a["location"] for a in allocations}
        self.status = OrderStatus.ALLOCATED

    def ship_line(self, line_no: int, shipment_id: str) -> None:
        """Record one line shipped; see :meth:`ship_lines`."""
        self.ship_lines([line_no], shipment_id)

    def ship_lines(self, line_nos: Sequence[int], shipment_id: str) -> None:
        """Record the lines a shipment took: ``OrderShipped`` when they are the last
        ones, else ``LinesShipped``; lines this shipment already took are skipped."""
        new: list[int] = []
        for line_no in line_nos:
            self.check_line(line_no)
            shipped_by = self.shipments.get(line_no)
            if shipped_by == shipment_id:
                continue  # the warehouse confirmed twice
            if shipped_by is not None:
                raise LineAlreadyShipped(line_no=line_no, shipment_id=shipped_by)
            self.check_status("ship", OrderStatus.ALLOCATED, OrderStatus.PARTIALLY_SHIPPED)
            if line_no not in new:
                new.append(line_no)
        if not new:
            return
        if len(self.shipments) + len(new) == len(self.lines):
            self._shipped(line_nos=new, shipment_id=shipment_id)
        else:
            self._lines_shipped(line_nos=new, shipment_id=shipment_id)

    @event("LinesShipped")
    def _lines_shipped(self, line_nos: list[int], shipment_id: str) -> None:
        for line_no in line_nos:
            self.shipments[line_no] = shipment_id
        self.status = OrderStatus.PARTIALLY_SHIPPED

    @event("LineShipped")
    def _line_shipped(self, line_no: int, shipment_id: str) -> None:
        # Written by earlier versions (one per line); kept so their logs replay.
        self.shipments[line_no] = shipment_id
        self.status = OrderStatus.PARTIALLY_SHIPPED

    @event("OrderShipped")
    def _shipped(self, line_nos: list[int], shipment_id: str | None) -> None:
        # Earlier versions wrote it empty (read as no lines, no shipment), after a
        # LineShipped for every line.
        for line_no in line_nos:
            self.shipments[line_no] = shipment_id or ""
        self.status = OrderStatus.SHIPPED

    def deliver(self, delivered_at: datetime | None = None) -> None:
        """Record delivery of the whole order (``OrderDelivered``); again changes nothing."""
        if self.status is OrderStatus.DELIVERED:
            return
        self.check_status("deliver", OrderStatus.SHIPPED)
        self._interception_failed_for(set(self.shipments.values()))
        self._delivered(delivered_at=delivered_at, shipment_id=None)

    def deliver_shipment(self, shipment_id: str, delivered_at: datetime) -> bool:
        """Record one shipment delivered: ``OrderDelivered`` when the order has shipped
        and every shipment of it is delivered, else ``OrderShipmentDelivered``. A
        shipment delivered before changes nothing (False); True when recorded.

        Delivered while the carrier was asked to intercept it: ``InterceptionFailed``
        first (the cancellation is refused). A parcel of an order cancelled before it
        shipped (the warehouse shipped anyway) delivers nothing here: the shipment's
        interception outcome tells the order (``record_interception``)."""
        if shipment_id in self.delivered_shipments or self.status in (
            OrderStatus.DELIVERED,
            OrderStatus.COMPLETED,
            OrderStatus.CANCELLED,
            OrderStatus.RETURNED_TO_SENDER,
        ):
            return False  # told before, or delivered before deliveries were per shipment
        if shipment_id not in self.shipments.values():
            raise InvalidOrder(detail=f"shipment {shipment_id} took no line of this order")
        self.check_status("deliver", OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED)
        self._interception_failed_for({shipment_id})
        remaining = (
            set(self.shipments.values())
            - self.delivered_shipments
            - self.received_back
            - {shipment_id}
        )
        if self.status is OrderStatus.SHIPPED and not remaining and not self.received_back:
            self._delivered(delivered_at=delivered_at, shipment_id=shipment_id)
        else:
            self._shipment_delivered(shipment_id=shipment_id, delivered_at=delivered_at)
            self._settle_returned_parcels(delivered_at)
        return True

    # --- parcels returned to sender (not intercepted) ------------------------------

    def return_shipment(
        self, shipment_id: str, reason: str, received_back: bool, at: datetime
    ) -> bool:
        """A parcel of the order comes back undelivered (拒收 refused, undeliverable after
        failed attempts, or intercepted for a cancellation refused since because another
        parcel was delivered first): ``ShipmentReturnedToSender``; once
        the warehouse has it (``received_back``), ``ReturnedParcelReceived``. When no
        parcel is still on its way the order settles (see :meth:`_settle_returned_parcels`).

        Ignored by an order closed already (a cancellation's interception took the
        parcel, or the order settled before); False when nothing was recorded.
        """
        if self.status in (*_CLOSED, OrderStatus.COMPLETED):
            return False
        if shipment_id not in self.shipments.values():
            raise InvalidOrder(detail=f"shipment {shipment_id} took no line of this order")
        if shipment_id in self.delivered_shipments:
            return False  # delivered first: a late scan of its way back changes nothing
        if shipment_id in self.received_back or (
            not received_back and shipment_id in self.returning_shipments
        ):
            return False  # told before
        self.check_status("return to sender", *_ON_THE_ROAD)
        if shipment_id not in self.returning_shipments:
            self._shipment_returned_to_sender(
                shipment_id=shipment_id, reason=reason or "returned to sender"
            )
        if received_back:
            self._returned_parcel_received(shipment_id=shipment_id)
            self._settle_returned_parcels(at)
        return True

    @event("ShipmentReturnedToSender")
    def _shipment_returned_to_sender(self, shipment_id: str, reason: str) -> None:
        self.returning_shipments = self.returning_shipments | {shipment_id}
        self.close_reason = reason  # why, should the order end returned to sender

    @event("ReturnedParcelReceived")
    def _returned_parcel_received(self, shipment_id: str) -> None:
        self.received_back = self.received_back | {shipment_id}

    def returned_lines(self) -> dict[int, int]:
        """Line no -> units of the parcels back at the warehouse not refunded yet."""
        done = dict(self.refunded_units)
        return {
            n: self.lines[n].quantity - done.get(n, 0)
            for n, sid in self.shipments.items()
            if sid in self.received_back and self.lines[n].quantity > done.get(n, 0)
        }

    @property
    def owed(self) -> Money:
        """What the customer must have paid for the order to complete: the total less
        what the parcels that came back undelivered were worth (``parcel_price``: what a
        COD courier would have collected at their doors), so a COD order paid at the
        doors of its delivered parcels is paid."""
        value = Money.zero(self.currency)
        for shipment_id in sorted(self.received_back):
            price = self.parcel_price(shipment_id)
            value = value + (price if price is not None else self.total)
        return self.total - value

    def _settle_returned_parcels(self, at: datetime) -> None:
        # Every line shipped, every parcel delivered or back at the warehouse, one back:
        # the order ends. None delivered: returned to sender, whatever was paid owed back
        # (the COD tender is voided with the event). Some delivered: the returned lines
        # are refunded when the order holds money for them beyond what it ``owed`` (prepaid,
        # or a courier took the whole amount); a COD order never paid for them owes no more
        # (``owed``). Then it is delivered and completes after its return window.
        if self.status is not OrderStatus.SHIPPED or not self.received_back:
            return
        shipments = set(self.shipments.values())
        if not shipments <= self.delivered_shipments | self.received_back:
            return
        reason = self.close_reason or "returned to sender"
        if not shipments & self.delivered_shipments:
            self._returned_to_sender(reason=reason)
            self._refund_all_paid()
            return
        lines = self.returned_lines()
        value = self._parts_value(self._price_refund(lines))
        # Held beyond what the delivered goods are worth: paid for the returned ones.
        if lines and value.amount > 0 and value <= self.amount_held - self.owed:
            self.agree_refund(f"{self.order_no}-RTS", lines, False, f"returned to sender: {reason}")
        self._delivered(delivered_at=at, shipment_id=None)

    @event("OrderReturnedToSender")
    def _returned_to_sender(self, reason: str) -> None:
        self._close(OrderStatus.RETURNED_TO_SENDER, reason)

    def parcel_price(self, shipment_id: str) -> Money | None:
        """What the parcel of ``shipment_id`` costs (see ``lines_price``). The courier of a
        COD parcel collects this much at its door."""
        return self.lines_price(n for n, s in self.shipments.items() if s == shipment_id)

    def lines_price(self, line_nos: Iterable[int]) -> Money | None:
        """What a parcel holding ``line_nos`` costs when the order is split over several
        parcels: the nets of its lines, and the shipping fee (and tax on top) on the
        parcel holding the lowest line; None when it carries every line (the parcel is
        the whole order)."""
        lines = set(line_nos)
        if not lines or lines >= set(self.lines):
            return None
        price = Money.sum((self.lines[n].net for n in lines if n in self.lines), self.currency)
        if min(self.lines) in lines:
            price = price + self.shipping_fee + (self.tax or Money.zero(self.currency))
        return price

    def _interception_failed_for(self, shipment_ids: set[str]) -> None:
        # Delivered while the carrier was asked to intercept: that failed.
        if self.cancelling is None:
            return
        for shipment_id in sorted(shipment_ids - self.intercepted):
            self._interception_failed(shipment_id=shipment_id, reason="delivered")
            return  # one failure refuses the cancellation

    @event("OrderShipmentDelivered")
    def _shipment_delivered(self, shipment_id: str, delivered_at: datetime) -> None:
        self.delivered_shipments = self.delivered_shipments | {shipment_id}

    @event("OrderDelivered")
    def _delivered(
        self, delivered_at: datetime | None = None, shipment_id: str | None = None
    ) -> None:
        # Both absent in earlier versions' events (delivered at the event's time).
        if shipment_id is not None:
            self.delivered_shipments = self.delivered_shipments | {shipment_id}
        self.delivered_at = delivered_at
        self.status = OrderStatus.DELIVERED

    @property
    def paid_in(self) -> Money:
        """Every payment recorded, before refunds: whether the customer paid at all."""
        return Money.sum(self.payments.values(), self.currency)

    @property
    def completable(self) -> bool:
        """True when a closed return window would complete the order: delivered, paid,
        and no return open."""
        return (
            self.status is OrderStatus.DELIVERED
            and not self.open_returns
            and not self.refunds_waiting
            and self.paid_in >= self.owed
        )

    def complete(self) -> None:
        """Close a delivered, fully paid order with no open return (``OrderCompleted``).

        Paid counts what came in: a return refunded since does not unpay the order.
        """
        self.check_status("complete", OrderStatus.DELIVERED)
        if self.paid_in < self.owed:
            raise NotFullyPaid(paid=str(self.paid_in), total=str(self.owed))
        if self.open_returns:
            raise ReturnNotAllowed(status="returning")
        self._completed()

    # --- returns ------------------------------------------------------------------

    def returnable_units(self) -> dict[int, int]:
        """Line no -> units a new return may take: shipped, not in another return, not
        refunded already."""
        returned = dict(self.returned_units)
        refunded = dict(self.refunded_units)
        found: dict[int, int] = {}
        for n, line in self.lines.items():
            if n not in self.shipments:
                continue
            units = line.quantity - max(returned.get(n, 0), refunded.get(n, 0))
            if units > 0:
                found[n] = units
        return found

    def open_return(
        self,
        return_id: UUID,
        return_no: str,
        lines: Mapping[int, int],
        reason: str,
        refund_only: bool = False,
        exchange_order_id: UUID | None = None,
    ) -> bool:
        """Take a return of ``lines`` (line no -> units) into account (``ReturnOpened``):
        never more than shipped minus already returned or refunded. False when this
        return is open already (the request came twice)."""
        self._check_reason(reason)
        if any(rid == str(return_id) for rid, _ in self.open_returns):
            return False
        self.check_status_for_return()
        if not lines:
            raise InvalidOrder(detail="a return needs at least one line")
        limits = self.returnable_units()
        for line_no, units in sorted(lines.items()):
            self.check_line(line_no)
            if not isinstance(units, int) or units <= 0 or units > limits.get(line_no, 0):
                raise ReturnQuantityInvalid(
                    line_no=line_no, quantity=units, limit=limits.get(line_no, 0)
                )
        self._return_opened(
            return_id=return_id,
            return_no=return_no,
            lines=[
                {"line_no": n, "sku": self.lines[n].sku, "quantity": q}
                for n, q in sorted(lines.items())
            ],
            reason=reason,
            refund_only=refund_only,
            exchange_order_id=exchange_order_id,
        )
        return True

    def check_status_for_return(self) -> None:
        """Raise ReturnNotAllowed unless something shipped and the order is not closed."""
        allowed = (OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED, OrderStatus.DELIVERED)
        if self.status not in allowed:
            raise ReturnNotAllowed(status=self.status.value)

    @event("ReturnOpened")
    def _return_opened(
        self,
        return_id: UUID,
        return_no: str,
        lines: list[dict[str, Any]],
        reason: str,
        refund_only: bool,
        exchange_order_id: UUID | None,
    ) -> None:
        units = tuple((d["line_no"], d["quantity"]) for d in lines)
        self.open_returns = (*self.open_returns, (str(return_id), units))
        self.returned_units = _add_units(self.returned_units, units, 1)

    def close_return(self, return_id: UUID, outcome: str, kept: Mapping[int, int]) -> None:
        """The return asks nothing more (``ReturnResolved``); ``kept`` (line no -> units)
        stay counted as returned (received or refunded), the rest may be returned again.
        A return not open is ignored (the return told us twice)."""
        found = [units for rid, units in self.open_returns if rid == str(return_id)]
        if not found:
            return
        requested = dict(found[0])
        for line_no, units in kept.items():
            if line_no not in requested or units < 0 or units > requested[line_no]:
                raise ReturnQuantityInvalid(
                    line_no=line_no, quantity=units, limit=requested.get(line_no, 0)
                )
        self._return_closed(
            return_id=return_id,
            outcome=outcome,
            lines=[{"line_no": n, "quantity": q} for n, q in sorted(kept.items()) if q],
        )

    @event("ReturnResolved")
    def _return_closed(self, return_id: UUID, outcome: str, lines: list[dict[str, Any]]) -> None:
        requested = next(units for rid, units in self.open_returns if rid == str(return_id))
        self.open_returns = tuple(r for r in self.open_returns if r[0] != str(return_id))
        released = _add_units(requested, tuple((d["line_no"], d["quantity"]) for d in lines), -1)
        self.returned_units = _add_units(self.returned_units, released, -1)

    @event("OrderCompleted")
    def _completed(self) -> None:
        self.status = OrderStatus.COMPLETED

    # --- operator actions ---------------------------------------------------------

    def record_operator_action(self, action: str, actor: str, reason: str = "") -> None:
        """Note who did what to the order (``OperatorActed``), before the action's own
        events: hold, release, review, edit, pay. The actor is required, so every
        operator change of an order can be traced to a person."""
        if not actor or not actor.strip():
            raise InvalidOrder(detail="actor is empty: say who acts (--by)")
        if not action.strip():
            raise InvalidOrder(detail="action is empty")
        self._operator_acted(action=action, actor=actor.strip(), reason=reason)

    @event("OperatorActed")
    def _operator_acted(self, action: str, actor: str, reason: str) -> None:
        """An audit record only: the action's own events change the state."""

    # --- re-routing an allocation (operator) ------------------------------------
    #
    # Reserve at the new location first, then withdraw the old shipment (refused once
    # picked), then move the lines: the order never stands without stock or warehouse.

    def request_reroute(self, from_location: str, to_location: str) -> list[dict[str, Any]]:
        """Start moving the lines allocated at ``from_location`` to ``to_location``
        (``RerouteRequested``): their new reservations, returned, are asked for there."""
        self.check_status("re-route", OrderStatus.ALLOCATED)
        if self.rerouting is not None:
            raise InvalidOrder(detail=f"a re-route to {self.rerouting[1]} is under way")
        if self.merge_group is not None:
            raise InvalidOrder(detail="a merged order ships in its group's parcel: not re-routed")
        if not to_location.strip() or to_location == from_location:
            raise InvalidOrder(detail="--to must name another location")
        moving = sorted(n for n, loc in self.allocations.items() if loc == from_location)
        if not moving:
            raise InvalidOrder(detail=f"no line of the order is allocated at {from_location}")
        if to_location in self.allocations.values():
            raise InvalidOrder(detail=f"{to_location} already ships part of the order")
        if any(n in self.shipments for n in moving):
            raise InvalidTransition(entity="order", action="re-route", status="shipped")
        version = self.version + 1  # the RerouteRequested's: names the new reservations
        lines = [
            {
                "line_no": n,
                "sku": self.lines[n].sku,
                "quantity": self.lines[n].quantity,
                "reservation_id": self.reservation_id_for(self.id, n, version),
            }
            for n in moving
        ]
        self._reroute_requested(from_location=from_location, to_location=to_location, lines=lines)
        return lines

    @event("RerouteRequested")
    def _reroute_requested(
        self, from_location: str, to_location: str, lines: list[dict[str, Any]]
    ) -> None:
        wanted = tuple((d["line_no"], str(d["reservation_id"])) for d in lines)
        self.rerouting = (from_location, to_location, wanted)
        self.reroute_reserved = frozenset()
        self.reroute_version = self.version + 1  # this event's (applied before it counts)

    def reroute_answered(self, line_no: int, reservation_id: UUID) -> bool:
        """The new location reserved a moving line (``RerouteReserved``); True once every
        moving line is reserved there. An answer of no re-route under way is ignored."""
        if self.rerouting is None or (line_no, str(reservation_id)) not in self.rerouting[2]:
            return False
        if line_no not in self.reroute_reserved:
            self._reroute_reserved(line_no=line_no, reservation_id=reservation_id)
        return len(self.reroute_reserved) == len(self.rerouting[2])

    @event("RerouteReserved")
    def _reroute_reserved(self, line_no: int, reservation_id: UUID) -> None:
        self.reroute_reserved = self.reroute_reserved | {line_no}

    def is_reroute_reservation(self, line_no: int, reservation_id: UUID) -> bool:
        """True when ``reservation_id`` is a moving line's new one."""
        return self.rerouting is not None and (line_no, str(reservation_id)) in self.rerouting[2]

    def complete_reroute(self) -> list[dict[str, Any]]:
        """The old shipment is withdrawn: the lines move (``AllocationRerouted``), their
        old reservations to be released (returned)."""
        if self.rerouting is None:
            raise InvalidOrder(detail="no re-route is under way")
        from_location, to_location, wanted = self.rerouting
        releases = [r for n, _ in wanted if (r := self._release(n)) is not None]
        self._rerouted(
            from_location=from_location,
            to_location=to_location,
            lines=[{"line_no": n, "reservation_id": UUID(rid)} for n, rid in wanted],
            releases=releases,
        )
        return releases

    @event("AllocationRerouted")
    def _rerouted(
        self,
        from_location: str,
        to_location: str,
        lines: list[dict[str, Any]],
        releases: list[dict[str, Any]],
    ) -> None:
        for d in lines:
            n = d["line_no"]
            self.reservations[n] = (d["reservation_id"], to_location)
            self.allocations[n] = to_location
            self.line_versions[n] = self.reroute_version  # names the new reservation
        self.rerouting = None
        self.reroute_reserved = frozenset()

    def fail_reroute(self, reason: str) -> list[tuple[int, UUID, str]]:
        """Give the re-route up (``RerouteFailed``): the lines stay where they were;
        returns the new location's reservations taken so far, (line, id, location), to
        be released."""
        if self.rerouting is None:
            return []
        _, to_location, wanted = self.rerouting
        taken = [(n, UUID(rid), to_location) for n, rid in wanted if n in self.reroute_reserved]
        self._reroute_failed(reason=reason or "refused")
        return taken

    @event("RerouteFailed")
    def _reroute_failed(self, reason: str) -> None:
        self.rerouting = None
        self.reroute_reserved = frozenset()

    # --- merging (合单) -------------------------------------------------------------
    #
    # Orders of one customer and address ship as one parcel per location. The orders
    # stay whole (their channels' ids, refunds and returns); the group is hosted by its
    # lead order, the first named: the lead asks each member to join, checks the
    # group's rules once every member answered (MergeFormed or, refused, MergeLeft on
    # all), and, once every member is allocated, sends the group's one allocation per
    # location (MergeDispatched). A member allocates its own stock as any order does,
    # but its lines go to the warehouse in the group's parcel, not its own.

    def check_mergeable(self) -> None:
        """Raise MergeNotAllowed unless the order may join a merge: not yet allocated,
        paid (not cash on delivery: one parcel cannot collect for several orders), in no
        other group, not split."""
        if self.status not in _CHANGEABLE:
            raise MergeNotAllowed(order_no=self.order_no, detail=f"it is {self.status.value}")
        if self.is_cod or not self.is_paid:
            raise MergeNotAllowed(
                order_no=self.order_no, detail="it is not paid (or is cash on delivery)"
            )
        if self.merge_group is not None:
            raise MergeNotAllowed(order_no=self.order_no, detail="it is merged already")
        if self.backordered:
            raise MergeNotAllowed(order_no=self.order_no, detail="it is split (backordered)")

    def request_merge(self, group_id: UUID, order_ids: Sequence[UUID], actor: str) -> None:
        """Lead the merge of ``order_ids`` (this order among them) as ``group_id``
        (``MergeRequested``); the members are asked next."""
        if self.merge_group == str(group_id):
            return  # asked before: an operator's retry
        self.check_mergeable()
        self._merge_requested(group_id=group_id, order_ids=list(order_ids), actor=actor)

    @event("MergeRequested")
    def _merge_requested(self, group_id: UUID, order_ids: list[UUID], actor: str) -> None:
        self.merge_group = str(group_id)
        self.merge_lead = str(self.id)
        self.merge_members = tuple(str(i) for i in order_ids)
        self.merge_facts = ()
        self.merge_ready = ()
        self.merge_formed = False
        self.merge_dispatched = False

    def join_merge(self, group_id: UUID, lead_id: UUID, actor: str) -> bool:
        """Join the lead's merge group (``MergeJoined``); False when joined before."""
        if self.merge_group == str(group_id):
            return False
        self.check_mergeable()
        self._merge_joined(group_id=group_id, lead_id=lead_id, actor=actor)
        return True

    @event("MergeJoined")
    def _merge_joined(self, group_id: UUID, lead_id: UUID, actor: str) -> None:
        self.merge_group = str(group_id)
        self.merge_lead = str(lead_id)

    @property
    def leads_merge(self) -> bool:
        """True for the order hosting its merge group."""
        return self.merge_group is not None and self.merge_lead == str(self.id)

    def record_merge_report(
        self,
        member_id: UUID,
        kind: str,
        reason: str = "",
        facts: dict[str, Any] | None = None,
        lines: Sequence[dict[str, Any]] = (),
    ) -> bool:
        """On the lead: what a member did (``MergeReported``): ``joined`` (with its
        facts for the group's rules), ``refused`` (why), ``ready`` (allocated, with its
        lines) or ``left`` (cancelled). False when it changes nothing (a repeat, or the
        group is gone)."""
        if not self.leads_merge or str(member_id) not in self.merge_members:
            return False
        done = {(f["order_id"], f["kind"]) for f in self.merge_facts}
        done |= {(r["order_id"], "ready") for r in self.merge_ready}
        if (str(member_id), kind) in done:
            return False
        self._merge_reported(
            member_id=member_id, kind=kind, reason=reason, facts=facts, lines=list(lines)
        )
        return True

    @event("MergeReported")
    def _merge_reported(
        self,
        member_id: UUID,
        kind: str,
        reason: str,
        facts: dict[str, Any] | None,
        lines: list[dict[str, Any]],
    ) -> None:
        if kind == "ready":
            self.merge_ready = (*self.merge_ready, {"order_id": str(member_id), "lines": lines})
        else:
            entry = {**(facts or {}), "order_id": str(member_id), "kind": kind, "reason": reason}
            self.merge_facts = (*self.merge_facts, entry)

    def merge_answers(self) -> dict[str, dict[str, Any]]:
        """On the lead: member id -> its latest answer (joined, refused or left)."""
        return {f["order_id"]: f for f in self.merge_facts}

    def form_merge(self) -> None:
        """On the lead: every member joined and the group's rules hold (``MergeFormed``)."""
        if not self.merge_formed:
            self._merge_formed(group_id=UUID(self.merge_group or ""))

    @event("MergeFormed")
    def _merge_formed(self, group_id: UUID) -> None:
        self.merge_formed = True

    def leave_merge(self, reason: str) -> bool:
        """Leave the merge group (``MergeLeft``): refused, dissolved or cancelled; the
        order ships alone. False when in no group (or it has been sent already)."""
        if self.merge_group is None or self.merge_dispatched:
            return False
        self._merge_left(group_id=UUID(self.merge_group), reason=reason or "left")
        return True

    @event("MergeLeft")
    def _merge_left(self, group_id: UUID, reason: str) -> None:
        self.merge_group = None
        self.merge_lead = None
        self.merge_members = ()
        self.merge_facts = ()
        self.merge_ready = ()
        self.merge_formed = False

    def drop_merge_member(self, member_id: UUID) -> None:
        """On the lead: a member left (cancelled) before the group was sent; the group
        goes on without it (``MergeReported`` left)."""
        self.record_merge_report(member_id, "left", "cancelled")

    def merge_members_left(self) -> tuple[str, ...]:
        """On the lead: the group's orders that did not leave it."""
        gone = {f["order_id"] for f in self.merge_facts if f["kind"] in ("left", "refused")}
        return tuple(m for m in self.merge_members if m not in gone)

    def dispatch_merge(self, parcels: Sequence[dict[str, Any]]) -> None:
        """On the lead: the group's allocations went out (``MergeDispatched``), one
        parcel per location: ``{"location", "shipment_id"}``."""
        self._merge_dispatched(group_id=UUID(self.merge_group or ""), parcels=list(parcels))

    @event("MergeDispatched")
    def _merge_dispatched(self, group_id: UUID, parcels: list[dict[str, Any]]) -> None:
        self.merge_dispatched = True

    # --- splitting (拆单) -------------------------------------------------------------

    def split(
        self,
        by: str,
        cuts: Sequence[tuple[int, int, Money]],
        backorder: Sequence[OrderLine],
        backordered: Sequence[int],
    ) -> None:
        """Ship part of the order now and backorder the rest (``OrderSplit``).

        ``cuts``: (line no, units that ship now, their discount) of lines cut in two;
        ``backorder``: the new lines holding the units short (numbered by the order);
        ``backordered``: every line that waits (new ones, and whole lines short). The
        nets add up to what they were (the rules share discounts to the fen), so the
        total and the money stay as they are. Before allocation only.
        """
        self.check_changeable()
        if self.merge_group is not None:
            raise InvalidOrder(detail="a merged order is not split: it ships with its group")
        before = self.total
        lines = [{"line_no": n, "quantity": q, "discount": d.to_dict()} for n, q, d in cuts]
        added = [line.to_dict() for line in backorder]
        self._split(by=by, cuts=lines, added=added, backordered=sorted(backordered))
        if self.total != before:  # the rules conserve money; a change is a bug
            raise InvalidOrder(detail=f"a split changed the total from {before} to {self.total}")

    @event("OrderSplit")
    def _split(
        self,
        by: str,
        added: list[dict[str, Any]],
        cuts: list[dict[str, Any]],
        backordered: list[int],
    ) -> None:
        for c in cuts:
            n = c["line_no"]
            self.lines[n] = self.lines[n].with_quantity(
                c["quantity"], Money.from_dict(c["discount"])
            )
            self.line_versions[n] = self.version + 1  # a new reservation id for the new size
            self.reservations.pop(n, None)
        for data in added:
            line = OrderLine.from_dict(data)
            self.lines[line.line_no] = line
            self.line_versions[line.line_no] = self.version + 1
            self.next_line_no = max(self.next_line_no, line.line_no + 1)
        self.backordered = frozenset(backordered)
        if self.status is OrderStatus.PRE_ORDER:
            self.status = OrderStatus.PENDING  # what ships now is asked for again
        if self.held_from is OrderStatus.PRE_ORDER:
            self.held_from = OrderStatus.PENDING

    @property
    def backorder_waiting(self) -> bool:
        """True while backordered lines wait for stock behind an allocated order."""
        return bool(self.backordered) and self.status in (
            OrderStatus.ALLOCATED,
            OrderStatus.PARTIALLY_SHIPPED,
        )

    def allocate_backorder(
        self, shipment_id: UUID, location: str, reserving: Sequence[tuple[int, UUID]]
    ) -> list[dict[str, Any]]:
        """Backordered lines reserved at ``location`` go to the warehouse in a parcel
        of their own (``BackorderAllocated``); returns the allocations. Reservations
        not of a backordered line's current id are skipped (returned to the caller
        to release)."""
        self.check_status(
            "allocate a backorder of", OrderStatus.ALLOCATED, OrderStatus.PARTIALLY_SHIPPED
        )
        allocations = [
            {
                "line_no": n,
                "sku": self.lines[n].sku,
                "quantity": self.lines[n].quantity,
                "location": location,
                "reservation_id": rid,
            }
            for n, rid in reserving
            if n in self.backordered and rid == self.reservation_id(n)
        ]
        if allocations:
            self._backorder_allocated(
                shipment_id=shipment_id, location=location, allocations=allocations
            )
        return allocations

    @event("BackorderAllocated")
    def _backorder_allocated(
        self, shipment_id: UUID, location: str, allocations: list[dict[str, Any]]
    ) -> None:
        for a in allocations:
            self.reservations[a["line_no"]] = (a["reservation_id"], location)
            self.allocations = {**self.allocations, a["line_no"]: location}
        self.backordered = self.backordered - {a["line_no"] for a in allocations}
        lines = tuple(a["line_no"] for a in allocations)
        self.backorder_parcels = (*self.backorder_parcels, (str(shipment_id), lines))

    # --- helpers ----------------------------------------------------------------

    @staticmethod
    def _check_reason(reason: str) -> None:
        if not reason or not reason.strip():
            raise ReasonRequired()

    def _release(self, line_no: int) -> dict[str, Any] | None:
        # What the saga must release at the inventory, carried in the event so
        # the saga needs no copy of the order's state.
        if line_no not in self.reservations:
            return None
        reservation_id, location = self.reservations[line_no]
        line = self.lines[line_no]
        return {
            "line_no": line_no,
            "sku": line.sku,
            "location": location,
            "reservation_id": reservation_id,
            "quantity": line.quantity,
        }

    def _releases(self, reservations: dict[int, tuple[UUID, str]]) -> list[dict[str, Any]]:
        return [r for n in reservations if (r := self._release(n)) is not None]


def _add_units(
    units: tuple[tuple[int, int], ...], more: tuple[tuple[int, int], ...], sign: int
) -> tuple[tuple[int, int], ...]:
    """``units`` plus (sign 1) or minus (sign -1) ``more``, by line; zeros dropped."""
    total = dict(units)
    for line_no, quantity in more:
        total[line_no] = total.get(line_no, 0) + sign * quantity
    return tuple(sorted((n, q) for n, q in total.items() if q))
