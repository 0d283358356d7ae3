"""Drop-ship lines become one Avro purchase order per supplier, for oms.dropship."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from oms_events import topics
from oms_events.avro.codec import SingleObjectCodec
from oms_events.fulfilment.dropship import PURCHASE_ORDER, purchase_orders
from oms_events.fulfilment.rules import parse
from oms_events.fulfilment.sourcing_plan import Line, SourcingOrder, plan
from oms_events.settings import Settings
from tests.unit.fulfilment.test_sourcing_plan import Stock

SHIP_TO = {
    "name": "张三",
    "phone": "13800000000",
    "country": "CN",
    "province": "广东省",
    "city": "深圳市",
    "district": "南山区",
    "postcode": None,
    "line1": "科苑路15号",
}


def test_a_planned_drop_ship_line_is_a_purchase_order_the_codec_round_trips() -> None:
    rules = parse('[[suppliers]]\nid = "SUP-SOFA"\nskus = ["SOFA", "STOOL"]\n')
    order = SourcingOrder(
        "web", "广东", "深圳", (Line(1, "SOFA", 1), Line(2, "TEA", 1), Line(3, "STOOL", 2))
    )
    p = plan(order, Stock({("TEA", "WH"): 5}), rules)
    order_id = uuid.uuid4()
    [record] = purchase_orders(order_id, "SO-1", "standard", SHIP_TO, p.dropship, datetime.now(UTC))
    assert record["supplier"] == "SUP-SOFA" and record["rule"] == "dropship"
    assert [(ln["line_no"], ln["sku"], ln["quantity"]) for ln in record["lines"]] == [
        (1, "SOFA", 1),
        (3, "STOOL", 2),
    ]
    codec = SingleObjectCodec()
    name, decoded = codec.decode(codec.encode(PURCHASE_ORDER, record, topic=topics.DROPSHIP))
    assert name == PURCHASE_ORDER and decoded["purchase_order_id"] == f"{order_id}/SUP-SOFA"


def test_the_dropship_topic_is_registered() -> None:
    names = {spec.name for spec in topics.registry(Settings())}
    assert "oms.dropship" in names
