"""Deterministic aggregate ids: the same business key always names the same aggregate."""

from __future__ import annotations

import base64
from functools import lru_cache
from json.encoder import encode_basestring
from uuid import NAMESPACE_URL, UUID, uuid5

from oms_events.domain.errors import InvalidOrder

# Namespace of every deterministic id in the domain; changing it orphans all aggregates.
OMS_NAMESPACE = uuid5(NAMESPACE_URL, "https://oms-events/ids")


# The engine derives item and order ids for every command; recent ones come back (an
# order's commands, the popular items). Bounded small: each entry is ~400 B.
@lru_cache(maxsize=8192)
def natural_id(kind: str, *parts: str | int | UUID) -> UUID:
    """A UUIDv5 for ``kind`` (order, inventory, ...) and its business key ``parts``.

    The key is JSON-encoded so ("a:b", "c") and ("a", "b:c") never collide.
    """
    # Exactly json.dumps([kind, *parts], ensure_ascii=False), built without the
    # encoder object: shipment ids are new per order, so the cache rarely helps them.
    key = (
        "["
        + ", ".join([encode_basestring(kind), *(encode_basestring(str(p)) for p in parts)])
        + "]"
    )
    return uuid5(OMS_NAMESPACE, key)


def trade_no(order_id: UUID, n: int) -> str:
    """Our out_trade_no for the ``n``-th trade we open ourselves for ``order_id`` (the
    tender's reference): the order id in base32 and ``n``, so that a notification names
    its order without a lookup and opening it again is the same trade. At most 32
    characters of [A-Z2-7-] for n < 100000, within WeChat Pay's limit."""
    if not 0 < n < 100_000:
        raise InvalidOrder(detail=f"trade number {n} out of range")
    return f"{base64.b32encode(order_id.bytes).decode().rstrip('=')}-{n}"


def order_of_trade(out_trade_no: str) -> UUID | None:
    """The order of a trade we opened (see :func:`trade_no`); None for any other
    reference (a channel's trade is named by the order number)."""
    head, _, n = out_trade_no.rpartition("-")
    if len(head) != 26 or not n.isdigit():
        return None
    try:
        return UUID(bytes=base64.b32decode(head + "======"))
    except (ValueError, TypeError):
        return None
