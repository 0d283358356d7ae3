"""Benchmark: what one Kafka transaction costs against how many partitions it writes.

Every engine transaction writes records to several partitions (events, further commands,
snapshots) and commits its input offsets. Kafka then appends a marker to each partition
it wrote, replicated like any record, before the producer's next transaction may add
partitions; on a replicated cluster each of those appends waits for the followers.
This prints the commit time (median and p90 of ``--rounds`` transactions) for 1 to 36
partitions, a record each, on the cluster the settings name, beside the load average:

    .venv/bin/python -m bench.transactions --rounds 20
    OMS_DEV_DATA_DIR=/tmp/c3 OMS_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:17092,127.0.0.1:17094 \\
        .venv/bin/python -m bench.transactions   # a cluster of `oms dev up --brokers 3`

Needs running services. Fresh topics of its own (six partitions each, the cluster's
replication), deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid

from oms_events.kafka.admin import apply_topics
from oms_events.kafka.connection import admin, clients
from oms_events.kafka.security import as_admin, with_credentials
from oms_events.settings import get_settings
from oms_events.topics import registry

TOPICS = 6  # partitions are taken from these, six each, in order


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="transactions per size")
    parser.add_argument(
        "--sizes", default="1,6,12,24,36", help="partitions per transaction, comma-separated"
    )
    args = parser.parse_args()
    prefix = f"btx{uuid.uuid4().hex[:6]}."
    settings = with_credentials(
        as_admin(get_settings()).replace(kafka={"topic_prefix": prefix, "partitions": 6})
    )
    specs = registry(settings)[:TOPICS]
    apply_topics(settings, specs)
    client = admin(settings)
    brokers = client.broker_count()
    producer = clients(settings).producer(transactional_id=f"{prefix}probe")
    producer.init_transactions()
    load_before = os.getloadavg()
    print(f"{brokers} broker(s), {args.rounds} transactions per size, a record per partition")
    try:
        targets = [(s.name, p) for s in specs for p in range(s.partitions)]
        for size in (int(n) for n in args.sizes.split(",")):
            times: list[float] = []
            for r in range(args.rounds + 1):
                producer.begin_transaction()
                for topic, partition in targets[:size]:
                    producer.send(topic, b"probe", key=b"k", partition=partition)
                start = time.monotonic()
                producer.commit_transaction()
                if r:  # the first one also finds the coordinator and adds the partitions
                    times.append((time.monotonic() - start) * 1000)
            times.sort()
            p90 = times[int(len(times) * 0.9) - 1]
            print(
                f"  {size:>3} partitions: commit median {statistics.median(times):6.1f} ms, "
                f"p90 {p90:6.1f} ms"
            )
    finally:
        producer.close()
        client.delete_topics([s.name for s in specs])
        client.close()
    after = os.getloadavg()
    print(f"load average {load_before[0]:.2f} -> {after[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
