"""Sourcing rules through the engine: with a rules file, an order shipping to 浙江 is
allocated from the Shanghai warehouse (same region) although Beijing has far more
stock, and the allocation record names the rule that chose it; a drop-shipped sku is
reserved at its supplier and ordered from it on oms.dropship, and its cancellation
reaches the supplier there too."""

from __future__ import annotations

import uuid
from pathlib import Path
from uuid import UUID

from oms_events import topics
from oms_events.engine.commands import CancelOrder
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
        sofa = place_order(f"R-{uuid.uuid4().hex[:6]}", "SOFA", quantity=1)
        send(settings, [place_order(f"R-{uuid.uuid4().hex[:6]}", "TEA", quantity=2), sofa])
        allocations = topics.name(settings, topics.ALLOCATIONS)
        dropship = topics.name(settings, topics.DROPSHIP)
        assert wait_for(lambda: len(read_topic(settings, allocations)) == 1, 90, 0.5)
        assert wait_for(lambda: len(read_topic(settings, dropship)) == 1, 90, 0.5)
        reason = "customer changed their mind"
        send(
            settings,
            [CancelOrder(command_id="cancel-sofa", order_id=UUID(sofa.key), reason=reason)],
        )
        assert wait_for(lambda: len(read_topic(settings, dropship)) == 2, 90, 0.5)
    finally:
        engine.stop()
    [record] = read_topic(settings, allocations)
    _, allocation = CODEC.decode(record.value or b"")
    # The buyer is in 浙江 (华东): Shanghai is one hop away, Beijing two.
    assert (allocation["location"], allocation["rule"]) == ("SH", "distance")
    ordered, cancelled = read_topic(settings, dropship)
    name, purchase = CODEC.decode(ordered.value or b"")
    assert (name, ordered.key, purchase["rule"]) == (
        "oms.dropship.PurchaseOrder",
        b"SUP-SOFA",
        "dropship",
    )
    assert [(ln["sku"], ln["quantity"]) for ln in purchase["lines"]] == [("SOFA", 1)]
    # The supplier hears of the cancellation where its purchase order came (no warehouse
    # was told of a shipment it never had: one allocation record above).
    name, told = CODEC.decode(cancelled.value or b"")
    assert (name, cancelled.key, told["purchase_order_id"], told["reason"]) == (
        "oms.dropship.PurchaseOrderCancelled",
        b"SUP-SOFA",
        purchase["purchase_order_id"],
        reason,
    )
