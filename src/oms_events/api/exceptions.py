"""The exception inbox (the exceptions projection, dead letters included): view, close
by hand, or re-drive a dead letter to the topic it came from after a fix."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from oms_events.api.access import allow
from oms_events.api.roles import Permission
from oms_events.api.services import Services, services
from oms_events.api.users import User
from oms_events.kafka.connection import consumer, producer
from oms_events.kafka.errors import KafkaError, KafkaUnavailable
from oms_events.kafka.port import TopicPartition
from oms_events.settings import Settings

router = APIRouter(tags=["exceptions"])
# An exception is open until an operator closes it (exception_resolution).
OPEN = "NOT EXISTS (SELECT 1 FROM exception_resolution r WHERE r.exception_id = e.exception_id)"


class State(StrEnum):
    """Which exceptions to list."""

    open = "open"
    closed = "closed"
    all = "all"


class ExceptionItem(BaseModel):
    """Something someone has to look at."""

    id: str = Field(description="The exception's id (resolve it by this)")
    kind: str = Field(description="e.g. dead_letter, late_shipment, reservation_rejected")
    order_id: str | None
    order_no: str | None
    code: str | None
    field: str | None
    message: str | None
    message_zh: str | None
    source_topic: str | None
    source_partition: int | None
    source_offset: int | None
    occurred_at: datetime
    redrivable: bool = Field(description="A dead letter whose input can be re-published")
    closed: str | None = Field(description="resolved or redriven, or null while open")
    closed_by: str | None
    closed_at: datetime | None
    note: str | None


class Inbox(BaseModel):
    """GET /exceptions."""

    exceptions: list[ExceptionItem]


class Close(BaseModel):
    """How the operator closed it."""

    note: str = Field("", description="What was done, e.g. 'customer called, address fixed'")


class Closed(BaseModel):
    """The exception is closed."""

    id: str
    closed: str
    closed_by: str


class Redriven(Closed):
    """The dead letter's input is on its topic again."""

    topic: str
    partition: int
    offset: int


_SELECT = (
    "SELECT e.exception_id AS id, e.kind, e.order_id::text, e.order_no, e.code, e.field, "
    "e.message, e.message_zh, e.source_topic, e.source_partition, e.source_offset, "
    "e.occurred_at, (e.kind = 'dead_letter' AND coalesce(e.source_offset, -1) >= 0) AS redrivable, "
    "r.action AS closed, r.actor AS closed_by, r.at AS closed_at, r.note "
    "FROM exception e LEFT JOIN exception_resolution r USING (exception_id)"
)


@router.get("/exceptions", response_model=Inbox, summary="The exception inbox")
def inbox(
    api: Annotated[Services, Depends(services)],
    _: Annotated[User, Depends(allow(Permission.exceptions_read))],
    state: State = State.open,
    kind: Annotated[str | None, Query(description="Only this kind, e.g. dead_letter")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Inbox:
    """Exceptions, newest first: open ones by default."""
    where = {
        State.open: "r.exception_id IS NULL",
        State.closed: "r.exception_id IS NOT NULL",
        State.all: "true",
    }[state]
    rows = api.db.rows(
        f"{_SELECT} WHERE {where} AND (%(kind)s::text IS NULL OR e.kind = %(kind)s) "
        "ORDER BY e.occurred_at DESC LIMIT %(limit)s",
        kind=kind,
        limit=limit,
    )
    return Inbox(exceptions=[ExceptionItem(**r) for r in rows])


def _exception(api: Services, exception_id: str) -> dict[str, Any]:
    row = api.db.row(f"{_SELECT} WHERE e.exception_id = %s", exception_id)
    if row is None:
        raise HTTPException(404, f"no exception {exception_id}")
    if row["closed"]:
        raise HTTPException(
            409, f"exception {exception_id} was already {row['closed']} by {row['closed_by']}"
        )
    return row


def _close(api: Services, exception_id: str, action: str, note: str, actor: str) -> None:
    done = api.db.execute(
        "INSERT INTO exception_resolution (exception_id, action, note, actor) "
        "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
        exception_id,
        action,
        note,
        actor,
    )
    if not done:
        raise HTTPException(409, f"exception {exception_id} was closed meanwhile")


@router.post(
    "/exceptions/{exception_id}/resolve",
    response_model=Closed,
    summary="Close an exception by hand",
)
def resolve(
    exception_id: str,
    api: Annotated[Services, Depends(services)],
    user: Annotated[User, Depends(allow(Permission.exceptions_resolve))],
    body: Close | None = None,
) -> Closed:
    """Mark the exception handled; it leaves the open inbox (the projection keeps it)."""
    _exception(api, exception_id)
    _close(api, exception_id, "resolved", (body or Close()).note, user.username)
    return Closed(id=exception_id, closed="resolved", closed_by=user.username)


def republish(
    settings: Settings, topic: str, partition: int, offset: int, actor: str
) -> tuple[int, int]:
    """Read the record at ``topic``/``partition``/``offset`` and publish it again to
    ``topic`` (same key, value and headers, plus ``oms.redriven_by``); where it landed."""
    c = consumer(settings, group_id=None, client_id="oms-api-redrive")
    try:
        tp = TopicPartition(topic, partition)
        c.assign([tp])
        c.seek(tp, offset)
        record = None
        for _ in range(50):  # about 5 s
            for records in c.poll(timeout_ms=100).values():
                record = next((r for r in records if r.offset == offset), None)
                if record is not None or records:
                    break
            if record is not None:
                break
    finally:
        c.close()
    if record is None:
        raise HTTPException(410, f"{topic}[{partition}]@{offset} is no longer on Kafka")
    headers = [(k, v) for k, v in record.headers if k != "oms.redriven_by"]
    headers.append(("oms.redriven_by", actor.encode()))
    p = producer(settings)
    try:
        meta = p.send(topic, record.value, key=record.key, headers=headers).get(30)
    except KafkaError as exc:
        if "AUTHORIZATION" not in str(exc).upper():
            raise
        # The API's Kafka user writes commands, channel input and dead letters, never
        # events (kafka/acls.py): an event a projection refused is fixed by a replay.
        raise HTTPException(
            403,
            f"the API may not write {topic}: re-drive commands and channel input only; "
            "for a projection's dead letter fix it and run `oms project replay NAME`",
        ) from exc
    finally:
        p.close()
    return meta.partition, meta.offset


@router.post(
    "/deadletters/{exception_id}/redrive",
    response_model=Redriven,
    summary="Re-drive a dead letter to its topic",
)
def redrive(
    exception_id: str,
    api: Annotated[Services, Depends(services)],
    user: Annotated[User, Depends(allow(Permission.deadletters_redrive))],
    body: Close | None = None,
) -> Redriven:
    """Publish the dead-lettered input again, byte for byte, to the topic it was read
    from (after the cause is fixed), and close the exception."""
    row = _exception(api, exception_id)
    if not row["redrivable"]:
        raise HTTPException(
            409, f"exception {exception_id} is not a dead letter with a source record"
        )
    try:
        partition, offset = republish(
            api.settings,
            row["source_topic"],
            row["source_partition"],
            row["source_offset"],
            user.username,
        )
    except (KafkaError, KafkaUnavailable) as error:
        raise HTTPException(
            503, f"Kafka did not take the record ({type(error).__name__}); send again"
        ) from error
    note = (body or Close()).note or f"re-published as {row['source_topic']}[{partition}]@{offset}"
    _close(api, exception_id, "redriven", note, user.username)
    return Redriven(
        id=exception_id,
        closed="redriven",
        closed_by=user.username,
        topic=row["source_topic"],
        partition=partition,
        offset=offset,
    )
