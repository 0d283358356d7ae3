"""The pure intake step: commands, duplicates, changes and dead letters."""

from __future__ import annotations

from oms_events.avro.codec import SingleObjectCodec
from oms_events.deadletter import Source
from oms_events.intake.model import order_id
from oms_events.intake.processor import Command, Duplicate, IntakeProcessor, Output, Refused, Seen
from oms_events.intake.tables import Tables
from tests.unit.intake.conftest import fixture

SOURCE = Source("oms.intake.tmall", 3, 42)
TRADE = "trade_3891234567890123456.json"


def commands(outputs: list[Output]) -> list[Command]:
    return [o for o in outputs if isinstance(o, Command)]


def test_new_order_becomes_place_order_keyed_by_order_id(processor: IntakeProcessor) -> None:
    outputs = processor.handle("tmall", fixture("tmall", TRADE), SOURCE)
    (command,) = commands(outputs)
    assert command.kind == "place"
    assert command.order_id == order_id("tmall", "3891234567890123456")
    name, record = SingleObjectCodec().decode(command.value)
    assert name == "oms.order.commands.PlaceOrder"
    assert record["order_no"] == "OMS-tmall-3891234567890123456"
    assert [line["discount"] for line in record["lines"]] == [2558, 442]
    assert record["lines"][1]["promotions"] == ["店铺优惠"]
    assert any(isinstance(o, Seen) for o in outputs)
    assert processor.counts["placed"] == 1


def test_redelivery_is_a_duplicate_and_command_ids_are_stable(
    processor: IntakeProcessor,
) -> None:
    first = commands(processor.handle("tmall", fixture("tmall", TRADE), SOURCE))
    processor.index.commit()
    again = processor.handle("tmall", fixture("tmall", TRADE), SOURCE)
    assert [type(o) for o in again] == [Duplicate]
    # A fresh processor (a restart without the index) would emit the same command id.
    other = IntakeProcessor(SingleObjectCodec(), processor.tables)
    assert commands(other.handle("tmall", fixture("tmall", TRADE), SOURCE))[0].value == (
        first[0].value
    )


def test_duplicate_inside_one_open_transaction_is_caught(processor: IntakeProcessor) -> None:
    processor.handle("tmall", fixture("tmall", TRADE), SOURCE)
    assert [type(o) for o in processor.handle("tmall", fixture("tmall", TRADE), SOURCE)] == [
        Duplicate
    ]


def test_rollback_forgets_staged_orders(processor: IntakeProcessor) -> None:
    processor.handle("tmall", fixture("tmall", TRADE), SOURCE)
    processor.index.rollback()
    assert commands(processor.handle("tmall", fixture("tmall", TRADE), SOURCE))


def test_changed_redelivery_becomes_change_order(processor: IntakeProcessor) -> None:
    processor.handle("tmall", fixture("tmall", TRADE), SOURCE)
    processor.index.commit()
    changed = "trade_3891234567890123456_changed.json"
    (command,) = commands(processor.handle("tmall", fixture("tmall", changed), SOURCE))
    name, record = SingleObjectCodec().decode(command.value)
    assert (command.kind, name) == ("change", "oms.order.commands.ChangeOrder")
    assert record["address"]["line1"].endswith("6楼(改)")
    assert record["previous_hash"] != record["content_hash"]


def test_change_of_an_order_that_cannot_change_is_dead_lettered(
    processor: IntakeProcessor,
) -> None:
    processor.is_changeable = lambda _order_id: False
    processor.handle("jd", fixture("jd", "order_281234567890.xml"), SOURCE)
    processor.index.commit()
    changed = fixture("jd", "order_281234567890_changed.xml")
    (letter,) = processor.handle("jd", changed, SOURCE)
    assert isinstance(letter, Refused)
    headers = dict(letter.letter.headers())
    assert headers["dlq.code"] == b"intake.change_rejected"
    assert headers["dlq.context.external_id"] == b"281234567890"
    assert letter.raw == changed
    assert processor.counts["intake.change_rejected"] == 1


def test_dead_letter_headers_name_code_field_messages_and_source(
    processor: IntakeProcessor,
) -> None:
    raw = fixture("tmall", "bad_phone.json")
    (letter,) = processor.handle("tmall", raw, SOURCE)
    assert isinstance(letter, Refused) and letter.raw == raw
    headers = {k: v.decode() for k, v in letter.letter.headers()}
    assert headers["dlq.code"] == "intake.bad_phone"
    assert headers["dlq.field"] == "receiver_mobile"
    assert "phone" in headers["dlq.message.en"] and "电话" in headers["dlq.message.zh"]
    assert (headers["dlq.source.topic"], headers["dlq.source.partition"]) == (
        "oms.intake.tmall",
        "3",
    )
    assert headers["dlq.source.offset"] == "42"
    assert processor.counts["intake.bad_phone"] == 1


def test_batch_yields_orders_and_dead_letters_side_by_side(processor: IntakeProcessor) -> None:
    outputs = processor.handle("pos", fixture("pos", "batch_S003_mixed_gb18030.csv"), SOURCE)
    assert [c.external_id for c in commands(outputs)] == ["S003-000777"]
    letters = [o for o in outputs if isinstance(o, Refused)]
    assert sorted(o.rejection.external_id or "" for o in letters) == [
        "S003-000778",
        "S003-000779",
        "S003-000780",
        "S003-000781",
    ]


def test_an_order_the_aggregate_would_refuse_is_refused_at_intake(
    processor: IntakeProcessor,
) -> None:
    # A Chinese address without a city: the order aggregate's rule, checked here.
    raw = fixture("web", "order_1001.json").replace('"city": "杭州市", '.encode(), b"")
    (refused,) = processor.handle("web", raw, SOURCE)
    assert isinstance(refused, Refused)
    assert refused.code.value == "intake.order_invalid"
    assert refused.rejection.field == "address"
    assert "address.invalid" in refused.letter.reason.en


def test_the_shopify_web_fixture_has_no_district_and_is_accepted(
    processor: IntakeProcessor,
) -> None:
    outputs = processor.handle("web", fixture("web", "order_1001.json"), SOURCE)
    assert [o.kind for o in commands(outputs)] == ["place"]


def test_an_order_whose_command_would_not_fit_a_record_is_refused(tables: Tables) -> None:
    # A limit below this order's command stands for a huge order under the real limit.
    small = IntakeProcessor(SingleObjectCodec(), tables, max_record_bytes=200)
    (refused,) = small.handle("tmall", fixture("tmall", TRADE), SOURCE)
    assert isinstance(refused, Refused)
    assert refused.code.value == "intake.too_large"
    assert "kafka.max_record_bytes" in refused.letter.reason.en


CLOSED = "trade_3891234567890123456_closed.json"


def test_a_closed_trade_becomes_cancel_order_once(processor: IntakeProcessor) -> None:
    processor.handle("tmall", fixture("tmall", TRADE), SOURCE)
    processor.index.commit()
    (command,) = commands(processor.handle("tmall", fixture("tmall", CLOSED), SOURCE))
    name, record = SingleObjectCodec().decode(command.value)
    assert (command.kind, name) == ("cancel", "oms.order.commands.CancelOrder")
    assert record["order_id"] == str(order_id("tmall", "3891234567890123456"))
    assert "TRADE_CLOSED" in record["reason"]
    assert processor.counts["cancelled"] == 1
    processor.index.commit()
    # Tmall pushes the closed trade again: acknowledged, not sent twice; nor is the open
    # trade arriving late (a redelivery of a version already accepted).
    assert [type(o) for o in processor.handle("tmall", fixture("tmall", CLOSED), SOURCE)] == [
        Duplicate
    ]
    assert [type(o) for o in processor.handle("tmall", fixture("tmall", TRADE), SOURCE)] == [
        Duplicate
    ]


def test_a_cancellation_of_an_order_never_placed_still_reaches_the_order(
    processor: IntakeProcessor,
) -> None:
    """The Order refuses it visibly (a CommandRejected reply and a dead letter,
    order.unknown): the intake neither drops it nor guesses from its own index."""
    (command,) = commands(processor.handle("web", fixture("web", "order_1002_voided.json"), SOURCE))
    name, record = SingleObjectCodec().decode(command.value)
    assert name == "oms.order.commands.CancelOrder"
    # A restart without the index sends the same command id: the engine applies it once.
    other = IntakeProcessor(SingleObjectCodec(), processor.tables)
    again = commands(other.handle("web", fixture("web", "order_1002_voided.json"), SOURCE))
    assert SingleObjectCodec().decode(again[0].value)[1]["command_id"] == record["command_id"]
