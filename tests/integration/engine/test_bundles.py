"""Command bundles on the real broker (engine/bundles.py).

* Orders that reach the order processor together are handled in one transaction; its
  ReserveLines to one inventory partition go out as one bundle record, which the
  inventory processor reads part by part, and every order is allocated.
* A bundle with a part that is not a command: the good parts are applied once (a
  repeated part is a redelivery), the bad part alone is dead-lettered with its own
  bytes and reason, and the engine goes on.
"""

from __future__ import annotations

from oms_events import deadletter, topics
from oms_events.engine import bundles
from oms_events.engine.commands import ReceiveStock
from oms_events.engine.records import CommandWriter, Outgoing
from oms_events.engine.runner import Engine
from oms_events.kafka.connection import producer
from oms_events.kafka.port import Record
from oms_events.settings import Settings
from tests.integration.engine.harness import (
    CODEC,
    engine_settings,
    light,
    order_outcomes,
    place_order,
    read_events,
    read_topic,
    receive,
    send,
    wait_for,
)


def test_orders_handled_together_send_their_reservations_in_one_bundle(
    isolated: Settings,
) -> None:
    settings = light(isolated, partitions=1)
    receive(settings, {("TEA", "SH"): 100})
    # A long linger: the twelve orders, sent at once, are handled in one transaction.
    engine = Engine(engine_settings(settings, linger_ms=1000))
    engine.start()
    orders = [place_order(f"B-{n}", "TEA") for n in range(12)]
    try:
        # Stock arrives long before orders in life; here the view must see it first.
        assert wait_for(lambda: engine.stock.available("TEA", "SH") == 100, 60, 0.2)
        send(settings, orders)

        def allocated() -> bool:
            outcomes = order_outcomes(settings)
            return sum(v == "OrderAllocated" for v in outcomes.values()) == len(orders)

        wait_for(allocated, 90)
    finally:
        engine.stop()
    assert not engine.failed()
    assert set(order_outcomes(settings).values()) == {"OrderAllocated"}
    inventory = read_topic(settings, topics.name(settings, topics.commands("inventory")))
    assert any(bundles.HEADER in r.headers for r in inventory), "every command went alone"

    def reservations(record: Record) -> int:
        parts = bundles.parts(CODEC, record)
        return sum(dict(p.headers)["command"] == b"ReserveLines" for p in parts)

    # One ReserveLines per order, in fewer records than orders.
    assert sum(reservations(r) for r in inventory) == len(orders)
    assert len([r for r in inventory if reservations(r)]) < len(orders)
    reserved = [e for e in read_events(settings, "inventory") if e.name == "StockReserved"]
    assert len(reserved) == len(orders)


def test_a_bad_part_of_a_bundle_is_dead_lettered_alone(isolated: Settings) -> None:
    settings = light(isolated, partitions=1)
    writer = CommandWriter(settings, CODEC)
    first = writer.record(
        ReceiveStock(command_id="rcv-1", sku="TEA", location="WH-SH", quantity=5, reason="po")
    )
    second = writer.record(
        ReceiveStock(command_id="rcv-2", sku="TEA", location="WH-SH", quantity=3, reason="po")
    )
    garbage = Outgoing(first.topic, first.key, b"not a command", first.headers, first.partition)
    parts = [first, garbage, second, first]  # the last: a redelivery of the first
    (bundle,) = bundles.pack(parts, range(len(parts)), CODEC, limit=100_000)
    assert bundle.headers == [bundles.HEADER]
    p = producer(settings)
    p.send(bundle.topic, key=bundle.key, value=bundle.value, headers=bundle.headers)
    p.flush()
    p.close()
    # The partition goes on after the bundle: a receipt sent behind it is applied too.
    after = ReceiveStock(command_id="rcv-3", sku="TEA", location="WH-SH", quantity=7, reason="po")
    send(settings, [after])
    engine = Engine(engine_settings(settings))
    engine.start()
    letters_topic = topics.name(settings, topics.DEADLETTER)

    def received() -> list[int]:
        events = read_events(settings, "inventory")
        return [e.payload["quantity"] for e in events if e.name == "StockReceived"]

    try:
        wait_for(lambda: len(received()) >= 3 and len(read_topic(settings, letters_topic)) >= 1, 90)
    finally:
        engine.stop()
    assert not engine.failed()
    assert received() == [5, 3, 7]
    (letter,) = read_topic(settings, letters_topic)
    assert letter.value == b"not a command"
    assert deadletter.read(letter.headers).reason.code == "decode.error"
