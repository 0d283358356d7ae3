"""Turning known failures into one readable line and a non-zero exit, never a traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import psycopg
import typer
from rich.console import Console
from rich.markup import escape

from oms_events.avro.codec import DecodeError
from oms_events.avro.registry import RegistryError
from oms_events.devservices.process import ServiceError
from oms_events.fulfilment.rules import RulesError
from oms_events.kafka.errors import KafkaError, KafkaUnavailable, TopicDrift
from oms_events.kafka.security import KafkaCredentialsError
from oms_events.projection.migrate import MigrationChanged
from oms_events.projection.registry import UnknownProjection
from oms_events.projection.runner import MissingTopic
from oms_events.whatif import WhatIfError

P = ParamSpec("P")
R = TypeVar("R")
err = Console(stderr=True)

KNOWN = (
    ServiceError,
    KafkaUnavailable,
    TopicDrift,
    DecodeError,
    RegistryError,
    KafkaError,
    KafkaCredentialsError,
    OSError,
    psycopg.Error,
    MigrationChanged,
    UnknownProjection,
    MissingTopic,
    RulesError,
    WhatIfError,
)


def one_line_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap a command: known errors print ``error: …`` in one line and exit 1."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except KNOWN as exc:
            message = str(exc) or type(exc).__name__
            if not isinstance(exc, ServiceError):
                # Drivers wrap their hints onto new lines; operators get one line.
                message = " ".join(part.strip() for part in message.splitlines())
            if isinstance(exc, psycopg.OperationalError):
                if "password" in message:
                    # A DSN left from before the dev roles (oms/oms), or no `oms dev up` yet.
                    message += (
                        " (the dev roles' passwords are made by `oms dev up`; unset "
                        "OMS_POSTGRES_DSN to use them, `oms dev dsn` prints them)"
                    )
                else:
                    message += " (start it with `oms dev up` or set OMS_POSTGRES_DSN)"
            if isinstance(exc, KafkaError) and "AUTHORIZATION" in message.upper():
                message += (
                    " (the Kafka user, OMS_KAFKA_USERNAME, has no ACL for this: run as "
                    "the service's principal, or `oms topics apply` as admin to write "
                    'the ACLs of OMS_KAFKA_TOPIC_PREFIX; README "Security")'
                )
            first, _, rest = message.partition("\n")
            err.print(f"[bold red]error:[/] {escape(first)}", highlight=False, soft_wrap=True)
            if rest:  # service errors quote their log below the one-line summary
                err.print(rest, highlight=False, markup=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper
