"""Deterministic aggregate ids: the same business key always names the same aggregate."""

from __future__ import annotations

import json
from functools import lru_cache
from uuid import NAMESPACE_URL, UUID, uuid5

# Namespace of every deterministic id in the domain; changing it orphans all aggregates.
OMS_NAMESPACE = uuid5(NAMESPACE_URL, "https://oms-events/ids")


@lru_cache(maxsize=65_536)  # the engine derives item and order ids for every command
def natural_id(kind: str, *parts: str | int | UUID) -> UUID:
    """A UUIDv5 for ``kind`` (order, inventory, ...) and its business key ``parts``.

    The key is JSON-encoded so ("a:b", "c") and ("a", "b:c") never collide.
    """
    key = json.dumps([kind, *(str(p) for p in parts)], ensure_ascii=False)
    return uuid5(OMS_NAMESPACE, key)
