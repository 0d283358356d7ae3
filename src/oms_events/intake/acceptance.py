"""Would the order aggregate take this order? Asked before the intake says yes.

A 202 (or a command on ``oms.order.commands``) promises an order. The intake used to
check less than the aggregate (a missing district passed here and was dead-lettered
there), so callers got 202 for orders never placed. Now the intake builds the very
Order the engine would build (``order_service.order_from_command`` on the same
``PlaceOrder``), in memory, and refuses what any domain rule refuses: address,
quantities and their limit, amounts and theirs, discounts. One definition, in the
domain, for both.
"""

from __future__ import annotations

from oms_events.domain.errors import DomainError
from oms_events.engine.order_service import order_from_command
from oms_events.intake.errors import Code, Rejection
from oms_events.intake.model import IntakeOrder, place_order

# Which part of the channel's order a domain error points at (the intake's field paths
# are channel-specific; the normalized part is what all channels share).
_FIELDS = {"address": "address", "quantity": "lines.quantity", "money": "lines.amount"}


def refusal(order: IntakeOrder) -> Rejection | None:
    """The rejection the order aggregate would give ``order``, or None if it would place it."""
    try:
        order_from_command(place_order(order)).collect_events()
    except DomainError as error:
        field = _FIELDS.get(error.code.split(".")[0], "$")
        return Rejection(
            Code.ORDER_INVALID,
            field,
            f"{error.code}: {error.message('en')}",
            f"{error.code}：{error.message('zh')}",
            order.external_id,
        )
    return None


def too_large(order: IntakeOrder, size: int, limit: int) -> Rejection:
    """The rejection of an order whose command would not fit one Kafka record."""
    return Rejection(
        Code.TOO_LARGE,
        "$",
        f"the order's command is {size} bytes, over the limit of {limit} "
        "(kafka.max_record_bytes): shorten labels, titles or notes",
        f"订单命令大小为 {size} 字节，超过上限 {limit}：请缩短标签、标题或备注",
        order.external_id,
    )
