"""Errors of the Kafka adapters, worded for the operator who reads them."""

from __future__ import annotations


class KafkaUnavailable(RuntimeError):
    """The broker could not be reached; the message names the address tried."""


class TopicDrift(RuntimeError):
    """An existing topic differs from the registry (partitions or configuration)."""
