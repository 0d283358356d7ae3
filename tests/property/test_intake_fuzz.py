"""Fuzz: no input makes the intake raise past its dead-letter path, per channel parser.

Stronger than "does not raise": the processor has a last-resort net that dead-letters
parser bugs as ``intake.internal_error``; these tests fail if that net ever catches
anything, so every input problem is a typed rejection naming a field.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oms_events.avro.codec import SingleObjectCodec
from oms_events.deadletter import Source
from oms_events.intake.errors import Code
from oms_events.intake.processor import IntakeProcessor, Refused
from oms_events.intake.tables import Tables

FIXTURES = Path(__file__).parents[1] / "fixtures" / "channels"
CHANNELS = ("web", "tmall", "jd", "pos", "pdd", "douyin")
PROCESSOR = IntakeProcessor(SingleObjectCodec(), Tables.load())
VALID = {
    c: [
        p.read_bytes()
        for p in sorted((FIXTURES / c).iterdir())
        if p.suffix in (".json", ".xml", ".csv") and not p.name.startswith("bad_")
    ]
    for c in CHANNELS
}
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def survive(channel: str, raw: bytes) -> None:
    outputs = PROCESSOR.handle(channel, raw, Source(f"oms.intake.{channel}"))
    PROCESSOR.index.rollback()  # keep every example independent
    assert outputs, "a delivery must produce a command, a duplicate or a dead letter"
    internal = [o for o in outputs if isinstance(o, Refused) and o.code is Code.INTERNAL]
    assert not internal, internal[0].rejection


@pytest.mark.parametrize("channel", CHANNELS)
@FUZZ
@given(raw=st.binary(max_size=2000))
def test_arbitrary_bytes(channel: str, raw: bytes) -> None:
    survive(channel, raw)


@st.composite
def mutated(draw: st.DrawFn, channel: str) -> bytes:
    """A valid fixture with bytes flipped, cut, duplicated or inserted."""
    data = bytearray(draw(st.sampled_from(VALID[channel])))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        kind = draw(st.sampled_from(["flip", "cut", "insert", "truncate", "dup"]))
        if kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[at : at + draw(st.integers(1, 40))]
        elif kind == "insert":
            data[at:at] = draw(
                st.sampled_from(
                    [b"\xef\xbc\x91", b"\x00", b'"', b",", b"<", b"&lol;", b"\r\n", b"-1", b"1e9"]
                )
            )
        elif kind == "truncate":
            del data[at:]
        elif kind == "dup":
            data[at:at] = data[at : at + 60]
    return bytes(data)


@pytest.mark.parametrize("channel", CHANNELS)
@FUZZ
@given(data=st.data())
def test_mutated_valid_fixtures(channel: str, data: st.DataObject) -> None:
    survive(channel, data.draw(mutated(channel)))


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.text(max_size=12)
    | st.sampled_from(["", "０", "-1", "1e400", "NaN", "12.505", "２０２４-13-40 25:61:00"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += _paths(v, (*prefix, i))
    return found


# The channels' JSON deliveries (JD sends JSON from its API, XML from older tools).
VALID_JSON = {c: [raw for raw in VALID[c] if raw.lstrip()[:1] == b"{"] for c in CHANNELS}


@pytest.mark.parametrize("channel", ["web", "tmall", "jd", "pdd", "douyin"])
@FUZZ
@given(data=st.data())
def test_json_fields_replaced_by_any_value(channel: str, data: st.DataObject) -> None:
    """Structure-aware: a valid order with any one field, at any depth, set to any JSON."""
    doc = json.loads(data.draw(st.sampled_from(VALID_JSON[channel])), parse_float=Decimal)
    path = data.draw(st.sampled_from(_paths(doc)[1:]))
    target = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = data.draw(JSON_VALUES)
    survive(channel, json.dumps(doc, default=str, ensure_ascii=False).encode())
