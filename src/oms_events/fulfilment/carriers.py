"""Carrier choice by rules: which carrier takes a parcel, and at what cost.

A carrier rule (``[[carriers]]`` in the rules file, see ``rules.py``) says which
delivery speeds, destination regions and origin locations a carrier serves, its
weight and longest-side limits, whether it collects cash on delivery, and its cost
table. Every rule a parcel passes is a candidate; the cheapest wins, the earlier rule
on a tie. Without ``[[carriers]]`` the rules are built from the OMS_WAREHOUSE_*
carrier settings (:func:`from_settings`) and choose as those always did: the express
carrier for a fast promise, else the location's carrier, else the default one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from oms_events.fulfilment.regions import region_of
from oms_events.fulfilment.rules import CarrierRule, Rules, Speed

FAST_SPEEDS: tuple[Speed, ...] = ("express", "next_day", "same_day")


@dataclass(frozen=True)
class ParcelFacts:
    """What carrier choice reads of a parcel."""

    location: str
    delivery_speed: str
    province: str | None
    weight_g: int
    longest_side_mm: int
    cod: bool


@dataclass(frozen=True)
class CarrierChoice:
    """The carrier chosen, its cost, and how many carriers could have taken it."""

    carrier: str
    cost: float
    candidates: int


def from_settings(
    carriers: Mapping[str, str], default_carrier: str, express_carrier: str
) -> tuple[CarrierRule, ...]:
    """The OMS_WAREHOUSE_* carrier settings as rules (every cost 0: the first wins)."""
    return (
        CarrierRule(carrier=express_carrier, speeds=FAST_SPEEDS, cod=True),
        *(
            CarrierRule(carrier=c, speeds=("standard",), locations=(loc,), cod=True)
            for loc, c in sorted(carriers.items())
        ),
        CarrierRule(carrier=default_carrier, speeds=("standard",), cod=True),
    )


def carrier_rules(
    rules: Rules | None, carriers: Mapping[str, str], default_carrier: str, express_carrier: str
) -> tuple[CarrierRule, ...]:
    """The file's ``[[carriers]]`` when it has any, else the settings' rule."""
    if rules is not None and rules.carriers:
        return rules.carriers
    return from_settings(carriers, default_carrier, express_carrier)


def takes(rule: CarrierRule, parcel: ParcelFacts) -> bool:
    """Whether ``rule``'s carrier may take ``parcel``."""
    region = region_of(parcel.province)
    return (
        parcel.delivery_speed in rule.speeds
        and (not rule.regions or region in rule.regions)
        and (not rule.locations or parcel.location in rule.locations)
        and (rule.max_weight_g is None or parcel.weight_g <= rule.max_weight_g)
        and (rule.max_side_mm is None or parcel.longest_side_mm <= rule.max_side_mm)
        and (rule.cod or not parcel.cod)
    )


def cost(rule: CarrierRule, parcel: ParcelFacts) -> float:
    """The parcel's price: the base (or the destination region's) plus ``per_kg`` for
    each started kilogram above the first."""
    region = region_of(parcel.province)
    base = rule.cost.regions.get(region, rule.cost.base) if region else rule.cost.base
    extra_kg = max(0, math.ceil(parcel.weight_g / 1000) - 1)
    return base + rule.cost.per_kg * extra_kg


def choose(parcel: ParcelFacts, rules: Sequence[CarrierRule]) -> CarrierChoice | None:
    """The cheapest carrier whose rule takes ``parcel`` (earlier rule on a tie), or None."""
    fitting = [(cost(r, parcel), i, r) for i, r in enumerate(rules) if takes(r, parcel)]
    if not fitting:
        return None
    price, _, rule = min(fitting, key=lambda f: (f[0], f[1]))
    return CarrierChoice(rule.carrier, price, len({r.carrier for _, _, r in fitting}))
