"""The topic registry: every Kafka topic of the engine, declared once.

Names are the contract (DESIGN.md "Topics"); partition counts come from settings.
Everything else in the code refers to topics through this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from oms_events.settings import Settings

AGGREGATE_TYPES: tuple[str, ...] = ("order", "inventory", "shipment", "payment", "return")
CHANNELS: tuple[str, ...] = ("web", "tmall", "jd", "pos", "pdd", "douyin")
# Marketplaces whose order APIs we poll (``oms channel pull``); the others only push.
PULLED: tuple[str, ...] = ("tmall", "jd", "pdd", "douyin")

# Event topics are the system of record: keep every event forever, never compact.
EVENT_CONFIG: dict[str, str] = {
    "cleanup.policy": "delete",
    "retention.ms": "-1",
    "retention.bytes": "-1",
}
# Inputs and integration topics: long retention, but they are not the record.
INPUT_CONFIG: dict[str, str] = {"cleanup.policy": "delete", "retention.ms": str(30 * 86_400_000)}


def raw_config(settings: Settings) -> dict[str, str]:
    """Topics of records that cannot be sealed field by field (the channels' raw orders,
    carriers' raw scans, dead letters holding raw payloads): kept
    ``privacy.raw_retention_days``, then gone, so a forgotten customer's raw input does
    not outlive that bound (README, "Personal data")."""
    days = settings.privacy.raw_retention_days
    return {"cleanup.policy": "delete", "retention.ms": str(int(days * 86_400_000))}


# Snapshots: only the latest per aggregate id matters.
SNAPSHOT_CONFIG: dict[str, str] = {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}
# An adapter's own state (e.g. intake dedup): the last value per key, kept forever.
STATE_CONFIG: dict[str, str] = {"cleanup.policy": "compact", "retention.ms": "-1"}


def replication_factor(settings: Settings, brokers: int) -> int:
    """Copies of each new topic on a cluster of ``brokers``: OMS_KAFKA_REPLICATION_FACTOR
    when set, else three where three brokers run (one on a single broker)."""
    return settings.kafka.replication_factor or min(3, brokers)


def min_insync_replicas(replication_factor: int) -> int:
    """Copies that must have a record before ``acks=all`` answers: two of three, so one
    broker can be lost without losing an acknowledged record or stopping writes; one
    where fewer than three copies exist (two of two would stop writes at any loss)."""
    return 2 if replication_factor >= 3 else 1


class Kind(StrEnum):
    """What a topic holds; it decides the topic's configuration."""

    INTAKE = "intake"
    COMMANDS = "commands"
    EVENTS = "events"
    SNAPSHOTS = "snapshots"
    STATE = "state"
    INTEGRATION = "integration"
    DEADLETTER = "deadletter"


@dataclass(frozen=True)
class TopicSpec:
    """One topic: its name, what its records are keyed by, and its configuration."""

    name: str
    kind: Kind
    key: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)
    description: str = ""


def intake(channel: str) -> str:
    """Topic where a sales channel publishes orders in its own format."""
    return f"oms.intake.{channel}"


def intake_dedup(channel: str) -> str:
    """Compacted changelog of a channel adapter's dedup index (external id -> content hash)."""
    return f"{intake(channel)}.dedup"


def intake_pull(channel: str) -> str:
    """Compacted topic of a channel puller's window marks (shop -> the window it is in)."""
    return f"{intake(channel)}.pull"


def commands(aggregate_type: str) -> str:
    """Topic of commands for one aggregate type, keyed by aggregate id."""
    _check_type(aggregate_type)
    return f"oms.{aggregate_type}.commands"


def events(aggregate_type: str) -> str:
    """Topic of events of one aggregate type, keyed by aggregate id: the system of record.

    Also an event-store application's own type (``settings.eventstore.default_type``).
    """
    _check_type(aggregate_type, store=True)
    return f"oms.{aggregate_type}.events"


def snapshots(aggregate_type: str) -> str:
    """Compacted topic of the latest snapshot per aggregate id."""
    _check_type(aggregate_type, store=True)
    return f"oms.{aggregate_type}.snapshots"


# Sales channels told the tracking number of a shipped order in their own API's shape
# (notifications/feedback.py), and those that sync stock from us (库存同步: not the
# shop's own tills, which sell what is on the shelf).
SHIPPING_FEEDBACK_CHANNELS: tuple[str, ...] = ("tmall", "jd", "web")
STOCK_SYNC_CHANNELS: tuple[str, ...] = ("web", "tmall", "jd", "pdd", "douyin")


def channel_shipping(channel: str) -> str:
    """Outbound topic of a channel's ship calls (tracking numbers), keyed by its order id."""
    return f"oms.channel.{channel}.shipping"


def channel_stock(channel: str) -> str:
    """Outbound topic of a channel's stock sync: available stock per sku, keyed by sku."""
    return f"oms.channel.{channel}.stock"


ALLOCATIONS = "oms.allocations"
# Purchase orders for drop-ship suppliers (代发): lines a supplier ships itself.
DROPSHIP = "oms.dropship"
WAREHOUSE_UPDATES = "oms.warehouse.updates"
CARRIER_UPDATES = "oms.carrier.updates"
CARRIER_REQUESTS = "oms.carrier.requests"
# Scans of tracking numbers not shipped yet, held by the carrier adapter until the
# ship confirmation arrives or they expire; partition n belongs to the adapter member
# that owns partition n of CARRIER_UPDATES.
CARRIER_PARKED = "oms.carrier.parked"
NOTIFICATIONS = "oms.notifications"
DEADLETTER = "oms.deadletter"


# An event-store application's own type: a plain lowercase word that is not one of
# the engine's other topic families.
_STORE_TYPE = re.compile(r"[a-z][a-z0-9_]{0,39}")
_RESERVED = frozenset({"intake", "allocations", "warehouse", "carrier", "channel", "dropship"})


def _check_type(aggregate_type: str, store: bool = False) -> None:
    if aggregate_type in AGGREGATE_TYPES:
        return
    if store and _STORE_TYPE.fullmatch(aggregate_type) and aggregate_type not in _RESERVED:
        return
    raise ValueError(
        f"unknown aggregate type {aggregate_type!r}; use one of {', '.join(AGGREGATE_TYPES)}"
        + (" or a lowercase word for an event-store application" if store else "")
    )


def store_registry(settings: Settings, types: list[str]) -> list[TopicSpec]:
    """The events and snapshots topics of the event store's aggregate types (created on
    demand by the store, including an application type outside :data:`AGGREGATE_TYPES`)."""
    return [spec for t in types for spec in _log_and_snapshots(settings, t)]


def _log_and_snapshots(settings: Settings, aggregate_type: str) -> list[TopicSpec]:
    """An aggregate type's events topic (its log) and its snapshots topic."""
    p, n, t = settings.kafka.topic_prefix, settings.kafka.partitions, aggregate_type
    return [
        TopicSpec(
            p + events(t), Kind.EVENTS, "aggregate id", n, EVENT_CONFIG, f"every {t} event, forever"
        ),
        TopicSpec(
            p + snapshots(t),
            Kind.SNAPSHOTS,
            "aggregate id",
            n,
            SNAPSHOT_CONFIG,
            f"latest snapshot per {t} aggregate",
        ),
    ]


def registry(settings: Settings) -> list[TopicSpec]:
    """Every topic the engine uses, with names prefixed by ``settings.kafka.topic_prefix``."""
    p = settings.kafka.topic_prefix
    n = settings.kafka.partitions
    specs: list[TopicSpec] = []
    for channel in CHANNELS:
        specs.append(
            TopicSpec(
                p + intake(channel),
                Kind.INTAKE,
                "channel order id",
                n,
                raw_config(settings),
                f"orders from the {channel} channel in its native format",
            )
        )
        specs.append(
            TopicSpec(
                p + intake_dedup(channel),
                Kind.STATE,
                "channel order id",
                n,
                STATE_CONFIG,
                f"intake dedup index of the {channel} channel, written with its commands",
            )
        )
        if channel not in PULLED:
            continue
        specs.append(
            TopicSpec(
                p + intake_pull(channel),
                Kind.STATE,
                "shop",
                n,
                STATE_CONFIG,
                f"window marks of the {channel} puller, written with the pages they cover",
            )
        )
    for t in AGGREGATE_TYPES:
        # Commands and events of a type share the partition count so that one
        # processor instance owns the same partition of both (one writer per aggregate).
        specs.append(
            TopicSpec(
                p + commands(t),
                Kind.COMMANDS,
                "aggregate id",
                n,
                INPUT_CONFIG,
                f"commands for {t} aggregates",
            )
        )
        specs += _log_and_snapshots(settings, t)
    for channel in SHIPPING_FEEDBACK_CHANNELS:
        specs.append(
            TopicSpec(
                p + channel_shipping(channel),
                Kind.INTEGRATION,
                "channel order id",
                n,
                INPUT_CONFIG,
                f"ship calls for {channel} (tracking numbers in its API's shape)",
            )
        )
    for channel in STOCK_SYNC_CHANNELS:
        specs.append(
            TopicSpec(
                p + channel_stock(channel),
                Kind.INTEGRATION,
                "sku",
                n,
                INPUT_CONFIG,
                f"available stock per sku for {channel}'s stock sync (库存同步)",
            )
        )
    specs += [
        TopicSpec(
            p + ALLOCATIONS,
            Kind.INTEGRATION,
            "location id",
            n,
            INPUT_CONFIG,
            "lines to pick (Allocation) and their cancellations (AllocationCancelled), "
            "per order and location",
        ),
        TopicSpec(
            p + DROPSHIP,
            Kind.INTEGRATION,
            "supplier id",
            n,
            INPUT_CONFIG,
            "purchase orders for drop-ship suppliers (PurchaseOrder) and their cancellations "
            "(PurchaseOrderCancelled), per order and supplier",
        ),
        TopicSpec(
            p + WAREHOUSE_UPDATES,
            Kind.INTEGRATION,
            "shipment id",
            n,
            INPUT_CONFIG,
            "pick / pack / ship confirmations from warehouses",
        ),
        TopicSpec(
            p + CARRIER_UPDATES,
            Kind.INTEGRATION,
            "tracking number",
            n,
            raw_config(settings),  # carriers' own JSON: a signer's name in clear
            "tracking updates from carriers",
        ),
        TopicSpec(
            p + CARRIER_REQUESTS,
            Kind.INTEGRATION,
            "tracking number",
            n,
            INPUT_CONFIG,
            "requests to carriers: intercept a parcel, return it (InterceptionRequest)",
        ),
        TopicSpec(
            p + CARRIER_PARKED,
            Kind.STATE,
            "scan id (carrier, tracking number, status, time)",
            n,
            STATE_CONFIG,
            "carrier scans waiting for their ship confirmation (tombstoned when settled)",
        ),
        TopicSpec(
            p + NOTIFICATIONS,
            Kind.INTEGRATION,
            "order id",
            n,
            INPUT_CONFIG,
            "messages for customers, sent at least once with idempotency keys",
        ),
        TopicSpec(
            p + DEADLETTER,
            Kind.DEADLETTER,
            "as received",
            n,
            raw_config(settings),
            "inputs that could not be processed, with the reason in headers",
        ),
    ]
    return specs


def name(settings: Settings, base: str) -> str:
    """A registry name with the configured prefix applied."""
    return settings.kafka.topic_prefix + base
