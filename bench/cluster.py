"""Throughput on a three-broker KRaft cluster against one, and the bigger fault runs:
``python -m bench.cluster``.

Each run starts its own cluster (a temporary folder, free loopback ports, the dev
broker's jars: ``oms dev up`` must have run once), two ``oms run --only`` processes per
role (orders: inventory + order; parcels: shipment + warehouse), and ``oms simulate``'s
simulation of contended orders (4 skus at 3 locations, stock for about half). With
``--fault`` a broker is SIGKILLed a third of the way in and restarted 10 s later; every
run ends with the fault test's checks (each order decided once, nothing oversold,
stock conserved). On one machine the brokers share its cores, so three against one
shows what replication costs, not what scale-out gains.

    python -m bench.cluster --brokers 1,3 --orders 3000 --rate 400
    python -m bench.cluster --brokers 3 --orders 3000 --rate 60 --fault leader
"""

from __future__ import annotations

import argparse
import os
import uuid

from tests.fault.cluster_run import Fault, check, cluster_of, contended, run

from oms_events.settings import Settings

FAULTS = {
    "none": Fault(),
    "any": Fault(broker="any"),
    "leader": Fault(broker="leader"),
    "engine": Fault(broker="any", engine_too=True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brokers", default="1,3", help="cluster sizes to run, e.g. 1,3")
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=400.0, help="orders published per second")
    parser.add_argument("--fault", choices=sorted(FAULTS), default="none")
    args = parser.parse_args()
    os.environ.setdefault("OMS_LOG_LEVEL", "warning")
    shared = Settings()
    for nodes in (int(n) for n in args.brokers.split(",")):
        with cluster_of(shared, nodes) as cluster:
            plan = contended(args.orders, args.rate)
            outcome, engines = run(cluster, f"b{uuid.uuid4().hex[:8]}.", plan, FAULTS[args.fault])
            try:
                check(outcome)
                verdict = "checks passed"
            except AssertionError as exc:
                verdict = f"CHECK FAILED: {exc}"
            finally:
                exits = engines.stop()
            print(f"{nodes} broker(s), fault {args.fault}: {outcome.report()}")
            print(f"  engines alive at the end {outcome.alive_at_end}, exits {exits}; {verdict}")


if __name__ == "__main__":
    main()
