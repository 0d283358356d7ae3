"""The dead-letter contract: what a record on ``oms.deadletter`` says about itself.

Every writer (the intake, the engine's processors, the projections) keeps the refused
input's key and value byte for byte and says why in these headers, all UTF-8:

=========================  ===================================================
``dlq.code``               machine-readable reason, e.g. ``intake.unknown_sku``,
                           ``decode.error``, a domain error code
``dlq.field``              the offending field (path); ``$`` the input as a whole
``dlq.message.en``         what an operator reads, in English
``dlq.message.zh``         the same in Chinese
``dlq.source.topic``       where the input was read (an HTTP delivery: the
``dlq.source.partition``   channel's intake topic, partition and offset -1)
``dlq.source.offset``
``dlq.processor``          who refused it: ``intake``, ``engine.order``,
                           ``projection.exceptions`` ...
``dlq.error.class``        the exception class that refused it
``dlq.context.<name>``     writer-specific facts (intake: channel, external_id,
                           position in a batch)
``original.<name>``        the input's own headers, kept
=========================  ===================================================

The exceptions projection reads them back with :func:`read`. Writers build them with
:class:`DeadLetter`; nobody spells a header name anywhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Header(StrEnum):
    """The header names of the contract."""

    CODE = "dlq.code"
    FIELD = "dlq.field"
    MESSAGE_EN = "dlq.message.en"
    MESSAGE_ZH = "dlq.message.zh"
    SOURCE_TOPIC = "dlq.source.topic"
    SOURCE_PARTITION = "dlq.source.partition"
    SOURCE_OFFSET = "dlq.source.offset"
    PROCESSOR = "dlq.processor"
    ERROR_CLASS = "dlq.error.class"


WHOLE = "$"  # the field of a reason that concerns the whole input (as the intake says)
CONTEXT = "dlq.context."
ORIGINAL = "original."
MESSAGE_LIMIT = 1000  # characters: an exception's text can be a whole payload

# Reasons that are not a rule of the business but of the machinery, with the words
# operators read; domain and intake errors bring their own messages.
TECHNICAL: Mapping[str, tuple[str, str]] = {
    "decode.error": ("cannot decode the record", "无法解码该记录"),
    "command.invalid": ("the command is incomplete or malformed", "命令不完整或格式错误"),
    "command.unknown": ("no processor here handles this record", "此处没有处理该记录的处理器"),
    "engine.error": ("the engine failed on this input (a bug)", "引擎处理该输入时出错（程序缺陷）"),
    "projection.decode": ("the projection cannot decode the event", "投影无法解码该事件"),
    "projection.fold": ("the projection cannot apply the event", "投影无法应用该事件"),
}


@dataclass(frozen=True)
class Source:
    """Where the refused input was read: a Kafka record, or an HTTP request (-1, -1)."""

    topic: str
    partition: int = -1
    offset: int = -1


@dataclass(frozen=True)
class Reason:
    """Why an input was refused: code, field, messages in en and zh, exception class."""

    code: str
    field: str
    en: str
    zh: str
    error_class: str


def technical(code: str, error: BaseException, field: str = "") -> Reason:
    """A reason of :data:`TECHNICAL` for ``error``: the fixed words, then the error's text.

    A ``KeyError`` names the missing field when ``field`` is not given; otherwise the
    field is :data:`WHOLE`.
    """
    en, zh = TECHNICAL[code]
    if not field:
        missing = isinstance(error, KeyError) and error.args
        field = str(error.args[0]) if missing else WHOLE
    detail = str(error) or type(error).__name__
    return Reason(code, field, f"{en}: {detail}", f"{zh}：{detail}", type(error).__name__)


@dataclass(frozen=True)
class DeadLetter:
    """One refused input and why: what every writer turns into headers."""

    reason: Reason
    source: Source
    processor: str
    context: Mapping[str, str] = field(default_factory=dict)

    def headers(self, original: Iterable[tuple[str, bytes]] = ()) -> list[tuple[str, bytes]]:
        """The Kafka headers of the contract, then ``original`` (the input's own)."""
        r, s = self.reason, self.source
        pairs: list[tuple[str, str]] = [
            (Header.CODE, r.code),
            (Header.FIELD, r.field),
            (Header.MESSAGE_EN, r.en[:MESSAGE_LIMIT]),
            (Header.MESSAGE_ZH, r.zh[:MESSAGE_LIMIT]),
            (Header.SOURCE_TOPIC, s.topic),
            (Header.SOURCE_PARTITION, str(s.partition)),
            (Header.SOURCE_OFFSET, str(s.offset)),
            (Header.PROCESSOR, self.processor),
            (Header.ERROR_CLASS, r.error_class),
        ]
        pairs += [(f"{CONTEXT}{k}", v) for k, v in self.context.items() if v]
        out = [(str(k), v.encode()) for k, v in pairs]
        return out + [(f"{ORIGINAL}{k}", v) for k, v in original]


def read(headers: Iterable[tuple[str, bytes]] | None) -> DeadLetter:
    """The dead letter that ``headers`` describe (absent headers read as empty / -1)."""
    h = {k: v.decode(errors="replace") for k, v in headers or () if v is not None}

    def number(name: Header) -> int:
        try:
            return int(h.get(name, "-1"))
        except ValueError:
            return -1

    return DeadLetter(
        Reason(
            h.get(Header.CODE, ""),
            h.get(Header.FIELD, ""),
            h.get(Header.MESSAGE_EN, ""),
            h.get(Header.MESSAGE_ZH, ""),
            h.get(Header.ERROR_CLASS, ""),
        ),
        Source(
            h.get(Header.SOURCE_TOPIC, ""),
            number(Header.SOURCE_PARTITION),
            number(Header.SOURCE_OFFSET),
        ),
        h.get(Header.PROCESSOR, ""),
        {k.removeprefix(CONTEXT): v for k, v in h.items() if k.startswith(CONTEXT)},
    )
