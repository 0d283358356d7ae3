"""The console's static app: both languages say everything, the lists the pages offer
match the domain's, and the server hands the files out at /console/."""

from __future__ import annotations

import json
import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from oms_events import console, topics
from oms_events.domain.order import OrderStatus

STATIC = console.STATIC
MESSAGES: dict[str, dict[str, str]] = json.loads((STATIC / "i18n.json").read_text("utf-8"))
SCRIPT = (STATIC / "console.js").read_text("utf-8")


def js_list(name: str) -> list[str]:
    """The strings of ``const NAME = [...]`` in console.js."""
    match = re.search(rf"const {name} = \[(.*?)\];", SCRIPT, re.S)
    assert match, name
    return re.findall(r'"([^"]+)"', match.group(1))


def test_both_languages_have_every_message() -> None:
    assert set(MESSAGES) == {"en", "zh-CN"}
    en, zh = MESSAGES["en"], MESSAGES["zh-CN"]
    assert sorted(en) == sorted(zh)
    assert all(v.strip() for v in [*en.values(), *zh.values()])
    # Placeholders ({n}, {reason}) are filled by name: a translation must keep them.
    for key in en:
        assert set(re.findall(r"\{\w+\}", en[key])) == set(re.findall(r"\{\w+\}", zh[key])), key


def test_every_message_the_pages_use_exists() -> None:
    html = (STATIC / "index.html").read_text("utf-8")
    used = set(re.findall(r'data-i18n="([\w.]+)"', html))
    used |= set(re.findall(r'\bt\("([\w.]+)"', SCRIPT))
    used |= set(re.findall(r'\["((?:col|order)\.[\w.]+)"', SCRIPT))  # table columns
    used |= {f"action.{a}" for a in js_list("ACTIONS")}
    assert len(used) > 60
    missing = sorted(used - set(MESSAGES["en"]))
    assert missing == []


def test_statuses_and_channels_are_the_domains() -> None:
    assert js_list("STATUSES") == [s.value for s in OrderStatus]
    assert js_list("CHANNELS") == list(topics.CHANNELS)
    for lang in MESSAGES.values():
        assert {f"status.{s.value}" for s in OrderStatus} <= set(lang)
        assert {f"channel.{c}" for c in topics.CHANNELS} <= set(lang)


def test_the_console_is_served_at_console() -> None:
    app = FastAPI()
    console.mount(app)
    client = TestClient(app)
    moved = client.get("/console", follow_redirects=False)
    assert moved.status_code == 307 and moved.headers["location"] == "/console/"
    page = client.get("/console/")
    assert page.status_code == 200 and 'src="console.js"' in page.text
    for name, kind in [
        ("console.js", "javascript"),
        ("charts.js", "javascript"),
        ("console.css", "css"),
        ("i18n.json", "json"),
    ]:
        answer = client.get(f"/console/{name}")
        assert answer.status_code == 200 and kind in answer.headers["content-type"], name
    # Pages, not API: nothing of the console in the OpenAPI document.
    assert app.openapi()["paths"] == {}


def test_the_console_url_names_a_reachable_host() -> None:
    assert console.url("0.0.0.0", 8081) == "http://127.0.0.1:8081/console/"
    assert console.url("10.0.0.5", 80) == "http://10.0.0.5:80/console/"


def test_every_event_on_a_timeline_has_words_in_both_languages() -> None:
    root = STATIC.parents[3]
    events = {
        p.stem
        for kind in ("order", "shipment")
        for p in (root / "schemas" / kind / "events").glob("*.avsc")
    }
    for lang in MESSAGES.values():
        assert {f"event.{e}" for e in events} <= set(lang)
