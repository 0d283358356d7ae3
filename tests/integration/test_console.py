"""The web console end to end, in Debian's Chromium (``/usr/bin/chromium``, driven by
Playwright's Python package), against the server `oms console` runs, the engine and the
projections on the real Kafka and PostgreSQL.

A customer service agent on a phone (390×844) signs in, finds an order by the customer's
phone, cancels it and sees the timeline say so; the page switches to Chinese and back,
and remembers the choice. At a desk (1440×900) the same order, the dashboard's charts,
stock and the exception inbox are drawn, and an exception is resolved. Screenshots of
both sizes are left in ``.pytest_cache/console-screens/`` for a person to look at.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright

from oms_events.api.services import Services
from oms_events.api.users import add_user
from oms_events.avro.codec import SingleObjectCodec
from oms_events.engine.commands import CustomerDetails, PlaceOrder
from oms_events.intake.dedup import DedupIndex
from oms_events.intake.http import create_app
from oms_events.intake.processor import IntakeProcessor
from oms_events.payments.notify import Notifications
from oms_events.settings import Settings
from tests.integration.engine.harness import engine_world, light, place_order, send, wait_for

CHROMIUM = "/usr/bin/chromium"
SCREENS = Path(__file__).resolve().parents[2] / ".pytest_cache" / "console-screens"
PHONE = "13912345678"
USER, PASSWORD = "agent", "correct horse battery"
# What the order pages read: orders and timelines, lines' stock, money, returns; the
# dashboard's fulfilment times and the exception inbox.
PROJECTIONS = ["tracking", "inventory", "payments", "returns", "exceptions", "analytics"]
WAIT = 60
UI_WAIT_MS = 90_000  # the engine answers a cancel and the projection shows it within this


class Nowhere:
    """The intake's publisher and the payment notifications' sink: unused here."""

    def publish(self, channel: str, key: str | None, raw: bytes) -> None:
        raise AssertionError("no channel deliveries in this module")

    def record(self, command: Any) -> None:
        raise AssertionError("no payment notifications in this module")

    def dead_letter(self, letter: Any, body: bytes, headers: Any) -> None:
        raise AssertionError("no payment notifications in this module")


@dataclass(frozen=True)
class World:
    url: str  # the console's address
    order: PlaceOrder  # allocated, paid, placed by PHONE
    short: PlaceOrder  # rejected: more than the stock
    browser: Browser


@pytest.fixture(scope="module")
def world(dev_services: Settings) -> Iterator[World]:
    """Engine, projections, the API server on a free port with one customer service
    user, an allocated order, and Chromium."""
    settings = light(dev_services.replace(kafka={"topic_prefix": f"t{uuid.uuid4().hex[:8]}."}))
    stock = {("CON-TEA", "SH"): 5, ("CON-CUP", "SH"): 1}
    with engine_world(settings, stock, PROJECTIONS) as engine:
        api = Services.start(settings, engine.schema)
        add_user(api.db, USER, PASSWORD, ["customer_service"], by="test")
        order = dataclasses.replace(
            place_order(f"CON-{uuid.uuid4().hex[:6]}", "CON-TEA", quantity=2),
            customer=CustomerDetails(name="李四", phone=PHONE),
        )
        # Two cups wanted, one in stock: rejected, an exception for the inbox.
        short = place_order(f"CON-{uuid.uuid4().hex[:6]}", "CON-CUP", quantity=2, channel="tmall")
        send(settings, [order, short])
        assert wait_for(
            lambda: (
                api.db.row(
                    "SELECT 1 FROM order_tracking WHERE order_id = %s AND status = 'allocated'",
                    order.key,
                )
                is not None
                and api.db.row("SELECT 1 FROM exception WHERE order_id = %s", short.key) is not None
            ),
            WAIT,
            0.2,
        )
        nowhere = Nowhere()
        app = create_app(
            IntakeProcessor(SingleObjectCodec()),
            nowhere,
            DedupIndex(),
            Notifications({}, nowhere),
            api=api,
        )
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            assert wait_for(lambda: server.started, 30, 0.1)
            port = server.servers[0].sockets[0].getsockname()[1]
            SCREENS.mkdir(parents=True, exist_ok=True)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM)
                try:
                    yield World(f"http://127.0.0.1:{port}/console/", order, short, browser)
                finally:
                    browser.close()
        finally:
            server.should_exit = True
            thread.join(30)
            api.close()


def page_at(w: World, width: int, height: int, lang: str) -> Page:
    """A fresh browser context (its own storage) at that size, language chosen before
    the page loads, signed in."""
    context = w.browser.new_context(viewport={"width": width, "height": height})
    context.add_init_script(
        f"if (!localStorage.getItem('oms.console.lang')) "
        f"localStorage.setItem('oms.console.lang', '{lang}')"
    )
    page = context.new_page()
    page.set_default_timeout(UI_WAIT_MS)
    page.goto(w.url)
    page.fill("input[name=username]", USER)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login button[type=submit]")
    expect(page.locator("#who")).to_contain_text(USER)
    return page


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SCREENS / name), full_page=True)


def test_an_agent_on_a_phone_cancels_an_order_found_by_phone(world: World) -> None:
    page = page_at(world, 390, 844, "en")
    page.fill("input[name=query]", "139-1234-5678")  # as a customer reads it out
    page.click("#order-search button[type=submit]")
    found = page.locator("#order-results a.order-link")
    expect(found).to_have_count(1)
    expect(found).to_have_text(world.order.order_no)
    expect(page.locator("#order-results")).to_contain_text("139****5678")
    shot(page, "orders-390x844.png")

    found.click()
    expect(page.locator("#order-head [data-status]")).to_have_text("Allocated")
    expect(page.locator("#order-timeline li[data-event=OrderAllocated]")).to_have_count(1)
    page.click("#order-actions [data-action=cancel]")
    page.fill("#action-form textarea[name=reason]", "customer changed their mind")
    page.click("#action-form button[type=submit]")
    # The engine applies the cancel; the page follows the command and redraws the order.
    expect(page.locator("#toast")).to_contain_text("Done: Cancel")
    expect(page.locator("#order-head [data-status=cancelled]")).to_have_text("Cancelled")
    cancelled = page.locator("#order-timeline li[data-event=OrderCancelled]")
    expect(cancelled).to_have_count(1)
    expect(cancelled).to_contain_text("customer changed their mind")
    expect(page.locator("#order-actions [data-action=cancel]")).to_be_disabled()
    shot(page, "order-cancelled-390x844.png")

    page.click("#lang")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator(".nav a[data-route=orders]")).to_have_text("订单")
    expect(page.locator("#order-head [data-status=cancelled]")).to_have_text("已取消")
    expect(cancelled.locator(".event")).to_have_text("已取消")
    expect(page.locator("#lang")).to_have_text("English")
    shot(page, "order-cancelled-zh-390x844.png")
    # Remembered: a reload stays in Chinese.
    page.reload()
    expect(page.locator("#order-timeline h2")).to_have_text("订单轨迹")
    page.click("#lang")
    expect(page.locator("#order-timeline h2")).to_have_text("Timeline")
    expect(page.locator(".nav a[data-route=orders]")).to_have_text("Orders")
    page.context.close()


def test_a_desk_shows_the_order_dashboard_stock_and_inbox(world: World) -> None:
    page = page_at(world, 1440, 900, "zh-CN")
    page.goto(f"{world.url}#/order/{world.order.key}")
    expect(page.locator("#order-lines")).to_contain_text("CON-TEA")
    shot(page, "order-zh-1440x900.png")

    page.click(".nav a[data-route=dashboard]")
    # The module's two orders, both placed today: one on the web, one on Tmall.
    expect(page.locator("#dash-channels g.bar[data-label=官网]")).to_have_attribute(
        "data-value", "1"
    )
    expect(page.locator("#dash-channels g.bar[data-label=天猫]")).to_have_attribute(
        "data-value", "1"
    )
    expect(page.locator("#dash-channels g.bar[data-label=京东]")).to_have_attribute(
        "data-value", "0"
    )
    expect(page.locator("#dash-exceptions .tile")).not_to_have_text("0")
    expect(page.locator("#dash-kinds g.bar")).not_to_have_count(0)
    shot(page, "dashboard-zh-1440x900.png")

    page.click("#lang")
    expect(page.locator("#dash-channels h2")).to_have_text("Orders per channel today")
    expect(page.locator("#dash-channels g.bar[data-label=Tmall]")).to_have_attribute(
        "data-value", "1"
    )
    shot(page, "dashboard-1440x900.png")

    page.goto(f"{world.url}#/stock?sku=CON-CUP")
    expect(page.locator("#stock-levels [data-sku=CON-CUP] h2")).to_contain_text(
        "1 available to promise"
    )
    shot(page, "stock-1440x900.png")

    page.click(".nav a[data-route=exceptions]")
    expect(page.locator("#exceptions h1")).to_have_text("Exception inbox")
    rows = page.locator("#exceptions tbody tr")
    expect(rows.first).to_be_visible()
    expect(page.locator("#exceptions")).to_contain_text(world.short.order_no)
    shot(page, "exceptions-1440x900.png")
    # Resolved with a note: it leaves the inbox.
    before = rows.count()
    rows.first.locator("[data-close=resolve]").click()
    page.fill("#close-form textarea[name=note]", "customer offered a substitute")
    page.click("#close-form button[type=submit]")
    expect(page.locator("#toast")).to_contain_text("Resolved")
    expect(rows).to_have_count(before - 1)
    page.context.close()
