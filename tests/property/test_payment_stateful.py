"""Stateful property test of an order's money: the Order and its Payment together.

Any sequence of captures, refunds (by line, by shipping, or owed after a change),
provider answers, order changes, cash on delivery asked, collected (short, exact or
over, the same waybill again) and tenders voided (and paid late all the same) keeps
every tender's refunds within what it captured, and the ledger sums to the balance
the order sees as paid.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from oms_events.domain import Order, Payment, PaymentMethod, RefundStatus
from oms_events.domain.errors import DomainError
from oms_events.domain.payment import cod_payment_id, ledger_total
from tests.unit.domain.samples import cny, line, order

PICK = st.integers(min_value=0, max_value=7)


class MoneyMachine(RuleBasedStateMachine):
    """An order paid at the channel, then changed and refunded at random."""

    order: Order
    payment: Payment

    @initialize(price=st.integers(min_value=1, max_value=5000), fee=st.integers(0, 1000))
    def placed_and_paid(self, price: int, fee: int) -> None:
        self.order = order(
            lines=[line(1, "SKU-1", 3, price, price // 3)],
            paid_at_channel="web:E-1",
            shipping_fee=fee,
        )
        self.payment = Payment.request(
            self.order.id, PaymentMethod.ALIPAY, self.order.amount_paid, "O-1"
        )
        self.payment.capture("O-1", PaymentMethod.ALIPAY, self.order.amount_paid, "ali-1")
        self.n = 0

    def _settle(self, first: int) -> None:
        # What the order service and payment service do with the order's new events.
        for e in self.order.collect_events()[first:]:
            name = type(e).__name__
            amount = cny(e.amount["amount"]) if hasattr(e, "amount") else None
            self.n += 1
            if name == "PaymentDue" and amount is not None:
                tender = f"O-1-{self.n}"
                self.payment.request_more(tender, PaymentMethod.WECHAT_PAY, amount)
                self.payment.capture(tender, PaymentMethod.WECHAT_PAY, amount, f"wx-{self.n}")
                self.order.record_payment(tender, amount)
            elif name in ("RefundDue", "RefundAgreed") and amount is not None:
                refund_id = getattr(e, "refund_id", f"due-{self.n}")
                self.payment.request_refund(refund_id, amount, "owed")

    def _do(self, act: object) -> None:
        self.order.collect_events()
        try:
            act()  # type: ignore[operator]
        except DomainError:
            return
        self._settle(0)

    @rule(price=st.integers(min_value=1, max_value=3000))
    def add_line(self, price: int) -> None:
        self._do(lambda: self.order.add_line("SKU-X", 1, cny(price)))

    @rule(pick=PICK)
    def remove_line(self, pick: int) -> None:
        nos = sorted(self.order.lines)
        self._do(lambda: self.order.remove_line(nos[pick % len(nos)]))

    @rule(pick=PICK, units=st.integers(1, 3), shipping=st.booleans())
    def refund_units(self, pick: int, units: int, shipping: bool) -> None:
        nos = sorted(self.order.lines)
        self.n += 1
        refund = f"r-{self.n}"
        self._do(
            lambda: self.order.agree_refund(
                refund, {nos[pick % len(nos)]: units}, shipping, "return"
            )
        )

    @rule(pick=PICK, succeed=st.booleans())
    def provider_answers(self, pick: int, succeed: bool) -> None:
        pending = [r for r in self.payment.refunds.values() if r.status is RefundStatus.REQUESTED]
        if not pending:
            return
        refund = pending[pick % len(pending)]
        if succeed:
            self.payment.refund_succeeded(refund.refund_id, {})
            self.order.record_refund(refund.refund_id, refund.amount)
        else:
            self.payment.refund_failed(refund.refund_id, "refused")

    @rule(amount=st.integers(min_value=1, max_value=3000))
    def ask_cash_on_delivery(self, amount: int) -> None:
        self.n += 1
        self.payment.request_more(f"cod-{self.n}", "cod", cny(amount))

    @rule(delta=st.integers(min_value=-500, max_value=500), again=st.booleans())
    def courier_collects(self, delta: int, again: bool) -> None:
        asked = [m for method, m in self.payment.requested.values() if method == "cod"] or [
            m for method, m in self.payment.voided.values() if method == "cod"
        ]  # a cancelled order's parcel delivered all the same
        if not asked:
            return
        amount = cny(max(1, sum(m.amount for m in asked) + delta))
        self.n += 1
        waybill = f"SF{self.n}"
        self.payment.collect_cod(waybill, "SF", amount, None)
        self.order.record_payment(cod_payment_id("SF", waybill), amount)
        if again:  # the same delivered scan again: no second effect
            self.payment.collect_cod(waybill, "SF", amount, None)
            self.order.record_payment(cod_payment_id("SF", waybill), amount)
        self.order.collect_events()

    @rule(share=st.integers(1, 100), delta=st.integers(-300, 300), again=st.booleans())
    def courier_collects_one_parcel_of_several(self, share: int, delta: int, again: bool) -> None:
        # An order split over parcels: this one is priced ``share`` % of what the COD
        # tenders still ask, and its door may be short or over.
        remaining = self.payment.cod_remaining()
        if remaining.amount <= 0:
            return
        price = cny(max(1, remaining.amount * share // 100))
        amount = cny(max(1, price.amount + delta))
        self.n += 1
        waybill = f"SF{self.n}"
        for _ in range(2 if again else 1):  # the same delivered scan again: once
            self.payment.collect_cod(waybill, "SF", amount, None, expected=price)
            self.order.record_payment(cod_payment_id("SF", waybill), amount)
        assert self.payment.cod[waybill].variance == amount - price
        self.order.collect_events()

    @rule(method=st.sampled_from(["alipay", "wechat_pay", "cod"]), amount=st.integers(1, 2000))
    def open_a_trade_then_void_it(self, method: str, amount: int) -> None:
        self.n += 1
        self.payment.request_more(f"t-{self.n}", method, cny(amount))
        self.payment.void_open("order cancelled")
        assert not self.payment.requested

    @rule(pick=PICK)
    def a_voided_trade_is_paid_late(self, pick: int) -> None:
        voided = sorted(r for r, (m, _) in self.payment.voided.items() if m != "cod")
        if not voided:
            return
        reference = voided[pick % len(voided)]
        amount = self.payment.voided[reference][1]
        # What the payment service does: captured, refunded at once, the order not told.
        self.payment.capture(reference, self.payment.voided[reference][0], amount, "late")
        self.payment.refund_tender(f"{reference}-W", reference, "paid after it was withdrawn")
        assert self.payment.refunds[f"{reference}-W"].parts == {reference: amount}
        self.payment.refund_succeeded(f"{reference}-W", {})

    @invariant()
    def tenders_never_give_back_more_than_they_took(self) -> None:
        for tender in self.payment.tenders.values():
            assert 0 <= tender.refunded.amount <= tender.captured.amount

    @invariant()
    def cod_tenders_asked_for_still_lack_cash(self) -> None:
        # A tender collected in parts stays asked for only while its parts fall short.
        for tenders in (self.payment.requested, self.payment.voided):
            asked = {r: m for r, (method, m) in tenders.items() if method == "cod"}
            if asked:
                assert self.payment.cod_remaining(asked).amount > 0

    @invariant()
    def the_ledger_sums_to_the_orders_balance(self) -> None:
        total = ledger_total(self.payment.ledger, "CNY")
        assert total == self.payment.balance == self.order.amount_paid


TestMoney = MoneyMachine.TestCase
TestMoney.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
