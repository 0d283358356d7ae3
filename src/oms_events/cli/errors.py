"""Turning known failures into one readable line and a non-zero exit, never a traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from kafka.errors import KafkaError
from rich.console import Console

from oms_events.avro.codec import DecodeError
from oms_events.devservices.process import ServiceError
from oms_events.kafka.errors import KafkaUnavailable, TopicDrift

P = ParamSpec("P")
R = TypeVar("R")
err = Console(stderr=True)

KNOWN = (ServiceError, KafkaUnavailable, TopicDrift, DecodeError, KafkaError, OSError)


def one_line_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap a command: known errors print ``error: …`` in one line and exit 1."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except KNOWN as exc:
            message = str(exc) or type(exc).__name__
            first, _, rest = message.partition("\n")
            err.print(f"[bold red]error:[/] {first}", highlight=False, soft_wrap=True)
            if rest:  # service errors quote their log below the one-line summary
                err.print(rest, highlight=False, markup=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper
