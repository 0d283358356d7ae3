"""``oms channel``: act as a sales channel (publish fixtures in the channel's own format),
pull a marketplace's orders, serve the marketplaces' sandbox."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from oms_events import resources, topics
from oms_events.cli.errors import one_line_errors
from oms_events.cli.shutdown import on_shutdown
from oms_events.intake.channel import CHINA
from oms_events.intake.channels import CHANNELS
from oms_events.intake.errors import Rejection
from oms_events.intake.state import intake_specs
from oms_events.intake.tables import Tables
from oms_events.kafka.admin import apply_topics
from oms_events.kafka.connection import producer
from oms_events.kafka.security import as_service
from oms_events.settings import get_settings

app = typer.Typer(
    help="Play a sales channel: publish deliveries on oms.intake.<channel> as it would.",
    no_args_is_help=True,
)
out = Console()
CHANNEL_NAMES = ", ".join(CHANNELS)


@app.command()
@one_line_errors
def send(
    channel: Annotated[str, typer.Argument(help=f"Channel: {CHANNEL_NAMES}.")],
    files: Annotated[
        list[Path],
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            help="Deliveries in the channel's format: a JSON/XML file holds one order, or a "
            "page of orders as the platform's API answers (JD orderInfoList, pdd order_list, "
            "douyin shop_order_list); a CSV file is one POS batch. Each file is published as "
            "one record, byte for byte.",
        ),
    ],
) -> None:
    """Publish each FILE as one record on oms.intake.CHANNEL, keyed as the channel keys it
    (its order id; a POS batch by store, a JD page by shop). Invalid files are sent too:
    the adapter dead-letters them, as it would a channel's bad delivery.

    Example: oms channel send pdd tests/fixtures/channels/pdd/order_list_page.json
    """
    if channel not in CHANNELS:
        raise typer.BadParameter(
            f"unknown channel {channel!r}; use one of {', '.join(CHANNELS)}", param_hint="CHANNEL"
        )
    settings = get_settings()
    topic = topics.name(settings, topics.intake(channel))
    # Creates the intake topic if missing (a producer would otherwise wait for the
    # metadata of a topic that will never appear), and verifies it if present.
    apply_topics(settings, intake_specs(settings, [channel]))
    tables = Tables.load()
    p = producer(settings)
    try:
        for path in files:
            raw = path.read_bytes()
            try:
                key = CHANNELS[channel].parse(raw, tables).key
            except Rejection:
                key = None  # unreadable: the channel would still send it
            meta = p.send(topic, key=(key or path.stem).encode(), value=raw).get(30)
            out.print(f"sent {path.name} -> {topic}[{meta.partition}]@{meta.offset} key={key}")
    finally:
        p.close()


# The server's address options, shared with `oms console` (the same server).
Host = Annotated[str | None, typer.Option(help="Address to listen on (default: OMS_HTTP_HOST).")]
Port = Annotated[int | None, typer.Option(help="Port to listen on (default: OMS_HTTP_PORT).")]


@app.command()
@one_line_errors
def serve(host: Host = None, port: Port = None) -> None:
    """Serve the HTTP intake (POST /channels/{channel}/orders; OpenAPI at /docs): valid
    deliveries are published on oms.intake.<channel> for the adapters. The payment
    providers' notifications arrive here too (POST /payments/{alipay,wechatpay}/notify,
    the notify URLs of settings.payments)."""
    from oms_events.intake.http import serve as run

    settings = as_service(get_settings(), "api")
    run(settings, host or settings.http.host, port or settings.http.port)


PULLED_NAMES = ", ".join(topics.PULLED)


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a time; write it like 2026-12-01T08:00:00+08:00",
            param_hint="--since",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA)


@app.command()
@one_line_errors
def pull(
    platform: Annotated[str, typer.Argument(help=f"Marketplace channel: {PULLED_NAMES}.")],
    since: Annotated[
        str | None,
        typer.Option(
            help="First run: pull orders modified from this time (ISO 8601; no zone: "
            "Beijing time). Later runs go on from the stored mark and ignore it."
        ),
    ] = None,
    follow: Annotated[
        bool, typer.Option(help="Keep polling once caught up (Ctrl-C / SIGTERM stops).")
    ] = False,
    shop: Annotated[
        str | None, typer.Option(help="Shop to pull (default: OMS_INTAKE_PULL_SHOP).")
    ] = None,
) -> None:
    """Pull orders from a marketplace's order API by modified-time window (Taobao
    trades.sold.increment.get + trade.fullinfo.get, JD pop.order.search, Pinduoduo
    order.number.list.increment.get, Douyin order.searchList) and publish each page on
    oms.intake.PLATFORM, with the window mark (oms.intake.PLATFORM.pull) in the same
    Kafka transaction: a restart goes on after the last page published, never
    skipping or repeating one. `oms intake` turns the pages into orders.

    按修改时间窗口从平台订单接口拉单；每页与窗口进度在同一 Kafka 事务中提交，重启后不漏单、不重单。

    Examples:

      oms channel sandbox --orders 250 &          # the platforms, locally

      oms channel pull pdd --since 2026-12-01T08:00:00+08:00

      oms channel pull tmall --follow             # from the stored mark, until Ctrl-C

    Platform, app and shop: OMS_INTAKE_PULL_URL, _APP_KEY, _APP_SECRET, _SESSION, _SHOP.
    """
    from oms_events.intake.pull.platforms import PLATFORMS
    from oms_events.intake.pull.puller import Puller

    if platform not in PLATFORMS:
        raise typer.BadParameter(
            f"unknown platform {platform!r}; use one of {PULLED_NAMES}", param_hint="PLATFORM"
        )
    settings = get_settings()
    stop = on_shutdown()
    puller = Puller(settings, PLATFORMS[platform], shop=shop, stop=stop)
    mark = puller.run(_since(since), follow=follow)
    where = f"up to {mark.end.isoformat()}" if mark is not None else "nothing to pull yet"
    out.print(f"{platform} {puller.shop}: {dict(puller.counts)}, {where}")


@app.command()
@one_line_errors
def sandbox(
    port: Annotated[
        int | None, typer.Option(help="Port (default: the one of OMS_INTAKE_PULL_URL).")
    ] = None,
    orders: Annotated[
        int, typer.Option(min=0, help="Orders each platform sells, modified over the last hour.")
    ] = 50,
    throttle_every: Annotated[
        int, typer.Option(min=0, help="Answer every n-th list call with the throttling error.")
    ] = 0,
) -> None:
    """Serve the local stand-in for the four platforms' order APIs (signatures checked
    with OMS_INTAKE_PULL_APP_KEY / _APP_SECRET / _SESSION) until Ctrl-C.

    本地模拟淘宝、京东、拼多多、抖店订单接口（校验签名）。

    Example: oms channel sandbox --orders 250 --throttle-every 7
    """
    from urllib.parse import urlsplit

    from oms_events.intake.pull.platforms import Credentials
    from oms_events.intake.pull.sandbox import PlatformSandbox, seed

    settings = get_settings()
    i = settings.intake
    box = PlatformSandbox(Credentials(i.pull_app_key, i.pull_app_secret, i.pull_session))
    box.throttle_every = throttle_every
    seed(box, orders, datetime.now(CHINA))
    url = box.start(port=port if port is not None else urlsplit(i.pull_url).port or 18093)
    out.print(f"platform sandbox on {url} ({orders} orders per platform; Ctrl-C stops)")
    stop = on_shutdown()
    stop.wait()
    box.close()


@app.command()
@one_line_errors
def decrypt() -> None:
    """Run the decrypt desk: for each order placed with its receiver masked by the
    platform (OrderPlaced receiver_masked), ask the platform's decrypt API and send
    RevealReceiver (the order goes on to allocation) or HoldOrder with reason
    receiver.decrypt_failed (its row in the exception queue). Until Ctrl-C / SIGTERM.

    解密台：平台加密/脱敏收件人的订单，经平台解密接口取得真实收件人后才分配仓库；解密失败则挂起进入异常队列。

    Example: oms channel decrypt      # beside `oms run` and `oms intake`
    """
    from oms_events.intake.pull.decrypt import run_decrypt_desk

    settings = get_settings()
    stop = on_shutdown()
    out.print("decrypt desk running (Ctrl-C stops)")
    service = run_decrypt_desk(settings, stop)
    out.print(f"decrypt desk: {service.counters()}")


@app.command("map")
@one_line_errors
def map_sku(
    channel: Annotated[str, typer.Argument(help=f"Channel: {CHANNEL_NAMES}.")],
    channel_sku: Annotated[
        str | None, typer.Argument(help="The platform's code (outer_sku_id, skuId, …).")
    ] = None,
    our_sku: Annotated[str | None, typer.Argument(help="Our sku it stands for.")] = None,
    remove: Annotated[bool, typer.Option(help="Remove CHANNEL_SKU from the map.")] = False,
) -> None:
    """Show or edit the channel sku -> our sku map (the file OMS_INTAKE_SKU_MAP names),
    for shops whose platform codes differ from ours. An order naming a code that is not
    in the map is dead-lettered as intake.unknown_sku with the code. Restart `oms intake`
    to apply a change.

    渠道商品编码 -> 本系统 SKU 映射表（OMS_INTAKE_SKU_MAP 指定的文件）；改动后重启 oms intake 生效。

    Examples:

      oms channel map pdd                          # the pdd table

      oms channel map pdd CUP01 SKU-CUP-001        # add or change one code

      oms channel map pdd CUP01 --remove
    """
    import json

    if channel not in CHANNELS:
        raise typer.BadParameter(
            f"unknown channel {channel!r}; use one of {CHANNEL_NAMES}", param_hint="CHANNEL"
        )
    settings = get_settings()
    path = settings.intake.sku_map
    # A file not written yet starts as the shipped map: no default code is lost.
    source = path if path is not None and path.exists() else resources.intake_table("skus.json")
    doc = json.loads(source.read_text())
    if channel_sku is None:
        for code, ours in sorted(doc.get(channel, {}).items()):
            out.print(f"{code}\t{ours}")
        return
    if path is None:
        raise typer.BadParameter(
            "the shipped map is read-only: set OMS_INTAKE_SKU_MAP to a file of your own "
            "(created from the shipped map on the first change)",
            param_hint="OMS_INTAKE_SKU_MAP",
        )
    if not remove and not our_sku:
        raise typer.BadParameter("give OUR_SKU, or --remove", param_hint="OUR_SKU")
    codes = doc.setdefault(channel, {})
    if remove:
        if codes.pop(channel_sku, None) is None:
            raise typer.BadParameter(
                f"{channel_sku!r} is not in the {channel} map", param_hint="CHANNEL_SKU"
            )
    else:
        codes[channel_sku] = our_sku
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
    out.print(f"{channel} {channel_sku} -> {'(removed)' if remove else our_sku} in {path}")
