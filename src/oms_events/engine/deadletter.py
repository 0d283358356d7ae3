"""Dead letters: an input the engine cannot process, kept with the reason in its headers.

The original key and value are kept byte for byte so an operator can fix and replay
it; the headers say what was wrong and where the record came from.
"""

from __future__ import annotations

from typing import Any

from oms_events import topics
from oms_events.engine.records import Outgoing
from oms_events.settings import Settings


def dead_letter(
    settings: Settings, record: Any, code: str, message: str, field: str = ""
) -> Outgoing:
    """A record for ``oms.deadletter`` holding ``record`` and why it was refused.

    Headers: ``code`` (e.g. ``decode.error`` or a domain error code), ``field``,
    ``message``, ``source.topic``, ``source.partition``, ``source.offset``, and the
    original headers prefixed with ``original.``.
    """
    headers = [
        ("code", code.encode()),
        ("field", field.encode()),
        ("message", message[:1000].encode()),
        ("source.topic", str(record.topic).encode()),
        ("source.partition", str(record.partition).encode()),
        ("source.offset", str(record.offset).encode()),
    ]
    headers += [(f"original.{k}", v) for k, v in (record.headers or [])]
    return Outgoing(
        topics.name(settings, topics.DEADLETTER),
        record.key,
        record.value if record.value is not None else b"",
        headers,
    )
