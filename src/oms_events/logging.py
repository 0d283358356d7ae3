"""Structured logging: JSON lines for machines, readable lines on a terminal."""

from __future__ import annotations

import logging
import sys

import structlog

from oms_events.log_privacy import mask_personal_data


def setup_logging(fmt: str = "auto", level: str = "info") -> None:
    """Configure structlog and the standard library's logging once for the process.

    ``fmt`` is ``json``, ``console`` or ``auto`` (console when stderr is a terminal).
    Library loggers (kafka-python, psycopg) go through the same renderer at WARNING.
    Phones, names and addresses are masked in every line (``log_privacy``).
    """
    use_console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    renderer: structlog.types.Processor = (
        structlog.dev.ConsoleRenderer() if use_console else structlog.processors.JSONRenderer()
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            mask_personal_data,  # last: exception texts quote values too
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processor=renderer, foreign_pre_chain=[*shared, mask_personal_data]
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    # kafka-python's selector warns whenever a callback holds its loop >100 ms, which on
    # a busy 2-core machine is every GC pause; it says nothing an operator can act on.
    logging.getLogger("kafka.net.selector").setLevel(logging.ERROR)
    # kafka-python warns at every SCRAM login over SASL_PLAINTEXT that credentials go
    # "in the clear": SCRAM sends a proof, never the password, and the dev listener is
    # loopback (README "Security"); a line per connection would drown the real ones.
    logging.getLogger("kafka.net.sasl.scram").setLevel(logging.ERROR)
