"""Profile one engine processor under load: ``python -m bench.engine order``.

Runs the named processor in the main thread under pyinstrument (which samples the
thread it starts in) and the other processors in threads, until SIGINT/SIGTERM or
``--seconds``; drive load with ``oms simulate`` on the same OMS_KAFKA_TOPIC_PREFIX.
Prints the profile of the hot path to stdout.
"""

from __future__ import annotations

import sys
import threading

from pyinstrument import Profiler

from oms_events.engine.processor import Processor
from oms_events.engine.runner import PROCESSORS, Engine
from oms_events.logging import setup_logging
from oms_events.settings import get_settings


def main(name: str, seconds: float) -> None:
    settings = get_settings()
    setup_logging("json", "warning")
    others = [n for n in PROCESSORS if n != name]
    engine = Engine(settings, others)
    engine.start()
    if name == "order":  # the saga's stock view is started with the order processor
        engine.start_stock_view()
    profiled = Processor(engine.service(name), settings, engine.codec, engine.stop_event)
    threading.Timer(seconds, engine.stop_event.set).start()
    profiler = Profiler(interval=0.001)
    profiler.start()
    profiled.run()
    profiler.stop()
    engine.stop()
    print(profiler.output_text(unicode=False, color=False, show_all=False))


if __name__ == "__main__":
    main(
        sys.argv[1] if len(sys.argv) > 1 else "order",
        float(sys.argv[2]) if len(sys.argv) > 2 else 40,
    )
