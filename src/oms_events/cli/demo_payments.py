"""The demo's money: orders the channel did not collect, paid by the "customer" in the
Alipay / WeChat Pay sandboxes, then one refunded in part and one in full.

What happens is the production path: the payment desk opens each order's trade at the
sandbox; ``POST /sandbox/pay`` plays the customer paying; the sandbox notifies our HTTP
server (``oms channel serve``), which verifies the notification and sends the
capture; the order is paid and allocated. Refunds go from ``RefundOrder`` through the
payment service to the desk, which asks the sandbox. The demo prints what
``payment_ledger`` and ``daily_settlement`` then show.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import httpx
import psycopg
from rich.console import Console
from rich.table import Table

from oms_events.avro.codec import Codec
from oms_events.domain.ids import trade_no
from oms_events.domain.order import Order, PaymentMethod
from oms_events.engine.commands import (
    AddressDetails,
    Command,
    CustomerDetails,
    LineDetails,
    LineRefund,
    PlaceOrder,
    ReceiveStock,
    RefundOrder,
)
from oms_events.engine.records import CommandWriter
from oms_events.kafka.connection import producer
from oms_events.settings import Settings

SKU, LOCATION, UNIT_PRICE = "SKU-TEA-PAY", "SH", 4900
# The order's method and the sandbox that collects it, in placing order.
UNPAID = (
    (PaymentMethod.ALIPAY, "alipay"),
    (PaymentMethod.WECHAT_PAY, "wechatpay"),
    (PaymentMethod.ALIPAY, "alipay"),
    (PaymentMethod.WECHAT_PAY, "wechatpay"),
)


@dataclass(frozen=True)
class DemoOrder:
    """An order of the demo that we collect ourselves."""

    order_no: str
    external_id: str
    provider: str

    @property
    def order_id(self) -> uuid.UUID:
        """The Order aggregate id."""
        return Order.create_id("web", self.external_id)

    @property
    def out_trade_no(self) -> str:
        """The trade the payment desk opens for it (asked for by its OrderPlaced, v1)."""
        return trade_no(self.order_id, 1)


def collect_and_refund(settings: Settings, codec: Codec, schema: str, out: Console) -> None:
    """Place unpaid orders, have their customers pay in the sandboxes, refund two, and
    show the ledger. Raises TimeoutError when a step does not happen in time."""
    run = uuid.uuid4().hex[:6].upper()
    orders = [
        DemoOrder(f"OMS-web-PAY{run}{n}", f"PAY{run}{n}", provider)
        for n, (_, provider) in enumerate(UNPAID, 1)
    ]
    with psycopg.connect(settings.postgres.dsn, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        # The stock first, and seen, as in life: an order placed before the engine's
        # stock view has it would be rejected for want of stock (and refunded). The
        # view follows the same committed events as the projection, and faster.
        before, units = _on_hand(conn), 2 * len(orders)
        receipt = ReceiveStock(
            command_id=str(uuid.uuid4()),
            sku=SKU,
            location=LOCATION,
            quantity=units,
            reason="demo: payments",
        )
        _send(settings, codec, [receipt])
        _until(lambda: _on_hand(conn) >= before + units, 60, f"stock of {SKU}")
        _send(settings, codec, [_unpaid(o, m) for o, (m, _) in zip(orders, UNPAID, strict=True)])
        out.print(f"placed {len(orders)} orders unpaid at the channel (alipay, wechat_pay)")
        with httpx.Client(timeout=10.0) as http:
            for o in orders:
                _until(partial(_pay, http, settings, o), 90, f"trade {o.out_trade_no} opened")
                out.print(f"  customer paid {o.order_no} in the {o.provider} sandbox")
        numbers = [o.order_no for o in orders]
        _until(lambda: _paid(conn, numbers) == len(orders), 90, "orders paid")
        refunds = [
            RefundOrder(
                command_id=str(uuid.uuid4()),
                order_id=orders[0].order_id,
                refund_id=f"RF-{orders[0].external_id}-1",
                lines=(LineRefund(line_no=1, quantity=1),),
                reason="one tin arrived dented",
            ),
            RefundOrder(
                command_id=str(uuid.uuid4()),
                order_id=orders[1].order_id,
                refund_id=f"RF-{orders[1].external_id}-1",
                reason="customer changed their mind",
            ),
        ]
        _send(settings, codec, refunds)
        out.print(f"refunded one unit of {orders[0].order_no} and all of {orders[1].order_no}")
        ids = [r.refund_id for r in refunds]
        _until(lambda: _refunded(conn, ids) == len(ids), 90, "refunds settled")
        _show(conn, numbers, out)


def _unpaid(o: DemoOrder, method: PaymentMethod) -> PlaceOrder:
    return PlaceOrder(
        command_id=str(uuid.uuid4()),
        order_no=o.order_no,
        channel="web",
        external_id=o.external_id,
        customer=CustomerDetails(name="李四", phone="13900139000"),
        address=AddressDetails(
            country="CN",
            province="浙江省",
            city="杭州市",
            district="西湖区",
            postcode="310000",
            line1="文三路 90 号",
        ),
        currency="CNY",
        lines=(LineDetails(line_no=1, sku=SKU, quantity=2, unit_price=UNIT_PRICE),),
        payment_method=method,
        paid=False,
        placed_at=datetime.now(UTC),
    )


def _send(settings: Settings, codec: Codec, commands: Sequence[Command]) -> None:
    writer = CommandWriter(settings, codec)
    p: Any = producer(settings)
    try:
        for command in commands:
            r = writer.record(command)
            p.send(r.topic, key=r.key, value=r.value, headers=r.headers)
        p.flush()
    finally:
        p.close()


def _pay(http: httpx.Client, settings: Settings, o: DemoOrder) -> bool:
    # The sandbox answers 409 while it has no such trade (the desk has not opened it).
    port = getattr(settings.payments, f"{o.provider}_port")
    answer = http.post(
        f"http://127.0.0.1:{port}/sandbox/pay", json={"out_trade_no": o.out_trade_no}
    )
    return answer.status_code == 200


def _on_hand(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(
        "SELECT coalesce(sum(on_hand), 0) FROM inventory_level WHERE sku = %s AND location = %s",
        (SKU, LOCATION),
    ).fetchone()
    return int(row[0]) if row else 0


def _paid(conn: psycopg.Connection[Any], numbers: list[str]) -> int:
    row = conn.execute(
        "SELECT count(*) FROM order_tracking WHERE order_no = ANY(%s) AND amount_paid > 0 "
        "AND status IN ('confirmed', 'allocated')",
        (numbers,),
    ).fetchone()
    return int(row[0]) if row else 0


def _refunded(conn: psycopg.Connection[Any], ids: list[str]) -> int:
    row = conn.execute(
        "SELECT count(*) FROM refund WHERE refund_id = ANY(%s) AND status = 'succeeded'",
        (ids,),
    ).fetchone()
    return int(row[0]) if row else 0


def _until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"demo: no {what} after {timeout:g} s")
        time.sleep(0.5)


def _yuan(minor: int) -> str:
    return f"{minor / 100:,.2f}"


def _show(conn: psycopg.Connection[Any], numbers: list[str], out: Console) -> None:
    t = Table("order", "status", "paid", "refunded", title="orders paid in the sandboxes")
    for row in conn.execute(
        "SELECT order_no, status, amount_paid, amount_refunded FROM order_tracking "
        "WHERE order_no = ANY(%s) ORDER BY order_no",
        (numbers,),
    ):
        t.add_row(row[0], row[1], _yuan(row[2]), _yuan(row[3]))
    out.print(t)
    t = Table("order", "tender", "method", "kind", "amount", "provider ref", title="payment_ledger")
    for row in conn.execute(
        "SELECT order_no, tender, method, kind, amount, provider_reference FROM payment_ledger "
        "WHERE order_no = ANY(%s) ORDER BY order_no, occurred_at, version",
        (numbers,),
    ):
        t.add_row(row[0], row[1], row[2], row[3], _yuan(row[4]), row[5])
    out.print(t)
    t = Table(
        "day", "channel", "method", "captured", "refunded", "fees", "net", title="daily_settlement"
    )
    for row in conn.execute(
        "SELECT day, channel, method, captured, refunded, fees, net FROM daily_settlement "
        "ORDER BY day, channel, method"
    ):
        t.add_row(str(row[0]), row[1], row[2], *(_yuan(v) for v in row[3:]))
    out.print(t)
