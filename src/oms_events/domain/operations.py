"""Rules of an operator's actions on an order that the Order itself does not hold:
an offline payment (bank transfer, cash at a counter) and what an edit may ask."""

from __future__ import annotations

from oms_events.domain.errors import DomainError
from oms_events.domain.money import Money
from oms_events.domain.order import Order, OrderStatus

# Money an operator receives outside a provider; the rest come through one.
OFFLINE_METHODS = frozenset({"bank_transfer", "cash", "postal_remittance"})


class OfflinePaymentRefused(DomainError):
    """An offline payment the order cannot take."""

    code = "payment.offline_refused"
    message_en = "Offline payment refused: {detail}."
    message_zh = "线下收款被拒绝：{detail}。"


class EditEmpty(DomainError):
    """An edit that changes nothing."""

    code = "order.edit_empty"
    message_en = "Nothing to edit: give --add, --remove, --qty or --address."
    message_zh = "没有要修改的内容：请给出 --add、--remove、--qty 或 --address。"


def offline_payment_id(method: str, reference: str) -> str:
    """The order's payment id of an offline payment: the same reference twice is one
    payment (an operator's retry records nothing more)."""
    return f"offline:{method}:{reference.strip()}"


def check_offline_payment(order: Order, amount: Money, method: str, reference: str) -> None:
    """Raise OfflinePaymentRefused unless ``order`` can take ``amount`` by ``method``:
    a known offline method, a reference to find the money by, a positive amount in the
    order's currency, an open order, and no more than it still owes."""
    if method not in OFFLINE_METHODS:
        known = ", ".join(sorted(OFFLINE_METHODS))
        raise OfflinePaymentRefused(detail=f"method {method[:30]!r} is not one of {known}")
    if not reference.strip():
        raise OfflinePaymentRefused(detail="reference is empty (the bank's or till's number)")
    if amount.currency != order.currency:
        raise OfflinePaymentRefused(detail=f"{amount.currency} on a {order.currency} order")
    if amount.amount <= 0:
        raise OfflinePaymentRefused(detail=f"amount {amount} must be above zero")
    if order.status in (
        OrderStatus.CANCELLED,
        OrderStatus.REJECTED,
        OrderStatus.RETURNED_TO_SENDER,
    ):
        raise OfflinePaymentRefused(detail=f"the order is {order.status.value}")
    owed = order.total - order.amount_held
    if amount > owed:
        raise OfflinePaymentRefused(detail=f"{amount} is more than the {owed} still owed")
