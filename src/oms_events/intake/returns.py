"""Returns as channels send them: a Tmall / Taobao refund (退货退款 or 仅退款) and a JD
after-sale service (售后), normalized into one :class:`IntakeReturn`, then a
``RequestReturn`` for the order it names.

The channel names the order by its own id and the lines by sku, never by our line
numbers, so the request names the line by sku (``line_no`` 0) and the order finds
it. The return number is ``RMA-<channel>-<the channel's refund or service id>``, so a
redelivery names the same return (the order takes it once).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime

from oms_events.engine.commands import ExchangeLine, RequestReturn, ReturnLineRequest
from oms_events.intake.errors import Code, Rejection
from oms_events.intake.model import order_id, order_no

# What the channels write as a reason -> our reason code (settings ``returns.reasons``).
# Matched by the first fragment the channel's text contains.
REASON_WORDS: tuple[tuple[str, str], ...] = (
    ("七天无理由", "no_reason_7d"),
    ("7天无理由", "no_reason_7d"),
    ("不想要", "no_reason_7d"),
    ("拍错", "no_reason_7d"),
    ("质量", "quality"),
    ("发错", "wrong_item"),
    ("错发", "wrong_item"),
    ("少件", "missing"),
    ("漏发", "missing"),
    ("破损", "damaged"),
    ("损坏", "damaged"),
    ("描述不符", "not_as_described"),
)


def reason_code(text: str, field_name: str) -> str:
    """Our reason code for a channel's reason text, or a ``intake.bad_value`` refusal."""
    for fragment, code in REASON_WORDS:
        if fragment in text:
            return code
    raise Rejection(
        Code.BAD_VALUE,
        field_name,
        f"return reason {text[:40]!r} maps to no reason code; add it to REASON_WORDS",
        f"退货原因 {text[:40]!r} 无对应的原因代码",
    )


@dataclass(frozen=True)
class IntakeReturn:
    """A channel's return, normalized: what a RequestReturn is built from."""

    channel: str
    external_id: str  # the channel's refund (Tmall) or after-sale service (JD) id
    order_external_id: str  # the channel's order id
    lines: tuple[tuple[str, int], ...]  # (our sku, units)
    reason: str  # our reason code
    requested_at: datetime
    refund_only: bool = False  # 仅退款: no goods come back
    exchange: bool = False  # 换货: the same skus are sent again
    position: str = field(default="", compare=False)

    @property
    def dedup_id(self) -> str:
        """The key of the intake's dedup index: apart from the channel's order ids."""
        return f"return:{self.external_id}"

    @property
    def return_no(self) -> str:
        """Our return number."""
        return f"RMA-{self.channel}-{self.external_id}"

    @property
    def order_no(self) -> str:
        """Our number of the order the return is for."""
        return order_no(self.channel, self.order_external_id)

    @property
    def order_id(self) -> uuid.UUID:
        """The Order aggregate's id."""
        return order_id(self.channel, self.order_external_id)

    def content_hash(self) -> str:
        """A digest of what the channel said about the return."""
        data = asdict(self)
        data.pop("position")
        data["requested_at"] = self.requested_at.isoformat()
        canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def request_return(ret: IntakeReturn) -> RequestReturn:
    """The ``RequestReturn``; its command id derives from the return, so producing it
    again after a crash is recognisably the same command."""
    return RequestReturn(
        command_id=str(uuid.uuid5(ret.order_id, f"return:{ret.external_id}")),
        order_id=ret.order_id,
        return_no=ret.return_no,
        lines=tuple(ReturnLineRequest(line_no=0, quantity=q, sku=s) for s, q in ret.lines),
        reason=ret.reason,
        refund_only=ret.refund_only,
        exchange_lines=tuple(ExchangeLine(sku=s, quantity=q) for s, q in ret.lines)
        if ret.exchange
        else (),
        requested_at=ret.requested_at,
    )
