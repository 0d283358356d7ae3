"""Who ordered and where it goes: the customer and the delivery address."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from oms_events.domain.errors import InvalidAddress, InvalidOrder


@dataclass(frozen=True, slots=True)
class Customer:
    """The buyer as the channel knows them; ``account`` is the channel's account id."""

    name: str
    phone: str | None = None
    account: str | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise InvalidOrder(detail="customer name is empty")
        if not (self.phone or self.account):
            # Customer service finds orders by phone or account; one must exist.
            raise InvalidOrder(detail="customer needs a phone or an account")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Customer:
        """Build from the event form."""
        return cls(name=data["name"], phone=data.get("phone"), account=data.get("account"))

    def to_dict(self) -> dict[str, Any]:
        """The event form: a dict of str or None."""
        return {"name": self.name, "phone": self.phone, "account": self.account}

    def identities(self) -> frozenset[str]:
        """Phone and account, the keys a review list can name."""
        return frozenset(v for v in (self.phone, self.account) if v)


@dataclass(frozen=True, slots=True)
class Address:
    """A delivery address.

    Chinese addresses need province and city (省/市); elsewhere line1 and country
    suffice (a city-state has no city). ``country`` is ISO 3166-1 alpha-2.

    The district (区/县) is optional, also in China: a few prefecture-level cities
    have none (东莞, 中山, 嘉峪关, 儋州), and Shopify-style web orders carry no such
    field (``address1``, ``address2``, ``city``, ``province``, ``zip``; their ``city``
    is "the city, district, village, or town"), so the district, when there is one,
    sits in ``line1``, where the carrier's routing reads it. This is the one
    definition: the intake refuses what it refuses before answering 202.
    """

    line1: str
    country: str
    city: str | None = None
    province: str | None = None
    district: str | None = None
    postcode: str | None = None

    def __post_init__(self) -> None:
        if not self.line1.strip():
            raise InvalidAddress(detail="line1 is empty")
        if len(self.country) != 2 or not self.country.isalpha() or not self.country.isupper():
            raise InvalidAddress(detail=f"country {self.country!r} is not ISO alpha-2")
        if self.country == "CN" and not (self.province and self.city):
            raise InvalidAddress(detail="a Chinese address needs province and city")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Address:
        """Build from the event form."""
        return cls(
            line1=data["line1"],
            country=data["country"],
            city=data.get("city"),
            province=data.get("province"),
            district=data.get("district"),
            postcode=data.get("postcode"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The event form: a dict of str or None."""
        return {
            "line1": self.line1,
            "country": self.country,
            "city": self.city,
            "province": self.province,
            "district": self.district,
            "postcode": self.postcode,
        }
