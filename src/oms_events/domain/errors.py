"""Domain errors: every broken rule has a stable ``code`` and a message in English and Chinese.

The code is what adapters put in dead-letter headers and API responses; the
messages are what customer service reads in the console.
"""

from __future__ import annotations

from typing import ClassVar

from oms_events.domain.limits import MAX_AMOUNT, MAX_UNITS


class DomainError(Exception):
    """A business rule refused a command.

    Subclasses set ``code``, ``message_en`` and ``message_zh``; the messages are
    ``str.format`` templates filled from the keyword context given on raising,
    e.g. ``InsufficientStock(sku="A1", requested=3, available=1)``.
    """

    code: ClassVar[str] = "domain.error"
    message_en: ClassVar[str] = "The request breaks a business rule."
    message_zh: ClassVar[str] = "请求违反业务规则。"

    def __init__(self, **context: object) -> None:
        self.context: dict[str, object] = dict(context)
        super().__init__(f"{self.code}: {self.message('en')}")

    def message(self, language: str = "en") -> str:
        """The message in ``language`` ("en" or "zh"), filled with the context."""
        template = self.message_zh if language.startswith("zh") else self.message_en
        try:
            return template.format(**self.context)
        except (KeyError, IndexError):
            # A missing context key must never hide the error itself.
            return template


class InvalidMoney(DomainError):
    """An amount that is not integer minor units, or a bad currency or proration."""

    code = "money.invalid"
    message_en = "Invalid money value: {value}."
    message_zh = "金额无效：{value}。"


class CurrencyMismatch(DomainError):
    """Arithmetic between two currencies."""

    code = "money.currency_mismatch"
    message_en = "Cannot combine {left} with {right}."
    message_zh = "币种不一致：{left} 与 {right}。"


class InvalidQuantity(DomainError):
    """A quantity that must be a positive whole number was not."""

    code = "quantity.invalid"
    message_en = "Quantity must be a positive whole number, got {quantity}."
    message_zh = "数量必须为正整数，实际为 {quantity}。"

    @classmethod
    def check(cls, quantity: object) -> int:
        """Return ``quantity`` if it is a positive int, else raise this error."""
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
            raise cls(quantity=quantity)
        if quantity > MAX_UNITS:
            raise QuantityOverLimit(quantity=quantity, limit=MAX_UNITS)
        return quantity


class QuantityOverLimit(DomainError):
    """A quantity or stock level above ``limits.MAX_UNITS``: a typo or an attack."""

    code = "quantity.over_limit"
    message_en = "Quantity {quantity} is over the limit of {limit} units."
    message_zh = "数量 {quantity} 超过上限 {limit} 件。"


class AmountOverLimit(DomainError):
    """An amount above ``limits.MAX_AMOUNT`` minor units (either sign)."""

    code = "money.over_limit"
    message_en = "Amount {amount} is over the limit of {limit} minor units."
    message_zh = "金额 {amount} 超过上限 {limit}（最小货币单位）。"

    @classmethod
    def check(cls, amount: int) -> int:
        """Return ``amount`` if its size is within ``MAX_AMOUNT``, else raise this error."""
        if not -MAX_AMOUNT <= amount <= MAX_AMOUNT:
            raise cls(amount=amount, limit=MAX_AMOUNT)
        return amount


class ReasonRequired(DomainError):
    """A stock adjustment or cancellation without a reason."""

    code = "reason.required"
    message_en = "A reason is required."
    message_zh = "必须填写原因。"


class InvalidTransition(DomainError):
    """A command not allowed in the aggregate's current status."""

    code = "status.invalid_transition"
    message_en = "Cannot {action} a {entity} that is {status}."
    message_zh = "{entity}当前状态为 {status}，不能执行“{action}”。"


# --- inventory ---------------------------------------------------------------


class InsufficientStock(DomainError):
    """Fewer units available than a reservation asks for."""

    code = "stock.insufficient"
    message_en = (
        "Insufficient stock of {sku} at {location}: requested {requested}, available {available}."
    )
    message_zh = "{location} 的 {sku} 库存不足：需要 {requested}，可用 {available}。"


class StockAdjustmentInvalid(DomainError):
    """An adjustment that would leave on-hand below zero or below what is reserved."""

    code = "stock.adjustment_invalid"
    message_en = (
        "Adjusting {sku} by {delta} would leave {on_hand} on hand with {reserved} reserved."
    )
    message_zh = "{sku} 调整 {delta} 后在库 {on_hand}，少于已预留 {reserved}，不允许。"


class UnknownReservation(DomainError):
    """Release or commit of a reservation this item never made."""

    code = "reservation.unknown"
    message_en = "Reservation {reservation_id} is unknown."
    message_zh = "预留 {reservation_id} 不存在。"


class ReservationConflict(DomainError):
    """A reservation id reused for another order or quantity, or used after it closed."""

    code = "reservation.conflict"
    message_en = "Reservation {reservation_id} conflicts: {detail}."
    message_zh = "预留 {reservation_id} 冲突：{detail}。"


class UnknownAdjustmentReason(DomainError):
    """An operator's adjustment with a reason outside the list."""

    code = "stock.reason_invalid"
    message_en = "Adjustment reason {reason!r} is unknown; use one of {choices}."
    message_zh = "调整原因 {reason!r} 无效；请使用 {choices} 之一。"


class CountBelowReserved(DomainError):
    """A cycle count that finds fewer units than are promised to open reservations.

    Refused rather than recorded: available would go negative and the item could
    no longer tell which orders to disappoint. The operator releases or moves the
    reservations (cancel, re-source) first, then records the count.
    """

    code = "stock.count_below_reserved"
    message_en = (
        "Count of {sku} at {location} refused: {counted} counted but {reserved} reserved; "
        "release or move {shortfall} reserved units first, then count again."
    )
    message_zh = (
        "{location} 的 {sku} 盘点被拒绝：盘点 {counted}，但已预留 {reserved}；"
        "请先释放或转移 {shortfall} 件预留，再重新盘点。"
    )


class UnknownTransfer(DomainError):
    """A transfer received where it was never announced."""

    code = "transfer.unknown"
    message_en = "Transfer {transfer_id} is not in transit to {location}."
    message_zh = "调拨单 {transfer_id} 不在发往 {location} 的在途中。"


class TransferConflict(DomainError):
    """A transfer id used twice (dispatched again, or received again)."""

    code = "transfer.conflict"
    message_en = "Transfer {transfer_id} was already {status}."
    message_zh = "调拨单 {transfer_id} 已处理过（{status}）。"


class InvalidTransfer(DomainError):
    """A transfer whose destination is missing or is its own source."""

    code = "transfer.invalid"
    message_en = "Invalid transfer of {sku}: {detail}."
    message_zh = "{sku} 调拨无效：{detail}。"


class InvalidThreshold(DomainError):
    """A negative low-stock threshold."""

    code = "stock.threshold_invalid"
    message_en = "Low-stock threshold must be zero or more, got {threshold}."
    message_zh = "低库存阈值不能为负数，实际为 {threshold}。"


# --- order -------------------------------------------------------------------


class InvalidOrder(DomainError):
    """An order that cannot be placed as given."""

    code = "order.invalid"
    message_en = "Invalid order: {detail}."
    message_zh = "订单无效：{detail}。"


class InvalidAddress(DomainError):
    """A delivery address missing what a carrier needs."""

    code = "address.invalid"
    message_en = "Invalid address: {detail}."
    message_zh = "地址无效：{detail}。"


class UnknownLine(DomainError):
    """A line number the order does not have."""

    code = "order.unknown_line"
    message_en = "Order has no line {line_no}."
    message_zh = "订单没有第 {line_no} 行。"


class OrderLocked(DomainError):
    """Lines, quantities or address changed after allocation to a warehouse."""

    code = "order.locked"
    message_en = "Order is {status}; lines and address can no longer change."
    message_zh = "订单状态为 {status}，已无法修改商品行或地址。"


class MergeNotAllowed(DomainError):
    """An order that may not join a merge (合单) as it stands."""

    code = "order.merge_not_allowed"
    message_en = "Order {order_no} cannot be merged: {detail}."
    message_zh = "订单 {order_no} 不能合单：{detail}。"


class OrderUnknown(DomainError):
    """A command for an order the engine never placed (a channel cancelling a trade it
    never sent us, an operator's typo)."""

    code = "order.unknown"
    message_en = "No order {order_id}: it was never placed here."
    message_zh = "订单 {order_id} 不存在：从未在本系统下单。"


class CancelTooLate(DomainError):
    """Cancelling an order the customer already has: that is a return or a refund."""

    code = "order.cancel_too_late"
    message_en = "Order is {status}: the customer has the goods; open a return or a refund."
    message_zh = "订单已{status}：客户已收货，请走退货或退款流程。"


class LastLine(DomainError):
    """Removing the only line; cancel the order instead."""

    code = "order.last_line"
    message_en = "Cannot remove the last line of an order; cancel it instead."
    message_zh = "不能删除订单的最后一行，请改为取消订单。"


class LinesNotReserved(DomainError):
    """Confirmation before every line holds a reservation."""

    code = "order.lines_not_reserved"
    message_en = "Lines {line_nos} are not reserved yet."
    message_zh = "第 {line_nos} 行尚未预留库存。"


class StaleReservation(DomainError):
    """A reservation for an earlier quantity of the line; it must be released."""

    code = "order.stale_reservation"
    message_en = "Reservation {reservation_id} is not the current one for line {line_no}."
    message_zh = "预留 {reservation_id} 不是第 {line_no} 行的当前预留。"


class LineAlreadyShipped(DomainError):
    """A line reported shipped by a second shipment."""

    code = "order.line_already_shipped"
    message_en = "Line {line_no} already shipped in shipment {shipment_id}."
    message_zh = "第 {line_no} 行已由发货单 {shipment_id} 发出。"


class NotFullyPaid(DomainError):
    """Completion of an order with money still owed."""

    code = "order.not_paid"
    message_en = "Order is not fully paid: {paid} of {total}."
    message_zh = "订单未付清：已付 {paid}，应付 {total}。"


# --- workflow ----------------------------------------------------------------


class InvalidWorkflow(DomainError):
    """Workflow settings that cannot be used."""

    code = "workflow.invalid"
    message_en = "Invalid workflow setting: {detail}."
    message_zh = "流程配置无效：{detail}。"


# --- payment -----------------------------------------------------------------


class PaymentAmountInvalid(DomainError):
    """Capture beyond authorization, refund beyond capture, or a non-positive amount."""

    code = "payment.amount_invalid"
    message_en = "Cannot {action} {amount}: only {limit} allowed."
    message_zh = "不能{action} {amount}：最多 {limit}。"


class PaymentMethodMismatch(DomainError):
    """Cash on delivery collected for a prepaid payment, or authorization for COD."""

    code = "payment.method_mismatch"
    message_en = "Cannot {action} a {method} payment."
    message_zh = "{method} 支付不能执行“{action}”。"


# --- shipment and return -------------------------------------------------------


class InvalidCarrier(DomainError):
    """Shipping without a carrier or tracking number."""

    code = "shipment.carrier_invalid"
    message_en = "Carrier and tracking number are required."
    message_zh = "必须提供承运商和运单号。"


class WaybillConflict(DomainError):
    """A second, different waybill for a shipment whose label may already be printed."""

    code = "shipment.waybill_conflict"
    message_en = "Shipment already has waybill {carrier} {tracking_no}; refused {other}."
    message_zh = "发货单已分配面单 {carrier} {tracking_no}，拒绝再分配 {other}。"


class ReturnQuantityInvalid(DomainError):
    """Returning or receiving more than was bought or requested."""

    code = "return.quantity_invalid"
    message_en = "Line {line_no}: {quantity} exceeds {limit}."
    message_zh = "第 {line_no} 行：数量 {quantity} 超过上限 {limit}。"


class UnknownReturnReason(DomainError):
    """A return reason code the rules do not know."""

    code = "return.reason_unknown"
    message_en = "Unknown return reason {reason}; use one of: {known}."
    message_zh = "未知的退货原因 {reason}，可选：{known}。"


class ReturnNotAllowed(DomainError):
    """A return the order cannot take: nothing shipped yet, or the order is closed."""

    code = "return.not_allowed"
    message_en = "Order is {status}; it cannot take a return."
    message_zh = "订单状态为 {status}，不能申请退货。"
