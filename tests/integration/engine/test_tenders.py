"""Tenders on the real broker: till receipts placed through the intake's own command
reach the order processor, whose OrderPlaced records the tenders as sent, a paid
split-tender order with its payment, and a cash-on-delivery one with none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from oms_events.engine.runner import Engine
from oms_events.intake.channels import CHANNELS
from oms_events.intake.model import IntakeOrder, order_id, place_order
from oms_events.intake.tables import Tables
from oms_events.settings import Settings
from tests.integration.engine.harness import (
    engine_settings,
    light,
    publish_orders,
    read_events,
    wait_for,
)

BATCH = Path(__file__).parents[2] / "fixtures" / "channels" / "pos" / "batch_S004_tenders.csv"


def test_order_placed_records_tenders_and_cod_stays_unpaid(isolated: Settings) -> None:
    settings = light(isolated)
    items = CHANNELS["pos"].parse(BATCH.read_bytes(), Tables.load()).items
    wanted = {"S004-000502", "S004-000504", "S004-000507"}  # split, 货到付款, deposit + COD
    orders = [i for i in items if isinstance(i, IntakeOrder) and i.external_id in wanted]
    publish_orders(settings, [place_order(o) for o in orders])
    engine = Engine(engine_settings(settings))
    engine.start()
    try:
        placed: dict[str, dict[str, Any]] = {}

        def all_placed() -> bool:
            placed.update(
                {
                    str(e.originator_id): e.payload
                    for e in read_events(settings, "order")
                    if e.name == "OrderPlaced"
                }
            )
            return len(placed) == len(wanted)

        assert wait_for(all_placed, 60, 0.5)
    finally:
        engine.stop()
    assert not engine.failed()

    def event(external_id: str) -> dict[str, Any]:
        return placed[str(order_id("pos", external_id))]

    split = event("S004-000502")
    assert [(t["method"], t["amount"]["amount"]) for t in split["tenders"]] == [
        ("wechat_pay", 20000),
        ("cash", 5000),
    ]
    assert split["payment"]["amount"] == {"amount": 25000, "currency": "CNY"}
    cod = event("S004-000504")
    assert cod["payment_method"] == "cod" and cod["payment"] is None and cod["tenders"] == []
    deposit = event("S004-000507")
    assert deposit["payment"] is None
    assert [t["method"] for t in deposit["tenders"]] == ["cash", "cod"]
