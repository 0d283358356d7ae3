"""The commands on ``oms.<type>.commands``, typed: one frozen dataclass per schema.

A command is an Avro record under ``oms.<type>.commands.<Name>`` (one ``.avsc`` per
command in ``schemas/<type>/commands/``) carrying a ``command_id``, keyed by the id of
the aggregate it addresses (:attr:`Command.key`), so it lands on the partition that
owns that aggregate. Here each schema has its class; :func:`from_record` builds one
from an Avro-decoded record and :func:`to_record` turns one back into the record the
codec writes: the only two places that know the wire shape. Ids the schemas carry as
strings are ``UUID`` here, so a malformed id is refused when the record is read.

No Kafka here: the intake, the CLI and the services build and read commands alike.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from functools import cache, lru_cache
from typing import Any, ClassVar, Literal, get_args, get_origin, get_type_hints
from uuid import UUID

from oms_events.avro.codec import Codec
from oms_events.domain.inventory import InventoryItem
from oms_events.domain.order import DeliverySpeed, Order, PaymentMethod
from oms_events.domain.payment import Payment


class UnknownCommand(ValueError):
    """A record that is no command the reader knows (an event on a command topic, say).

    The processor dead-letters it with :attr:`code`.
    """

    code = "command.unknown"


def schema_name(aggregate_type: str, name: str) -> str:
    """Avro full name of a command, e.g. ``oms.inventory.commands.ReserveStock``."""
    return f"oms.{aggregate_type}.commands.{name}"


@lru_cache(maxsize=8192)  # asked for every stock command; the popular items come back
def item_key(sku: str, location: str) -> str:
    """Key of commands for the stock of ``sku`` at ``location``."""
    return str(InventoryItem.create_id(sku, location))


@dataclass(frozen=True, kw_only=True)
class Command:
    """Base of every command: its id, the aggregate type it goes to and its key."""

    aggregate_type: ClassVar[str]
    command_id: str  # unique; a redelivery with the same id has no second effect

    @property
    def name(self) -> str:
        """The command's name, e.g. ``ReserveStock``."""
        return type(self).__name__

    @classmethod
    def schema(cls) -> str:
        """The Avro full name of this command's schema."""
        return schema_name(cls.aggregate_type, cls.__name__)

    @property
    def key(self) -> str:
        """Id of the aggregate the command addresses: its record key."""
        raise NotImplementedError


class _OrderKeyed:
    """A command keyed by the order it addresses: its ``order_id`` (declared by each
    command, as its schema lists it)."""

    order_id: UUID

    @property
    def key(self) -> str:
        """The order id."""
        return str(self.order_id)


class _AtItem:
    """A line of stock at a location: the inventory item its ``sku`` and ``location``
    (declared by each line, as its schema lists them) name."""

    sku: str
    location: str

    @property
    def item(self) -> str:
        """The inventory item id of (sku, location)."""
        return item_key(self.sku, self.location)


class _FirstLineKeyed:
    """An inventory command of lines all owned by one partition, keyed by the first
    line's item so that it lands there."""

    lines: Sequence[_AtItem]

    @property
    def key(self) -> str:
        """The inventory item id of the first line."""
        return self.lines[0].item


# --- parts of the order commands -------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CustomerDetails:
    """The buyer as the channel names them (PlaceOrder / ChangeOrder ``customer``)."""

    name: str
    phone: str | None = None
    account: str | None = None


@dataclass(frozen=True, kw_only=True)
class AddressDetails:
    """Where the order ships, as the channel wrote it; ``country`` is ISO 3166-1 alpha-2."""

    country: str
    line1: str
    province: str | None = None
    city: str | None = None
    district: str | None = None
    postcode: str | None = None


@dataclass(frozen=True, kw_only=True)
class LineDetails:
    """One order line of PlaceOrder / ChangeOrder; amounts in minor units."""

    line_no: int
    sku: str
    quantity: int
    unit_price: int  # list price per unit
    discount: int = 0  # on the whole line
    promotions: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class TenderDetails:
    """One part of how an order is paid (PlaceOrder ``tenders``); amount in minor units.

    ``method`` is a string from ``oms_events.domain.order.TENDER_METHODS`` (cash,
    bank_transfer, ... beyond what the PaymentMethod enum can name)."""

    method: str
    amount: int
    reference: str | None = None


@dataclass(frozen=True, kw_only=True)
class ShipmentLineDetails:
    """One line of a CreateShipment: what leaves, under which reservation."""

    line_no: int
    sku: str
    quantity: int
    reservation_id: UUID
    order_id: UUID | None = None  # a merged parcel's (合单) line names its order


# --- order commands --------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PlaceOrder(Command):
    """Place an order: what every channel adapter produces from its native format."""

    aggregate_type: ClassVar[str] = "order"
    order_no: str
    channel: str
    external_id: str  # the channel's own id; (channel, external_id) is unique
    customer: CustomerDetails
    address: AddressDetails
    currency: str  # ISO 4217; every amount is in its minor units
    lines: tuple[LineDetails, ...]
    payment_method: PaymentMethod
    placed_at: datetime
    paid: bool = False  # paid at the channel already (not for COD)
    delivery_speed: DeliverySpeed = DeliverySpeed.STANDARD
    shipping_fee: int = 0
    # How the total is paid, when the channel says more than payment_method (split
    # tenders, cash, transfers); empty: one tender of payment_method for the total.
    tenders: tuple[TenderDetails, ...] = ()
    # Tax on top of the prices when the channel's prices exclude it (minor units).
    tax: int = 0
    # The platform masked or encrypted the receiver (customer, address hold what it sent).
    receiver_masked: bool = False

    @property
    def key(self) -> str:
        """The order id, derived from channel + external id."""
        return str(Order.create_id(self.channel, self.external_id))


@dataclass(frozen=True, kw_only=True)
class ChangeOrder(Command):
    """The channel's new version of an order it sent before: the whole order, not a delta."""

    aggregate_type: ClassVar[str] = "order"
    order_no: str
    channel: str
    external_id: str
    customer: CustomerDetails
    address: AddressDetails
    currency: str
    lines: tuple[LineDetails, ...]
    previous_hash: str  # content hash of the version this one replaces
    content_hash: str
    changed_at: datetime
    shipping_fee: int = 0
    paid: bool = False

    @property
    def key(self) -> str:
        """The order id, derived from channel + external id."""
        return str(Order.create_id(self.channel, self.external_id))


@dataclass(frozen=True, kw_only=True)
class ReservationAnswered(_OrderKeyed, Command):
    """The inventory's answer to one ReserveStock, for the order saga (written by earlier
    versions; read as a ReservationsAnswered of one answer)."""

    aggregate_type: ClassVar[str] = "order"
    order_id: UUID
    line_no: int
    reservation_id: UUID
    sku: str
    location: str
    quantity: int
    outcome: Literal["reserved", "rejected"]
    reason: str = ""  # the domain error code when rejected
    available: int = 0  # units available at the location when answered
    tried: tuple[str, ...] = ()  # locations already asked (the saga's routing slip)


@dataclass(frozen=True, kw_only=True)
class ReservationAnswer:
    """The inventory's answer for one line (a part of ReservationsAnswered)."""

    line_no: int
    reservation_id: UUID
    sku: str
    location: str
    quantity: int
    outcome: Literal["reserved", "rejected"]
    reason: str = ""  # the domain error code when rejected
    available: int = 0  # units available at the location when answered
    tried: tuple[str, ...] = ()  # locations already asked (the saga's routing slip)


@dataclass(frozen=True, kw_only=True)
class ReservationsAnswered(_OrderKeyed, Command):
    """The inventory's answers to the ReserveLines of one order that one inventory
    transaction handled: one reply, however many lines and items."""

    aggregate_type: ClassVar[str] = "order"
    order_id: UUID
    answers: tuple[ReservationAnswer, ...]


@dataclass(frozen=True, kw_only=True)
class RecordPayment(_OrderKeyed, Command):
    """Money received for an order."""

    aggregate_type: ClassVar[str] = "order"
    order_id: UUID
    payment_id: str
    amount: int  # minor units
    currency: str


@dataclass(frozen=True, kw_only=True)
class CancelOrder(_OrderKeyed, Command):
    """Cancel an order before it ships; every reservation is released."""

    aggregate_type: ClassVar[str] = "order"
    order_id: UUID
    reason: str


@dataclass(frozen=True, kw_only=True)
class HoldOrder(_OrderKeyed, Command):
    """An operator holds an order before it goes to a warehouse."""

    aggregate_type: ClassVar[str] = "order"
    order_id: UUID
    reason: str
    actor: str


@dataclass(frozen=True, kw_only=True)
class ReleaseOrder(_OrderKeyed, Command):
    """An operator releases a held order; it carries on to allocation."""

    aggregate_type: ClassVar[str] = "order"
    order_id: UUID
    reason: str = ""
    actor: str


@dataclass(frozen=True, kw_only=True)
class ReviewOrder(_OrderKeyed, Command):
    """An operator's review (审单): approve (released) or reject (cancelled)."""

    aggregate_type: ClassVar[str] = "order"
    order_id: UUID
    approve: bool
    reason: str = ""
    actor: str


@dataclass(frozen=True, kw_only=True)
class AddedLine:
    """A line an operator adds (amounts in minor units)."""

    sku: str
    quantity: int
    unit_price: int
    discount: int = 0


@dataclass(frozen=True, kw_only=True)
class NewQuantity:
    """A line's new quantity."""

    line_no: int
    quantity: int


@dataclass(frozen=True, kw_only=True)
class EditOrder(_OrderKeyed, Command):
    """An operator edits an order before allocation (lines, quantities, address)."""

    aggregate_type: ClassVar[str] = "order"
    order_id: UUID
    add: tuple[AddedLine, ...] = ()
    remove: tuple[int, ...] = ()
    quantities: tuple[NewQuantity, ...] = ()
    address: AddressDetails | None = None
    reason: str = ""
    actor: str


@dataclass(frozen=True, kw_only=True)
class RecordOfflinePayment(_OrderKeyed, Command):
    """Money an operator received outside a provider (bank transfer, cash)."""

    aggregate_type: ClassVar[str] = "order"
    order_id: UUID
    amount: int  # minor units
    currency: str
    method: str  # bank_transfer, cash, postal_remittance
    reference: str
    actor: str


@dataclass(frozen=True, kw_only=True)
class RerouteOrder(_OrderKeyed, Command):
    """An operator moves the lines allocated at one location to another, before pick."""

    aggregate_type: ClassVar[str] = "order"
    order_id: UUID
    from_location: str
    to_location: str
    actor: str


@dataclass(frozen=True, kw_only=True)
class MergeOrders(_OrderKeyed, Command):
    """An operator merges open orders of one customer and address (合单): sent to the
    lead order (``order_id``, the first named), which asks the others to join."""

    aggregate_type: ClassVar[str] = "order"
    order_id: UUID
    group_id: UUID
    order_ids: tuple[UUID, ...]
    actor: str


@dataclass(frozen=True, kw_only=True)
class JoinMerge(_OrderKeyed, Command):
    """The lead asks a member to join its merge group, or (``leave``) to leave it."""

    aggregate_type: ClassVar[str] = "order"
    order_id: UUID
    group_id: UUID
    lead_id: UUID
    actor: str
    leave: bool = False
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class MergedLine:
    """An allocated line of a merge group's member."""

    line_no: int
    sku: str
    quantity: int
    location: str
    reservation_id: UUID


@dataclass(frozen=True, kw_only=True)
class ReportMerge(_OrderKeyed, Command):
    """A member tells its merge group's lead (``order_id``) what it did: joined (with
    the facts the group's rules read), refused, ready (allocated: its lines) or left."""

    aggregate_type: ClassVar[str] = "order"
    order_id: UUID
    group_id: UUID
    member_id: UUID
    kind: Literal["joined", "refused", "ready", "left"]
    reason: str = ""
    order_no: str = ""
    channel: str = ""
    identities: tuple[str, ...] = ()
    address: str = ""
    currency: str = ""
    status: str = ""
    paid: bool = False
    placed_at: datetime | None = None
    lines: tuple[MergedLine, ...] = ()


@dataclass(frozen=True, kw_only=True)
class SplitOrder(_OrderKeyed, Command):
    """An operator splits an order (拆单): by availability, what is in stock ships now
    and the rest is backordered; by location, each location's lines ship on their own."""

    aggregate_type: ClassVar[str] = "order"
    order_id: UUID
    by: Literal["availability", "location"]
    actor: str
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class RecordShipmentWithdrawn(_OrderKeyed, Command):
    """The shipment's answer to a re-route: withdrawn, or refused (picked already)."""

    aggregate_type: ClassVar[str] = "order"
    order_id: UUID
    shipment_id: UUID
    withdrawn: bool
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class RecordInterception(_OrderKeyed, Command):
    """What became of intercepting one shipment of an order being cancelled."""

    aggregate_type: ClassVar[str] = "order"
    order_id: UUID
    shipment_id: UUID
    outcome: Literal["intercepted", "delivered"]
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class ShipLines(_OrderKeyed, Command):
    """A shipment left with these lines of the order."""

    aggregate_type: ClassVar[str] = "order"
    order_id: UUID
    shipment_id: UUID
    line_nos: tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class LineRefund:
    """Units of one line to give back (a part of RefundOrder)."""

    line_no: int
    quantity: int


@dataclass(frozen=True, kw_only=True)
class RefundOrder(_OrderKeyed, Command):
    """Give back units of lines and/or the shipping fee; the order prices it, the
    payment sends it back. No lines and no shipping: everything not refunded yet."""

    aggregate_type: ClassVar[str] = "order"
    order_id: UUID
    refund_id: str  # the idempotency key all the way to the provider
    lines: tuple[LineRefund, ...] = ()
    shipping: bool = False
    reason: str


@dataclass(frozen=True, kw_only=True)
class RecordRefund(_OrderKeyed, Command):
    """The payment gave money back (the provider took the refund)."""

    aggregate_type: ClassVar[str] = "order"
    order_id: UUID
    refund_id: str
    amount: int  # minor units
    currency: str


@dataclass(frozen=True, kw_only=True)
class ReturnLineRequest:
    """Units of one order line to return (a part of RequestReturn): the line by its
    number, or (``line_no`` 0) by its sku, as a channel names it."""

    line_no: int
    quantity: int
    sku: str | None = None


@dataclass(frozen=True, kw_only=True)
class ExchangeLine:
    """Units of a sku the replacement order of an exchange ships."""

    sku: str
    quantity: int


@dataclass(frozen=True, kw_only=True)
class RequestReturn(_OrderKeyed, Command):
    """A customer asks to return units of shipped lines: money back, money back without
    a parcel (``refund_only``, 仅退款) or an exchange (``exchange_lines``, 换货)."""

    aggregate_type: ClassVar[str] = "order"
    order_id: UUID
    return_no: str  # our RMA number; the refund's idempotency key too
    lines: tuple[ReturnLineRequest, ...]
    reason: str  # a reason code of the returns settings
    refund_only: bool = False
    exchange_lines: tuple[ExchangeLine, ...] = ()
    requested_at: datetime


@dataclass(frozen=True, kw_only=True)
class KeptLine:
    """Units of one order line that stay returned (a part of CloseReturn)."""

    line_no: int
    quantity: int


@dataclass(frozen=True, kw_only=True)
class CloseReturn(_OrderKeyed, Command):
    """A return asks nothing more of its order; ``refund``: give back ``lines``."""

    aggregate_type: ClassVar[str] = "order"
    order_id: UUID
    return_id: UUID
    return_no: str
    outcome: str  # refunded, exchanged, rejected, cancelled, nothing_received
    lines: tuple[KeptLine, ...] = ()
    refund: bool = False
    reason: str


@dataclass(frozen=True, kw_only=True)
class CollectedCash:
    """Cash a courier collected at the door (DeliverShipment ``cod_collected``)."""

    amount: int  # minor units
    currency: str


@dataclass(frozen=True, kw_only=True)
class DeliverShipment(_OrderKeyed, Command):
    """A shipment of the order was delivered (from the shipment service); the order
    passes any cash collected at the door on to its payment as CollectCod."""

    aggregate_type: ClassVar[str] = "order"
    order_id: UUID
    shipment_id: UUID
    delivered_at: datetime
    carrier: str
    tracking_no: str
    cod_collected: CollectedCash | None = None


@dataclass(frozen=True, kw_only=True)
class RecordShipmentReturned(_OrderKeyed, Command):
    """A shipment of the order is returned to sender, not on our interception (refused,
    undeliverable; from the shipment service): sent when the carrier brings it back, and
    again with ``received_back`` once the warehouse has it."""

    aggregate_type: ClassVar[str] = "order"
    order_id: UUID
    shipment_id: UUID
    occurred_at: datetime
    reason: str = ""
    received_back: bool = False


# --- payment commands ------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PaymentCommand(Command):
    """A command to the payment of an order, keyed by that payment's id."""

    aggregate_type: ClassVar[str] = "payment"
    order_id: UUID
    order_no: str
    channel: str
    currency: str

    @property
    def key(self) -> str:
        """The order's payment id."""
        return str(Payment.create_id(self.order_id))


@dataclass(frozen=True, kw_only=True)
class CapturePayment(PaymentCommand):
    """Money taken on a tender: the channel's payment at placing, or a collected balance."""

    reference: str  # our reference of the tender (the provider's out_trade_no)
    method: str  # the tender's, from oms_events.domain.order.TENDER_METHODS
    amount: int  # minor units
    order_method: PaymentMethod  # the order's: names the payment opened by this tender
    provider_reference: str = ""


@dataclass(frozen=True, kw_only=True)
class RequestPayment(PaymentCommand):
    """The order owes more (PaymentDue): ask the customer under a new tender."""

    reference: str
    method: str  # from TENDER_METHODS
    amount: int
    order_method: PaymentMethod


@dataclass(frozen=True, kw_only=True)
class RequestRefund(PaymentCommand):
    """Give ``amount`` back to the tenders it came from."""

    refund_id: str
    amount: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class RefundTender:
    """The provider's answer for one tender's share of a refund."""

    tender: str
    provider_refund_id: str


@dataclass(frozen=True, kw_only=True)
class RecordRefundOutcome(PaymentCommand):
    """What the providers answered to a refund (sent by the payment desk)."""

    refund_id: str
    succeeded: bool
    tenders: tuple[RefundTender, ...] = ()
    failure: str = ""


@dataclass(frozen=True, kw_only=True)
class CollectCod(PaymentCommand):
    """The courier collected cash at the door for the order's cash-on-delivery tender
    (sent by the order service on a DeliverShipment carrying the cash, which the
    shipment service sends on a delivered carrier update)."""

    amount: int  # minor units collected
    carrier: str
    tracking_no: str  # the waybill: the key of the courier's remittance file
    collected_at: datetime
    # What this parcel should collect, for an order in several parcels (its tender is
    # collected in parts); None: everything still asked for (a single parcel).
    expected: int | None = None


@dataclass(frozen=True, kw_only=True)
class VoidPayment(PaymentCommand):
    """Withdraw every tender still asked for (the order was cancelled or rejected), or
    only ``reference`` (a balance asked again); sent by the order service, the payment
    desk closes their trades."""

    reason: str
    reference: str | None = None


@dataclass(frozen=True, kw_only=True)
class RecordTradeClosed(PaymentCommand):
    """The payment desk closed the trade of a withdrawn tender at its provider."""

    reference: str  # out_trade_no


@dataclass(frozen=True, kw_only=True)
class RecordCodRemittance(PaymentCommand):
    """One waybill of a courier's remittance file (``oms cod reconcile``): listed with
    what it says was collected, or ``remitted=None`` when missing from the file."""

    carrier: str
    tracking_no: str
    batch: str  # the file: carrier and its shortened SHA-256
    remitted: int | None = None  # minor units; None: missing from the file
    fee: int = 0
    remitted_on: str = ""  # ISO date


@dataclass(frozen=True, kw_only=True)
class SettleRefund(PaymentCommand):
    """A provider's notification settles a refund share it had accepted as processing
    (sent by the notification endpoint)."""

    tender: str  # out_trade_no
    refund_key: str  # out_refund_no
    succeeded: bool
    provider_refund_id: str = ""
    failure: str = ""


# --- inventory commands ----------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class StockCommand(Command):
    """An inventory command: addressed to the item of its (sku, location)."""

    aggregate_type: ClassVar[str] = "inventory"
    sku: str
    location: str

    @property
    def key(self) -> str:
        """The inventory item id of (sku, location)."""
        return item_key(self.sku, self.location)


@dataclass(frozen=True, kw_only=True)
class ReceiveStock(StockCommand):
    """Units arrived at a location (purchase order, transfer)."""

    quantity: int  # > 0
    reason: str = "receipt"  # why stock moves, e.g. a purchase order number
    actor: str = ""  # who received them; empty from earlier versions


@dataclass(frozen=True, kw_only=True)
class ReserveStock(StockCommand):
    """Reserve units for an order line (written by earlier versions; handled as a
    ReserveLines of one line)."""

    order_id: UUID
    line_no: int
    reservation_id: UUID  # per order line and quantity version: a repeat reserves nothing
    quantity: int
    tried: tuple[str, ...] = ()  # locations already asked (the saga's routing slip)


@dataclass(frozen=True, kw_only=True)
class LineToReserve(_AtItem):
    """One line of a ReserveLines: units of a sku at a location for an order line."""

    line_no: int
    reservation_id: UUID  # per order line and quantity version: a repeat reserves nothing
    sku: str
    location: str
    quantity: int
    tried: tuple[str, ...] = ()  # locations already asked (the saga's routing slip)


@dataclass(frozen=True, kw_only=True)
class ReserveLines(_FirstLineKeyed, Command):
    """Reserve stock for those lines of one order whose items live on one inventory
    partition; answered by one ReservationsAnswered. Keyed by the first line's item,
    so it lands on the partition that owns every item it names."""

    aggregate_type: ClassVar[str] = "inventory"
    order_id: UUID
    lines: tuple[LineToReserve, ...]


@dataclass(frozen=True, kw_only=True)
class LineToRelease(_AtItem):
    """One line of a ReleaseLines: a reservation of a sku at a location."""

    reservation_id: UUID
    sku: str
    location: str


@dataclass(frozen=True, kw_only=True)
class ReleaseLines(_FirstLineKeyed, Command):
    """Give reservations of one order back to available (cancel, reject, expiry,
    compensation): one per inventory partition, keyed by the first line's item."""

    aggregate_type: ClassVar[str] = "inventory"
    order_id: UUID
    lines: tuple[LineToRelease, ...]
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class ReleaseStock(StockCommand):
    """Give a reservation back to available (written by earlier versions; handled as a
    ReleaseLines of one line)."""

    order_id: UUID
    reservation_id: UUID
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class LineToCommit(_AtItem):
    """One line of a CommitLines: a reservation of a sku at a location."""

    reservation_id: UUID
    sku: str
    location: str
    # The line's units: a reservation released meanwhile (the order was cancelled, the
    # warehouse shipped anyway) still takes them off hand. 0 from earlier versions.
    quantity: int = 0


@dataclass(frozen=True, kw_only=True)
class CommitLines(_FirstLineKeyed, Command):
    """The reserved units of these lines left the warehouse: one per inventory partition
    of a shipment, keyed by the first line's item."""

    aggregate_type: ClassVar[str] = "inventory"
    order_id: UUID
    lines: tuple[LineToCommit, ...]


@dataclass(frozen=True, kw_only=True)
class CommitStock(StockCommand):
    """The reserved units left the warehouse (written by earlier versions; handled as a
    CommitLines of one line)."""

    order_id: UUID
    reservation_id: UUID


@dataclass(frozen=True, kw_only=True)
class LineToRestock(_AtItem):
    """One line of a RestockLines: units of a sku back at a location."""

    sku: str
    location: str
    quantity: int


@dataclass(frozen=True, kw_only=True)
class RestockLines(_FirstLineKeyed, Command):
    """Units back at the warehouse (a returned parcel) go back on hand, once per
    ``restock_id`` and item: one per inventory partition, keyed by the first line's item."""

    aggregate_type: ClassVar[str] = "inventory"
    restock_id: UUID  # the shipment id of a returned parcel
    lines: tuple[LineToRestock, ...]
    reason: str


# --- stock administration (operators) ----------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AdjustStock(StockCommand):
    """Correct on hand by a signed delta, for a reason an operator names."""

    delta: int  # never 0
    reason: str  # damage | loss | found | count_correction (ADJUSTMENT_REASONS)
    actor: str
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class CountStock(StockCommand):
    """A cycle count: on hand becomes ``counted``."""

    counted: int  # >= 0
    actor: str
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class SetThreshold(StockCommand):
    """Set the low-stock threshold of the item."""

    threshold: int  # >= 0
    actor: str


@dataclass(frozen=True, kw_only=True)
class TransferStock(StockCommand):
    """Dispatch units from ``location`` (the source, the key) to ``to_location``."""

    to_location: str
    transfer_id: UUID
    quantity: int  # > 0
    actor: str
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class ExpectTransfer(StockCommand):
    """The source's follow-up: units of a transfer are in transit to ``location``."""

    transfer_id: UUID
    from_location: str
    quantity: int
    actor: str


@dataclass(frozen=True, kw_only=True)
class ReceiveTransfer(StockCommand):
    """A transfer arrived at ``location`` (its destination)."""

    transfer_id: UUID
    actor: str


# --- shipment commands -----------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CreateShipment(Command):
    """Open the shipment of an allocation."""

    aggregate_type: ClassVar[str] = "shipment"
    shipment_id: UUID
    order_id: UUID
    location: str
    lines: tuple[ShipmentLineDetails, ...]
    # Minor units the parcel costs when the order ships in several (Order.lines_price):
    # what a COD courier collects, printed on its label. None: the whole order.
    parcel_price: int | None = None
    drop_ship: bool = False  # a supplier's: its cancellation goes where its order went
    parcel: str = ""  # "": the order's own at the location; "merge", "backorder": own ids

    @property
    def key(self) -> str:
        """The shipment id."""
        return str(self.shipment_id)


@dataclass(frozen=True, kw_only=True)
class RecordWarehouseUpdate(Command):
    """A warehouse's pick / pack / ship confirmation, as a command to the shipment."""

    aggregate_type: ClassVar[str] = "shipment"
    shipment_id: UUID
    status: Literal["picked", "packed", "shipped"]
    carrier: str | None = None
    tracking_no: str | None = None

    @property
    def key(self) -> str:
        """The shipment id."""
        return str(self.shipment_id)


@dataclass(frozen=True, kw_only=True)
class WithdrawShipment(Command):
    """A re-route takes the shipment's lines elsewhere: cancelled before pick only."""

    aggregate_type: ClassVar[str] = "shipment"
    shipment_id: UUID
    order_id: UUID
    reason: str

    @property
    def key(self) -> str:
        """The shipment id."""
        return str(self.shipment_id)


@dataclass(frozen=True, kw_only=True)
class CancelShipment(Command):
    """The order was cancelled: stop the shipment and tell its warehouse, or, once the
    parcel left, ask the carrier to intercept it."""

    aggregate_type: ClassVar[str] = "shipment"
    shipment_id: UUID
    reason: str
    order_id: UUID | None = None  # a merged parcel: only this order's lines are cancelled

    @property
    def key(self) -> str:
        """The shipment id."""
        return str(self.shipment_id)


@dataclass(frozen=True, kw_only=True)
class RecordParcelReturned(Command):
    """The warehouse received a parcel the carrier brought back: its units go back on hand."""

    aggregate_type: ClassVar[str] = "shipment"
    shipment_id: UUID
    received_at: datetime | None = None

    @property
    def key(self) -> str:
        """The shipment id."""
        return str(self.shipment_id)


@dataclass(frozen=True, kw_only=True)
class AssignWaybill(Command):
    """Give a shipment the e-waybill its label carries, as its pick wave is made."""

    aggregate_type: ClassVar[str] = "shipment"
    shipment_id: UUID
    carrier: str
    tracking_no: str
    wave: str

    @property
    def key(self) -> str:
        """The shipment id."""
        return str(self.shipment_id)


CarrierStatus = Literal[
    "in_transit", "out_for_delivery", "delivered", "delivery_failed", "returned_to_sender"
]


@dataclass(frozen=True, kw_only=True)
class CodAmount:
    """Cash a courier collected at the door (RecordCarrierUpdate ``cod_collected``)."""

    amount: int  # minor units
    currency: str


@dataclass(frozen=True, kw_only=True)
class RecordCarrierUpdate(Command):
    """A carrier's tracking update for a shipment's parcel, normalized by the carrier
    adapter from the carrier's own push format."""

    aggregate_type: ClassVar[str] = "shipment"
    shipment_id: UUID
    carrier: str
    tracking_no: str
    status: CarrierStatus
    occurred_at: datetime
    location: str | None = None
    reason: str | None = None
    eta: datetime | None = None
    signer: str | None = None
    cod_collected: CodAmount | None = None

    @property
    def key(self) -> str:
        """The shipment id."""
        return str(self.shipment_id)


# --- return commands -------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RecordReturnParcelUpdate(Command):
    """A carrier's tracking update for a return's parcel (the customer's parcel back to
    us), normalized by the carrier adapter."""

    aggregate_type: ClassVar[str] = "return"
    return_id: UUID
    carrier: str
    tracking_no: str
    status: CarrierStatus
    occurred_at: datetime
    location: str | None = None
    reason: str | None = None

    @property
    def key(self) -> str:
        """The return id."""
        return str(self.return_id)


class _ReturnKeyed:
    """A command keyed by the return it addresses: its ``return_id``."""

    return_id: UUID

    @property
    def key(self) -> str:
        """The return id."""
        return str(self.return_id)


@dataclass(frozen=True, kw_only=True)
class OpenReturnLine:
    """Units of one order line coming back, with the line's price (minor units)."""

    line_no: int
    sku: str
    quantity: int
    ordered_quantity: int
    unit_price: int
    discount: int


@dataclass(frozen=True, kw_only=True)
class OpenReturn(_ReturnKeyed, Command):
    """Open a return its order accepted (sent by the order service)."""

    aggregate_type: ClassVar[str] = "return"
    return_id: UUID
    order_id: UUID
    order_no: str
    channel: str
    return_no: str
    currency: str
    lines: tuple[OpenReturnLine, ...]
    reason: str
    refund_only: bool = False
    exchange_order_id: UUID | None = None  # the replacement order of an exchange
    exchange_lines: tuple[ExchangeLine, ...] = ()
    requested_at: datetime
    delivered_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class ReviewReturn(_ReturnKeyed, Command):
    """An operator approves or rejects a return the rules left for review."""

    aggregate_type: ClassVar[str] = "return"
    return_id: UUID
    decision: Literal["approve", "reject"]
    by: str
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class ShipReturn(_ReturnKeyed, Command):
    """The customer sent the goods back under this waybill."""

    aggregate_type: ClassVar[str] = "return"
    return_id: UUID
    carrier: str
    tracking_no: str


@dataclass(frozen=True, kw_only=True)
class ReceivedLine:
    """Units of one line that arrived (a part of ReceiveReturn)."""

    line_no: int
    quantity: int


@dataclass(frozen=True, kw_only=True)
class ReceiveReturn(_ReturnKeyed, Command):
    """The goods arrived at ``location``; no lines: everything requested."""

    aggregate_type: ClassVar[str] = "return"
    return_id: UUID
    location: str
    lines: tuple[ReceivedLine, ...] = ()


@dataclass(frozen=True, kw_only=True)
class InspectedLine:
    """The warehouse's verdict on one returned line."""

    line_no: int
    outcome: Literal["resellable", "damaged"]
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class InspectReturn(_ReturnKeyed, Command):
    """Resellable lines are restocked, damaged ones written off."""

    aggregate_type: ClassVar[str] = "return"
    return_id: UUID
    lines: tuple[InspectedLine, ...]


@dataclass(frozen=True, kw_only=True)
class CancelReturn(_ReturnKeyed, Command):
    """The customer withdraws the return before the goods arrive."""

    aggregate_type: ClassVar[str] = "return"
    return_id: UUID
    reason: str


@dataclass(frozen=True, kw_only=True)
class LineAmount:
    """One line's share of a refund, in minor units."""

    line_no: int
    amount: int


@dataclass(frozen=True, kw_only=True)
class RecordReturnRefund(_ReturnKeyed, Command):
    """The order agreed the return's refund at this amount (sent by the order service)."""

    aggregate_type: ClassVar[str] = "return"
    return_id: UUID
    amount: int
    currency: str
    lines: tuple[LineAmount, ...] = ()


# Schema full name -> class: every command a processor can be sent.
COMMANDS: dict[str, type[Command]] = {
    c.schema(): c
    for c in (
        PlaceOrder,
        ChangeOrder,
        ReservationAnswered,
        ReservationsAnswered,
        RecordPayment,
        CancelOrder,
        HoldOrder,
        ReleaseOrder,
        ReviewOrder,
        EditOrder,
        RecordOfflinePayment,
        RerouteOrder,
        MergeOrders,
        JoinMerge,
        ReportMerge,
        SplitOrder,
        RecordShipmentWithdrawn,
        RecordInterception,
        ShipLines,
        DeliverShipment,
        RecordShipmentReturned,
        RefundOrder,
        RecordRefund,
        RequestReturn,
        CloseReturn,
        CapturePayment,
        RequestPayment,
        RequestRefund,
        RecordRefundOutcome,
        CollectCod,
        VoidPayment,
        RecordTradeClosed,
        RecordCodRemittance,
        SettleRefund,
        ReceiveStock,
        ReserveStock,
        ReserveLines,
        ReleaseStock,
        ReleaseLines,
        CommitStock,
        CommitLines,
        RestockLines,
        AdjustStock,
        CountStock,
        SetThreshold,
        TransferStock,
        ExpectTransfer,
        ReceiveTransfer,
        CreateShipment,
        RecordWarehouseUpdate,
        CancelShipment,
        WithdrawShipment,
        RecordParcelReturned,
        RecordCarrierUpdate,
        RecordReturnParcelUpdate,
        OpenReturn,
        ReviewReturn,
        ShipReturn,
        ReceiveReturn,
        InspectReturn,
        RecordReturnRefund,
        CancelReturn,
        AssignWaybill,
    )
}


# --- the wire shape: Avro record <-> typed command ---------------------------------


def from_record(schema: str, record: Mapping[str, Any]) -> Command:
    """The command an Avro-decoded ``record`` of ``schema`` holds.

    Raises UnknownCommand for a schema that is no command, ValueError for a malformed
    id, KeyError / TypeError for a missing field.
    """
    cls = COMMANDS.get(schema)
    if cls is None:
        raise UnknownCommand(f"{schema} is not a command")
    command: Command = _read(cls, record)
    return command


def to_record(command: Command) -> dict[str, Any]:
    """The Avro record of ``command`` (ids as strings, tuples as lists)."""
    record: dict[str, Any] = _write(type(command), command)
    return record


def encode(codec: Codec, command: Command, *, topic: str) -> bytes:
    """``command`` as the bytes of its schema, for ``topic`` (a registry subject may name it)."""
    return codec.encode(command.schema(), to_record(command), topic=topic)


def decode(codec: Codec, value: bytes) -> Command:
    """The command in a record value (raises codec.DecodeError, UnknownCommand, ValueError,
    KeyError)."""
    return from_record(*codec.decode(value))


_Convert = Callable[[Any], Any]


@dataclass(frozen=True)
class _Plan:
    """How one class meets its record, worked out once from its annotations: fields
    Avro already holds in their Python form are copied, the rest converted."""

    plain: tuple[str, ...]
    converted: tuple[tuple[str, _Convert, _Convert], ...]  # (name, read, write)


@cache
def _plan(cls: type) -> _Plan:
    hints = get_type_hints(cls)
    plain, converted = [], []
    for f in dataclasses.fields(cls):
        read, write = _converters(hints[f.name])
        if read is _same:
            plain.append(f.name)
        else:
            converted.append((f.name, read, write))
    return _Plan(tuple(plain), tuple(converted))


def _converters(tp: Any) -> tuple[_Convert, _Convert]:
    """(read, write) for one annotated type."""
    if tp is UUID:
        return _uuid, str
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp, _value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return (lambda v: _read(tp, v)), (lambda v: _write(tp, v))
    if get_origin(tp) is tuple:
        read, write = _converters(get_args(tp)[0])
        return (lambda v: tuple(map(read, v))), (lambda v: list(map(write, v)))
    if get_origin(tp) is types.UnionType and type(None) in get_args(tp):
        # X | None: convert X when it needs converting (a nested record, say)
        (inner,) = [a for a in get_args(tp) if a is not type(None)]
        read, write = _converters(inner)
        if read is not _same:
            return (lambda v: None if v is None else read(v)), (
                lambda v: None if v is None else write(v)
            )
    if tp in (str, int, bool, datetime) or get_origin(tp) is not None:
        return _same, _same  # str | None, Literal[...]: Avro already checked them
    raise TypeError(f"no Avro form for {tp!r}")


def _read(cls: type, record: Mapping[str, Any]) -> Any:
    # A field missing from a hand-built record takes its default, or raises TypeError.
    plan = _plan(cls)
    values = {name: record[name] for name in plan.plain if name in record}
    for name, read, _ in plan.converted:
        if name in record:
            values[name] = read(record[name])
    return cls(**values)


def _write(cls: type, value: Any) -> dict[str, Any]:
    plan = _plan(cls)
    record = {name: getattr(value, name) for name in plan.plain}
    for name, _, write in plan.converted:
        record[name] = write(getattr(value, name))
    return record


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def _value(member: Enum) -> Any:
    return member.value


def _same(value: Any) -> Any:
    return value
