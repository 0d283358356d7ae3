"""The order processor: Order aggregates, with the order saga deciding each next step.

Consumes ``oms.order.commands`` keyed by order id:

* PlaceOrder (the intake contract) -> OrderPlaced (+ PaymentRecorded when paid at
  the channel) and ReserveStock per line; a repeat of the same channel order is
  acknowledged and ignored (the order id is derived from channel + external id)
* ReservationAnswered (the inventory's reply) -> LineReserved, then confirm and
  allocate, or compensate and reject, as the saga decides
* RecordPayment -> PaymentRecorded, and the saga may confirm
* CancelOrder -> OrderCancelled and ReleaseStock for every reservation
* ShipLines (from the shipment processor) -> LineShipped / OrderShipped

A timer cancels unpaid prepaid orders whose reservations outlived the workflow's
``reservation_ttl`` and releases their stock.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog

from oms_events.domain.customer import Address, Customer
from oms_events.domain.line import OrderLine
from oms_events.domain.money import Money
from oms_events.domain.order import DeliverySpeed, Order, OrderStatus, PaymentMethod
from oms_events.engine.commands import Command
from oms_events.engine.order_saga import OrderSaga
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition
from oms_events.engine.service import Service

log = structlog.get_logger(__name__)

# Orders whose stock may expire: open, prepaid, not yet paid.
_EXPIRABLE = (OrderStatus.PENDING, OrderStatus.PRE_ORDER, OrderStatus.ON_HOLD)
EXPIRED = "reservation.expired"


class OrderService(Service):
    """Handlers of order commands; the saga is consulted after each one."""

    name = "order"
    aggregate_type = "order"
    has_timers = True

    def __init__(self, saga: OrderSaga) -> None:
        self.saga = saga
        # partition -> ids of orders that may expire (kept small: only unpaid ones)
        self.unpaid: dict[int, set[UUID]] = {}

    def key(self, name: str, payload: dict[str, Any]) -> str:
        """PlaceOrder names its order by channel + external id; the rest carry order_id."""
        if name == "PlaceOrder":
            return str(Order.create_id(payload["channel"], payload["external_id"]))
        return str(UUID(str(payload["order_id"])))

    def handle(self, command: Command, partition: Partition, out: Outbox) -> None:
        """Dispatch on the command name, then keep the expiry index current."""
        order_id = UUID(command.key)
        order: Order | None = partition.get(order_id)
        cause = command.command_id
        if command.name == "PlaceOrder":
            if order is not None:
                return  # the same channel order again: acknowledged, ignored
            order = self._place(command.payload)
            self.saga.placed(order, out, cause)
        elif order is None:
            raise ValueError(f"order {order_id} does not exist")
        elif command.name == "ReservationAnswered":
            self.saga.answered(order, command.payload, out, cause)
        elif command.name == "RecordPayment":
            p = command.payload
            order.record_payment(p["payment_id"], Money(p["amount"], p["currency"]))
            self.saga.advance(order, out, cause)
        elif command.name == "CancelOrder":
            self.saga.cancel(order, command.payload["reason"], out, cause)
        elif command.name == "ShipLines":
            for line_no in command.payload["line_nos"]:
                order.ship_line(line_no, command.payload["shipment_id"])
        else:
            raise ValueError(f"order has no command {command.name}")
        out.events("order", partition, order, cause)
        self._index(partition.number, order)

    @staticmethod
    def _place(p: dict[str, Any]) -> Order:
        currency = p["currency"]
        order = Order.place(
            order_no=p["order_no"],
            channel=p["channel"],
            external_id=p["external_id"],
            customer=Customer(**p["customer"]),
            address=Address(**p["address"]),
            lines=[
                OrderLine(
                    line_no=line["line_no"],
                    sku=line["sku"],
                    quantity=line["quantity"],
                    unit_price=Money(line["unit_price"], currency),
                    discount=Money(line.get("discount", 0), currency),
                    promotions=tuple(line.get("promotions") or ()),
                )
                for line in p["lines"]
            ],
            payment_method=PaymentMethod(p["payment_method"]),
            placed_at=p["placed_at"],
            delivery_speed=DeliverySpeed(p["delivery_speed"]),
            shipping_fee=Money(p.get("shipping_fee", 0), currency),
        )
        if p.get("paid") and not order.is_cod and order.total.amount > 0:
            order.record_payment(f"{order.channel}:{order.external_id}", order.total)
        return order

    # --- reservation expiry ------------------------------------------------------

    def _index(self, number: int, order: Order) -> None:
        unpaid = self.unpaid.setdefault(number, set())
        if order.status in _EXPIRABLE and not (order.is_paid or order.is_cod):
            unpaid.add(order.id)
        else:
            unpaid.discard(order.id)

    def rebuilt(self, partition: Partition) -> None:
        """Index the partition's unpaid open orders for the expiry timer."""
        self.unpaid[partition.number] = set()
        for order in partition.aggregates.values():
            if isinstance(order, Order):
                self._index(partition.number, order)

    def revoked(self, number: int) -> None:
        """Forget the expiry index of a partition now owned elsewhere."""
        self.unpaid.pop(number, None)

    def due(self, now: float, partitions: dict[int, Partition]) -> bool:
        """True when some unpaid order's reservations have expired."""
        at = datetime.fromtimestamp(now, UTC)
        return any(
            self.saga.expired(order, at)
            for number, partition in partitions.items()
            for order_id in self.unpaid.get(number, ())
            if (order := partition.get(order_id)) is not None
        )

    def tick(self, now: float, partitions: dict[int, Partition], out: Outbox) -> None:
        """Cancel orders whose reservations expired, releasing their stock."""
        at = datetime.fromtimestamp(now, UTC)
        for number, partition in partitions.items():
            for order_id in list(self.unpaid.get(number, ())):
                order = partition.get(order_id)
                if self.saga.expired(order, at):
                    cause = f"expire/{order_id}"
                    self.saga.cancel(order, EXPIRED, out, cause)
                    out.events("order", partition, order, cause)
                    self._index(number, order)
                    log.info("reservation expired", order_id=str(order_id))
