"""Deterministic aggregate ids: the same business key always names the same aggregate."""

from __future__ import annotations

from functools import lru_cache
from json.encoder import encode_basestring
from uuid import NAMESPACE_URL, UUID, uuid5

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
