"""Group membership that cannot get lost: workarounds for kafka-python 3.0's join loop.

kafka-python 3.0 runs a JoinGroup -> SyncGroup round trip as a task on its network
loop; ``KafkaConsumer.poll`` awaits that task only while ``coordinator.need_rejoin()``
is true, and applies the result (``on_partitions_assigned``, heartbeats on again)
only when it catches the task finishing. Two gaps follow, both seen here as engine
test flakes:

1. **A lost join** (a processor idle forever). A rejoin started because the leader's
   metadata snapshot changed is signalled by that snapshot alone, not by
   ``rejoin_needed``. When ``poll``'s timeout ends before the SyncGroup answer (a
   5 ms linger poll, or a 200 ms one on a loaded machine), the task carries on in
   the background and, as leader, records the new snapshot as assigned: from then
   on ``need_rejoin()`` is false, nothing ever applies the assignment, the member
   stays "rebalancing" with heartbeats disabled, its partitions were revoked and
   never come back, and the broker evicts it after the session timeout.
   :func:`guard` makes ``need_rejoin()`` also true while a join attempt is unfinished
   (``coordinator.rejoining``), so the next poll always goes back for it.

2. **A wasted join.** A join task that finishes *between* two polls is replaced by a
   fresh JoinGroup on the next poll: one more generation for every member of the
   group. :func:`joining` lets the processor keep polling while a join is under way
   (it owns nothing then: eager rebalancing revoked everything first), so the poll
   that started a join is the one that completes it.

Every process start used to hit case 1's trigger: ``subscribe`` does not refresh the
metadata snapshot, so the first assignment was made against an empty snapshot and
the next metadata response forced a second rebalance a moment later. :func:`subscribe`
fetches metadata between subscribing and joining, so the first assignment is final.

These reach into the coordinator's private attributes; when they are absent (another
kafka-python version) the guard logs once and does nothing, and the processor works
as before. Remove this module when kafka-python applies a finished join whatever
``need_rejoin`` says.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import structlog
from kafka import KafkaConsumer
from kafka.consumer.subscription_state import ConsumerRebalanceListener

log = structlog.get_logger(__name__)


def subscribe(
    consumer: KafkaConsumer, topics: Iterable[str], listener: ConsumerRebalanceListener
) -> None:
    """Subscribe, then fetch metadata so the first join assigns against a full snapshot."""
    consumer.subscribe(list(topics), listener=listener)
    # ``topics()`` is a blocking metadata request; its response runs the coordinator's
    # metadata listener, which records the partitions of the subscribed topics. The
    # leader then assigns against that snapshot and sees no "metadata changed" later.
    consumer.topics()
    guard(consumer)


def guard(consumer: KafkaConsumer) -> None:
    """Make the consumer's ``need_rejoin()`` true while a join attempt is unfinished."""
    coordinator: Any = getattr(consumer, "_coordinator", None)
    if coordinator is None or not hasattr(coordinator, "rejoining"):
        log.warning("kafka-python coordinator changed; join guard not installed")
        return
    if getattr(coordinator, "_oms_guarded", False):
        return
    original = coordinator.need_rejoin

    def need_rejoin() -> bool:
        # ``rejoining`` is set when a join attempt starts (after the revoke callback)
        # and cleared only once its assignment has been applied.
        return bool(original() or coordinator.rejoining)

    coordinator.need_rejoin = need_rejoin
    coordinator._oms_guarded = True


def joining(consumer: KafkaConsumer) -> bool:
    """True while a join attempt has started and its assignment is not applied yet."""
    coordinator: Any = getattr(consumer, "_coordinator", None)
    return bool(getattr(coordinator, "rejoining", False))
