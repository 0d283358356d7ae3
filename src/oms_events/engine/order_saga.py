"""The order saga: the process manager that takes an order from placed to allocated.

::

    OrderPlaced ─> ReserveStock per line (location by sourcing)
    ReservationAnswered reserved ─> LineReserved ─> workflow.decide ─> confirm + allocate
    ReservationAnswered rejected ─> next location with stock, else workflow.decide_shortage:
        reject (release what was reserved, OrderRejected) | pre-order (PreOrdered)
    cancel / expiry at any step ─> ReleaseStock for every reservation held
    a reservation answered after the order closed ─> ReleaseStock (compensation)

It is keyed by order id and runs inside the order processor's transaction, so what
it decides is committed together with the order events that caused it. Its state
is event-sourced without a stream of its own: the Order aggregate's events say
which lines hold which reservation and where the order stands, and the one thing
they do not say — the locations already asked for a line — travels in the
ReserveStock command and comes back in its answer (a routing slip).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import structlog

from oms_events.domain.order import Order, OrderStatus
from oms_events.domain.workflow import Decision, Workflow
from oms_events.engine import allocation
from oms_events.engine.commands import item_key
from oms_events.engine.outbox import Outbox
from oms_events.engine.sourcing import StockView

log = structlog.get_logger(__name__)

_CLOSED = (OrderStatus.CANCELLED, OrderStatus.REJECTED)
NO_LOCATION = "stock.no_location"


class OrderSaga:
    """Decides the next commands for an order; the order processor hosts it."""

    def __init__(self, workflow: Workflow, stock: StockView) -> None:
        self.workflow = workflow
        self.stock = stock

    def placed(self, order: Order, out: Outbox, cause_id: str) -> None:
        """Ask the inventory for every line of a new order."""
        for line_no in sorted(order.lines):
            if order.status in _CLOSED:
                break
            if not self._reserve(order, line_no, [], out, cause_id):
                self._shortage(order, NO_LOCATION, out, cause_id)

    def answered(self, order: Order, answer: dict[str, Any], out: Outbox, cause_id: str) -> None:
        """Carry on after the inventory answered one ReserveStock."""
        line_no = answer["line_no"]
        reservation_id = UUID(answer["reservation_id"])
        if answer["outcome"] == "reserved":
            current = (
                order.reservation_id(line_no)
                if line_no in order.lines and order.status not in _CLOSED
                else None
            )
            if current != reservation_id:
                # Closed, line removed or resized meanwhile: give the units back.
                self._release(
                    out,
                    cause_id,
                    order.id,
                    line_no,
                    reservation_id,
                    answer["sku"],
                    answer["location"],
                    "order moved on",
                )
                return
            order.reserve_line(line_no, reservation_id, answer["location"])
            self.advance(order, out, cause_id)
            return
        self.stock.note(answer["sku"], answer["location"], answer["available"])
        if order.status in _CLOSED or line_no not in order.lines or line_no in order.reservations:
            return
        if order.reservation_id(line_no) != reservation_id:
            return  # an answer for an earlier quantity; the current one is asked already
        tried = [*answer.get("tried", []), answer["location"]]
        if not self._reserve(order, line_no, tried, out, cause_id):
            self._shortage(order, answer["reason"] or "stock.insufficient", out, cause_id)

    def advance(self, order: Order, out: Outbox, cause_id: str) -> None:
        """Do what the workflow says once reservations or payment changed."""
        decision = self.workflow.decide(order)
        if decision is Decision.CONFIRM:
            order.confirm()
            allocation.allocate(order, out, cause_id)
        elif decision is Decision.HOLD:
            order.hold("amount above the hold threshold")
        elif decision is Decision.REVIEW:
            order.hold("manual review")

    def cancel(self, order: Order, reason: str, out: Outbox, cause_id: str) -> None:
        """Cancel the order and release every reservation it holds."""
        held = dict(order.reservations)
        order.cancel(reason)
        self._release_all(order, held, reason, out, cause_id)

    def expired(self, order: Order, now: Any) -> bool:
        """True when the workflow's reservation TTL has run out for this order."""
        return self.workflow.reservation_expired(order, now)

    # --- steps -------------------------------------------------------------------

    def _reserve(
        self, order: Order, line_no: int, tried: list[str], out: Outbox, cause_id: str
    ) -> bool:
        line = order.lines[line_no]
        location = self.stock.choose(line.sku, line.quantity, tried)
        if location is None:
            return False
        reservation_id = order.reservation_id(line_no)
        out.command(
            "inventory",
            "ReserveStock",
            item_key(line.sku, location),
            {
                "command_id": f"{cause_id}/reserve/{line_no}/{len(tried)}",
                "order_id": str(order.id),
                "line_no": line_no,
                "reservation_id": str(reservation_id),
                "sku": line.sku,
                "location": location,
                "quantity": line.quantity,
                "tried": tried,
            },
        )
        return True

    def _shortage(self, order: Order, reason: str, out: Outbox, cause_id: str) -> None:
        decision = self.workflow.decide_shortage(order)
        if decision is Decision.REJECT:
            held = dict(order.reservations)
            order.reject(reason)
            self._release_all(order, held, reason, out, cause_id)
        elif decision is Decision.PRE_ORDER:
            order.pre_order()

    def _release_all(
        self,
        order: Order,
        held: dict[int, tuple[UUID, str]],
        reason: str,
        out: Outbox,
        cause_id: str,
    ) -> None:
        for line_no, (reservation_id, location) in sorted(held.items()):
            self._release(
                out,
                cause_id,
                order.id,
                line_no,
                reservation_id,
                order.lines[line_no].sku,
                location,
                reason,
            )

    @staticmethod
    def _release(
        out: Outbox,
        cause_id: str,
        order_id: UUID,
        line_no: int,
        reservation_id: UUID,
        sku: str,
        location: str,
        reason: str,
    ) -> None:
        out.command(
            "inventory",
            "ReleaseStock",
            item_key(sku, location),
            {
                "command_id": f"{cause_id}/release/{line_no}",
                "order_id": str(order_id),
                "reservation_id": str(reservation_id),
                "sku": sku,
                "location": location,
                "reason": reason,
            },
        )
