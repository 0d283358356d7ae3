"""``python -m oms_events.carriersim``: the carrier simulator as a process, until SIGTERM.

``oms dev up`` starts it so (devservices/carrier_simulator.py). It applies the topic
registry first (idempotent), so it can follow topics on a fresh broker, then writes
``<data_dir>/carriers/simulator.json`` (its pid and the topic prefix it follows): the
sign that it runs, and how ``oms simulate`` knows not to run a second carrier.
"""

from __future__ import annotations

import json
import os
import signal
import threading

import structlog

from oms_events.avro.registry import codec_from_settings
from oms_events.carriersim.simulator import CarrierSimulator
from oms_events.kafka.admin import apply_topics
from oms_events.logging import setup_logging
from oms_events.settings import get_settings

log = structlog.get_logger("oms_events.carriersim")


def main() -> None:
    """Run the simulator on the configured settings until SIGTERM or SIGINT."""
    from oms_events.devservices.carrier_simulator import status_file

    settings = get_settings()
    setup_logging(settings.log.format, settings.log.level)
    apply_topics(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    sim = CarrierSimulator(settings, codec_from_settings(settings))
    loop = threading.Thread(target=sim.run, args=(stop,), name="carrier-simulator")
    loop.start()
    sim.ready.wait()
    path = status_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "pid": os.getpid(),
                "topic_prefix": settings.kafka.topic_prefix,
                "bootstrap_servers": settings.kafka.bootstrap_servers,
                "time_scale": sim.carriers.config.time_scale,
                "seed": sim.carriers.seed,
            }
        )
    )
    log.info(
        "carrier simulator following", prefix=settings.kafka.topic_prefix, seed=sim.carriers.seed
    )
    logged = None
    while loop.is_alive() and not stop.wait(60):
        t = sim.carriers.tally
        figures = (t.parcels, t.pushed, t.delivered, t.returned, t.lost)
        if figures != logged:  # a line a minute while parcels move, none while idle
            logged = figures
            log.info(
                "carrier simulator",
                parcels=t.parcels,
                pushed=t.pushed,
                delivered=t.delivered,
                returned=t.returned,
                lost=t.lost,
                cod_collected=t.cod_collected,
                intercepted=t.intercepts_done,
                not_intercepted=t.intercepts_refused,
            )
    stop.set()
    loop.join(10)


if __name__ == "__main__":
    main()
