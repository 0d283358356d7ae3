"""What a processor runs: a service decodes its input into a typed command, names the
aggregate it addresses, and hands it to the handler its map names for the command's
type, against the partition's state, writing to an outbox."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

from oms_events import topics
from oms_events.avro.codec import Codec
from oms_events.domain.errors import DomainError
from oms_events.engine import commands
from oms_events.engine.commands import Command, UnknownCommand
from oms_events.engine.outbox import Outbox
from oms_events.engine.partition import Partition

# A handler of one command type: (the command, the partition's state, the outbox).
Handler = Callable[[Any, Partition, Outbox], None]


class Service:
    """Base of the processors' services; subclasses set the names and the handler map.

    ``aggregate_type`` names the events topic replayed on assignment; a stateless
    adapter (the warehouse updates) leaves it None.
    """

    name: str = ""
    aggregate_type: str | None = None
    has_timers: bool = False  # True: ``tick`` runs every OMS_ENGINE_TTL_CHECK_MS
    # Command type -> the method that handles it; set by each service's __init__.
    handlers: Mapping[type[Command], Handler]

    def input_topic(self) -> str:
        """Unprefixed name of the topic consumed; ``oms.<type>.commands`` by default."""
        assert self.aggregate_type is not None
        return topics.commands(self.aggregate_type)

    def decode(self, codec: Codec, record: Any) -> Command:
        """Decode a command record (raises codec.DecodeError, UnknownCommand, ValueError,
        KeyError)."""
        command = commands.decode(codec, record.value)
        if command.aggregate_type != self.aggregate_type:
            raise UnknownCommand(f"{command.schema()} does not belong on {record.topic}")
        return command

    def target(self, command: Command) -> UUID | None:
        """The aggregate id whose applied command ids deduplicate this command."""
        try:
            return UUID(command.key)
        except ValueError:
            return None

    def handle(self, command: Command, partition: Partition, out: Outbox) -> None:
        """Apply one command with its handler; raise a DomainError to dead-letter it."""
        handler = self.handlers.get(type(command))
        if handler is None:
            raise UnknownCommand(f"{self.name} has no handler for {command.name}")
        handler(command, partition, out)

    def refusal(self, command: Command, error: DomainError) -> bool:
        """True when ``error`` is an ordinary answer to ``command``, not bad input.

        The sender gets a CommandRejected reply either way; only bad input is also
        dead-lettered for an operator.
        """
        return False

    def counters(self) -> dict[str, int]:
        """What the service counts beside the processor's own counters (logged on stop)."""
        return {}

    def rebuilt(self, partition: Partition) -> None:
        """Called once a partition's state has been replayed (build indexes here)."""

    def wake_ms(self, aggregate: Any) -> int | None:
        """When (epoch ms) a timer of this service will move ``aggregate``, written on the
        snapshot it leaves memory with so ``rebuilt`` can arm the timer again after a
        restart without reading it back; None when no timer waits on it."""
        return None

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
