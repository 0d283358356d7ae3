"""The order's side of returns (RMA), a part of the order service.

* RequestReturn (the CLI, a channel) -> ReturnOpened on the order (the units may not
  be returned twice: never more than shipped minus already returned or refunded),
  then OpenReturn to the return service with what the customer paid for the lines;
  an exchange also places its replacement order (PlaceOrder, channel ``exchange``,
  external id = the return number, lines free of charge), which goes through the
  ordinary order flow, so its stock is reserved now
* CloseReturn (from the return service) -> RefundAgreed (the order prices the refund:
  each line's units at the line's net) and ReturnResolved; RecordReturnRefund tells the
  return the amount, RequestRefund (order_service.money_commands) the payment

Completion: a delivered, paid order with no open return is completed once its return
window (settings ``returns.window_days``, counted from ``delivered_at``) has closed.
The timer keeps only such orders in its index, their deadlines in a heap: a tick looks
at the earliest one only.
"""

from __future__ import annotations

import heapq
import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import structlog

from oms_events.domain.errors import (
    DomainError,
    InvalidOrder,
    ReturnNotAllowed,
    ReturnQuantityInvalid,
    UnknownReturnReason,
)
from oms_events.domain.order import Order
from oms_events.domain.return_policy import ReturnPolicy
from oms_events.domain.returns import Return
from oms_events.engine.commands import (
    AddressDetails,
    CloseReturn,
    Command,
    CustomerDetails,
    LineAmount,
    LineDetails,
    OpenReturn,
    OpenReturnLine,
    PlaceOrder,
    RecordReturnRefund,
    RequestReturn,
)
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition

if TYPE_CHECKING:
    from collections.abc import Callable

log = structlog.get_logger(__name__)

EXCHANGE_CHANNEL = "exchange"
# A request the order cannot take is an ordinary answer (CommandRejected), not bad input.
_REFUSED = (ReturnNotAllowed, ReturnQuantityInvalid, UnknownReturnReason)


def exchange_order_id(return_no: str) -> UUID:
    """The replacement order of an exchange: channel ``exchange``, external id the
    return number."""
    return Order.create_id(EXCHANGE_CHANNEL, return_no)


def refused_return(command: Command, error: DomainError) -> bool:
    """True when ``error`` is the order's ordinary answer to a return request."""
    return isinstance(command, RequestReturn) and isinstance(error, _REFUSED)


class OrderReturns:
    """Return handlers and the completion timer of the order service (a mixin: the
    service provides ``_order`` and ``_save``)."""

    policy: ReturnPolicy
    # partition -> order id -> when its return window closes (epoch seconds), and the
    # same deadlines in a heap (entries gone from ``completing`` are stale)
    completing: dict[int, dict[UUID, float]]
    deadlines: list[tuple[float, str, int]]
    _order: Callable[[Partition, UUID], Order]
    _save: Callable[[Partition, Order, Outbox, str], None]

    def request_return(self, command: RequestReturn, partition: Partition, out: Outbox) -> None:
        """Take the return into account and open it at the return service; an
        exchange places its replacement order."""
        order = self._order(partition, command.order_id)
        self.policy.check_reason(command.reason)
        lines: dict[int, int] = {}
        for line in command.lines:
            line_no = line.line_no or _line_of(order, line.sku)
            lines[line_no] = lines.get(line_no, 0) + line.quantity
        return_id = Return.create_id(order.id, command.return_no)
        replacement = exchange_order_id(command.return_no) if command.exchange_lines else None
        if not order.open_return(
            return_id,
            command.return_no,
            lines,
            command.reason,
            command.refund_only,
            replacement,
        ):
            return  # asked twice
        out.command(
            OpenReturn(
                command_id=f"{command.command_id}/open",
                return_id=return_id,
                order_id=order.id,
                order_no=order.order_no,
                channel=order.channel,
                return_no=command.return_no,
                currency=order.currency,
                lines=tuple(
                    OpenReturnLine(
                        line_no=n,
                        sku=order.lines[n].sku,
                        quantity=q,
                        ordered_quantity=order.lines[n].quantity,
                        unit_price=order.lines[n].unit_price.amount,
                        discount=order.lines[n].discount.amount,
                    )
                    for n, q in sorted(lines.items())
                ),
                reason=command.reason,
                refund_only=command.refund_only,
                exchange_order_id=replacement,
                exchange_lines=command.exchange_lines,
                requested_at=command.requested_at,
                delivered_at=order.delivered_at,
            )
        )
        if command.exchange_lines:
            out.command(_replacement(order, command))
        self._save(partition, order, out, command.command_id)

    def close_return(self, command: CloseReturn, partition: Partition, out: Outbox) -> None:
        """Refund what the return kept (when it says so), then close it on the order."""
        order = self._order(partition, command.order_id)
        kept = {line.line_no: line.quantity for line in command.lines if line.quantity}
        if command.refund and kept:
            reason = f"return: {command.reason}"
            order.refund_return(command.return_no, command.return_id, kept, reason)
        order.close_return(command.return_id, command.outcome, kept)
        refunded = f"{command.command_id}/refunded"
        tell_return_refunded(order, command.return_id, command.return_no, refunded, out)
        self._save(partition, order, out, command.command_id)

    # --- completion timer ---------------------------------------------------------

    def _deadline(self, order: Order) -> float | None:
        """When (epoch s) the order's return window closes and completes it, if it would."""
        if not order.completable:
            return None
        since = order.delivered_at or order.modified_on  # undated: the event's time
        return (since + self.policy.window).timestamp()

    def _arm(self, number: int, order_id: UUID, at: float) -> None:
        waiting = self.completing.setdefault(number, {})
        if waiting.get(order_id) != at:
            waiting[order_id] = at
            heapq.heappush(self.deadlines, (at, str(order_id), number))

    def index_completion(self, number: int, order: Order) -> None:
        """Keep ``order`` in the timer's index while a closed window would complete it."""
        at = self._deadline(order)
        if at is not None:
            self._arm(number, order.id, at)
        else:
            # Its heap entry goes stale, dropped when reached.
            self.completing.setdefault(number, {}).pop(order.id, None)

    def index_resting(self, partition: Partition) -> None:
        """Arm the timer of the delivered orders that rest out of memory: a restart
        knows them only by their snapshot's wake header (snapshots.WAKE). Without this,
        one that left memory before a crash stayed delivered for ever."""
        for order_id, stub in partition.snapshots.items():
            if stub.wake_ms is not None and order_id not in partition.aggregates:
                self._arm(partition.number, order_id, stub.wake_ms / 1000)

    def wake_ms(self, aggregate: Any) -> int | None:
        """When the return window of a delivered order leaving memory closes (epoch ms)."""
        if isinstance(aggregate, Order) and (at := self._deadline(aggregate)) is not None:
            return math.ceil(at * 1000)
        return None

    def _next_deadline(self) -> tuple[float, UUID, int] | None:
        """The earliest live deadline (stale heap entries dropped on the way)."""
        while self.deadlines:
            at, order_id, number = self.deadlines[0]
            oid = UUID(order_id)
            if self.completing.get(number, {}).get(oid) == at:
                return at, oid, number
            heapq.heappop(self.deadlines)
        return None

    def completion_due(self, now: float) -> bool:
        """True when some indexed order's return window has closed: a look at the
        earliest deadline, however many delivered orders wait."""
        head = self._next_deadline()
        return head is not None and head[0] <= now

    def complete_due(self, now: float, partitions: dict[int, Partition], out: Outbox) -> None:
        """Complete the orders whose return window has closed with no return open."""
        while (head := self._next_deadline()) is not None and head[0] <= now:
            at, order_id, number = head
            heapq.heappop(self.deadlines)
            self.completing[number].pop(order_id, None)
            partition = partitions.get(number)
            order: Order | None = partition.get(order_id) if partition else None
            if partition is None or order is None or not order.completable:
                continue
            order.complete()
            out.events("order", partition, order, f"complete/{order_id}")
            log.info(
                "order completed",
                order_id=str(order_id),
                window_closed=datetime.fromtimestamp(at, UTC).isoformat(),
            )


def tell_return_refunded(
    order: Order, return_id: UUID, return_no: str, command_id: str, out: Outbox
) -> None:
    """Tell the return the amount its refund was agreed at (RecordReturnRefund), when
    the order's new events agree it: at its closing, or when a COD courier's cash came
    in for a refund that waited (``Order.agree_waiting_refunds``)."""
    for e in order.pending_events:
        if type(e).__name__ == "RefundAgreed" and getattr(e, "refund_id", None) == return_no:
            out.command(
                RecordReturnRefund(
                    command_id=command_id,
                    return_id=return_id,
                    amount=e.amount["amount"],  # type: ignore[attr-defined]
                    currency=order.currency,
                    lines=tuple(
                        LineAmount(line_no=p["line_no"], amount=p["amount"]["amount"])
                        for p in e.lines  # type: ignore[attr-defined]
                    ),
                )
            )


def _line_of(order: Order, sku: str | None) -> int:
    """The order's one shipped line of ``sku`` (a channel's return names skus)."""
    found = [n for n, line in order.lines.items() if line.sku == sku and n in order.shipments]
    if len(found) != 1:
        where = f"on lines {sorted(found)}" if found else "not shipped on the order"
        raise InvalidOrder(detail=f"sku {sku} is {where}; name the line number")
    return found[0]


def _replacement(order: Order, command: RequestReturn) -> PlaceOrder:
    """The exchange's replacement order: the same customer and address, the exchange
    lines free of charge (the returned goods pay for them)."""
    c, a = order.customer, order.address
    return PlaceOrder(
        command_id=f"{command.command_id}/exchange",
        order_no=f"{order.order_no}-{command.return_no}",
        channel=EXCHANGE_CHANNEL,
        external_id=command.return_no,
        customer=CustomerDetails(name=c.name, phone=c.phone, account=c.account),
        address=AddressDetails(
            country=a.country,
            line1=a.line1,
            province=a.province,
            city=a.city,
            district=a.district,
            postcode=a.postcode,
        ),
        currency=order.currency,
        lines=tuple(
            LineDetails(line_no=n, sku=line.sku, quantity=line.quantity, unit_price=0)
            for n, line in enumerate(command.exchange_lines, 1)
        ),
        payment_method=order.payment_method,
        placed_at=command.requested_at,
        paid=True,
        delivery_speed=order.delivery_speed,
    )
