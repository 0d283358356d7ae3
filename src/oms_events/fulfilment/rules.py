"""The fulfilment rules file (TOML, named by ``OMS_FULFILMENT_RULES``), validated.

Example (every table is optional; an empty file means "today's behaviour")::

    [sourcing]
    rank_by = ["priority", "distance", "cost", "stock"]  # first criterion decides
    max_shipments = 2        # most locations one order ships from
    split_lines = false      # may one line's units come from two locations

    [sourcing.priorities]
    channels = { tmall = ["WH-SH"] }     # these locations first for a channel
    regions = { "华南" = ["WH-GZ"] }      # ... or for a ship-to region

    [locations.WH-SH]
    province = "上海"
    cost = 8.0               # CNY per shipment from here
    [locations.WH-GZ]
    province = "广东省"
    cost = 6.0
    [locations.ST-SZ-01]
    province = "广东"
    city = "深圳"
    pickup = true            # a store where buyers collect orders (门店自取)

    [[suppliers]]            # drop-ship (代发): the supplier ships these skus; its
                             # stock is booked at location SUP-ACME (its feed)
    id = "SUP-ACME"
    skus = ["SKU-SOFA"]
    only_when_short = false  # true: only when no location of ours has the units

    [[carriers]]             # see carriers.py; none: the OMS_WAREHOUSE_* carrier rule
    carrier = "SF"
    speeds = ["express", "next_day", "same_day"]
    cod = true
    max_weight_g = 30000
    cost = { base = 12.0, per_kg = 2.0, regions = { "西北" = 20.0 } }

    [[boxes]]                # the box catalogue, inner size in mm
    id = "S"
    length_mm = 200
    width_mm = 150
    height_mm = 100
    max_weight_g = 5000

A mistake is reported as one line naming the field and the fix, e.g.
``rules.toml: locations.WH-SH.province: unknown province '沪'; use a province name
such as 上海 or 广东省``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from oms_events.fulfilment.regions import REGIONS, province_key
from oms_events.waybills.formats import FORMATS

Speed = Literal["standard", "express", "next_day", "same_day"]
Criterion = Literal["priority", "distance", "cost", "stock"]
SPEEDS: tuple[Speed, ...] = ("standard", "express", "next_day", "same_day")
CRITERIA: tuple[Criterion, ...] = ("priority", "distance", "cost", "stock")


class RulesError(ValueError):
    """The rules file is unreadable or invalid; the message is one line."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_region(value: str) -> str:
    if value not in REGIONS:
        raise ValueError(f"unknown region {value!r}; use one of {', '.join(REGIONS)}")
    return value


class Priorities(_Model):
    """Locations tried first, per channel and per ship-to region."""

    channels: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    regions: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    @field_validator("regions")
    @classmethod
    def _regions(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for region in value:
            _check_region(region)
        return value


class SourcingRules(_Model):
    """How an order's lines are placed on locations."""

    rank_by: tuple[Criterion, ...] = CRITERIA
    max_shipments: int = Field(0, ge=0)  # 0: no limit
    split_lines: bool = False
    priorities: Priorities = Field(default_factory=Priorities)

    @field_validator("rank_by")
    @classmethod
    def _distinct(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("a criterion is listed twice; list each of them once")
        return value


class Location(_Model):
    """A stock location: where it is, what a shipment from it costs, whether buyers
    collect orders there."""

    province: str
    city: str | None = None
    cost: float = Field(0.0, ge=0)
    pickup: bool = False

    @field_validator("province")
    @classmethod
    def _province(cls, value: str) -> str:
        if province_key(value) is None:
            raise ValueError(
                f"unknown province {value!r}; use a province name such as 上海 or 广东省"
            )
        return value


class Supplier(_Model):
    """A drop-ship supplier (代发): ships ``skus`` to the buyer itself. Its stock is
    booked in the inventory at a location named by ``id`` (from the supplier's feed,
    e.g. ``oms stock receive SKU-SOFA SUP-ACME 50``), so a line it takes is reserved
    like any other and its allocation becomes a purchase order on ``oms.dropship``."""

    id: str = Field(min_length=1)
    skus: tuple[str, ...] = Field(min_length=1)
    only_when_short: bool = False


class CarrierCost(_Model):
    """A carrier's price: ``base`` per parcel (``regions`` overrides it per destination
    region) plus ``per_kg`` for each started kilogram above the first."""

    base: float = Field(0.0, ge=0)
    per_kg: float = Field(0.0, ge=0)
    regions: dict[str, float] = Field(default_factory=dict)

    @field_validator("regions")
    @classmethod
    def _regions(cls, value: dict[str, float]) -> dict[str, float]:
        for region in value:
            _check_region(region)
        return value


class CarrierRule(_Model):
    """When a carrier may take a parcel, and what it costs. Empty lists: any."""

    carrier: str
    speeds: tuple[Speed, ...] = SPEEDS
    regions: tuple[str, ...] = ()
    locations: tuple[str, ...] = ()
    max_weight_g: int | None = Field(None, gt=0)
    max_side_mm: int | None = Field(None, gt=0)
    cod: bool = False
    cost: CarrierCost = Field(default_factory=CarrierCost)

    @field_validator("carrier")
    @classmethod
    def _carrier(cls, value: str) -> str:
        if value not in FORMATS:
            raise ValueError(f"unknown carrier {value!r}; use one of {', '.join(FORMATS)}")
        return value

    @field_validator("regions")
    @classmethod
    def _regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for region in value:
            _check_region(region)
        return value


class Box(_Model):
    """A carton of the catalogue: inner size and the weight it may hold."""

    id: str = Field(min_length=1)
    length_mm: int = Field(gt=0)
    width_mm: int = Field(gt=0)
    height_mm: int = Field(gt=0)
    max_weight_g: int = Field(gt=0)

    @property
    def dims(self) -> tuple[int, int, int]:
        """Inner sides, longest first."""
        a, b, c = sorted((self.length_mm, self.width_mm, self.height_mm), reverse=True)
        return a, b, c

    @property
    def volume(self) -> int:
        """Inner volume in mm³."""
        return self.length_mm * self.width_mm * self.height_mm


class Rules(_Model):
    """The whole rules file."""

    sourcing: SourcingRules = Field(default_factory=SourcingRules)
    locations: dict[str, Location] = Field(default_factory=dict)
    suppliers: tuple[Supplier, ...] = ()
    carriers: tuple[CarrierRule, ...] = ()
    boxes: tuple[Box, ...] = ()

    @model_validator(mode="after")
    def _known_locations(self) -> Rules:
        p = self.sourcing.priorities
        for where, table in (("channels", p.channels), ("regions", p.regions)):
            for key, locations in table.items():
                for location in locations:
                    if location not in self.locations:
                        raise ValueError(
                            f"sourcing.priorities.{where}.{key}: location {location!r} is not "
                            f"in [locations]; add [locations.{location}] with its province"
                        )
        for n, supplier in enumerate(self.suppliers):
            if supplier.id in self.locations:
                raise ValueError(
                    f"suppliers.{n}.id: {supplier.id!r} is also a location; give the "
                    "supplier an id of its own (its stock is booked under that id)"
                )
        return self

    @property
    def supplier_ids(self) -> set[str]:
        """The drop-ship suppliers' ids (each is also its stock location's id)."""
        return {s.id for s in self.suppliers}

    def location_of(self, location: str) -> Location | None:
        """The location's entry, or None for one the file does not describe."""
        return self.locations.get(location)


def _where(loc: tuple[int | str, ...]) -> str:
    # A check across fields (no location) names its fields in its message.
    return "".join(f"{part}." for part in loc).removesuffix(".") + ": " if loc else ""


def parse(text: str, source: str = "rules") -> Rules:
    """The rules in ``text`` (TOML); RulesError names the first bad field and its fix."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{source}: not valid TOML ({exc}); fix the syntax there") from None
    try:
        return Rules.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = "unknown field; remove it or check its spelling against the example"
        elif first["type"] == "missing":
            message = "required; add it"
        raise RulesError(f"{source}: {_where(first['loc'])}{message}") from None


def load(path: Path) -> Rules:
    """The rules file at ``path``; RulesError (one line) when unreadable or invalid."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(
            f"{path}: cannot read ({exc.strerror}); check OMS_FULFILMENT_RULES"
        ) from None
    return parse(text, str(path))
