"""The customers and the returns desk of a full-life simulation (``oms simulate``).

A customer whose order was drawn for a return (or an exchange) asks for it once one of
its parcels is delivered: RequestReturn for one unit of a line in that parcel, reason
``quality`` (approved by the rules). Once the return is approved (ReturnApproved on
``oms.return.events``) the customer sends the unit back (ShipReturn, a carrier and a
waybill; the carrier simulator carries it); once that parcel is delivered to the
warehouse, the warehouse receives it (ReceiveReturn at the location it left) and
inspects it (InspectReturn: resellable, or one in ten damaged). An exchange's
replacement order (channel ``exchange``) is shipped like any other order.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from oms_events.carriersim.life import pick_carrier, waybill_number
from oms_events.domain.returns import Return
from oms_events.engine.commands import (
    Command,
    ExchangeLine,
    InspectedLine,
    InspectReturn,
    ReceiveReturn,
    RequestReturn,
    ReturnLineRequest,
    ShipReturn,
)
from oms_events.engine.order_returns import exchange_order_id

REASON = "quality"  # approved by the default rules, so no operator is needed


@dataclass(frozen=True)
class Parcel:
    """An outbound parcel of the simulation: whose, from where, one line in it, and
    how many units it holds."""

    order_id: str
    location: str
    line_no: int
    sku: str
    shipment_id: str = ""
    units: int = 1


@dataclass
class ReturnTally:
    """What the returns desk did."""

    requested: int = 0
    exchanges: int = 0
    shipped_back: int = 0
    received: int = 0
    damaged: int = 0


class ReturnsDesk:
    """Customers asking for returns and the warehouse taking them back; ``send`` puts a
    command on its topic."""

    def __init__(
        self, run_id: str, seed: int, wanted: dict[str, str], send: Callable[[Command], None]
    ) -> None:
        self.run_id, self.wanted, self.send = run_id, wanted, send
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.asked: set[str] = set()  # order ids whose return was requested
        self.returns: dict[str, Parcel] = {}  # return id -> the parcel it comes from
        self.waybills: dict[str, str] = {}  # return parcel's tracking number -> return id
        self.replacements: set[str] = set()  # exchange orders to ship
        self.tally = ReturnTally()

    def delivered(self, parcel: Parcel) -> None:
        """An outbound parcel was delivered: its customer may ask for a return."""
        kind = self.wanted.get(parcel.order_id)
        with self.lock:
            if kind is None or parcel.order_id in self.asked:
                return
            self.asked.add(parcel.order_id)
            return_no = f"RMA-{self.run_id}-{len(self.asked):05d}"
            order_id = UUID(parcel.order_id)
            self.returns[str(Return.create_id(order_id, return_no))] = parcel
            self.tally.requested += 1
            if kind == "exchange":
                self.replacements.add(str(exchange_order_id(return_no)))
                self.tally.exchanges += 1
        self.send(
            RequestReturn(
                command_id=f"{return_no}/request",
                order_id=order_id,
                return_no=return_no,
                lines=(ReturnLineRequest(line_no=parcel.line_no, quantity=1),),
                reason=REASON,
                exchange_lines=(
                    (ExchangeLine(sku=parcel.sku, quantity=1),) if kind == "exchange" else ()
                ),
                requested_at=datetime.now(UTC),
            )
        )

    def approved(self, return_id: str) -> str | None:
        """A return was approved: the customer ships the unit back. The waybill, or None
        for another run's return."""
        with self.lock:
            if return_id not in self.returns or return_id in self.waybills.values():
                return None
            carrier = pick_carrier(self.random)
            tracking_no = waybill_number(carrier, self.random)
            self.waybills[tracking_no] = return_id
            self.tally.shipped_back += 1
        self.send(
            ShipReturn(
                command_id=f"{return_id}/ship",
                return_id=UUID(return_id),
                carrier=carrier,
                tracking_no=tracking_no,
            )
        )
        return tracking_no

    def arrived(self, tracking_no: str) -> bool:
        """A return parcel was delivered to the warehouse: receive and inspect it. False
        when the waybill is not one of this desk's."""
        with self.lock:
            return_id = self.waybills.pop(tracking_no, None)
            if return_id is None:
                return False
            parcel = self.returns[return_id]
            damaged = self.random.random() < 0.1
            self.tally.received += 1
            self.tally.damaged += int(damaged)
        rid = UUID(return_id)
        self.send(
            ReceiveReturn(
                command_id=f"{return_id}/receive", return_id=rid, location=parcel.location
            )
        )
        self.send(
            InspectReturn(
                command_id=f"{return_id}/inspect",
                return_id=rid,
                lines=(
                    InspectedLine(
                        line_no=parcel.line_no,
                        outcome="damaged" if damaged else "resellable",
                        reason="外包装破损 (simulated)" if damaged else None,
                    ),
                ),
            )
        )
        return True

    @property
    def open(self) -> int:
        """Returns requested and not yet received."""
        return self.tally.requested - self.tally.received
