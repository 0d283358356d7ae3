"""Returns as the channels send them: a Tmall refund (退货退款, 仅退款) and a JD after-sale
exchange (换货) become one RequestReturn for the order, named by sku; a redelivery or a
later version of the same return is acknowledged and ignored; an unknown reason is
dead-lettered naming the field."""

from __future__ import annotations

import json

from oms_events.avro.codec import SingleObjectCodec
from oms_events.deadletter import Source
from oms_events.engine import commands
from oms_events.engine.commands import RequestReturn
from oms_events.intake.channels import CHANNELS
from oms_events.intake.errors import Code, Rejection
from oms_events.intake.model import order_id
from oms_events.intake.processor import Command, Duplicate, IntakeProcessor, Refused
from oms_events.intake.returns import IntakeReturn
from oms_events.intake.tables import Tables
from tests.unit.intake.conftest import fixture

SOURCE = Source("oms.intake.tmall", 0, 1)


def request(outputs: list) -> RequestReturn:  # type: ignore[type-arg]
    [command] = [o for o in outputs if isinstance(o, Command)]
    decoded = commands.decode(IntakeProcessor(SingleObjectCodec()).codec, command.value)
    assert isinstance(decoded, RequestReturn) and command.kind == "return"
    return decoded


def test_a_tmall_refund_with_goods_is_a_return_of_the_trade(tables: Tables) -> None:
    [ret] = (
        CHANNELS["tmall"].parse(fixture("tmall", "refund_3891234567890123456.json"), tables).items
    )
    assert isinstance(ret, IntakeReturn)
    assert (ret.order_external_id, ret.lines, ret.reason) == (
        "3891234567890123456",
        (("SKU-TEA-001", 1),),
        "no_reason_7d",
    )
    command = request(
        IntakeProcessor(SingleObjectCodec(), tables).handle(
            "tmall", fixture("tmall", "refund_3891234567890123456.json"), SOURCE
        )
    )
    assert command.order_id == order_id("tmall", "3891234567890123456")
    assert command.return_no == "RMA-tmall-71234567890123456"
    assert [(ln.line_no, ln.sku, ln.quantity) for ln in command.lines] == [(0, "SKU-TEA-001", 1)]
    assert not command.refund_only and not command.exchange_lines


def test_a_tmall_refund_without_goods_is_refund_only(tables: Tables) -> None:
    raw = fixture("tmall", "refund_only_missing.json")
    command = request(IntakeProcessor(SingleObjectCodec(), tables).handle("tmall", raw, SOURCE))
    assert command.refund_only and command.reason == "missing"
    assert command.lines[0].sku == "SKU-MUG-001"  # by num_iid: no outer_id


def test_a_jd_after_sale_exchange_sends_the_same_sku_again(tables: Tables) -> None:
    raw = fixture("jd", "afs_exchange_281234567890.xml")
    command = request(IntakeProcessor(SingleObjectCodec(), tables).handle("jd", raw, SOURCE))
    assert command.order_id == order_id("jd", "281234567890")
    assert command.reason == "damaged"
    assert [(x.sku, x.quantity) for x in command.exchange_lines] == [("SKU-TEA-001", 1)]


def test_the_same_return_again_or_moved_on_at_the_platform_is_taken_once(
    tables: Tables,
) -> None:
    processor = IntakeProcessor(SingleObjectCodec(), tables)
    raw = fixture("tmall", "refund_3891234567890123456.json")
    request(processor.handle("tmall", raw, SOURCE))
    processor.index.commit()
    assert isinstance(processor.handle("tmall", raw, SOURCE)[0], Duplicate)
    doc = json.loads(raw)
    doc["refund_get_response"]["refund"]["status"] = "WAIT_BUYER_RETURN_GOODS"
    doc["refund_get_response"]["refund"]["created"] = "2024-06-20 09:12:46"
    moved = json.dumps(doc).encode()
    assert isinstance(processor.handle("tmall", moved, SOURCE)[0], Duplicate)
    assert processor.counts["returned"] == 1 and processor.counts["duplicate"] == 2


def test_a_reason_we_cannot_map_is_dead_lettered_naming_the_field(tables: Tables) -> None:
    doc = json.loads(fixture("tmall", "refund_only_missing.json"))
    doc["reason"] = "心情不好"
    [refused] = IntakeProcessor(SingleObjectCodec(), tables).handle(
        "tmall", json.dumps(doc).encode(), SOURCE
    )
    assert isinstance(refused, Refused)
    assert (refused.code, refused.rejection.field) == (Code.BAD_VALUE, "reason")
    assert isinstance(refused.rejection, Rejection) and refused.rejection.zh
