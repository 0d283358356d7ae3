"""The order saga: the process manager that takes an order from placed to allocated.

::

    OrderPlaced ─> ReserveLines per inventory partition (locations by sourcing)
    ReservationsAnswered reserved ─> workflow.decide ─> OrderAllocated (confirmed, with
        the reservations) | LinesReserved (+ hold)
    ReservationsAnswered rejected ─> next location with stock, else workflow.decide_shortage:
        reject (release what was reserved, OrderRejected) | pre-order (PreOrdered)
    cancel / expiry at any step ─> ReleaseLines (per inventory partition) for every
        reservation held; once allocated, CancelShipment to each shipment (its
        warehouse is told, or the carrier asked to intercept the parcel)
    cancel once shipped ─> CancellationRequested, CancelShipment to each shipment on
        the road; RecordInterception answers: intercepted ─> OrderCancelled,
        delivered ─> InterceptionFailed
    ChangeOrder before allocation ─> the Order applies the new lines and address;
        ReleaseLines for reservations of removed or resized lines, ReserveLines for
        added or resized lines, then workflow.decide as after any answer
    a reservation answered after the order closed ─> ReleaseLines (compensation)
    stock received for a sku a pre-order waits for ─> ReserveLines again for its
        unreserved lines, pre-orders in arrival order, as far as the view sees stock

It is keyed by order id and runs inside the order processor's transaction, so what
it decides is committed together with the order events that caused it. Its state
is event-sourced without a stream of its own: the Order aggregate's events say
which lines hold which reservation and where the order stands, and the one thing
they do not say — the locations already asked for a line — travels in the
ReserveLines command and comes back in its answer (a routing slip).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import structlog

from oms_events.domain.customer import Address
from oms_events.domain.line import OrderLine
from oms_events.domain.money import Money
from oms_events.domain.order import InterceptionOutcome, Order, OrderStatus
from oms_events.domain.review import ReviewRules, hold_reason
from oms_events.domain.workflow import Decision, Workflow
from oms_events.engine import allocation, order_merging
from oms_events.engine.commands import (
    CancelShipment,
    LineToRelease,
    LineToReserve,
    ReleaseLines,
    ReservationAnswer,
    ReserveLines,
)
from oms_events.engine.outbox import Outbox
from oms_events.engine.records import by_item_partition
from oms_events.engine.sourcing import PromisedView, StockView
from oms_events.engine.sourcing_rules import choose_line
from oms_events.fulfilment.rules import Rules

log = structlog.get_logger(__name__)

_CLOSED = (OrderStatus.CANCELLED, OrderStatus.REJECTED)
NO_LOCATION = "stock.no_location"


@dataclass(frozen=True)
class OrderChange:
    """A channel's new version of a whole order (a ChangeOrder), in domain terms.

    ``lines`` carry the channel's line numbers; ``version`` names this version (the
    intake's content hash) so a payment it reports is recorded once.
    """

    address: Address
    shipping_fee: Money
    lines: tuple[OrderLine, ...]
    paid: bool
    version: str


class OrderSaga:
    """Decides the next commands for an order; the order processor hosts it."""

    def __init__(
        self,
        workflow: Workflow,
        stock: StockView,
        rules: Rules | None = None,
        review: ReviewRules | None = None,
    ) -> None:
        self.workflow = workflow
        self.stock = stock
        self.rules = rules  # sourcing rules (OMS_FULFILMENT_RULES); None: most stock
        self.review = review or ReviewRules()  # review (审单) before allocation

    def placed(self, order: Order, out: Outbox, cause_id: str) -> None:
        """Ask the inventory for every line of a new order: one ReserveLines per
        inventory partition, carrying every line whose item lives there."""
        asks: list[LineToReserve] = []
        for line_no in sorted(order.lines):
            if order.status in _CLOSED:
                return  # rejected for a line no location has: ask for nothing
            ask = self._choose(order, line_no, [], asks)
            if ask is None:
                self._shortage(order, NO_LOCATION, out, cause_id)
            else:
                asks.append(ask)
        self._send(order, asks, out, cause_id)

    def answered(
        self, order: Order, answers: Sequence[ReservationAnswer], out: Outbox, cause_id: str
    ) -> None:
        """Carry on after the inventory answered: the lines it reserved are recorded in
        one event (``OrderAllocated`` when they complete the order and the workflow
        confirms it, else ``LinesReserved``); refused lines try the next location."""
        reserving: list[tuple[int, UUID, str]] = []
        moved_on: list[tuple[int, LineToRelease]] = []
        for a in answers:
            if a.outcome != "reserved":
                continue
            current = (
                order.reservation_id(a.line_no)
                if a.line_no in order.lines and order.status not in _CLOSED
                else None
            )
            if current != a.reservation_id:
                # Closed, line removed or resized meanwhile: give the units back.
                moved_on.append((a.line_no, _held(a.reservation_id, a.sku, a.location)))
            elif order.reservations.get(a.line_no, (None, ""))[0] != a.reservation_id:
                reserving.append((a.line_no, a.reservation_id, a.location))
        _release(out, f"{cause_id}/late", order.id, moved_on, "order moved on")
        if reserving:
            lines = {n for n, _, _ in reserving}
            decision = self.workflow.decide(order, reserving=lines)
            failed = self._review_holds(order, decision, lines)
            if decision is Decision.CONFIRM and not failed:
                self._allocate(order, out, cause_id, reserving)
            else:
                order.reserve_lines(reserving)
                self._hold(order, decision, failed)
        rejected = [a for a in answers if a.outcome != "reserved"]
        for a in rejected:
            self.stock.note(a.sku, a.location, a.available)
        asks: list[LineToReserve] = []
        for a in rejected:
            if order.status in _CLOSED:
                return
            if a.line_no not in order.lines or a.line_no in order.reservations:
                continue
            if order.reservation_id(a.line_no) != a.reservation_id:
                continue  # an answer for an earlier quantity; the current one is asked already
            ask = self._choose(order, a.line_no, [*a.tried, a.location], asks)
            if ask is None:
                self._shortage(order, a.reason or "stock.insufficient", out, cause_id)
            else:
                asks.append(ask)
        if order.status not in _CLOSED:
            self._send(order, asks, out, cause_id)

    def advance(self, order: Order, out: Outbox, cause_id: str) -> None:
        """Do what the workflow says once reservations or payment changed."""
        decision = self.workflow.decide(order)
        failed = self._review_holds(order, decision)
        if decision is Decision.CONFIRM and not failed:
            self._allocate(order, out, cause_id)
        else:
            self._hold(order, decision, failed)

    def _allocate(
        self,
        order: Order,
        out: Outbox,
        cause_id: str,
        reserving: Sequence[tuple[int, UUID, str]] = (),
    ) -> None:
        # OrderAllocated (confirmed, with the reservations that complete it); its
        # parcels go to the warehouses, or, merged (合单), its lines to the group's lead,
        # which sends one parcel per location for the whole group.
        order.allocate(reserving)
        if order.merge_group is not None:
            order_merging.ready(order, out, cause_id, self.rules)
        else:
            allocation.dispatch(order, out, cause_id, self.rules)

    def _review_holds(
        self, order: Order, decision: Decision, reserving: set[int] | None = None
    ) -> list[str]:
        # Review (审单) runs when the order could go to a warehouse: reserved and paid,
        # so nothing is allocated before it passes; an order a person released (an
        # approval) is not reviewed again.
        if decision is not Decision.CONFIRM or order.released_from_hold:
            return []
        return self.review.holds(order, reserving or ())

    @staticmethod
    def _hold(order: Order, decision: Decision, failed: Sequence[str] = ()) -> None:
        if failed:
            order.hold(hold_reason(failed))
        elif decision is Decision.HOLD:
            order.hold("amount above the hold threshold")
        elif decision is Decision.REVIEW:
            order.hold("manual review")

    def cancel(self, order: Order, reason: str, out: Outbox, cause_id: str) -> None:
        """Cancel the order: release every reservation of what has not shipped, and stop
        its shipments (warehouse told, or the carrier asked to intercept); a repeat
        does nothing more."""
        held = order.unshipped_reservations()
        was, cancelling = order.status, order.cancelling
        order.cancel(reason)
        if order.status is OrderStatus.CANCELLED and was is not OrderStatus.CANCELLED:
            self._release_all(order, held, reason, out, cause_id)
            shipments = order_merging.parcels_of(order) if order.allocations else []
        elif order.cancelling is not None and cancelling is None:
            shipments = [(UUID(s), None) for s in set(order.shipments.values()) if s]
        else:
            return
        for shipment_id, only in sorted(shipments, key=str):
            out.command(
                CancelShipment(
                    command_id=f"{cause_id}/cancel/{shipment_id}",
                    shipment_id=shipment_id,
                    reason=reason,
                    order_id=only,
                )
            )

    def intercepted(
        self,
        order: Order,
        shipment_id: UUID,
        outcome: InterceptionOutcome,
        reason: str,
        out: Outbox,
        cause_id: str,
    ) -> None:
        """The carrier's answer for a shipment of an order being cancelled; once every
        parcel is intercepted the order is cancelled and what never shipped released."""
        held = order.unshipped_reservations()
        was = order.status
        order.record_interception(str(shipment_id), outcome, reason)
        if order.status is OrderStatus.CANCELLED and was is not OrderStatus.CANCELLED:
            self._release_all(order, held, order.close_reason or reason, out, cause_id)

    def change(self, order: Order, change: OrderChange, out: Outbox, cause_id: str) -> None:
        """Apply a new version of the order and move its stock to match.

        Raises OrderLocked once the order is allocated or closed: nothing changes
        then, and the processor replies with the code.
        """
        if not self.edit(order, lambda o: _apply(o, change), out, cause_id):
            return
        if change.paid and not order.is_cod and not order.is_paid:
            # The channel collected the new total: record what it adds.
            payment_id = f"{order.channel}:{order.external_id}:{change.version}"
            order.record_payment(payment_id, order.total - order.amount_paid)
        self.advance(order, out, cause_id)

    def edit(
        self, order: Order, apply: Callable[[Order], None], out: Outbox, cause_id: str
    ) -> bool:
        """Change the order with ``apply`` (its lines, quantities, address) and move its
        stock to match: reservations of removed or resized lines released, added or
        resized lines asked for. False when the order closed meanwhile (no location has
        a new line's item); the caller then advances the order, or not.

        Raises OrderLocked once the order is allocated or closed: nothing changes then.
        """
        order.check_changeable()
        held = dict(order.reservations)
        skus = {n: line.sku for n, line in order.lines.items()}
        asked = {n: order.reservation_id(n) for n in order.lines}
        apply(order)
        # A removed or resized line lost its reservation: give those units back.
        lost = [
            (line_no, _held(reservation_id, skus[line_no], location))
            for line_no, (reservation_id, location) in sorted(held.items())
            if order.reservations.get(line_no, (None, ""))[0] != reservation_id
        ]
        _release(out, f"{cause_id}/changed", order.id, lost, "order changed")
        # An added or resized line has a new reservation id: ask for it. Lines whose
        # id is unchanged are reserved or already asked for; an answer for an old id
        # is released when it arrives (see ``answered``).
        asks: list[LineToReserve] = []
        for line_no in sorted(order.lines):
            if order.status in _CLOSED:
                return False
            if asked.get(line_no) == order.reservation_id(line_no):
                continue
            if line_no in order.backordered:
                continue  # a split's backorder: asked for when stock arrives
            ask = self._choose(order, line_no, [], asks)
            if ask is None:
                self._shortage(order, NO_LOCATION, out, cause_id)
            else:
                asks.append(ask)
        if order.status in _CLOSED:
            return False
        self._send(order, asks, out, cause_id)
        return True

    def retry(
        self, order: Order, promised: dict[tuple[str, str], int], out: Outbox, cause_id: str
    ) -> None:
        """Ask again for the unreserved lines of a pre-order now that stock arrived, or
        for the backordered lines of a split order (拆单) allocated without them.

        ``promised`` holds the units this round already asked for per (sku, location),
        so pre-orders earlier in arrival order are served first and later ones are not
        sent to stock the view knows is spoken for. A line the view still cannot serve
        is left waiting, without a request (the inventory would only refuse it).
        """
        if order.status is OrderStatus.PRE_ORDER:
            waiting = order.unreserved_lines()
        elif order.backorder_waiting:
            waiting = sorted(order.backordered)
        else:
            return
        asks: list[LineToReserve] = []
        view = PromisedView(self.stock, promised)
        for line_no in sorted(waiting):
            line = order.lines[line_no]
            if self.rules is None:
                location = self.stock.choose_with(line.sku, line.quantity, promised)
            else:
                # Where the rules say, as on the first ask, but only where the view
                # sees the units (what is left after this round's asks).
                serving = {loc for _, loc in order.reservations.values()}
                serving.update(ask.location for ask in asks)
                location = choose_line(order, line_no, view, self.rules, (), serving)
                if location is not None and view.available(line.sku, location) < line.quantity:
                    location = None
            if location is None:
                continue
            promised[(line.sku, location)] = promised.get((line.sku, location), 0) + line.quantity
            asks.append(_ask(order, line_no, location, []))
        self._send(order, asks, out, cause_id)

    def expired(self, order: Order, now: Any) -> bool:
        """True when the workflow's reservation TTL has run out for this order."""
        return self.workflow.reservation_expired(order, now)

    # --- steps -------------------------------------------------------------------

    def _choose(
        self, order: Order, line_no: int, tried: list[str], asks: Sequence[LineToReserve] = ()
    ) -> LineToReserve | None:
        # The line asked at the best location not tried yet, or None when none is left;
        # where the order's other lines are held or asked for, when it has enough.
        line = order.lines[line_no]
        serving = {location for _, location in order.reservations.values()}
        serving.update(ask.location for ask in asks)
        if self.rules is None:
            location = self.stock.choose(line.sku, line.quantity, tried, serving)
        else:
            location = choose_line(order, line_no, self.stock, self.rules, tried, serving)
        return None if location is None else _ask(order, line_no, location, tried)

    @staticmethod
    def _send(order: Order, asks: Sequence[LineToReserve], out: Outbox, cause_id: str) -> None:
        # One ReserveLines per inventory partition: the lines whose items live there.
        partitions = out.settings.kafka.partitions
        for number, lines in by_item_partition(asks, lambda ask: ask.item, partitions):
            out.command(
                ReserveLines(
                    command_id=f"{cause_id}/reserve/{number}",
                    order_id=order.id,
                    lines=tuple(lines),
                )
            )

    def _shortage(self, order: Order, reason: str, out: Outbox, cause_id: str) -> None:
        decision = self.workflow.decide_shortage(order)
        if decision is Decision.REJECT:
            held = dict(order.reservations)
            order.reject(reason)
            self._release_all(order, held, reason, out, cause_id)
        elif decision is Decision.PRE_ORDER:
            order.pre_order()

    @staticmethod
    def _release_all(
        order: Order,
        held: dict[int, tuple[UUID, str]],
        reason: str,
        out: Outbox,
        cause_id: str,
    ) -> None:
        lines = [
            (line_no, _held(reservation_id, order.lines[line_no].sku, location))
            for line_no, (reservation_id, location) in sorted(held.items())
        ]
        _release(out, cause_id, order.id, lines, reason)


def _held(reservation_id: UUID, sku: str, location: str) -> LineToRelease:
    return LineToRelease(reservation_id=reservation_id, sku=sku, location=location)


def _release(
    out: Outbox,
    cause_id: str,
    order_id: UUID,
    lines: Sequence[tuple[int, LineToRelease]],
    reason: str,
) -> None:
    """One ReleaseLines per inventory partition for ``lines`` ((line no, reservation)),
    named by ``cause_id`` and the first line number (callers that may release twice
    for one cause, the same line under two reservation ids, give distinct causes).
    """
    partitions = out.settings.kafka.partitions
    for _, held in by_item_partition(lines, lambda entry: entry[1].item, partitions):
        out.command(
            ReleaseLines(
                command_id=f"{cause_id}/release/{held[0][0]}",
                order_id=order_id,
                lines=tuple(line for _, line in held),
                reason=reason,
            )
        )


def _ask(order: Order, line_no: int, location: str, tried: list[str]) -> LineToReserve:
    """What the inventory is asked for one line at ``location``."""
    line = order.lines[line_no]
    return LineToReserve(
        line_no=line_no,
        reservation_id=order.reservation_id(line_no),
        sku=line.sku,
        location=location,
        quantity=line.quantity,
        tried=tuple(tried),
    )


def _apply(order: Order, change: OrderChange) -> None:
    """Turn the new set of lines and the address into Order commands.

    A channel line is the order line with the same number and item (sku, unit
    price, promotions), else another line of that item not yet matched; its
    quantity and discount may change. Unmatched channel lines are added (the order
    numbers them), unmatched order lines removed, adds first so the order never
    runs out of lines. A changed price is a different item: remove and add.
    """
    existing = set(order.lines)
    matched: dict[int, int] = {}  # channel line no -> order line no
    for line in change.lines:
        current = order.lines.get(line.line_no)
        if current is not None and _same_item(current, line):
            matched[line.line_no] = line.line_no
    for line in change.lines:
        if line.line_no in matched:
            continue
        for n in sorted(existing - set(matched.values())):
            if _same_item(order.lines[n], line):
                matched[line.line_no] = n
                break
    for line in change.lines:
        if line.line_no not in matched:
            order.add_line(line.sku, line.quantity, line.unit_price, line.discount, line.promotions)
    for line in change.lines:
        if line.line_no in matched:
            order.change_quantity(matched[line.line_no], line.quantity, line.discount)
    for n in sorted(existing - set(matched.values())):
        order.remove_line(n)
    if change.address != order.address or change.shipping_fee != order.shipping_fee:
        order.change_address(change.address, change.shipping_fee)


def _same_item(a: OrderLine, b: OrderLine) -> bool:
    return (a.sku, a.unit_price, a.promotions) == (b.sku, b.unit_price, b.promotions)
