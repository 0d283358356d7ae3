"""Encodings are detected or declared, never guessed into garbage (issue 19)."""

from __future__ import annotations

import codecs

import pytest

from oms_events.intake.channels import CHANNELS
from oms_events.intake.charsets import declared_xml_encoding, decode
from oms_events.intake.errors import Code, Rejection
from oms_events.intake.model import IntakeOrder
from oms_events.intake.tables import Tables
from tests.unit.intake.conftest import fixture

HK = "陳大文 香港九龍旺角彌敦道六百號 電話"
MAINLAND = "李雷 浙江省杭州市西湖区文三路九十号 电话"


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (MAINLAND.encode("utf-8"), MAINLAND),
        (codecs.BOM_UTF8 + MAINLAND.encode("utf-8"), MAINLAND),
        (MAINLAND.encode("utf-16"), MAINLAND),
        (MAINLAND.encode("gbk"), MAINLAND),
        (MAINLAND.encode("gb18030"), MAINLAND),
        (HK.encode("big5"), HK),
    ],
)
def test_each_encoding_reads_back_the_text(raw: bytes, text: str) -> None:
    assert decode(raw, "CSV") == text


def test_big5_is_never_read_as_gb18030_garbage() -> None:
    raw = HK.encode("big5")
    assert raw.decode("gb18030") != HK  # the trap: it decodes without error
    assert decode(raw, "CSV") == HK


def test_ambiguous_bytes_are_refused_asking_for_a_declared_encoding() -> None:
    with pytest.raises(Rejection) as caught:
        decode("陳".encode("big5"), "CSV")
    assert caught.value.code is Code.UNPARSEABLE
    assert "declare the encoding" in caught.value.en and "声明编码" in caught.value.zh


def test_a_declared_encoding_wins_and_is_strict() -> None:
    assert decode("陳".encode("big5"), "XML", "big5") == "陳"
    with pytest.raises(Rejection, match="not valid utf-8"):
        decode(MAINLAND.encode("gbk"), "XML", "utf-8")
    with pytest.raises(Rejection, match="unknown encoding"):
        decode(b"<a/>", "XML", "klingon")


def test_xml_declaration_is_read() -> None:
    assert declared_xml_encoding(b'<?xml version="1.0" encoding="GBK"?><a/>') == "GBK"
    assert declared_xml_encoding(b"<a/>") is None


def test_gbk_xml_order_is_read(tables: Tables) -> None:
    (order,) = CHANNELS["jd"].parse(fixture("jd", "order_281234567920_gbk.xml"), tables).items
    assert isinstance(order, IntakeOrder)
    assert order.customer_name == "欧阳锋" and order.address.district == "天河区"


def test_big5_batch_from_a_hong_kong_till(tables: Tables) -> None:
    items = CHANNELS["pos"].parse(fixture("pos", "batch_S005_big5_hk.csv"), tables).items
    first, second = items
    assert isinstance(first, IntakeOrder) and isinstance(second, IntakeOrder)
    assert first.customer_name == "陳大文" and first.address.line1.startswith("彌敦道")
    assert first.phone == "+85291234567"
    assert [t.method for t in first.tenders] == ["cash"]  # 現金, in traditional characters
    assert second.payment_method == "card"  # 銀聯


def test_json_with_a_bom_is_read(tables: Tables) -> None:
    raw = codecs.BOM_UTF8 + fixture("pdd", "order_info_241130-512345678901234.json")
    (order,) = CHANNELS["pdd"].parse(raw, tables).items
    assert isinstance(order, IntakeOrder) and order.total == 30000
