"""Errors of the Kafka adapters, worded for the operator who reads them.

Both client implementations raise only these, so callers never import a client's
own exception classes.
"""

from __future__ import annotations


class KafkaUnavailable(RuntimeError):
    """The broker could not be reached; the message names the address tried."""


class TopicDrift(RuntimeError):
    """An existing topic differs from the registry (partitions or configuration)."""


class KafkaError(RuntimeError):
    """A Kafka operation failed; ``retriable`` when trying again may succeed."""

    def __init__(self, message: str, *, retriable: bool = False) -> None:
        super().__init__(message)
        self.retriable = retriable


class KafkaTimeout(KafkaError):
    """The broker did not answer in time (e.g. ``committed`` while offsets are unstable)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retriable=True)


class TransactionAborted(KafkaError):
    """The open transaction cannot commit (fenced by a rebalance, a broker error):
    abort it; the producer itself stays usable."""


class ProducerFenced(KafkaError):
    """A newer producer with this transactional id took over: this one is dead."""
