"""An engine process whose first processor runs under pyinstrument (``oms bench --profile``).

    python -m bench.e2e.profiled_engine <output stem> order
    python -m bench.e2e.profiled_engine <output stem> inventory shipment warehouse

The first named processor runs in the main thread under pyinstrument's sampler (it
samples the thread that starts it); the others run in threads as ``oms run`` runs
them. SIGTERM stops all; the profile goes to ``<stem>.txt`` and ``<stem>.html``.
Uses only the engine's public classes: no engine hook is needed.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType

from pyinstrument import Profiler

from oms_events.engine.processor import Processor
from oms_events.engine.runner import Engine
from oms_events.logging import setup_logging
from oms_events.settings import get_settings


def main(stem: Path, names: list[str]) -> None:
    """Run ``names`` until SIGTERM, profiling ``names[0]``."""
    settings = get_settings()
    setup_logging("json", "warning")
    hot, others = names[0], names[1:]
    engine = Engine(settings, [hot])
    if others:
        helper = Engine(settings, others, codec=engine.codec)
        helper.stop_event = engine.stop_event
        helper.start()
    if hot == "order":  # the saga's stock view, as Engine.start does
        engine.start_stock_view()

    def _stop(signum: int, frame: FrameType | None) -> None:
        engine.stop_event.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    processor = Processor(engine.service(hot), settings, engine.codec, engine.stop_event)
    profiler = Profiler(interval=0.001)
    profiler.start()
    processor.run()
    profiler.stop()
    stem.with_suffix(".txt").write_text(
        profiler.output_text(unicode=False, color=False, show_all=False)
    )
    stem.with_suffix(".html").write_text(profiler.output_html())
    print(
        f"{hot}: commands {processor.stats['commands']} transactions "
        f"{processor.stats['transactions']} handle_s {processor.timings['handle_s']:.2f} "
        f"commit_s {processor.timings['commit_s']:.2f}",
        file=sys.stderr,
    )
    if others:
        helper.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
