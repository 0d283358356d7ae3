"""The pull connectors without Kafka: signatures, the sandbox's answers in each
platform's shape, and the channel parsers reading what the puller publishes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from urllib.parse import urlencode
from uuid import uuid4

import httpx
import pytest

from oms_events.engine.commands import HoldOrder, RevealReceiver
from oms_events.intake.channel import CHINA
from oms_events.intake.channels import channel
from oms_events.intake.model import IntakeOrder
from oms_events.intake.pull import signing
from oms_events.intake.pull.decrypt import DecryptService, revealed
from oms_events.intake.pull.platforms import PLATFORMS, ApiError, Credentials, Taobao
from oms_events.intake.pull.puller import Mark
from oms_events.intake.pull.sandbox import PlatformSandbox, clone, templates
from oms_events.intake.tables import Tables
from oms_events.settings import Settings

CREDS = Credentials("app-1", "secret-1", "session-1")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=CHINA)
START, END = NOW - timedelta(minutes=30), NOW


def test_top_sign_is_md5_of_sorted_pairs_wrapped_in_the_secret() -> None:
    params = {"method": "m", "app_key": "k", "v": "2.0", "sign": "ignored", "empty": ""}
    expected = hashlib.md5(b"sapp_keykmethodmv2.0s").hexdigest().upper()
    assert signing.top_sign(params, "s") == expected
    # The order parameters come in never matters; any change of a value does.
    assert signing.top_sign(dict(reversed(params.items())), "s") == expected
    assert signing.top_sign({**params, "v": "2.1"}, "s") != expected
    assert signing.top_sign(params, "s", "hmac") != expected
    with pytest.raises(ValueError, match="sign_method"):
        signing.top_sign(params, "s", "sha1")


def test_douyin_param_json_sorts_keys_without_spaces() -> None:
    assert signing.param_json({"size": 2, "page": 0}) == '{"page":0,"size":2}'


@pytest.fixture
def box() -> PlatformSandbox:
    sandbox = PlatformSandbox(CREDS)
    shapes = templates()
    for name in PLATFORMS:
        for n in range(3):
            order_id = {"tmall": "41", "jd": "29", "pdd": "261201-", "douyin": "69"}[name]
            order_id += f"{n:012d}"
            sandbox.add(
                name, order_id, NOW - timedelta(minutes=n + 1), clone(name, shapes[name], order_id)
            )
    return sandbox


def ask(box: PlatformSandbox, name: str, creds: Credentials = CREDS, page: int = 1) -> bytes:
    platform = PLATFORMS[name]
    request = platform.list_request(creds, START, END, page, 2, NOW)
    _, body = box.answer(request.path, request.query, request.body or _form(request.form))
    return body


def _form(form: dict[str, str]) -> bytes:
    return urlencode(form).encode()


@pytest.mark.parametrize("name", list(PLATFORMS))
def test_each_platform_pages_a_window_in_its_own_shape(box: PlatformSandbox, name: str) -> None:
    platform = PLATFORMS[name]
    first = platform.read_page(ask(box, name, page=platform.first_page))
    second = platform.read_page(ask(box, name, page=platform.first_page + 1))
    assert (first.total, first.count, second.count) == (3, 2, 1)


@pytest.mark.parametrize("name", list(PLATFORMS))
def test_a_bad_signature_gets_the_platforms_error(box: PlatformSandbox, name: str) -> None:
    wrong = Credentials(CREDS.app_key, "not-the-secret", CREDS.session)
    with pytest.raises(ApiError) as error:
        PLATFORMS[name].read_page(ask(box, name, wrong))
    assert not error.value.throttled
    assert error.value.code == {"tmall": "25", "jd": "19", "pdd": "20004", "douyin": "40004"}[name]


@pytest.mark.parametrize("name", list(PLATFORMS))
def test_throttling_is_told_apart_from_other_errors(box: PlatformSandbox, name: str) -> None:
    box.throttle_every = 1
    with pytest.raises(ApiError) as error:
        PLATFORMS[name].read_page(ask(box, name))
    assert error.value.throttled


@pytest.mark.parametrize("name", ["jd", "pdd", "douyin"])
def test_a_published_page_is_read_by_the_channel_parser(box: PlatformSandbox, name: str) -> None:
    body = ask(box, name, page=PLATFORMS[name].first_page)
    items = channel(name).parse(body, Tables.load()).items
    assert len(items) == 2 and all(isinstance(i, IntakeOrder) for i in items)


def test_taobao_lists_tids_and_each_trade_comes_from_fullinfo(box: PlatformSandbox) -> None:
    taobao = PLATFORMS["tmall"]
    assert isinstance(taobao, Taobao)
    page = taobao.read_page(ask(box, "tmall"))
    assert len(page.detail_ids) == 2
    request = taobao.detail_request(CREDS, page.detail_ids[0], NOW)
    _, body = box.answer(request.path, {}, _form(request.form))
    (order,) = channel("tmall").parse(body, Tables.load()).items
    assert isinstance(order, IntakeOrder) and order.external_id == page.detail_ids[0]


def test_taobao_hmac_requests_are_verified_too(box: PlatformSandbox) -> None:
    request = Taobao("hmac").list_request(CREDS, START, END, 1, 2, NOW)
    _, body = box.answer(request.path, {}, _form(request.form))
    assert Taobao().read_page(body).total == 3


def test_a_mark_reads_back_as_written() -> None:
    mark = Mark(START, END, 4, 2)
    assert Mark.decode(mark.encode()) == mark


def _placed(channel: str, name: str, phone: str, street: str) -> dict[str, object]:
    """The payload of an OrderPlaced as the decrypt desk reads it."""
    return {
        "channel": channel,
        "external_id": "E-1",
        "receiver_masked": True,
        "customer": {"name": name, "phone": phone, "account": None},
        "address": {
            "country": "CN",
            "province": "浙江省",
            "city": "杭州市",
            "district": "西湖区",
            "line1": street,
            "postcode": None,
        },
    }


@pytest.fixture
def desk(box: PlatformSandbox) -> Iterator[DecryptService]:
    url = box.start()
    settings = Settings().replace(recovery={"initial_backoff_s": 0.01})
    yield DecryptService(settings, CREDS, httpx.Client(base_url=url))
    box.close()


@pytest.mark.parametrize(
    ("channel", "name", "phone", "street"),
    [
        ("pdd", "~AgAAAAEC~1~", "~AgAAAAED~1~", "~AgAAAAEF~1~"),
        ("douyin", "#ABCD#", "$EFGH$", "#IJKL#"),
    ],
)
def test_the_desk_reveals_a_receiver_the_platform_decrypts(
    box: PlatformSandbox, desk: DecryptService, channel: str, name: str, phone: str, street: str
) -> None:
    box.plain |= {name: "周芷若", phone: "13912345678", street: "文三路 90 号"}
    order_id = uuid4()
    command = desk._decide(order_id, _placed(channel, name, phone, street))
    assert isinstance(command, RevealReceiver)
    assert (command.customer.name, command.customer.phone) == ("周芷若", "13912345678")
    assert (command.address.line1, command.address.city) == ("文三路 90 号", "杭州市")
    assert command.command_id == f"decrypt:{order_id}"  # a redo is a duplicate


def test_the_desk_holds_an_order_the_platform_cannot_decrypt(
    box: PlatformSandbox, desk: DecryptService
) -> None:
    box.plain |= {"~N~": "周芷若", "~P~": "13912345678"}  # the street's ciphertext is unknown
    command = desk._decide(uuid4(), _placed("pdd", "~N~", "~P~", "~S~"))
    assert isinstance(command, HoldOrder)
    assert command.reason.startswith("receiver.decrypt_failed: the platform refused (1 of 3")


def test_a_masked_receiver_without_ciphertext_is_held_with_the_reason() -> None:
    command = revealed(uuid4(), _placed("tmall", "张**", "138****1234", "文三路**号"), {})
    assert isinstance(command, HoldOrder)
    assert "no ciphertext" in command.reason
