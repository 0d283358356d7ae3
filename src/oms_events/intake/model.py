"""The one order model every channel parser produces, and the commands built from it.

An :class:`IntakeOrder` is already normalized (our skus, minor units, half-width text,
discounts per line); turning it into a ``PlaceOrder`` or ``ChangeOrder`` command is
mechanical. Identity is deterministic from (channel, external id), so a redelivery
names the same order number, order id and command id.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime

from oms_events.domain.ids import natural_id
from oms_events.domain.order import COLLECTED_ON_HANDOVER, DeliverySpeed, PaymentMethod
from oms_events.engine.commands import (
    AddressDetails,
    CancelOrder,
    ChangeOrder,
    CustomerDetails,
    LineDetails,
    PlaceOrder,
    TenderDetails,
)

PAYMENT_METHODS = ("card", "alipay", "wechat_pay", "cod")
DELIVERY_SPEEDS = ("standard", "express", "same_day")


@dataclass(frozen=True)
class IntakeTender:
    """One part of how the order is paid; ``method`` from ``TENDER_METHODS``, minor units."""

    method: str
    amount: int
    reference: str | None = None


def payment_class(tenders: tuple[IntakeTender, ...]) -> tuple[str, bool]:
    """(PlaceOrder ``payment_method``, collected at handover) for ``tenders``.

    Any part collected when the goods are handed over makes the order ``cod``: it is not
    paid until then. Otherwise the largest tender names the method (ties to the first);
    a method the PaymentMethod enum cannot name (cash, transfers) is written as ``card``,
    the prepaid class, and the tenders keep the exact method.
    """
    if any(t.method in COLLECTED_ON_HANDOVER for t in tenders):
        return "cod", True
    principal = max(tenders, key=lambda t: t.amount)  # max keeps the first of equals
    return (principal.method if principal.method in PAYMENT_METHODS else "card"), False


@dataclass(frozen=True)
class IntakeLine:
    """One order line in our terms; ``discount`` is the whole line's, in minor units."""

    line_no: int
    sku: str
    quantity: int
    unit_price: int
    discount: int = 0
    promotions: tuple[str, ...] = ()
    channel_sku: str = ""

    @property
    def gross(self) -> int:
        """List price times quantity."""
        return self.unit_price * self.quantity

    @property
    def net(self) -> int:
        """What the customer pays for the line."""
        return self.gross - self.discount


@dataclass(frozen=True)
class IntakeAddress:
    """Where the order ships; ``country`` is ISO 3166-1 alpha-2."""

    country: str
    line1: str
    province: str | None = None
    city: str | None = None
    district: str | None = None
    postcode: str | None = None


@dataclass(frozen=True)
class IntakeOrder:
    """A channel order, normalized: what PlaceOrder and ChangeOrder are built from."""

    channel: str
    external_id: str
    customer_name: str
    phone: str | None
    account: str | None
    address: IntakeAddress
    lines: tuple[IntakeLine, ...]
    payment_method: str
    paid: bool
    placed_at: datetime
    currency: str = "CNY"
    shipping_fee: int = 0
    delivery_speed: str = "standard"
    # How the total is paid when the channel says more than payment_method.
    tenders: tuple[IntakeTender, ...] = ()
    # The platform masked or encrypted the receiver's name, phone or address (see
    # normalize.masked): accepted as sent; the real ones come from its decrypt API.
    receiver_masked: bool = False
    # Tax charged on top of the prices (Shopify ``taxes_included: false``), minor units;
    # 0 when prices include any tax, as on every Chinese channel.
    tax: int = 0
    # Where in the delivery the order sat (CSV rows of a POS batch), for dead letters.
    position: str = field(default="", compare=False)

    @property
    def total(self) -> int:
        """Line nets plus shipping plus tax on top: what the customer owes."""
        return sum(line.net for line in self.lines) + self.shipping_fee + self.tax

    @property
    def order_no(self) -> str:
        """Our order number."""
        return order_no(self.channel, self.external_id)

    @property
    def order_id(self) -> uuid.UUID:
        """The Order aggregate's id (same as ``Order.create_id``)."""
        return order_id(self.channel, self.external_id)

    def content_hash(self) -> str:
        """A digest of everything the channel said about the order.

        Equal hashes mean a plain redelivery; different hashes mean the channel changed
        the order. ``position`` is left out: the same order may sit elsewhere in a new batch.
        """
        data = asdict(self)
        data.pop("position")
        if not self.tenders:
            # Left out when empty, so orders hashed before tenders existed keep their hash
            # and a redelivery of one is still recognised as the same order.
            data.pop("tenders")
        if not self.receiver_masked:
            data.pop("receiver_masked")  # likewise for orders hashed before it existed
        if not self.tax:
            data.pop("tax")  # likewise
        data["placed_at"] = self.placed_at.isoformat()
        canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]


# The dedup index's entry for a cancelled order: a repeated cancellation is a duplicate
# whatever words the channel used for it the second time.
CANCELLED = "cancelled"


@dataclass(frozen=True)
class IntakeCancel:
    """The channel closed or cancelled an order (a closed Tmall trade, a cancelled
    Shopify order): becomes a ``CancelOrder``. ``reason`` names the channel's words."""

    channel: str
    external_id: str
    reason: str
    position: str = field(default="", compare=False)

    @property
    def order_no(self) -> str:
        """Our order number."""
        return order_no(self.channel, self.external_id)

    @property
    def order_id(self) -> uuid.UUID:
        """The Order aggregate's id (same as ``Order.create_id``)."""
        return order_id(self.channel, self.external_id)

    def content_hash(self) -> str:
        """The dedup index's entry: every cancellation of an order is the same one."""
        return CANCELLED


def cancel_order(cancel: IntakeCancel) -> CancelOrder:
    """The ``CancelOrder`` command; its id derives from the order, so the channel's
    repeated cancellation is one command to the engine."""
    return CancelOrder(
        command_id=str(uuid.uuid5(cancel.order_id, "cancel")),
        order_id=cancel.order_id,
        reason=cancel.reason,
    )


def order_no(channel: str, external_id: str) -> str:
    """``OMS-<channel>-<external id>``: readable by people, stable across redeliveries."""
    return f"OMS-{channel}-{external_id}"


def order_id(channel: str, external_id: str) -> uuid.UUID:
    """The order aggregate id: ``natural_id("order", channel, external_id)``."""
    return natural_id("order", channel, external_id)


def _customer(order: IntakeOrder) -> CustomerDetails:
    return CustomerDetails(name=order.customer_name, phone=order.phone, account=order.account)


def _address(order: IntakeOrder) -> AddressDetails:
    a = order.address
    return AddressDetails(
        country=a.country,
        province=a.province,
        city=a.city,
        district=a.district,
        postcode=a.postcode,
        line1=a.line1,
    )


def _lines(order: IntakeOrder) -> tuple[LineDetails, ...]:
    return tuple(
        LineDetails(
            line_no=line.line_no,
            sku=line.sku,
            quantity=line.quantity,
            unit_price=line.unit_price,
            discount=line.discount,
            promotions=line.promotions,
        )
        for line in order.lines
    )


def place_order(order: IntakeOrder) -> PlaceOrder:
    """The ``PlaceOrder`` command. Its command id derives from the content, so producing
    it again after a crash is recognisably the same command."""
    return PlaceOrder(
        command_id=str(uuid.uuid5(order.order_id, f"place:{order.content_hash()}")),
        order_no=order.order_no,
        channel=order.channel,
        external_id=order.external_id,
        customer=_customer(order),
        address=_address(order),
        currency=order.currency,
        lines=_lines(order),
        shipping_fee=order.shipping_fee,
        payment_method=PaymentMethod(order.payment_method),
        paid=order.paid,
        delivery_speed=DeliverySpeed(order.delivery_speed),
        placed_at=order.placed_at,
        tenders=tuple(
            TenderDetails(method=t.method, amount=t.amount, reference=t.reference)
            for t in order.tenders
        ),
        receiver_masked=order.receiver_masked,
        tax=order.tax,
    )


def change_order(order: IntakeOrder, previous_hash: str, changed_at: datetime) -> ChangeOrder:
    """The ``ChangeOrder`` command: the channel's new version of the whole order."""
    return ChangeOrder(
        command_id=str(uuid.uuid5(order.order_id, f"change:{order.content_hash()}")),
        order_no=order.order_no,
        channel=order.channel,
        external_id=order.external_id,
        customer=_customer(order),
        address=_address(order),
        currency=order.currency,
        lines=_lines(order),
        shipping_fee=order.shipping_fee,
        previous_hash=previous_hash,
        content_hash=order.content_hash(),
        paid=order.paid,
        changed_at=changed_at,
    )
