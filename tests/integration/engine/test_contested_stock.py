"""2,000 orders race for 100 units of one sku: exactly 100 win, nothing oversold."""

from __future__ import annotations

from oms_events.engine.runner import Engine
from oms_events.settings import Settings
from tests.integration.engine.harness import (
    STOCK,
    check_contested_outcome,
    decided,
    engine_settings,
    light,
    publish_concurrently,
    receive,
    stock_ready,
    wait_for,
)

ORDERS = 2000


def test_two_thousand_orders_from_three_producers_reserve_exactly_the_stock(
    isolated: Settings,
) -> None:
    settings = light(isolated)
    engine = Engine(engine_settings(settings), only=("inventory", "order"))
    engine.start()
    try:
        receive(settings, STOCK)
        assert wait_for(lambda: stock_ready(settings), 60, 0.2)
        assert wait_for(lambda: sum(engine.stock.available(*k) for k in STOCK) == 100, 30, 0.1)
        publish_concurrently(settings, ORDERS)
        wait_for(lambda: decided(settings) == ORDERS, 600, 3)
    finally:
        engine.stop()
    assert not engine.failed()
    check_contested_outcome(settings, ORDERS)
