"""One test per carrier rule on the pure choice: speed, destination, weight and size
limits, COD, cost; and the OMS_WAREHOUSE_* rule it replaces chooses as before."""

from __future__ import annotations

from dataclasses import replace

from oms_events.fulfilment.carriers import ParcelFacts, carrier_rules, choose, from_settings
from oms_events.fulfilment.rules import parse

PARCEL = ParcelFacts(
    location="WH-SH",
    delivery_speed="standard",
    province="浙江省",
    weight_g=800,
    longest_side_mm=300,
    cod=False,
)


def rules(text: str):  # type: ignore[no-untyped-def]
    return parse(text).carriers


def test_speed_fast_parcels_only_go_with_a_carrier_serving_that_speed() -> None:
    table = rules(
        '[[carriers]]\ncarrier = "ZTO"\nspeeds = ["standard"]\n'
        '[[carriers]]\ncarrier = "SF"\nspeeds = ["standard", "next_day"]\ncost = { base = 20.0 }\n'
    )
    assert choose(PARCEL, table).carrier == "ZTO"  # type: ignore[union-attr]
    assert choose(replace(PARCEL, delivery_speed="next_day"), table).carrier == "SF"  # type: ignore[union-attr]
    assert choose(replace(PARCEL, delivery_speed="same_day"), table) is None


def test_destination_region_limits_a_carrier() -> None:
    table = rules(
        '[[carriers]]\ncarrier = "YTO"\nregions = ["华东"]\n'
        '[[carriers]]\ncarrier = "JD"\ncost = { base = 9.0 }\n'
    )
    assert choose(PARCEL, table).carrier == "YTO"  # type: ignore[union-attr]
    assert choose(replace(PARCEL, province="新疆维吾尔自治区"), table).carrier == "JD"  # type: ignore[union-attr]


def test_weight_and_size_limits() -> None:
    table = rules(
        '[[carriers]]\ncarrier = "ZTO"\nmax_weight_g = 20000\nmax_side_mm = 1000\n'
        '[[carriers]]\ncarrier = "JD"\ncost = { base = 30.0 }\n'
    )
    assert choose(PARCEL, table).carrier == "ZTO"  # type: ignore[union-attr]
    assert choose(replace(PARCEL, weight_g=20001), table).carrier == "JD"  # type: ignore[union-attr]
    assert choose(replace(PARCEL, longest_side_mm=1200), table).carrier == "JD"  # type: ignore[union-attr]
    assert choose(replace(PARCEL, weight_g=20000, longest_side_mm=1000), table).carrier == "ZTO"  # type: ignore[union-attr]


def test_cod_parcels_only_go_with_a_carrier_that_collects() -> None:
    table = rules(
        '[[carriers]]\ncarrier = "ZTO"\n'
        '[[carriers]]\ncarrier = "SF"\ncod = true\ncost = { base = 15.0 }\n'
    )
    assert choose(PARCEL, table).carrier == "ZTO"  # type: ignore[union-attr]
    assert choose(replace(PARCEL, cod=True), table).carrier == "SF"  # type: ignore[union-attr]


def test_cost_table_cheapest_wins_by_region_and_weight() -> None:
    table = rules(
        '[[carriers]]\ncarrier = "ZTO"\ncost = { base = 6.0, per_kg = 4.0 }\n'
        '[[carriers]]\ncarrier = "STO"\n'
        'cost = { base = 8.0, per_kg = 1.0, regions = { "华东" = 5.0 } }\n'
    )
    light = choose(replace(PARCEL, province="广东"), table)
    assert light is not None and (light.carrier, light.cost, light.candidates) == ("ZTO", 6.0, 2)
    # 3.2 kg: three started kilos above the first (ZTO 6 + 12, STO 8 + 3).
    heavy = choose(replace(PARCEL, province="广东", weight_g=3200), table)
    assert heavy is not None and (heavy.carrier, heavy.cost) == ("STO", 11.0)
    # 华东 has its own STO price.
    assert choose(PARCEL, table).carrier == "STO"  # type: ignore[union-attr]


def test_without_carrier_rules_the_warehouse_settings_choose_as_before() -> None:
    table = carrier_rules(parse(""), {"WH-GZ": "YTO"}, "ZTO", "SF")
    assert table == from_settings({"WH-GZ": "YTO"}, "ZTO", "SF")
    assert choose(PARCEL, table).carrier == "ZTO"  # type: ignore[union-attr]
    assert choose(replace(PARCEL, location="WH-GZ"), table).carrier == "YTO"  # type: ignore[union-attr]
    fast = replace(PARCEL, location="WH-GZ", delivery_speed="same_day", cod=True, weight_g=90000)
    assert choose(fast, table).carrier == "SF"  # type: ignore[union-attr]
