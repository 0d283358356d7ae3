"""An operator's order commands, built one way for the CLI (``oms order …``) and the
operator API (``POST /api/v1/orders/{id}/{action}``).

Each builder checks what the command needs before it is sent (a reason to hold or to
reject, something to edit, a known return reason) and raises :class:`ActionRefused`
naming the field; the CLI shows it as a bad option, the API as a 422. The domain's
rules (held orders only, not once allocated, ...) are the engine's to apply.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from uuid import UUID

from oms_events.engine.commands import (
    AddedLine,
    AddressDetails,
    CancelOrder,
    EditOrder,
    ExchangeLine,
    HoldOrder,
    LineRefund,
    NewQuantity,
    RefundOrder,
    ReleaseOrder,
    RequestReturn,
    ReturnLineRequest,
    ReviewOrder,
)


class ActionRefused(ValueError):
    """An order command that cannot be sent as asked: ``field`` says which input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def new_id() -> str:
    """A fresh command id."""
    return str(uuid.uuid4())


def _reason(reason: str, why: str) -> str:
    if not reason.strip():
        raise ActionRefused("reason", f"reason is required: say why, e.g. {why!r}")
    return reason


def cancel(order_id: UUID, reason: str) -> CancelOrder:
    """Cancel the order wherever it is (a reason is required)."""
    return CancelOrder(
        command_id=new_id(), order_id=order_id, reason=_reason(reason, "out of stock")
    )


def hold(order_id: UUID, reason: str, actor: str) -> HoldOrder:
    """Hold the order before it goes to a warehouse (a reason is required)."""
    return HoldOrder(
        command_id=new_id(), order_id=order_id, reason=_reason(reason, "address check"), actor=actor
    )


def release(order_id: UUID, reason: str, actor: str) -> ReleaseOrder:
    """Release a held order."""
    return ReleaseOrder(command_id=new_id(), order_id=order_id, reason=reason, actor=actor)


def check_review(approve: bool, reason: str) -> None:
    """Rejecting needs a reason (ActionRefused); approving does not."""
    if not approve:
        _reason(reason, "fraud")


def review(order_id: UUID, approve: bool, reason: str, actor: str) -> ReviewOrder:
    """Approve (allocate) or reject (cancel) a held order; rejecting needs a reason."""
    check_review(approve, reason)
    return ReviewOrder(
        command_id=new_id(), order_id=order_id, approve=approve, reason=reason, actor=actor
    )


def edit(
    order_id: UUID,
    actor: str,
    add: Sequence[AddedLine] = (),
    remove: Sequence[int] = (),
    quantities: Sequence[NewQuantity] = (),
    address: AddressDetails | None = None,
    reason: str = "",
) -> EditOrder:
    """Edit lines, quantities or the address before allocation (at least one)."""
    if not (add or remove or quantities or address):
        raise ActionRefused(
            "add", "nothing to edit: give lines to add or remove, quantities or an address"
        )
    return EditOrder(
        command_id=new_id(),
        order_id=order_id,
        add=tuple(add),
        remove=tuple(remove),
        quantities=tuple(quantities),
        address=address,
        reason=reason,
        actor=actor,
    )


def refund(
    order_id: UUID,
    reason: str,
    lines: Sequence[LineRefund] = (),
    shipping: bool = False,
    refund_id: str | None = None,
) -> RefundOrder:
    """Refund units of lines and/or the shipping fee (neither: everything not refunded
    yet); ``refund_id`` is the idempotency key (default a new one)."""
    return RefundOrder(
        command_id=new_id(),
        order_id=order_id,
        refund_id=refund_id or f"RF-{uuid.uuid4().hex[:16]}",
        lines=tuple(lines),
        shipping=shipping,
        reason=_reason(reason, "damaged in transit"),
    )


def request_return(
    order_id: UUID,
    lines: Sequence[ReturnLineRequest],
    reason: str,
    reasons: Collection[str],
    refund_only: bool = False,
    exchange: Sequence[ExchangeLine] = (),
    return_no: str | None = None,
) -> RequestReturn:
    """A return of shipped lines; ``reason`` must be a code of the returns policy."""
    if reason not in reasons:
        raise ActionRefused(
            "reason", f"unknown return reason {reason!r}; use one of {', '.join(sorted(reasons))}"
        )
    if not lines:
        raise ActionRefused("lines", "no lines to return: give line_no (or sku) and quantity")
    return RequestReturn(
        command_id=new_id(),
        order_id=order_id,
        return_no=return_no or f"RMA-{uuid.uuid4().hex[:12].upper()}",
        lines=tuple(lines),
        reason=reason,
        refund_only=refund_only,
        exchange_lines=tuple(exchange),
        requested_at=datetime.now(UTC),
    )
