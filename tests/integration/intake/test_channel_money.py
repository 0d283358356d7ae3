"""Channel money on the real broker: a till batch with cash, split tenders, 抹零 and
货到付款, and a Taobao COD trade, go through the adapters; the PlaceOrder records read
back (read_committed, through the registry-free codec) carry the tenders and never call
a COD order paid; the receipts whose tenders or rounding do not add up are dead letters."""

from __future__ import annotations

from typing import Any

from oms_events import deadletter, topics
from oms_events.settings import Settings
from tests.integration.intake.conftest import FIXTURES, make_topics, placed, read, run_adapter, send


def by_external_id(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        record["external_id"]: record
        for name, record in placed(settings)
        if name == "oms.order.commands.PlaceOrder"
    }


def test_till_tenders_rounding_and_cod(isolated: Settings) -> None:
    make_topics(isolated, "pos")
    send(isolated, "pos", [("S004", (FIXTURES / "pos" / "batch_S004_tenders.csv").read_bytes())])
    run_adapter(isolated, "pos", commands=5, letters=2)

    orders = by_external_id(isolated)
    assert sorted(orders) == [
        "S004-000501",
        "S004-000502",
        "S004-000503",
        "S004-000504",
        "S004-000507",
    ]
    tenders = {k: [(t["method"], t["amount"]) for t in r["tenders"]] for k, r in orders.items()}
    assert tenders["S004-000501"] == [("cash", 6800)]
    assert tenders["S004-000502"] == [("wechat_pay", 20000), ("cash", 5000)]
    assert tenders["S004-000507"] == [("cash", 2500), ("cod", 10000)]
    assert [(k, r["payment_method"], r["paid"]) for k, r in sorted(orders.items())] == [
        ("S004-000501", "card", True),
        ("S004-000502", "wechat_pay", True),
        ("S004-000503", "alipay", True),
        ("S004-000504", "cod", False),
        ("S004-000507", "cod", False),
    ]
    (line,) = orders["S004-000503"]["lines"]
    assert line["promotions"] == ["95折", "抹零"] and line["discount"] == 600

    letters = [deadletter.read(r.headers).reason for r in read(isolated, topics.DEADLETTER)]
    assert sorted((r.code, r.field) for r in letters) == [
        ("intake.price_mismatch", "row 6.payment"),
        ("intake.price_mismatch", "row 7.paid_total"),
    ]


def test_taobao_cod_trade_is_placed_unpaid(isolated: Settings) -> None:
    make_topics(isolated, "tmall")
    trade = "3891234567890124001"
    send(isolated, "tmall", [(trade, (FIXTURES / "tmall" / "trade_cod.json").read_bytes())])
    run_adapter(isolated, "tmall", commands=1, letters=0)
    record = by_external_id(isolated)[trade]
    assert (record["payment_method"], record["paid"], record["tenders"]) == ("cod", False, [])
