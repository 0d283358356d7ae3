"""Properties of channel money at intake: a seller's adjustment lands exactly on the line,
and any till receipt rounded down to the jiao and paid in any split of tenders is placed
with lines that add up to what the customer paid."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from oms_events.domain.money import decimal_text
from oms_events.intake.channels import CHANNELS
from oms_events.intake.model import IntakeLine, IntakeOrder, place_order
from oms_events.intake.pricing import adjust, adjust_order
from oms_events.intake.tables import Tables

TABLES = Tables.load()
BARCODES = sorted(TABLES.skus["pos"])
HEADER = (
    "store_id,receipt_no,sold_at,barcode,qty,unit_price,promo_codes,paid_total,payment,"
    "member_name,member_phone,province,city,district,address,delivery\n"
)
PROPS = settings(max_examples=200, deadline=None)


@st.composite
def intake_lines(draw: st.DrawFn) -> IntakeLine:
    quantity = draw(st.integers(1, 50))
    unit_price = draw(st.integers(0, 100_000))
    discount = draw(st.integers(0, unit_price * quantity))
    return IntakeLine(1, "SKU-X", quantity, unit_price, discount)


@PROPS
@given(line=intake_lines(), data=st.data())
def test_adjustment_lands_exactly_and_no_discount_goes_negative(
    line: IntakeLine, data: st.DataObject
) -> None:
    amount = data.draw(st.integers(-line.net, 1_000_000))
    after = adjust(line, amount)
    assert after.net == line.net + amount
    assert 0 <= after.discount <= after.gross
    assert after.unit_price >= line.unit_price and after.quantity == line.quantity


@PROPS
@given(lines=st.lists(intake_lines(), min_size=1, max_size=4), data=st.data())
def test_order_adjustment_is_shared_without_losing_a_fen(
    lines: list[IntakeLine], data: st.DataObject
) -> None:
    numbered = [
        IntakeLine(i + 1, x.sku, x.quantity, x.unit_price, x.discount) for i, x in enumerate(lines)
    ]
    net = sum(x.net for x in numbered)
    amount = data.draw(st.integers(-net, 1_000_000))
    after = adjust_order(numbered, amount)
    assert sum(x.net for x in after) == net + amount
    assert all(0 <= x.discount <= x.gross for x in after)


@st.composite
def receipts(draw: st.DrawFn) -> tuple[bytes, int, int, list[tuple[str, int]]]:
    """A receipt CSV rounded down to the jiao, paid in 1-3 tenders; with its exact
    total, what the till took, and the tenders."""
    rows = draw(
        st.lists(
            st.tuples(st.sampled_from(BARCODES), st.integers(1, 5), st.integers(1, 50_000)),
            min_size=1,
            max_size=3,
        )
    )
    exact = sum(q * p for _, q, p in rows)
    taken = exact // 10 * 10
    cuts = sorted(draw(st.lists(st.integers(0, taken), max_size=2)))
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, taken], strict=True)]
    names = draw(st.lists(st.sampled_from(["微信", "现金", "支付宝"]), min_size=3, max_size=3))
    tenders = list(zip(names, parts, strict=False))
    payment = (
        names[0]
        if len(tenders) == 1
        else ";".join(f"{m}:{decimal_text(a, 'CNY')}" for m, a in tenders)
    )
    member = "顾客,13300133000,江苏省,苏州市,姑苏区,观前街 1 号,"
    body = "".join(
        f"S009,000001,2024-06-26 10:00:00,{code},{q},{decimal_text(p, 'CNY')},,"
        f"{decimal_text(taken, 'CNY')},{payment},{member}\n"
        for code, q, p in rows
    )
    return (HEADER + body).encode(), exact, taken, tenders


METHODS = {"微信": "wechat_pay", "现金": "cash", "支付宝": "alipay"}


@PROPS
@given(receipt=receipts())
def test_any_receipt_rounded_to_the_jiao_in_any_split_is_placed_as_paid(
    receipt: tuple[bytes, int, int, list[tuple[str, int]]],
) -> None:
    raw, exact, taken, tenders = receipt
    (order,) = CHANNELS["pos"].parse(raw, TABLES).items
    assert isinstance(order, IntakeOrder), order
    assert order.total == taken and order.paid
    rounding = exact - taken
    assert sum(x.discount for x in order.lines) == rounding
    assert all(("抹零" in x.promotions) == bool(x.discount) for x in order.lines)
    command = place_order(order)
    if command.tenders:
        assert [(t.method, t.amount) for t in command.tenders] == [
            (METHODS[m], a) for m, a in tenders
        ]
    else:  # one tender the PaymentMethod enum names: payment_method says it all
        assert len(tenders) == 1 and command.payment_method.value == METHODS[tenders[0][0]]
