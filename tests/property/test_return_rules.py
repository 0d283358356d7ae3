"""Returns never take back more than shipped minus already returned, and a return's
refund, as the order prices it, is never more than its lines are worth."""

from __future__ import annotations

from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from oms_events.domain import Money, Order
from oms_events.domain.errors import ReturnQuantityInvalid
from oms_events.domain.returns import Return, ReturnLine
from tests.unit.domain.samples import line, order

LINES = st.lists(
    st.tuples(st.integers(1, 5), st.integers(100, 99_999), st.integers(0, 90)),
    min_size=1,
    max_size=3,
)
# (line index, units, what happens: rejected / received and refunded)
STEPS = st.lists(
    st.tuples(st.integers(0, 2), st.integers(1, 6), st.sampled_from(["rejected", "refunded"])),
    max_size=12,
)


def shipped(specs: list[tuple[int, int, int]]) -> Order:
    o = order(
        lines=[
            # discount: a percentage of the line's list price, so the net stays >= 0
            line(n, f"SKU-{n}", qty, price, price * qty * pct // 100)
            for n, (qty, price, pct) in enumerate(specs, 1)
        ]
    )
    o.record_payment("pay-1", o.total)
    o.allocate([(n, o.reservation_id(n), "WH-SH") for n in o.lines])
    o.ship_lines(list(o.lines), "S-1")
    return o


@settings(max_examples=150, deadline=None)
@given(LINES, STEPS)
def test_returned_units_and_refunds_stay_within_what_shipped_and_was_paid(
    specs: list[tuple[int, int, int]], steps: list[tuple[int, int, str]]
) -> None:
    o = shipped(specs)
    refunded = Money.zero("CNY")
    kept: dict[int, int] = {}
    for k, (index, units, outcome) in enumerate(steps):
        line_no = index % len(o.lines) + 1
        rid, rma = UUID(int=k + 1), f"RMA-{k}"
        room = o.lines[line_no].quantity - kept.get(line_no, 0)
        if units > room:
            try:
                o.open_return(rid, rma, {line_no: units}, "quality")
            except ReturnQuantityInvalid:
                continue
            raise AssertionError(f"{units} of line {line_no} taken with {room} returnable")
        o.open_return(rid, rma, {line_no: units}, "quality")
        if outcome == "rejected":
            o.close_return(rid, "rejected", {})
            continue
        ol = o.lines[line_no]
        ret = Return.request(
            o.id,
            rma,
            [ReturnLine(line_no, ol.sku, units, ol.quantity, ol.unit_price, ol.discount, "")],
            "quality",
        )
        amount = o.agree_refund(rma, {line_no: units}, False, "return")
        assert amount <= ret.refund_limit
        o.close_return(rid, "refunded", {line_no: units})
        kept[line_no] = kept.get(line_no, 0) + units
        refunded = refunded + amount
    for n, units in kept.items():
        assert units <= o.lines[n].quantity
    assert refunded <= Money.sum((ln.net for ln in o.lines.values()), "CNY")
    # A line returned whole was refunded exactly its net.
    events = o.collect_events()
    for n, units in kept.items():
        if units == o.lines[n].quantity:
            parts = [
                p["amount"]["amount"]
                for e in events
                if type(e).__name__ == "RefundAgreed"
                for p in e.lines  # type: ignore[attr-defined]
                if p["line_no"] == n
            ]
            assert sum(parts) == o.lines[n].net.amount
