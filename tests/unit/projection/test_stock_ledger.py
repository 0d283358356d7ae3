"""The stock ledger's fold without PostgreSQL: one movement per event that moves stock,
entered once, summing to the level it explains."""

from __future__ import annotations

import uuid
from typing import Any

from consumers import inventory

from oms_events import eventlog
from oms_events.avro.codec import SingleObjectCodec
from oms_events.domain import InventoryItem
from oms_events.projection import rows

ON_HAND, RESERVED, IN_TRANSIT = (inventory.LEDGER.index(c) for c in inventory.LEDGER[5:8])
MOVEMENT, ACTOR = inventory.LEDGER.index("movement"), inventory.LEDGER.index("actor")


def records(*items: InventoryItem) -> list[eventlog.EventRecord]:
    log = eventlog.EventLog(SingleObjectCodec())
    return [
        log.record(eventlog.Record(log.encode(e)[1]))
        for item in items
        for e in item.collect_events()
    ]


def test_every_movement_is_entered_once_and_the_ledger_sums_to_the_level() -> None:
    source = InventoryItem.register("TEA", "A", 3)
    target = InventoryItem.register("TEA", "B", 0)
    tid, rid, order = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    source.receive(10, "PO-1", actor="li")
    source.adjust(-1, "damage", actor="li", note="crushed")
    source.count(8, actor="li")
    source.reserve(rid, order, 3)
    source.commit(rid)
    source.reserve(uuid.uuid4(), order, 1)
    source.dispatch_transfer(tid, "B", 2, actor="li")
    source.set_threshold(5, actor="li")
    target.expect_transfer(tid, "A", 2, actor="li")
    events = records(source, target)
    held_back = len(events) - 1  # a first batch without the last event...
    target.receive_transfer(tid, actor="wang")
    events += records(target)
    state: dict[Any, rows.Row] = {}
    first = rows.fold(events[:held_back], state, inventory.HANDLERS, {"ItemRegistered"})
    moves = [m for row in first.values() for m in row.pop("_moves", ())]
    # ...then every event again and the receipt: a repeated event adds nothing twice.
    later = rows.fold(events, state, inventory.HANDLERS, {"ItemRegistered"})
    moves += [m for row in later.values() for m in row.pop("_moves", ())]

    for item in (source, target):
        row = state[item.id]
        own = [m for m in moves if m[0] == item.id]
        assert len({m[1] for m in own}) == len(own)  # one row per (item, version)
        assert sum(m[ON_HAND] for m in own) == row["on_hand"] == item.on_hand
        assert sum(m[RESERVED] for m in own) == row["reserved"] == item.reserved
        assert sum(m[IN_TRANSIT] for m in own) == row["in_transit"] == item.in_transit_units
    assert [m[MOVEMENT] for m in moves if m[0] == source.id] == [
        "received",
        "adjusted",
        "counted",
        "reserved",
        "shipped",
        "reserved",
        "transfer_out",
    ]
    assert [(m[MOVEMENT], m[ACTOR]) for m in moves if m[0] == target.id] == [
        ("transfer_expected", "li"),
        ("transfer_in", "wang"),
    ]
    assert state[source.id]["low_since"] is not None  # available 2, below 3 then 5
