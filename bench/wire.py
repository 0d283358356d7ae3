"""Records per order on the wire of a kept ``oms bench --keep`` run.

Reads every committed record of the run's topics (its prefix) and counts them per topic
from the first second in which PlaceOrders arrived at ``--min-rate`` or more (the
warm-up before it left out), with the commands each holds (a command bundle's parts,
``engine/bundles.py``), divided by the PlaceOrders in the same span. What
``bench/handling.py`` models without Kafka, measured on the broker: every record the
engine, the projections' dead letters and the driver wrote.

    oms bench --rates 500 --seconds 20 --no-ramp --no-baseline --no-replay --keep
    python -m bench.wire bench<id>.          # the prefix the bench printed
"""

from __future__ import annotations

import argparse
from collections import Counter

from oms_events import eventlog
from oms_events.avro.codec import SingleObjectCodec
from oms_events.engine import bundles
from oms_events.kafka.connection import admin, read_to_end
from oms_events.kafka.port import Record
from oms_events.settings import Settings


def read(settings: Settings, prefix: str) -> list[tuple[str, Record]]:
    """(topic without the prefix, record) of every committed record of the run."""
    client = admin(settings)
    try:
        names = sorted(t for t in client.list_topics() if t.startswith(prefix))
    finally:
        client.close()
    return [(topic[len(prefix) :], r) for topic in names for r in read_to_end(settings, topic)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prefix", help="the run's topic prefix, e.g. bench108abb.")
    parser.add_argument(
        "--min-rate", type=int, default=300, help="PlaceOrders/s that start the span counted"
    )
    args = parser.parse_args()
    codec = SingleObjectCodec()
    records = read(Settings(), args.prefix)

    def placed(r: Record) -> bool:
        return eventlog.header(r.headers, "command") == "PlaceOrder"

    per_second = Counter(r.timestamp // 1000 for _, r in records if placed(r))
    fast = [s for s, n in per_second.items() if n >= args.min_rate]
    if not fast:
        raise SystemExit(f"no second with {args.min_rate} PlaceOrders or more: lower --min-rate")
    start = min(fast) * 1000
    counted = [(t, r) for t, r in records if r.timestamp >= start]
    orders = sum(1 for _, r in counted if placed(r))
    on_wire: Counter[str] = Counter()
    commands: Counter[str] = Counter()
    for topic, r in counted:
        on_wire[topic] += 1
        commands[topic] += len(bundles.parts(codec, r))
    print(f"{orders} orders placed from the first second at >= {args.min_rate}/s")
    print(f"  {'topic':<28} {'records':>8} {'commands':>9}   per order")
    for topic in sorted(on_wire):
        print(f"  {topic:<28} {on_wire[topic] / orders:8.2f} {commands[topic] / orders:9.2f}")
    total = sum(on_wire.values()) / orders
    unbundled = sum(commands.values()) / orders
    snapshots = sum(v for t, v in on_wire.items() if t.endswith(".snapshots")) / orders
    print(f"  {'all':<28} {total:8.2f} {unbundled:9.2f}   (commands: as if none were bundled)")
    print(f"  all but snapshots: {total - snapshots:.2f} records per order")


if __name__ == "__main__":
    main()
