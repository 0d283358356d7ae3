"""What a processor runs: a service decodes its input, names the aggregate a command
addresses, and handles it against the partition's state, writing to an outbox."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from oms_events import topics
from oms_events.avro.codec import Codec
from oms_events.domain.errors import DomainError
from oms_events.engine.commands import Command, split_name
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition


class Service:
    """Base of the processors' services; subclasses set the names and handlers.

    ``aggregate_type`` names the events topic replayed on assignment; a stateless
    adapter (the warehouse updates) leaves it None.
    """

    name: str = ""
    aggregate_type: str | None = None
    has_timers: bool = False  # True: ``tick`` runs every OMS_ENGINE_TTL_CHECK_MS

    def input_topic(self) -> str:
        """Unprefixed name of the topic consumed; ``oms.<type>.commands`` by default."""
        assert self.aggregate_type is not None
        return topics.commands(self.aggregate_type)

    def decode(self, codec: Codec, record: Any) -> Command:
        """Decode a command record (raises codec.DecodeError, ValueError, KeyError)."""
        full, payload = codec.decode(record.value)
        aggregate_type, name = split_name(full)
        if aggregate_type != self.aggregate_type:
            raise ValueError(f"{full} does not belong on {record.topic}")
        return Command(aggregate_type, name, payload, self.key(name, payload))

    def key(self, name: str, payload: dict[str, Any]) -> str:
        """Id of the aggregate a command addresses, as its record key."""
        raise NotImplementedError

    def target(self, command: Command) -> UUID | None:
        """The aggregate id whose applied command ids deduplicate this command."""
        try:
            return UUID(command.key)
        except ValueError:
            return None

    def handle(self, command: Command, partition: Partition, out: Outbox) -> None:
        """Apply one command; raise a DomainError to dead-letter it."""
        raise NotImplementedError

    def refusal(self, command: Command, error: DomainError) -> bool:
        """True when ``error`` is an ordinary answer to ``command``, not bad input.

        The sender gets a CommandRejected reply either way; only bad input is also
        dead-lettered for an operator.
        """
        return False

    def rebuilt(self, partition: Partition) -> None:
        """Called once a partition's state has been replayed (build indexes here)."""

    def revoked(self, number: int) -> None:
        """Called when a partition is taken away."""

    def due(self, now: float, partitions: dict[int, Partition]) -> bool:
        """True when ``tick`` has work; checked outside any transaction."""
        return False

    def tick(self, now: float, partitions: dict[int, Partition], out: Outbox) -> None:
        """Timers (reservation expiry); runs inside a transaction every tick interval."""

    def committed(self) -> None:
        """Called after a batch's transaction committed (state kept beside the
        partitions, such as the intake's dedup index, becomes final here)."""

    def aborted(self) -> None:
        """Called after a batch's transaction aborted; every owned partition is then
        rebuilt (``rebuilt`` runs again for each)."""
