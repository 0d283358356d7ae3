"""Typed commands: one class per command schema, read and written in one place.

Every ``.avsc`` under ``schemas/*/commands/`` whose namespace is a command namespace
has exactly one class, and a command survives the trip through its Avro schema
unchanged. What is no command of a service is dead-lettered as ``command.unknown``.
"""

from __future__ import annotations

import dataclasses
import json
import types
import uuid
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

import pytest

from oms_events import deadletter, topics
from oms_events.avro.codec import SingleObjectCodec
from oms_events.domain.order import Order, OrderStatus
from oms_events.domain.payment import Payment
from oms_events.engine import commands
from oms_events.engine.commands import COMMANDS, Command, ReceiveStock, UnknownCommand
from oms_events.engine.handling import Outcome
from oms_events.engine.records import Outgoing
from tests.unit.engine.flow import SETTINGS, Flow, order_id, place

CODEC = SingleObjectCodec()
SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"


def _command_schemas() -> list[str]:
    names = []
    for path in sorted(SCHEMAS.glob("*/commands/*.avsc")):
        schema = json.loads(path.read_text())
        # CommandRejected sits beside the order commands but is a reply (oms.replies).
        if schema["namespace"].endswith(".commands"):
            names.append(f"{schema['namespace']}.{schema['name']}")
    return names


def test_every_command_schema_has_exactly_one_class() -> None:
    schemas = _command_schemas()
    assert len(schemas) == 63
    assert sorted(COMMANDS) == sorted(schemas)
    assert len(set(COMMANDS.values())) == len(COMMANDS)  # no class serves two schemas
    for name, cls in COMMANDS.items():
        assert cls.schema() == name and name.endswith(f".{cls.__name__}")


def _example(tp: Any, n: int) -> Any:
    """A value of type ``tp`` that differs from its default (``n`` varies it)."""
    if tp is uuid.UUID:
        return uuid.uuid4()
    if tp is str:
        return f"x{n}"
    if tp is bool:
        return True
    if tp is int:
        return 7 + n
    if tp is datetime:  # Avro keeps milliseconds
        return datetime(2026, 11, 11, 10, 30, 1, 123000, tzinfo=UTC)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return list(tp)[-1]
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = get_type_hints(tp)
        fields = dataclasses.fields(tp)
        return tp(**{f.name: _example(hints[f.name], n + i) for i, f in enumerate(fields)})
    if get_origin(tp) is tuple:
        item = get_args(tp)[0]
        return (_example(item, n), _example(item, n + 1))
    if get_origin(tp) is Literal:
        return get_args(tp)[-1]
    if get_origin(tp) is types.UnionType:
        return _example(next(a for a in get_args(tp) if a is not type(None)), n)
    raise TypeError(tp)


@pytest.mark.parametrize("cls", list(COMMANDS.values()), ids=lambda c: c.__name__)
def test_a_command_round_trips_through_its_schema(cls: type[Command]) -> None:
    command = _example(cls, 0)
    value = commands.encode(
        CODEC, command, topic=topics.name(SETTINGS, topics.commands(cls.aggregate_type))
    )
    assert CODEC.decode(value)[0] == cls.schema()
    assert commands.decode(CODEC, value) == command


@pytest.mark.parametrize("cls", list(COMMANDS.values()), ids=lambda c: c.__name__)
def test_a_command_is_keyed_by_the_aggregate_it_addresses(cls: type[Command]) -> None:
    command = _example(cls, 0)
    if cls.aggregate_type == "inventory":  # the item; of the first line for XLines
        at = command.lines[0] if hasattr(command, "lines") else command
        assert command.key == commands.item_key(at.sku, at.location)
    elif cls.aggregate_type == "shipment":
        assert command.key == str(command.shipment_id)
    elif cls.aggregate_type == "return":
        assert command.key == str(command.return_id)
    elif cls.aggregate_type == "payment":  # the order's one payment
        assert command.key == str(Payment.create_id(command.order_id))
    elif hasattr(command, "order_id"):
        assert command.key == str(command.order_id)
    else:  # PlaceOrder, ChangeOrder: the order id the channel's own id derives
        assert command.key == str(Order.create_id(command.channel, command.external_id))


def test_a_record_of_another_schema_is_no_command() -> None:
    with pytest.raises(UnknownCommand):
        commands.from_record("oms.order.events.OrderPlaced", {})


def test_a_command_for_another_service_is_dead_lettered_as_unknown() -> None:
    flow = Flow()
    stock = ReceiveStock(command_id="r1", sku="TEA", location="SH", quantity=1)
    result = flow.send(stock)  # an inventory command on the order processor
    assert result.outcome is Outcome.DEAD
    [dead] = result.dead
    assert deadletter.read(dead.headers.items()).reason.code == "command.unknown"


def test_a_malformed_id_is_refused_when_the_record_is_read() -> None:
    flow = Flow()
    placed = place()
    flow.send(placed)
    topic = topics.name(SETTINGS, topics.commands("order"))
    value = CODEC.encode(
        "oms.order.commands.CancelOrder",
        {"command_id": "c1", "order_id": "not-a-uuid", "reason": "x"},
        topic=topic,
    )
    record = Outgoing(topic, b"k", value)
    result = flow.deliver(record)
    assert result.outcome is Outcome.DEAD
    assert deadletter.read(result.dead[0].headers.items()).reason.code == "command.invalid"
    assert flow.order(order_id(placed)).status is OrderStatus.PENDING
