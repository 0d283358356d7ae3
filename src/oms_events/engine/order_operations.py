"""An operator's actions on an order, a part of the order service (``oms order hold``,
``release``, ``review``, ``edit``, ``pay``).

Every action first records ``OperatorActed`` (who, what, why), then its own events:

* HoldOrder -> OrderHeld (before allocation only)
* ReleaseOrder -> OrderReleased, and the saga carries on: allocated when reserved and
  paid, else it waits for stock or money as any order does
* ReviewOrder approve -> OrderReleased and on (review does not hold it again);
  reject -> OrderCancelled, its reservations released (the saga's cancel)
* EditOrder -> LineRemoved / QuantityChanged / LineAdded / AddressChanged through the
  saga's ``edit`` (stock released and asked for as for a channel's ChangeOrder), and
  PaymentDue / RefundDue when money was taken already; refused once allocated
* RecordOfflinePayment -> PaymentRecorded on the order, and CapturePayment with the
  offline method to the payment, which writes it into the payment ledger
* RerouteOrder (allocated, nothing shipped) -> RerouteRequested and ReserveLines at the
  new location; every line reserved there (RerouteReserved) -> WithdrawShipment to the
  old shipment, which is cancelled only before pick (its warehouse told) and answers
  RecordShipmentWithdrawn -> AllocationRerouted, ReleaseLines at the old location and
  the allocation and CreateShipment at the new one; the new location short of stock or
  the old shipment picked already -> RerouteFailed, the new reservations released

A refused action is an ordinary answer (CommandRejected naming the rule) that the CLI
prints, never a dead letter: an operator's mistake is not bad input.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING
from uuid import UUID

from oms_events.domain.customer import Address
from oms_events.domain.errors import DomainError, ReasonRequired
from oms_events.domain.money import Money
from oms_events.domain.operations import EditEmpty, check_offline_payment, offline_payment_id
from oms_events.domain.order import Order, OrderStatus
from oms_events.domain.shipment import Shipment
from oms_events.engine import allocation
from oms_events.engine.commands import (
    CapturePayment,
    Command,
    EditOrder,
    HoldOrder,
    LineToRelease,
    LineToReserve,
    RecordOfflinePayment,
    RecordShipmentWithdrawn,
    ReleaseLines,
    ReleaseOrder,
    RerouteOrder,
    ReservationAnswer,
    ReserveLines,
    ReviewOrder,
    WithdrawShipment,
)
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition
from oms_events.engine.records import by_item_partition

if TYPE_CHECKING:
    from collections.abc import Callable

    from oms_events.engine.order_saga import OrderSaga

OPERATOR_COMMANDS = (
    HoldOrder,
    ReleaseOrder,
    ReviewOrder,
    EditOrder,
    RecordOfflinePayment,
    RerouteOrder,
)


def operator_refused(command: Command, error: DomainError) -> bool:
    """True for an operator's command a rule refused: answered, not dead-lettered."""
    return isinstance(command, OPERATOR_COMMANDS)


class OrderOperations:
    """Handlers of the operator's order commands (mixed into the order service)."""

    saga: OrderSaga
    _order: Callable[[Partition, UUID], Order]
    _save: Callable[[Partition, Order, Outbox, str], None]
    _index: Callable[[int, Order], None]

    def operator_handlers(self) -> dict[type[Command], Callable[..., None]]:
        """Command class -> handler, for the service's table."""
        return {
            HoldOrder: self.hold,
            ReleaseOrder: self.release,
            ReviewOrder: self.review,
            EditOrder: self.edit,
            RecordOfflinePayment: self.pay_offline,
            RerouteOrder: self.reroute,
            RecordShipmentWithdrawn: self.shipment_withdrawn,
        }

    def hold(self, command: HoldOrder, partition: Partition, out: Outbox) -> None:
        """Hold the order where it is; nothing goes to a warehouse until released."""
        order = self._order(partition, command.order_id)
        order.check_status(
            "hold", OrderStatus.PENDING, OrderStatus.PRE_ORDER, OrderStatus.CONFIRMED
        )
        if not command.reason.strip():
            raise ReasonRequired()
        order.record_operator_action("hold", command.actor, command.reason)
        order.hold(command.reason)
        self._save(partition, order, out, command.command_id)

    def release(self, command: ReleaseOrder, partition: Partition, out: Outbox) -> None:
        """Release a held order and let the saga carry it on."""
        order = self._order(partition, command.order_id)
        order.check_status("release", OrderStatus.ON_HOLD)
        order.record_operator_action("release", command.actor, command.reason)
        self._release(order, out, command.command_id)
        self._save(partition, order, out, command.command_id)

    def review(self, command: ReviewOrder, partition: Partition, out: Outbox) -> None:
        """Approve a held order (released, on to allocation) or reject it (cancelled)."""
        order = self._order(partition, command.order_id)
        order.check_status("review", OrderStatus.ON_HOLD)
        if command.approve:
            order.record_operator_action("approve", command.actor, command.reason)
            self._release(order, out, command.command_id)
        else:
            if not command.reason.strip():
                raise ReasonRequired()
            order.record_operator_action("reject", command.actor, command.reason)
            self.saga.cancel(order, command.reason, out, command.command_id)
        self._save(partition, order, out, command.command_id)

    def edit(self, command: EditOrder, partition: Partition, out: Outbox) -> None:
        """Change lines and address before allocation; stock and money follow."""
        order = self._order(partition, command.order_id)
        if not (command.add or command.remove or command.quantities or command.address):
            raise EditEmpty()
        order.check_changeable()
        order.record_operator_action("edit", command.actor, command.reason)

        def apply(o: Order) -> None:
            # Removals first: a line resized and removed in one edit is simply removed.
            for line_no in command.remove:
                o.remove_line(line_no)
            for q in command.quantities:
                o.change_quantity(q.line_no, q.quantity)
            for a in command.add:
                o.add_line(
                    a.sku,
                    a.quantity,
                    Money(a.unit_price, o.currency),
                    Money(a.discount, o.currency),
                )
            if command.address is not None:
                d = command.address
                o.change_address(
                    Address(
                        line1=d.line1,
                        country=d.country,
                        city=d.city,
                        province=d.province,
                        district=d.district,
                        postcode=d.postcode,
                    )
                )

        if self.saga.edit(order, apply, out, command.command_id):
            self.saga.advance(order, out, command.command_id)
        self._save(partition, order, out, command.command_id)

    def pay_offline(self, command: RecordOfflinePayment, partition: Partition, out: Outbox) -> None:
        """Record money received outside a provider; the payment's ledger captures it
        under the offline method, and the saga may go on (paid)."""
        order = self._order(partition, command.order_id)
        amount = Money(command.amount, command.currency)
        payment_id = offline_payment_id(command.method, command.reference)
        if payment_id in order.payments:
            return  # recorded before: an operator's retry
        check_offline_payment(order, amount, command.method, command.reference)
        order.record_operator_action(
            "pay", command.actor, f"{command.method} {command.reference.strip()}"
        )
        order.record_payment(payment_id, amount)
        self.saga.advance(order, out, command.command_id)
        # As _save, but the capture names the offline method, not the order's. Imported
        # here: the order service imports this module (it mixes these handlers in).
        from oms_events.engine.order_service import money_commands

        new = out.events("order", partition, order, command.command_id)
        for c in money_commands(order, new, command.command_id):
            if isinstance(c, CapturePayment) and c.provider_reference == payment_id:
                c = dataclasses.replace(c, method=command.method)
            out.command(c)
        self._index(partition.number, order)

    def reroute(self, command: RerouteOrder, partition: Partition, out: Outbox) -> None:
        """Ask the new location for the moving lines; the old shipment is withdrawn once
        they are reserved there."""
        order = self._order(partition, command.order_id)
        order.check_status("re-route", OrderStatus.ALLOCATED)
        order.record_operator_action(
            "reroute", command.actor, f"{command.from_location} -> {command.to_location}"
        )
        lines = order.request_reroute(command.from_location, command.to_location)
        asks = [
            LineToReserve(
                line_no=d["line_no"],
                reservation_id=d["reservation_id"],
                sku=d["sku"],
                location=command.to_location,
                quantity=d["quantity"],
            )
            for d in lines
        ]
        partitions = out.settings.kafka.partitions
        for number, part in by_item_partition(asks, lambda ask: ask.item, partitions):
            out.command(
                ReserveLines(
                    command_id=f"{command.command_id}/reserve/{number}",
                    order_id=order.id,
                    lines=tuple(part),
                )
            )
        self._save(partition, order, out, command.command_id)

    def reroute_answers(
        self, order: Order, answers: tuple[ReservationAnswer, ...], out: Outbox, cause: str
    ) -> tuple[ReservationAnswer, ...]:
        """Take the answers for a re-route's new reservations; return the others (for
        the saga). All reserved: the old shipment is asked to withdraw; one refused: the
        re-route fails and what the new location reserved is given back."""
        mine = [a for a in answers if order.is_reroute_reservation(a.line_no, a.reservation_id)]
        if not mine:
            return answers
        assert order.rerouting is not None
        from_location = order.rerouting[0]
        complete = False
        for a in mine:
            if a.outcome == "reserved":
                complete = order.reroute_answered(a.line_no, a.reservation_id)
        refused = [a for a in mine if a.outcome != "reserved"]
        if refused:
            reason = f"{refused[0].location}: {refused[0].reason or 'stock.insufficient'}"
            taken = order.fail_reroute(reason)
            release_lines(out, f"{cause}/reroute", order, taken, "re-route failed")
        elif complete:
            out.command(
                WithdrawShipment(
                    command_id=f"{cause}/withdraw",
                    shipment_id=Shipment.create_id(order.id, from_location),
                    order_id=order.id,
                    reason=f"re-routed to {order.rerouting[1]}",
                )
            )
        return tuple(a for a in answers if a not in mine)

    def shipment_withdrawn(
        self, command: RecordShipmentWithdrawn, partition: Partition, out: Outbox
    ) -> None:
        """The old shipment's answer: move the lines and allocate them at the new
        location, or give the re-route up (picked already)."""
        order = self._order(partition, command.order_id)
        if order.rerouting is None:
            return  # answered before
        cause = command.command_id
        if command.withdrawn:
            to_location = order.rerouting[1]
            releases = order.complete_reroute()
            old = [(r["line_no"], r["reservation_id"], r["location"]) for r in releases]
            release_lines(out, f"{cause}/rerouted", order, old, "re-routed")
            allocation.dispatch(order, out, cause, self.saga.rules, locations={to_location})
        else:
            taken = order.fail_reroute(command.reason)
            release_lines(out, f"{cause}/reroute", order, taken, "re-route refused")
        self._save(partition, order, out, cause)

    @staticmethod
    def abandon_reroute(order: Order, out: Outbox, cause: str) -> None:
        """A re-route under way is given up (the order is being cancelled): what the new
        location reserved already is released, as the old ones are by the cancel."""
        taken = order.fail_reroute("order cancelled")
        release_lines(out, f"{cause}/reroute", order, taken, "order cancelled")

    def _release(self, order: Order, out: Outbox, cause: str) -> None:
        order.release_hold()
        self.saga.advance(order, out, cause)


def release_lines(
    out: Outbox,
    cause: str,
    order: Order,
    held: list[tuple[int, UUID, str]],
    reason: str,
) -> None:
    """One ReleaseLines per inventory partition for ``held`` ((line, reservation,
    location)) of ``order``."""
    lines = [
        LineToRelease(reservation_id=rid, sku=order.lines[n].sku, location=location)
        for n, rid, location in held
    ]
    partitions = out.settings.kafka.partitions
    for number, part in by_item_partition(lines, lambda line: line.item, partitions):
        out.command(
            ReleaseLines(
                command_id=f"{cause}/release/{number}",
                order_id=order.id,
                lines=tuple(part),
                reason=reason,
            )
        )
