"""Sourcing rules through the engine: with a rules file, an order shipping to 浙江 is
allocated from the Shanghai warehouse (same region) although Beijing has far more
stock, and the allocation record names the rule that chose it; a drop-shipped sku is
reserved at its supplier and ordered from it on oms.dropship."""

from __future__ import annotations

import uuid
from pathlib import Path

from oms_events import topics
from oms_events.engine.runner import Engine
from oms_events.settings import Settings
from tests.integration.engine.harness import (
    CODEC,
    engine_settings,
    light,
    place_order,
    read_topic,
    receive,
    send,
    wait_for,
)

RULES = """
[locations.SH]
province = "上海"
cost = 8.0
[locations.BJ]
province = "北京"
cost = 5.0
[[suppliers]]
id = "SUP-SOFA"
skus = ["SOFA"]
"""


def test_the_allocation_records_the_rule_that_chose_its_location(
    isolated: Settings, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES, encoding="utf-8")
    settings = light(isolated).replace(fulfilment={"rules": rules})
    receive(settings, {("TEA", "SH"): 5, ("TEA", "BJ"): 100, ("SOFA", "SUP-SOFA"): 3})
    engine = Engine(engine_settings(settings))
    engine.start()
    try:
        assert wait_for(lambda: engine.stock.available("TEA", "BJ") == 100, 60, 0.2)
        assert wait_for(lambda: engine.stock.available("TEA", "SH") == 5, 60, 0.2)
        assert wait_for(lambda: engine.stock.available("SOFA", "SUP-SOFA") == 3, 60, 0.2)
        send(
            settings,
            [
                place_order(f"R-{uuid.uuid4().hex[:6]}", "TEA", quantity=2),
                place_order(f"R-{uuid.uuid4().hex[:6]}", "SOFA", quantity=1),
            ],
        )
        allocations = topics.name(settings, topics.ALLOCATIONS)
        dropship = topics.name(settings, topics.DROPSHIP)
        assert wait_for(lambda: len(read_topic(settings, allocations)) == 1, 90, 0.5)
        assert wait_for(lambda: len(read_topic(settings, dropship)) == 1, 90, 0.5)
    finally:
        engine.stop()
    [record] = read_topic(settings, allocations)
    _, allocation = CODEC.decode(record.value or b"")
    # The buyer is in 浙江 (华东): Shanghai is one hop away, Beijing two.
    assert (allocation["location"], allocation["rule"]) == ("SH", "distance")
    [record] = read_topic(settings, dropship)
    name, purchase = CODEC.decode(record.value or b"")
    assert (name, record.key, purchase["rule"]) == (
        "oms.dropship.PurchaseOrder",
        b"SUP-SOFA",
        "dropship",
    )
    assert [(ln["sku"], ln["quantity"]) for ln in purchase["lines"]] == [("SOFA", 1)]
