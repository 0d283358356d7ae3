"""Each channel's native format reads into the one order model, mess included."""

from __future__ import annotations

import pytest

from oms_events.intake.channels import CHANNELS
from oms_events.intake.errors import Code, Rejection
from oms_events.intake.model import IntakeCancel, IntakeOrder, order_id
from oms_events.intake.tables import Tables
from oms_events.topics import CHANNELS as REGISTRY_CHANNELS
from tests.unit.intake.conftest import FIXTURES, fixture


def orders(channel: str, name: str, tables: Tables) -> list[IntakeOrder]:
    items = CHANNELS[channel].parse(fixture(channel, name), tables).items
    assert all(isinstance(i, IntakeOrder) for i in items), items
    return [i for i in items if isinstance(i, IntakeOrder)]


def test_every_registry_channel_has_a_format() -> None:
    assert set(CHANNELS) == set(REGISTRY_CHANNELS)


def test_shopify_webhook(tables: Tables) -> None:
    (o,) = orders("web", "order_1001.json", tables)
    assert (o.external_id, o.order_no) == ("5712345678901", "OMS-web-5712345678901")
    assert o.customer_name == "李雷 🍵" and o.phone == "13800138000"
    assert [(x.sku, x.quantity, x.unit_price, x.discount) for x in o.lines] == [
        ("SKU-TEA-001", 2, 12500, 2500),
        ("SKU-MUG-001", 1, 6800, 0),
    ]
    assert (o.shipping_fee, o.total, o.payment_method, o.paid) == (1000, 30300, "alipay", True)
    assert o.delivery_speed == "express" and o.address.postcode == "310012"


def test_shopify_full_width_strings_and_unallocated_discount(tables: Tables) -> None:
    (o,) = orders("web", "order_1002_fullwidth.json", tables)
    assert o.phone == "13912345678" and o.customer_name == "🌸小美🌸"
    assert o.address.country == "CN" and o.address.line1 == "上海市浦东新区世纪大道 100号"
    assert o.lines[0].quantity == 2 and o.lines[0].discount == 800
    assert o.lines[0].promotions == ("WELCOME8",)
    assert o.account is None and o.payment_method == "card" and o.total == 7180


def test_tmall_trade(tables: Tables) -> None:
    (o,) = orders("tmall", "trade_3891234567890123456.json", tables)
    assert o.order_id == order_id("tmall", "3891234567890123456")
    assert o.customer_name == "王小明"
    assert (o.address.province, o.address.city, o.address.district) == (
        "浙江省",
        "杭州市",
        "西湖区",
    )
    assert o.address.line1 == "西溪街道 文三路90号 华星科技大厦5楼"
    # sub-order discount 10.00 on line 1; shop discount 20.00 prorated 1558 / 442.
    assert [x.discount for x in o.lines] == [1000 + 1558, 442]
    assert o.lines[1].sku == "SKU-MUG-001"  # mapped through num_iid, outer_sku_id empty
    assert o.total == 28800 and o.paid and o.payment_method == "alipay"


def test_tmall_unpaid_full_width_numbers_as_numbers(tables: Tables) -> None:
    (o,) = orders("tmall", "trade_unpaid_fullwidth.json", tables)
    assert o.external_id == "3891234567890123499" and not o.paid
    assert o.phone == "13912345678" and o.lines[0].sku == "SKU-CUP-001"
    assert (o.lines[0].unit_price, o.shipping_fee, o.total) == (3990, 800, 12770)


def test_jd_xml(tables: Tables) -> None:
    (o,) = orders("jd", "order_281234567890.xml", tables)
    assert o.customer_name == "赵云🐉" and o.phone == "13800138000" and o.account == "jd_zhaoyun88"
    assert [x.discount for x in o.lines] == [1000 + 429, 71]  # sku coupon + prorated 5.00
    assert o.total == 28090 and o.shipping_fee == 600


def test_jd_cash_on_delivery_full_width(tables: Tables) -> None:
    (o,) = orders("jd", "order_281234567891_cod.xml", tables)
    assert o.external_id == "281234567891" and o.payment_method == "cod" and not o.paid
    assert o.lines[0].quantity == 2 and o.total == 13600


def test_pos_batch_applies_promotions_per_line(tables: Tables) -> None:
    a, b, c = orders("pos", "batch_S001_20240618.csv", tables)
    assert a.external_id == "S001-000123" and a.delivery_speed == "same_day"
    assert [x.discount for x in a.lines] == [1250, 9800]  # 95折 on line 1, 买二送一 frees line 2
    assert a.total == 23750 and a.payment_method == "wechat_pay"
    assert [x.discount for x in b.lines] == [917, 2083] and b.total == 36170
    assert b.customer_name == "Lucy 🐼 Wang" and b.phone == "13912345678"
    assert c.phone == "057188886666" and c.lines[0].quantity == 1 and c.total == 12500


def test_pos_gb18030_batch_rejects_only_its_bad_receipts(tables: Tables) -> None:
    items = CHANNELS["pos"].parse(fixture("pos", "batch_S003_mixed_gb18030.csv"), tables).items
    good = [i.external_id for i in items if isinstance(i, IntakeOrder)]
    bad = {i.external_id: (i.code, i.field) for i in items if isinstance(i, Rejection)}
    assert good == ["S003-000777"]
    assert bad == {
        "S003-000778": (Code.UNKNOWN_SKU, "row 3.barcode"),
        "S003-000779": (Code.BAD_QUANTITY, "row 4.qty"),
        "S003-000780": (Code.PRICE_MISMATCH, "row 5.paid_total"),
        "S003-000781": (Code.BAD_PHONE, "row 6.member_phone"),
    }


BAD = [
    ("web", "bad_unknown_sku.json", Code.UNKNOWN_SKU, "line_items[1].sku"),
    ("web", "bad_phone.json", Code.BAD_PHONE, "shipping_address.phone"),
    ("web", "bad_quantity.json", Code.BAD_QUANTITY, "line_items[1].quantity"),
    ("web", "bad_price_mismatch.json", Code.PRICE_MISMATCH, "total_price"),
    ("web", "bad_not_json.json", Code.UNPARSEABLE, "$"),
    ("tmall", "bad_unknown_sku.json", Code.UNKNOWN_SKU, "orders[0].outer_sku_id"),
    ("tmall", "bad_phone.json", Code.BAD_PHONE, "receiver_mobile"),
    ("tmall", "bad_quantity.json", Code.BAD_QUANTITY, "orders[1].num"),
    ("tmall", "bad_price_mismatch.json", Code.PRICE_MISMATCH, "payment"),
    ("tmall", "bad_status.json", Code.BAD_STATUS, "status"),
    ("tmall", "bad_not_json.json", Code.UNPARSEABLE, "$"),
    ("jd", "bad_unknown_sku.xml", Code.UNKNOWN_SKU, "itemInfoList[1].skuId"),
    ("jd", "bad_phone.xml", Code.BAD_PHONE, "consigneeInfo.mobile"),
    ("jd", "bad_quantity.xml", Code.BAD_QUANTITY, "itemInfoList[1].itemTotal"),
    ("jd", "bad_price_mismatch.xml", Code.PRICE_MISMATCH, "orderPayment"),
    ("jd", "bad_not_xml.xml", Code.UNPARSEABLE, "$"),
    ("jd", "bad_entity_bomb.xml", Code.UNPARSEABLE, "$"),
    ("jd", "bad_afs_repair.xml", Code.BAD_VALUE, "customerExpect"),
    ("pos", "bad_not_csv.csv", Code.UNPARSEABLE, "$"),
    ("tmall", "bad_duplicate_oid.json", Code.DUPLICATE_LINE, "orders[1].oid"),
    ("web", "bad_duplicate_line_id.json", Code.DUPLICATE_LINE, "line_items[1].id"),
    ("pdd", "bad_after_sale_open.json", Code.BAD_STATUS, "refund_status"),
    ("pdd", "bad_price_mismatch.json", Code.PRICE_MISMATCH, "pay_amount"),
    ("douyin", "bad_duplicate_line.json", Code.DUPLICATE_LINE, "sku_order_list[1].order_id"),
    (
        "douyin",
        "bad_after_sale_open.json",
        Code.BAD_STATUS,
        "sku_order_list[0].after_sale_info.after_sale_status",
    ),
    ("douyin", "bad_api_error.json", Code.UNPARSEABLE, "code"),
    ("pos", "bad_ambiguous_encoding.csv", Code.UNPARSEABLE, "$"),
]


@pytest.mark.parametrize(("channel", "name", "code", "field"), BAD)
def test_bad_fixtures_are_refused_naming_code_and_field(
    channel: str, name: str, code: Code, field: str, tables: Tables
) -> None:
    try:
        items = CHANNELS[channel].parse(fixture(channel, name), tables).items
    except Rejection as whole:
        items = [whole]
    (item,) = items
    assert isinstance(item, Rejection)
    assert (item.code, item.field) == (code, field)
    assert item.en and item.zh


def test_every_bad_fixture_is_covered() -> None:
    on_disk = {(p.parent.name, p.name) for p in FIXTURES.glob("*/bad_*")}
    assert on_disk == {(c, n) for c, n, _, _ in BAD}


CANCELLED = [
    ("tmall", "trade_3891234567890123456_closed.json", "3891234567890123456", "TRADE_CLOSED"),
    ("tmall", "trade_unpaid_closed.json", "3891234567890123499", "TRADE_CLOSED_BY_TAOBAO"),
    ("web", "order_1001_cancelled.json", "5712345678901", "cancelled at the shop (customer)"),
    ("web", "order_1002_voided.json", "5712345678902", "payment voided"),
]


@pytest.mark.parametrize(("channel", "name", "external_id", "said"), CANCELLED)
def test_a_closed_or_cancelled_channel_order_is_a_cancellation(
    channel: str, name: str, external_id: str, said: str, tables: Tables
) -> None:
    (item,) = CHANNELS[channel].parse(fixture(channel, name), tables).items
    assert isinstance(item, IntakeCancel)
    assert (item.channel, item.external_id) == (channel, external_id)
    assert item.order_id == order_id(channel, external_id)
    assert said in item.reason
