"""A shipment as the warehouse floor sees it: lines, recipient, address, waybill, COD."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True)
class ParcelLine:
    """One line of a parcel."""

    line_no: int
    sku: str
    quantity: int


@dataclass(frozen=True)
class Address:
    """A delivery address, printed Chinese style (province → street) in China."""

    country: str
    province: str | None
    city: str | None
    district: str | None
    line1: str
    postcode: str | None = None

    def text(self) -> str:
        """One line: ``广东省深圳市南山区科技园路1号`` in China, else line1, city, … country."""
        if self.country == "CN":
            return "".join(p for p in (self.province, self.city, self.district, self.line1) if p)
        parts = (self.line1, self.district, self.city, self.province, self.postcode, self.country)
        return ", ".join(p for p in parts if p)


@dataclass(frozen=True)
class Parcel:
    """One shipment with what its documents print."""

    shipment_id: UUID
    order_id: UUID
    order_no: str
    location: str
    status: str
    lines: tuple[ParcelLine, ...]
    recipient: str
    phone: str | None
    address: Address
    delivery_speed: str
    currency: str
    cod_amount: int | None  # minor units the courier collects at the door; None: prepaid
    created_at: datetime
    carrier: str | None = None
    tracking_no: str | None = None
    wave: str | None = None

    @property
    def units(self) -> int:
        """Units in the parcel."""
        return sum(line.quantity for line in self.lines)

    def expected(self) -> dict[str, int]:
        """Units per sku: what packing must scan."""
        counts: dict[str, int] = {}
        for line in self.lines:
            counts[line.sku] = counts.get(line.sku, 0) + line.quantity
        return counts


@dataclass(frozen=True)
class Sender:
    """Who a label says the parcel is from: the shop's name and phone, and the return
    address of each location (the location id when none is set)."""

    name: str
    phone: str
    addresses: Mapping[str, str] = field(default_factory=dict)

    def address(self, location: str) -> str:
        """The return address of ``location``."""
        return self.addresses.get(location) or location
