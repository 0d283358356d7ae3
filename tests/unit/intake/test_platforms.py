"""Deliveries shaped like the platforms' own API answers (issue 19): JD's JSON pages,
Pinduoduo and Douyin orders, masked receivers, merchant codes, phones by country."""

from __future__ import annotations

from oms_events.domain.money import Money
from oms_events.engine.order_service import order_from_command
from oms_events.intake.channels import CHANNELS
from oms_events.intake.errors import Code, Rejection
from oms_events.intake.model import IntakeCancel, IntakeOrder, place_order
from oms_events.intake.tables import Tables
from tests.unit.intake.conftest import fixture


def items(channel: str, name: str, tables: Tables) -> list[object]:
    return list(CHANNELS[channel].parse(fixture(channel, name), tables).items)


def test_jd_search_page_holds_several_orders(tables: Tables) -> None:
    delivery = CHANNELS["jd"].parse(fixture("jd", "search_page_two_orders.json"), tables)
    first, second = delivery.items
    assert isinstance(first, IntakeOrder) and isinstance(second, IntakeOrder)
    assert (first.external_id, second.external_id) == ("281234567900", "281234567901")
    assert delivery.key == "10086"  # a page is keyed by the shop
    assert [(x.sku, x.quantity, x.discount) for x in first.lines] == [("SKU-TEA-001", 2, 1000)]
    assert (first.total, first.shipping_fee, first.paid) == (24600, 600, True)
    # The consignee comes masked unless decrypted: taken, and marked.
    assert first.receiver_masked and first.phone == "138****5678" and first.customer_name == "孙*"
    assert not second.receiver_masked and second.phone == "13912345678"


def test_jd_order_get_with_numbers_and_encrypted_consignee(tables: Tables) -> None:
    (order,) = items("jd", "get_281234567902.json", tables)
    assert isinstance(order, IntakeOrder)
    assert order.external_id == "281234567902" and order.payment_method == "cod"
    assert order.total == 7400 and not order.paid
    assert order.receiver_masked and order.phone is not None and order.phone.startswith("~")


def test_jd_page_with_one_bad_order_refuses_only_that_one(tables: Tables) -> None:
    good, bad = items("jd", "page_one_bad_order.json", tables)
    assert isinstance(good, IntakeOrder) and good.external_id == "281234567910"
    assert isinstance(bad, Rejection) and bad.external_id == "281234567911"
    assert (bad.code, bad.field) == (Code.BAD_PHONE, "consigneeInfo.mobile")


def test_jd_xml_and_json_read_the_same_order(tables: Tables) -> None:
    (xml,) = items("jd", "order_281234567890.xml", tables)
    assert isinstance(xml, IntakeOrder) and xml.total == 28090 and not xml.receiver_masked


def test_pdd_order_discounts_and_encrypted_receiver(tables: Tables) -> None:
    (order,) = items("pdd", "order_info_241130-512345678901234.json", tables)
    assert isinstance(order, IntakeOrder)
    assert order.order_no == "OMS-pdd-241130-512345678901234"
    # seller 10.00 and platform 8.00 spread over 250.00 and 68.00 of list prices
    assert [(x.sku, x.unit_price, x.discount) for x in order.lines] == [
        ("SKU-TEA-001", 12500, 786 + 629),
        ("SKU-MUG-001", 6800, 214 + 171),
    ]
    assert order.lines[0].promotions == ("商家优惠", "平台优惠")
    assert (order.total, order.paid, order.payment_method) == (30000, True, "wechat_pay")
    assert order.receiver_masked and order.customer_name.startswith("~")
    assert order.address.district == "南山区"


def test_pdd_item_without_sku_code_maps_by_goods_code(tables: Tables) -> None:
    (order,) = items("pdd", "order_info_241130-512345678901234.json", tables)
    assert isinstance(order, IntakeOrder)
    assert order.lines[1].channel_sku == "MUG-PANDA"  # outer_id empty: outer_goods_id


def test_pdd_list_page_places_and_cancels(tables: Tables) -> None:
    placed, refunded = items("pdd", "order_list_page.json", tables)
    assert isinstance(placed, IntakeOrder) and placed.total == 4290
    assert placed.lines[0].promotions == ("平台优惠",) and placed.shipping_fee == 600
    assert isinstance(refunded, IntakeCancel)
    assert refunded.external_id == "241130-512345678909999" and "退款成功" in refunded.reason


def test_douyin_order_in_fen_with_shop_platform_and_talent_discounts(tables: Tables) -> None:
    (order,) = items("douyin", "order_detail_6921234567890123456.json", tables)
    assert isinstance(order, IntakeOrder)
    assert [(x.sku, x.quantity, x.unit_price, x.discount, x.promotions) for x in order.lines] == [
        ("SKU-TEA-001", 2, 12500, 2500, ("店铺优惠", "平台优惠")),
        ("SKU-MUG-001", 1, 7200, 700, ("达人优惠",)),
    ]
    assert (order.total, order.shipping_fee, order.paid) == (29600, 600, True)
    assert order.lines[1].channel_sku == "MUG-PANDA"  # no sku code: out_product_id
    assert order.receiver_masked and order.customer_name.startswith("#")
    assert order.phone is not None and order.phone.startswith("$")
    assert (order.address.province, order.address.city, order.address.district) == (
        "湖北省",
        "武汉市",
        "洪山区",
    )
    assert order.placed_at.isoformat() == "2026-11-30T20:30:15+08:00"


def test_douyin_page_cod_refunded_line_and_cancellation(tables: Tables) -> None:
    cod, partly_refunded, cancelled = items("douyin", "search_list_page.json", tables)
    assert isinstance(cod, IntakeOrder)
    assert (cod.payment_method, cod.paid, cod.total) == ("cod", False, 4590)
    assert cod.address.line1 == "花园路街道 花园路 88 号 3 单元" and not cod.receiver_masked
    assert isinstance(partly_refunded, IntakeOrder)
    # The refunded mug was paid (in pay_amount) but is not placed to ship.
    assert [x.sku for x in partly_refunded.lines] == ["SKU-TEA-001"]
    assert partly_refunded.receiver_masked and partly_refunded.customer_name == "刘**"
    assert isinstance(cancelled, IntakeCancel) and "已取消" in cancelled.reason


def test_tmall_masked_receiver_is_taken_and_outer_iid_read(tables: Tables) -> None:
    (order,) = items("tmall", "trade_masked_outer_iid.json", tables)
    assert isinstance(order, IntakeOrder)
    assert order.receiver_masked and order.phone == "*******3721"
    # The mug has no sku variants: its merchant code is in outer_iid.
    assert [x.channel_sku for x in order.lines] == ["LJ250G", "MUG-PANDA"]
    assert place_order(order).receiver_masked


def test_unmasked_orders_keep_their_content_hash(tables: Tables) -> None:
    (order,) = items("tmall", "trade_3891234567890123456.json", tables)
    assert isinstance(order, IntakeOrder) and not order.receiver_masked
    # The hash of this fixture before receiver_masked existed: redeliveries still match.
    assert order.content_hash() == ORIGINAL_TMALL_HASH


def test_national_phone_read_in_the_shipping_country(tables: Tables) -> None:
    (order,) = items("web", "order_1006_us_phone.json", tables)
    assert isinstance(order, IntakeOrder)
    assert order.phone == "+15035550187" and order.address.country == "US"
    assert order.currency == "USD" and order.total == 8000


# content_hash of tmall/trade_3891234567890123456.json as computed on main before
# receiver_masked existed.
ORIGINAL_TMALL_HASH = "0d826347f2a5eddce86e64201507db51"


def test_shopify_tax_on_top_of_prices_is_kept_as_its_own_amount(tables: Tables) -> None:
    (order,) = items("web", "order_1008_tax_excluded.json", tables)
    assert isinstance(order, IntakeOrder)
    assert sum(x.net for x in order.lines) == 18300 and order.shipping_fee == 1200
    assert (order.tax, order.total) == (1670, 21170)  # total_price, tax included
    assert order.phone == "+12125550142"
    placed = order_from_command(place_order(order))
    # The order owes (and, paid at the shop, has paid) the tax too.
    assert placed.tax == Money(1670, "USD") and placed.total == Money(21170, "USD")
    assert sum(p.amount for p in placed.payments.values()) == 21170


def test_shopify_tax_included_in_prices_adds_nothing(tables: Tables) -> None:
    (order,) = items("web", "order_1001.json", tables)
    assert isinstance(order, IntakeOrder) and order.tax == 0 and order.total == 30300
    assert place_order(order).tax == 0


def test_keys_and_positions_of_single_orders_and_pages(tables: Tables) -> None:
    single = CHANNELS["jd"].parse(fixture("jd", "order_281234567891_cod.xml"), tables)
    assert single.key == "281234567891"  # the normalized id, not the full-width digits
    page = CHANNELS["pdd"].parse(fixture("pdd", "order_list_page.json"), tables)
    assert [getattr(i, "position", None) for i in page.items] == ["order_list[0]", "order_list[1]"]
