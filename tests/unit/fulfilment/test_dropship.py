"""Drop-ship lines become one Avro purchase order per supplier, for oms.dropship."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from oms_events import topics
from oms_events.avro.codec import SingleObjectCodec
from oms_events.fulfilment.dropship import PURCHASE_ORDER, purchase_order
from oms_events.fulfilment.rules import parse
from oms_events.fulfilment.sourcing_plan import DropShip, Line, SourcingOrder, plan
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
    shipment_id = uuid.uuid4()
    record = purchase_order(
        uuid.uuid4(), "SO-1", "standard", SHIP_TO, shipment_id, p.dropship, datetime.now(UTC)
    )
    assert record["supplier"] == "SUP-SOFA" and record["rule"] == "dropship"
    assert [(ln["line_no"], ln["sku"], ln["quantity"]) for ln in record["lines"]] == [
        (1, "SOFA", 1),
        (3, "STOOL", 2),
    ]
    codec = SingleObjectCodec()
    name, decoded = codec.decode(codec.encode(PURCHASE_ORDER, record, topic=topics.DROPSHIP))
    assert name == PURCHASE_ORDER and decoded["shipment_id"] == str(shipment_id)


def test_the_dropship_topic_is_registered() -> None:
    names = {spec.name for spec in topics.registry(Settings())}
    assert "oms.dropship" in names


def test_a_purchase_order_is_for_one_supplier() -> None:
    lines = [DropShip(1, "SOFA", 1, "SUP-A"), DropShip(2, "LAMP", 1, "SUP-B")]
    with pytest.raises(ValueError, match="one supplier"):
        purchase_order(
            uuid.uuid4(), "SO-1", "standard", SHIP_TO, uuid.uuid4(), lines, datetime.now(UTC)
        )
