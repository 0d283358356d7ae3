"""The operator API on the real PostgreSQL read models and Kafka, one engine for the
module (the inventory and tracking projections beside it):

* every role × endpoint answers 401 without a token, 403 without the permission and
  2xx with it (parametrized; the app's routes are all in the matrix);
* a hold sent over HTTP (202) is applied by the engine, its outcome read back from
  GET /commands/{id}, and the order's timeline shows the signed-in user as its actor;
* a signed channel delivery is taken once: the same request again (replayed), a stale
  timestamp, a bad signature and another channel's key are refused; over the key's
  rate the intake answers 429 with Retry-After;
* a dead letter is re-driven to its topic byte for byte.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from oms_events import operator_commands, topics
from oms_events.answers import AnswerWatch
from oms_events.api.channel_keys import add_key, signed_headers
from oms_events.api.roles import Role
from oms_events.api.services import Services
from oms_events.api.users import add_user
from oms_events.avro.codec import SingleObjectCodec
from oms_events.intake.dedup import DedupIndex
from oms_events.intake.http import create_app
from oms_events.intake.processor import IntakeProcessor
from oms_events.kafka.connection import producer
from oms_events.payments.notify import Notifications
from oms_events.projection.migrate import migrate
from oms_events.projection.registry import load_projections
from oms_events.projection.runner import connect
from oms_events.settings import Settings
from tests.integration.engine.harness import (
    engine_world,
    light,
    place_order,
    read_topic,
    send,
    wait_for,
)

WEB_ORDER = Path(__file__).parents[2] / "fixtures" / "channels" / "web" / "order_1001.json"
PASSWORD = "correct horse battery"
ROLES = [r.value for r in Role]
WAIT = 60


class Sent:
    """The intake's publisher: what it was given (Kafka's side is the intake tests')."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str | None, bytes]] = []

    def publish(self, channel: str, key: str | None, raw: bytes) -> None:
        self.records.append((channel, key, raw))


class NoSink:
    def record(self, command: Any) -> None:
        raise AssertionError("no payment notifications here")

    def dead_letter(self, letter: Any, body: bytes, headers: Any) -> None:
        raise AssertionError("no payment notifications here")


@dataclass
class World:
    settings: Settings
    schema: str
    api: Services
    client: TestClient
    sent: Sent
    tokens: dict[str, str]
    matrix_order: str  # order_id of the order the matrix acts on
    command_id: str  # a command of the matrix's order
    dead_letter_value: bytes


def headers(w: World, role: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {w.tokens[role]}"} if role else {}


def _seed(w: World) -> None:
    """Exceptions for each role to resolve and dead letters for each to re-drive, whose
    input sits on the web intake topic (no adapter reads it in this module)."""
    topic = topics.name(w.settings, topics.intake("web"))
    p = producer(w.settings)
    try:
        meta = p.send(topic, w.dead_letter_value, key=b"dl-key", headers=[("origin", b"test")]).get(
            30
        )
    finally:
        p.close()
    # As the projection would: the API's own role may not write the exception table.
    with connect(w.settings.postgres.dsn, w.schema, "test-seed", create=False) as conn:
        for role in ROLES:
            conn.execute(
                "INSERT INTO exception (exception_id, kind, code, message, occurred_at) "
                "VALUES (%s, 'late_shipment', 'late', 'late', now())",
                (f"manual:{role}",),
            )
            conn.execute(
                "INSERT INTO exception (exception_id, kind, code, message, source_topic, "
                "source_partition, source_offset, occurred_at) "
                "VALUES (%s, 'dead_letter', 'intake.bad_json', 'bad', %s, %s, %s, now())",
                (f"dead_letter:{role}", topic, meta.partition, meta.offset),
            )


@pytest.fixture(scope="module")
def world(dev_services: Settings) -> Iterator[World]:
    settings = light(dev_services.replace(kafka={"topic_prefix": f"t{uuid.uuid4().hex[:8]}."}))
    settings = settings.replace(
        api={"command_wait_s": 20, "intake_burst": 3, "intake_rate_per_s": 0.5}
    )
    stock = {("API-A", "SH"): 10, ("API-B", "SH"): 10}
    with engine_world(settings, stock, ["inventory", "tracking"]) as engine:
        # Every read model the API reads (the engine's run only the ones it needs).
        with connect(settings.postgres.dsn, engine.schema, "test-api") as conn:
            migrate(conn, engine.schema, list(load_projections().values()))
        api = Services.start(settings, engine.schema)
        sent = Sent()
        app = create_app(
            IntakeProcessor(SingleObjectCodec()),
            sent,
            DedupIndex(),
            Notifications({}, NoSink()),
            api=api,
            channel_keys=True,
        )
        client = TestClient(app)
        tokens: dict[str, str] = {}
        for role in ROLES:
            add_user(api.db, f"u-{role}", PASSWORD, [role], by="test")
            answer = client.post(
                "/api/v1/auth/token", data={"username": f"u-{role}", "password": PASSWORD}
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["roles"] == [role]
            tokens[role] = answer.json()["access_token"]
        order = place_order(f"API-M-{uuid.uuid4().hex[:6]}", "API-A", paid=False)
        send(settings, [order])
        assert wait_for(
            lambda: (
                api.db.row("SELECT 1 FROM order_tracking WHERE order_id = %s", order.key)
                is not None
            ),
            WAIT,
            0.2,
        )
        command_id = str(uuid.uuid4())
        api.db.execute(
            "INSERT INTO api_command (command_id, action, command, order_id, actor, status) "
            "VALUES (%s, 'hold', 'HoldOrder', %s, 'u-admin', 'pending')",
            command_id,
            order.key,
        )
        w = World(
            settings,
            engine.schema,
            api,
            client,
            sent,
            tokens,
            str(order.key),
            command_id,
            b'{"not": "an order"}',
        )
        _seed(w)
        try:
            yield w
        finally:
            api.close()


# --- the role x endpoint matrix -----------------------------------------------------

ALL = set(ROLES)
READERS = {"admin", "customer_service", "warehouse", "analyst"}
ACTORS = {"admin", "customer_service"}
ACTIONS = {
    "cancel": {"reason": "customer asked"},
    "hold": {"reason": "address check"},
    "release": {"reason": "checked"},
    "approve": {"reason": "called the customer"},
    "reject": {"reason": "fraud"},
    "edit": {"add": [{"sku": "API-B", "quantity": 1, "unit_price_minor": 500}]},
    "refund": {"reason": "damaged"},
    "return": {"reason": "quality", "lines": [{"line_no": 1, "quantity": 1}]},
}
# (method, path, body, roles allowed): {order}, {command} and {role} are filled in.
MATRIX: list[tuple[str, str, dict[str, Any] | None, set[str]]] = [
    ("GET", "/api/v1/me", None, ALL),
    ("GET", "/api/v1/orders?limit=5", None, READERS),
    ("GET", "/api/v1/orders/{order}", None, READERS),
    ("GET", "/api/v1/returns?status=requested", None, READERS),
    *[("POST", f"/api/v1/orders/{{order}}/{a}", body, ACTORS) for a, body in ACTIONS.items()],
    ("GET", "/api/v1/commands/{command}", None, ACTORS),
    ("GET", "/api/v1/stock?sku=API-A", None, ALL),
    ("GET", "/api/v1/stock/low", None, ALL),
    ("GET", "/api/v1/exceptions", None, READERS),
    (
        "POST",
        "/api/v1/exceptions/manual:{role}/resolve",
        {"note": "done"},
        {"admin", "customer_service", "warehouse"},
    ),
    ("POST", "/api/v1/deadletters/dead_letter:{role}/redrive", None, {"admin"}),
    ("GET", "/api/v1/dashboard", None, {"admin", "customer_service", "analyst"}),
]


def _path(w: World, template: str, role: str | None) -> str:
    return template.format(order=w.matrix_order, command=w.command_id, role=role or "none")


@pytest.mark.parametrize("role", [None, *ROLES], ids=lambda r: r or "no-token")
@pytest.mark.parametrize(
    ("method", "template", "body", "allowed"),
    MATRIX,
    ids=[f"{m} {t.split('?')[0]}" for m, t, _, _ in MATRIX],
)
def test_role_endpoint_matrix(
    world: World,
    role: str | None,
    method: str,
    template: str,
    body: dict[str, Any] | None,
    allowed: set[str],
) -> None:
    answer = world.client.request(
        method, _path(world, template, role), json=body, headers=headers(world, role)
    )
    expected = 401 if role is None else (200 if role in allowed else 403)
    if expected == 200 and method == "POST" and "/orders/" in template:
        expected = 202
    assert answer.status_code == expected, answer.text
    if expected == 401:
        assert answer.headers["www-authenticate"] == "Bearer"


def _route(template: str) -> str:
    """The matrix's path as the app declares it."""
    path = template.split("?")[0]
    for mine, declared in (
        ("{order}", "{order_id}"),
        ("{command}", "{command_id}"),
        ("manual:{role}", "{exception_id}"),
        ("dead_letter:{role}", "{exception_id}"),
    ):
        path = path.replace(mine, declared)
    head, _, action = path.rpartition("/")
    return f"{head}/{{action}}" if action in ACTIONS else path


def test_every_operator_route_is_in_the_matrix(world: World) -> None:
    served = {
        (method.upper(), path)
        for path, item in world.client.app.openapi()["paths"].items()  # type: ignore[attr-defined]
        if path.startswith("/api/v1/") and path != "/api/v1/auth/token"
        for method in item
    }
    assert served == {(m, _route(t)) for m, t, _, _ in MATRIX}


def test_a_wrong_password_or_a_forged_token_is_refused(world: World) -> None:
    bad = world.client.post(
        "/api/v1/auth/token", data={"username": "u-admin", "password": "nope-nope"}
    )
    assert bad.status_code == 401
    forged = world.tokens["analyst"][:-4] + "AAAA"
    me = world.client.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"})
    assert me.status_code == 401


# --- a command applied by the engine --------------------------------------------------


def _outcome(w: World, command_id: str, role: str = "customer_service") -> dict[str, Any]:
    answer = w.client.get(f"/api/v1/commands/{command_id}", headers=headers(w, role))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _settled(w: World, command_id: str) -> dict[str, Any]:
    assert wait_for(lambda: _outcome(w, command_id)["status"] != "pending", WAIT, 0.2), _outcome(
        w, command_id
    )
    return _outcome(w, command_id)


def test_a_hold_sent_over_http_is_applied_and_names_its_actor(world: World) -> None:
    order = place_order(f"API-H-{uuid.uuid4().hex[:6]}", "API-B", paid=False)
    send(world.settings, [order])
    cs = headers(world, "customer_service")
    path = f"/api/v1/orders/{order.key}"
    assert wait_for(lambda: world.client.get(path, headers=cs).status_code == 200, WAIT, 0.2)

    sent = world.client.post(f"{path}/hold", json={"reason": "address check"}, headers=cs)

    assert sent.status_code == 202, sent.text
    outcome = _settled(world, sent.json()["command_id"])
    assert outcome["status"] == "applied"
    assert outcome["actor"] == "u-customer_service"
    assert {"OrderHeld", "OperatorActed"} <= set(outcome["events"])
    assert wait_for(
        lambda: world.client.get(path, headers=cs).json()["order"]["status"] == "on_hold", WAIT, 0.2
    )
    view = world.client.get(path, headers=cs).json()
    acted = [t["detail"] for t in view["timeline"] if t["event"] == "OperatorActed"]
    assert acted and acted[-1]["actor"] == "u-customer_service"
    assert view["order"]["hold_reason"] == "address check"
    commands = read_topic(world.settings, topics.name(world.settings, topics.commands("order")))
    assert ("actor", b"u-customer_service") in {h for r in commands for h in r.headers}

    # A rule the engine applies: an order already held cannot be held again.
    again = world.client.post(f"{path}/hold", json={"reason": "twice"}, headers=cs)
    assert again.status_code == 202
    refused = _settled(world, again.json()["command_id"])
    assert refused["status"] == "rejected"
    assert refused["reason"]


def test_a_command_left_pending_by_a_restart_is_watched_again(world: World) -> None:
    order = place_order(f"API-R-{uuid.uuid4().hex[:6]}", "API-B", paid=False)
    send(world.settings, [order])
    admin = headers(world, "admin")
    path = f"/api/v1/orders/{order.key}"
    assert wait_for(lambda: world.client.get(path, headers=admin).status_code == 200, WAIT, 0.2)
    command = operator_commands.hold(UUID(order.key), "restart", "u-admin")
    # A server noted where to read the answer, sent the command, and stopped.
    watch = AnswerWatch(world.settings, world.api.desk.codec, command.command_id, "order")
    start = watch.start
    watch.close()
    world.api.db.execute(
        "INSERT INTO api_command (command_id, action, command, order_id, actor, status, "
        "watch_from) VALUES (%s, 'hold', 'HoldOrder', %s, 'u-admin', 'pending', %s)",
        command.command_id,
        order.key,
        Jsonb(start),
    )
    send(world.settings, [command])
    assert wait_for(
        lambda: world.client.get(path, headers=admin).json()["order"]["status"] == "on_hold",
        WAIT,
        0.2,
    )
    assert _outcome(world, command.command_id)["status"] == "pending"

    assert world.api.desk.resume() >= 1  # what a restarted server does

    assert _settled(world, command.command_id)["status"] == "applied"


def test_an_action_missing_its_reason_is_refused_naming_the_field(world: World) -> None:
    answer = world.client.post(
        f"/api/v1/orders/{world.matrix_order}/hold", json={}, headers=headers(world, "admin")
    )
    assert answer.status_code == 422
    assert answer.json()["detail"]["field"] == "reason"


def test_search_finds_an_order_by_phone_and_masks_it(world: World) -> None:
    view = world.client.get(
        f"/api/v1/orders/{world.matrix_order}", headers=headers(world, "admin")
    ).json()
    phone = view["order"]["phone"]
    national = phone.removeprefix("+86")
    for typed in (national, f"+86 {national}"):  # as customers say it, with or without +86
        found = world.client.get(
            "/api/v1/orders", params={"phone": typed}, headers=headers(world, "analyst")
        ).json()["orders"]
        assert world.matrix_order in [o["order_id"] for o in found]
    assert phone not in json.dumps(found)
    assert found[0]["phone_masked"].endswith(phone[-4:])


def test_stock_shows_available_to_promise_across_locations(world: World) -> None:
    items = world.client.get(
        "/api/v1/stock", params={"sku": "API-A"}, headers=headers(world, "channel")
    ).json()["items"]
    assert [i["sku"] for i in items] == ["API-A"]
    assert items[0]["available_to_promise"] == sum(
        max(loc["available"], 0) for loc in items[0]["locations"]
    )
    assert [loc["location"] for loc in items[0]["locations"]] == ["SH"]


# --- channel keys -----------------------------------------------------------------------


def _deliver(w: World, body: bytes, head: dict[str, str], channel: str = "web") -> Any:
    return w.client.post(
        f"/channels/{channel}/orders",
        content=body,
        headers={**head, "content-type": "application/json"},
    )


def test_a_signed_delivery_is_taken_once_and_a_replay_is_refused(world: World) -> None:
    key_id, secret = add_key(world.api.db, "web", by="test")
    body = WEB_ORDER.read_bytes()
    signed = signed_headers(key_id, secret, body)

    first = _deliver(world, body, signed)
    replayed = _deliver(world, body, signed)

    assert first.status_code == 202, first.text
    assert replayed.status_code == 401
    assert replayed.json()["code"] == "auth.replayed"
    assert [raw for _, _, raw in world.sent.records].count(body) == 1

    stale = signed_headers(key_id, secret, body, now=time.time() - 3600)
    assert _deliver(world, body, stale).json()["code"] == "auth.stale"
    forged = {**signed_headers(key_id, secret, body), "X-OMS-Signature": "0" * 64}
    assert _deliver(world, body, forged).json()["code"] == "auth.bad_signature"
    other = _deliver(
        world, body, signed_headers(key_id, secret, body, now=time.time() + 1), channel="tmall"
    )
    assert other.status_code == 403
    assert _deliver(world, body, {}).status_code == 401


def test_a_key_over_its_rate_gets_429_with_retry_after(world: World) -> None:
    key_id, secret = add_key(world.api.db, "web", by="test")
    body = b"{}"  # refused as a delivery (400) once let in: the limit comes first
    bodies = [body + b" " * n for n in range(5)]  # each signed request is new
    answers = [_deliver(world, b, signed_headers(key_id, secret, b)) for b in bodies]
    codes = [a.status_code for a in answers]
    assert codes[:3] == [400, 400, 400]  # the burst
    assert 429 in codes[3:]
    limited = next(a for a in answers if a.status_code == 429)
    assert int(limited.headers["retry-after"]) >= 1


# --- dead letters -----------------------------------------------------------------------


def test_a_dead_letter_is_redriven_to_its_topic_byte_for_byte(world: World) -> None:
    topic = topics.name(world.settings, topics.intake("web"))
    answer = world.client.post(
        "/api/v1/deadletters/dead_letter:admin/redrive",
        json={"note": "fixed the sku table"},
        headers=headers(world, "admin"),
    )
    assert answer.status_code in (200, 409), answer.text  # 409: the matrix re-drove it first
    records = [r for r in read_topic(world.settings, topic) if r.value == world.dead_letter_value]
    assert len(records) == 2  # the original and its re-drive
    assert dict(records[1].headers)["oms.redriven_by"] == b"u-admin"
    assert records[1].key == records[0].key
    inbox = world.client.get(
        "/api/v1/exceptions", params={"state": "closed"}, headers=headers(world, "analyst")
    ).json()["exceptions"]
    closed = {e["id"]: e for e in inbox}
    assert closed["dead_letter:admin"]["closed"] == "redriven"
    assert closed["dead_letter:admin"]["closed_by"] == "u-admin"


def test_password_guessing_is_slowed_per_user_name(world: World) -> None:
    name = f"guess-{uuid.uuid4().hex[:6]}"
    answers = [
        world.client.post("/api/v1/auth/token", data={"username": name, "password": f"no-{n}"})
        for n in range(6)
    ]
    assert [a.status_code for a in answers] == [401] * 5 + [429]
    assert int(answers[-1].headers["retry-after"]) >= 1
