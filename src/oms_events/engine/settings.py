"""Tuning of the engine, read from ``OMS_ENGINE_*`` environment variables.

Kept beside the engine rather than in :mod:`oms_events.settings` while the engine is
young; every field names its variable (``batch_size`` is ``OMS_ENGINE_BATCH_SIZE``).
"""

from __future__ import annotations

import json
from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from oms_events.domain.workflow import Workflow


class EngineSettings(BaseSettings):
    """How the processors batch, time out and decide."""

    model_config = SettingsConfigDict(env_prefix="OMS_ENGINE_", frozen=True, extra="ignore")

    group: str = Field(
        "oms-engine",
        description="Consumer group prefix; processors join '<topic prefix><group>.<type>'",
    )
    batch_size: int = Field(500, ge=1, description="Most commands handled in one Kafka transaction")
    linger_ms: int = Field(
        5, ge=0, description="How long a processor waits to fill a batch before committing it"
    )
    fetch_max_wait_ms: int = Field(
        500,
        ge=0,
        description="Longest a fetch waits on the broker when there is nothing new. Records "
        "come back as soon as they are committed, so this is the idle polling interval: "
        "20 ms made an idle engine burn 19-24% of a core per process in kafka-python "
        "fetch round trips, for no latency gain measured at 50 orders/s",
    )
    transaction_timeout_ms: int = Field(
        15_000,
        ge=1000,
        description="Broker aborts a transaction left open this long (a paused zombie's "
        "transaction blocks read_committed readers at most this long)",
    )
    session_timeout_ms: int = Field(
        10_000, ge=6000, description="Group session: a dead instance loses its partitions after it"
    )
    rebalance_timeout_ms: int = Field(
        60_000,
        ge=6000,
        description="Consumer max.poll.interval.ms, which is also the group's rebalance "
        "timeout: how long a rebalance waits for a member that joined and then died (a "
        "killed process) before assigning without it, and how long one loop iteration "
        "(a batch, a partition rebuild) may take before the member leaves its group",
    )
    commit_delay_ms: int = Field(
        0,
        ge=0,
        description="Fault tests only: pause between sending a batch and committing it, so a "
        "paused process is caught holding an open transaction. 0 in production.",
    )
    workflow: str = Field(
        "{}",
        description="Order workflow as JSON (domain/workflow.py Workflow.from_dict), e.g. "
        '\'{"on_shortage": "preorder", "reservation_ttl": 1800}\'',
    )
    ttl_check_ms: int = Field(
        1000, ge=10, description="How often the order processor looks for expired reservations"
    )
    progress_every_s: float = Field(
        2.0, gt=0, description="Seconds between progress lines while a partition is rebuilt"
    )

    def order_workflow(self) -> Workflow:
        """The :class:`Workflow` the order saga follows."""
        return Workflow.from_dict(json.loads(self.workflow or "{}"))


@lru_cache(maxsize=1)
def get_engine_settings() -> EngineSettings:
    """The process-wide engine settings, read once from the environment."""
    return EngineSettings()
