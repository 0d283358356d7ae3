"""The return service: Return aggregates (RMA), from the order's acceptance to the refund.

Consumes ``oms.return.commands`` keyed by return id:

* OpenReturn (from the order service, which checked the units against what shipped)
  -> ReturnRequested, then the rules (settings ``returns``) decide: ReturnApproved by
  ``rules``, ReturnRejected by ``rules`` (window closed, a non-returnable sku for a
  no-fault reason), or left for an operator
* ReviewReturn (an operator) -> ReturnApproved / ReturnRejected
* ShipReturn (the customer's parcel) -> ReturnShipped (carrier, tracking_no: the
  carrier adapter's waybill index reads it)
* RecordReturnParcelUpdate (the carrier adapter) -> ReturnParcelScanned
* ReceiveReturn -> ReturnReceived at a location
* InspectReturn -> ReturnRestocked (and RestockLines to the inventory, one per inventory
  partition, restock id = the return: available again) and/or ReturnWrittenOff
  (damaged, with a reason)
* RecordReturnRefund (from the order service, which priced the refund) -> ReturnRefunded
* CancelReturn (the customer withdraws, before the goods arrive) -> ReturnCancelled

The order hears when a return asks nothing more of it (CloseReturn on
``oms.order.commands``): approved refund-only (仅退款, refund the requested units),
inspected (refund the received units; an exchange refunds nothing), rejected or
cancelled (the units may be returned again, an exchange's replacement order is
cancelled). The order prices the refund by line at the line's net and the payment
processor gives the money back to the tenders it came from.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from oms_events.domain.money import Money
from oms_events.domain.return_policy import ReturnPolicy, Verdict
from oms_events.domain.returns import Inspection, Return, ReturnLine, ReturnStatus
from oms_events.engine.commands import (
    CancelOrder,
    CancelReturn,
    CloseReturn,
    InspectReturn,
    KeptLine,
    LineToRestock,
    OpenReturn,
    ReceiveReturn,
    RecordReturnParcelUpdate,
    RecordReturnRefund,
    RestockLines,
    ReviewReturn,
    ShipReturn,
)
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition
from oms_events.engine.records import by_item_partition
from oms_events.engine.service import Service


class ReturnService(Service):
    """Handlers of return commands; the rules are the ``returns`` settings' policy."""

    name = "return"
    aggregate_type = "return"

    def __init__(self, policy: ReturnPolicy | None = None) -> None:
        self.policy = policy or ReturnPolicy()
        self.handlers = {
            OpenReturn: self.open,
            ReviewReturn: self.review,
            ShipReturn: self.ship,
            RecordReturnParcelUpdate: self.scan,
            ReceiveReturn: self.receive,
            InspectReturn: self.inspect,
            RecordReturnRefund: self.record_refund,
            CancelReturn: self.cancel,
        }

    def open(self, command: OpenReturn, partition: Partition, out: Outbox) -> None:
        """Open the return (once) and let the rules approve or reject it."""
        if partition.get(command.return_id) is not None:
            return
        currency = command.currency
        ret = Return.request(
            command.order_id,
            command.return_no,
            [
                ReturnLine(
                    line_no=line.line_no,
                    sku=line.sku,
                    quantity=line.quantity,
                    ordered_quantity=line.ordered_quantity,
                    unit_price=Money(line.unit_price, currency),
                    discount=Money(line.discount, currency),
                    location="",  # known when the goods arrive
                )
                for line in command.lines
            ],
            command.reason,
            refund_only=command.refund_only,
            channel=command.channel,
            exchange_order_id=command.exchange_order_id,
            exchange_lines={line.sku: line.quantity for line in command.exchange_lines},
        )
        if ret.id != command.return_id:
            raise ValueError(f"return id {command.key} is not that of its order+return_no")
        decision = self.policy.decide(
            reason=command.reason,
            skus=[line.sku for line in command.lines],
            worth=ret.worth.amount,
            requested_at=command.requested_at,
            delivered_at=command.delivered_at,
        )
        if decision.verdict is Verdict.APPROVE:
            ret.approve("rules", command.requested_at + self.policy.parcel_due)
        elif decision.verdict is Verdict.REJECT:
            ret.reject("rules", decision.why)
        self._save(partition, ret, out, command.command_id)

    def review(self, command: ReviewReturn, partition: Partition, out: Outbox) -> None:
        """An operator's decision on a return the rules left open."""
        ret = self._return(partition, command.return_id)
        if command.decision == "approve":
            ret.approve(command.by, datetime.now(UTC) + self.policy.parcel_due)
        else:
            ret.reject(command.by, command.reason or "")
        self._save(partition, ret, out, command.command_id)

    def ship(self, command: ShipReturn, partition: Partition, out: Outbox) -> None:
        """The customer's parcel left: its carrier and waybill."""
        ret = self._return(partition, command.return_id)
        ret.ship(command.carrier, command.tracking_no)
        self._save(partition, ret, out, command.command_id)

    def scan(self, command: RecordReturnParcelUpdate, partition: Partition, out: Outbox) -> None:
        """A carrier's scan of the parcel, recorded on the return."""
        ret = self._return(partition, command.return_id)
        ret.record_scan(
            command.carrier,
            command.tracking_no,
            command.status,
            command.occurred_at,
            command.location,
            command.reason,
        )
        self._save(partition, ret, out, command.command_id)

    def receive(self, command: ReceiveReturn, partition: Partition, out: Outbox) -> None:
        """The goods arrived at a location (all requested units unless lines say)."""
        ret = self._return(partition, command.return_id)
        quantities = {line.line_no: line.quantity for line in command.lines} or None
        ret.receive(command.location, quantities)
        if not any(ret.received.values()):
            ret.close("nothing_received")  # an empty parcel: nothing to inspect
        self._save(partition, ret, out, command.command_id)

    def inspect(self, command: InspectReturn, partition: Partition, out: Outbox) -> None:
        """Restock the resellable lines (stock available again), write off the damaged."""
        ret = self._return(partition, command.return_id)
        ret.inspect(
            {line.line_no: (Inspection(line.outcome), line.reason) for line in command.lines}
        )
        restocked = [
            LineToRestock(sku=line["sku"], location=line["location"], quantity=line["quantity"])
            for event in ret.pending_events
            if type(event).__name__ == "ReturnRestocked"
            for line in event.lines  # type: ignore[attr-defined]
        ]
        partitions = out.settings.kafka.partitions
        for number, lines in by_item_partition(restocked, lambda line: line.item, partitions):
            out.command(
                RestockLines(
                    command_id=f"{command.command_id}/restock/{number}",
                    restock_id=ret.id,
                    lines=tuple(lines),
                    reason=f"return {ret.return_no}",
                )
            )
        if ret.is_exchange:
            ret.close("exchanged")
        self._save(partition, ret, out, command.command_id)

    def record_refund(self, command: RecordReturnRefund, partition: Partition, out: Outbox) -> None:
        """The order agreed the refund: record the amount it priced."""
        ret = self._return(partition, command.return_id)
        currency = command.currency
        ret.record_refund(
            Money(command.amount, currency),
            [(line.line_no, Money(line.amount, currency)) for line in command.lines],
        )
        self._save(partition, ret, out, command.command_id)

    def cancel(self, command: CancelReturn, partition: Partition, out: Outbox) -> None:
        """The customer withdrew the return (before the goods arrived)."""
        ret = self._return(partition, command.return_id)
        ret.cancel(command.reason)
        self._save(partition, ret, out, command.command_id)

    @staticmethod
    def _return(partition: Partition, return_id: UUID) -> Return:
        ret: Return | None = partition.get(return_id)
        if ret is None:
            raise ValueError(f"return {return_id} does not exist")
        return ret

    def _save(self, partition: Partition, ret: Return, out: Outbox, cause: str) -> None:
        # Queue the events, then tell the order what the return's new status asks of it.
        new = out.events("return", partition, ret, cause)
        if not new:
            return
        for command in _to_order(ret, {type(e).__name__ for e in new}, cause):
            out.command(command)


def _to_order(ret: Return, happened: set[str], cause: str) -> list[CloseReturn | CancelOrder]:
    """The order's commands for what just happened to ``ret``."""
    refund_only_approved = ret.refund_only and "ReturnApproved" in happened
    inspected = "ReturnRestocked" in happened or "ReturnWrittenOff" in happened
    if refund_only_approved or (inspected and not ret.is_exchange):
        units = ret.refund_units()
        return [_close(ret, "refunded", units, refund=True, cause=cause)]
    if "ReturnClosed" in happened:
        kept = {n: q for n, q in ret.received.items() if q}
        outcome = "exchanged" if ret.is_exchange and kept else "nothing_received"
        found: list[CloseReturn | CancelOrder] = [
            _close(ret, outcome, kept, refund=False, cause=cause)
        ]
        if not kept and ret.exchange_order_id is not None:
            found.append(_cancel_exchange(ret, ret.exchange_order_id, cause))
        return found
    if ret.status in (ReturnStatus.REJECTED, ReturnStatus.CANCELLED):
        found = [_close(ret, ret.status.value, {}, refund=False, cause=cause)]
        if ret.exchange_order_id is not None:
            found.append(_cancel_exchange(ret, ret.exchange_order_id, cause))
        return found
    return []


def _close(
    ret: Return, outcome: str, units: dict[int, int], *, refund: bool, cause: str
) -> CloseReturn:
    return CloseReturn(
        command_id=f"{cause}/close",
        order_id=ret.order_id,
        return_id=ret.id,
        return_no=ret.return_no,
        outcome=outcome,
        lines=tuple(KeptLine(line_no=n, quantity=q) for n, q in sorted(units.items())),
        refund=refund,
        reason=ret.reason,
    )


def _cancel_exchange(ret: Return, order_id: UUID, cause: str) -> CancelOrder:
    # The replacement's stock was reserved when the exchange was asked: give it back.
    return CancelOrder(
        command_id=f"{cause}/cancel-exchange",
        order_id=order_id,
        reason=f"return {ret.return_no} {ret.status.value}",
    )
