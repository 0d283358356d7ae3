"""The dedup index: (channel, external id) -> content hash of the last version accepted.

It decides what a delivery means: never seen -> place; the hash of the version last
accepted, or of any earlier accepted version, -> a redelivery (late or stale),
acknowledged and ignored; a hash never seen -> the channel changed the order.

Treating an earlier version as stale, not as a "change back", is deliberate: channels
re-send old payloads out of order far more often than buyers revert a change, and the
formats carry no reliable version number to tell the two apart.

Changes made while a Kafka transaction is open are *staged*; they become part of the
index only when that transaction commits, and vanish when it aborts. The index is
rebuilt on start from the adapter's changelog topic (see ``state.py``), which is
written in the same transaction as the commands, so index and output never disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

Key = tuple[str, str]  # (channel, external id)

# Whether the order may still change. The adapter cannot see order state (no order
# read model yet), so the default says yes: the Order aggregate is the authority and
# refuses a ChangeOrder once the order has shipped. Plug a projection lookup in here
# to dead-letter such changes at intake instead.
IsChangeable = Callable[[UUID], bool]


def always_changeable(order_id: UUID) -> bool:
    """Default :data:`IsChangeable`: order state unknown here, so treat it as changeable."""
    return True


class Verdict(StrEnum):
    """What a delivery of an order means."""

    NEW = "new"
    DUPLICATE = "duplicate"
    CHANGED = "changed"


@dataclass(frozen=True)
class Decision:
    """The verdict, and the hash the index held before (for ChangeOrder)."""

    verdict: Verdict
    previous: str | None = None


class DedupIndex:
    """Content hashes of accepted orders, with staging for the open transaction."""

    def __init__(self) -> None:
        # Every accepted hash per order, the latest last.
        self._committed: dict[Key, tuple[str, ...]] = {}
        self._staged: dict[Key, tuple[str, ...]] = {}

    def __len__(self) -> int:
        return len(self._committed.keys() | self._staged.keys())

    def history(self, channel: str, external_id: str) -> tuple[str, ...]:
        """Every hash accepted for the order (staged or committed), the latest last."""
        key = (channel, external_id)
        return self._staged.get(key, self._committed.get(key, ()))

    def get(self, channel: str, external_id: str) -> str | None:
        """The hash last accepted, or None when never seen."""
        seen = self.history(channel, external_id)
        return seen[-1] if seen else None

    def known(self, channel: str, external_id: str, content_hash: str) -> bool:
        """Whether this version of the order was ever accepted."""
        return content_hash in self.history(channel, external_id)

    def decide(self, channel: str, external_id: str, content_hash: str) -> Decision:
        """Classify a delivery without changing the index."""
        seen = self.history(channel, external_id)
        if not seen:
            return Decision(Verdict.NEW)
        if content_hash in seen:
            return Decision(Verdict.DUPLICATE, seen[-1])
        return Decision(Verdict.CHANGED, seen[-1])

    def stage(self, channel: str, external_id: str, content_hash: str) -> None:
        """Record an accepted version inside the open transaction."""
        seen = self.history(channel, external_id)
        self._staged[(channel, external_id)] = (*seen[-7:], content_hash)  # bounded

    def commit(self) -> None:
        """The transaction committed: staged entries become the index."""
        self._committed.update(self._staged)
        self._staged.clear()

    def rollback(self) -> None:
        """The transaction aborted: forget what it staged."""
        self._staged.clear()

    def clear(self) -> None:
        """Forget everything (before a rebuild from the changelog)."""
        self._committed.clear()
        self._staged.clear()

    def load(self, channel: str, external_id: str, *hashes: str) -> None:
        """Restore one committed entry (rebuilding from the changelog)."""
        self._committed[(channel, external_id)] = tuple(hashes)
