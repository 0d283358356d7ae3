"""Least privilege on Kafka: what each service principal may do, derived from the topic
registry, and writing it to a cluster that has an authorizer.

Every rule is an ALLOW; the dev broker denies whatever no rule allows
(``allow.everyone.if.no.acl.found=false``), and its ``admin`` is a super user.

* engine — reads and writes every topic but the channels' intake topics (processors,
  outbox, the warehouse and carrier adapters run in ``oms run``);
* intake — reads and writes the intake topics (the pullers write raw orders, the
  adapters their dedup and pull state), writes every command topic and dead letters;
* engine and intake also see every topic's name and configuration: they verify the
  registry at start; creating topics is the admin's (``oms topics apply``);
* projections — reads every topic but intake; writes dead letters;
* notifier — reads every topic but intake; writes the channels' ship calls and stock
  sync and dead letters;
* warehouse — reads allocations, writes warehouse updates (never a command topic);
* carrier — reads carrier requests, writes carrier updates;
* channel — writes the channels' intake topics, reads their ship calls and stock sync;
* analyst — reads every topic, writes nothing;
* api — the HTTP server (``oms channel serve``: channel orders, payment notifications,
  the operator API): reads every topic (answers come as events; dead letters are read
  to re-drive them), writes the intake topics, every command topic and dead letters —
  never an event, so a compromised API cannot rewrite the system of record.

Topic rules are LITERAL on the registry's names for ``settings.kafka.topic_prefix``:
``oms topics apply`` writes them for the prefix it runs with, so a tenant or test
prefix gets its own rules without opening ``oms.`` to it. Group and transactional-id
rules are PREFIXED on the names the processes use (``<prefix>oms-engine``...); the
outside parties (warehouse, carrier, channel, analyst) own groups named after
themselves (``<prefix>warehouse...``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Literal

from oms_events import topics
from oms_events.kafka.connection import admin
from oms_events.kafka.errors import KafkaError
from oms_events.kafka.port import AclRule
from oms_events.settings import Settings
from oms_events.topics import Kind, TopicSpec

# librdkafka needs a group id even on consumers that only assign partitions
# (confluent.py): the name they all share, never joined nor committed.
GROUPLESS = "oms-groupless"

Pick = Callable[[TopicSpec], bool]


def acl_rules(settings: Settings) -> list[AclRule]:
    """Every ALLOW rule of every service principal for the settings' topic prefix."""
    p = settings.kafka.topic_prefix
    specs = topics.registry(settings)
    intake_family = p + "oms.intake."

    def is_intake(s: TopicSpec) -> bool:
        return s.name.startswith(intake_family)

    def named(*names: str) -> Pick:
        wanted = {p + n for n in names}
        return lambda s: s.name in wanted

    def channel_out(s: TopicSpec) -> bool:
        return s.name.startswith(p + "oms.channel.")

    def deadletter(s: TopicSpec) -> bool:
        return s.kind is Kind.DEADLETTER

    def anything(s: TopicSpec) -> bool:
        return True

    def but_intake(s: TopicSpec) -> bool:
        return not is_intake(s)

    engine_group = p + settings.engine.group
    reads: dict[str, Pick] = {
        "engine": but_intake,
        "intake": is_intake,
        "projections": but_intake,
        "notifier": but_intake,
        "warehouse": named(topics.ALLOCATIONS),
        "carrier": named(topics.CARRIER_REQUESTS),
        "channel": channel_out,
        "analyst": anything,
        "api": anything,
    }
    writes: dict[str, Pick] = {
        "engine": but_intake,
        # The channel pullers (`oms channel pull`) run as intake: raw orders too.
        "intake": lambda s: is_intake(s) or s.kind is Kind.COMMANDS or deadletter(s),
        "projections": deadletter,
        "notifier": lambda s: channel_out(s) or deadletter(s),
        "warehouse": named(topics.WAREHOUSE_UPDATES),
        "carrier": named(topics.CARRIER_UPDATES),
        "channel": lambda s: s.kind is Kind.INTAKE,
        "analyst": lambda s: False,
        "api": lambda s: is_intake(s) or s.kind is Kind.COMMANDS or deadletter(s),
    }
    groups: dict[str, tuple[str, ...]] = {
        "engine": (engine_group,),
        "intake": (engine_group,),  # intake's adapters are processors of the engine group
        "projections": (),
        "notifier": (),
        "warehouse": (p + "warehouse",),
        "carrier": (p + "carrier",),
        "channel": (p + "channel",),
        "analyst": (p + "analyst",),
        "api": (),
    }
    transactional: dict[str, tuple[str, ...]] = {
        "engine": (engine_group,),
        "intake": (engine_group, p + "oms-pull-"),
    }
    # `oms run` and `oms intake` verify the registry's topics at start (apply_topics):
    # their names and configurations, never their records. Creating them is admin's.
    verifiers = ("engine", "intake")
    rules: list[AclRule] = [
        AclRule(principal, "topic", s.name, operation)
        for principal in verifiers
        for s in specs
        for operation in ("describe", "describe_configs")
    ]
    for principal in reads:
        rules += _topic_rules(principal, specs, reads[principal], "read")
        rules += _topic_rules(principal, specs, writes[principal], "write")
        rules.append(AclRule(principal, "group", GROUPLESS, "read"))
        rules += [AclRule(principal, "group", g, "read", prefixed=True) for g in groups[principal]]
        rules += [
            AclRule(principal, "transactional_id", t, "write", prefixed=True)
            for t in transactional.get(principal, ())
        ]
    return rules


def _topic_rules(
    principal: str, specs: Iterable[TopicSpec], pick: Pick, operation: Literal["read", "write"]
) -> list[AclRule]:
    return [AclRule(principal, "topic", s.name, operation) for s in specs if pick(s)]


def apply_acls(settings: Settings, timeout_s: float = 30.0) -> int | None:
    """Write :func:`acl_rules` to the cluster (as the admin principal, normally) and
    return once the broker holds them all; the number of rules, or None when the
    cluster has no authorizer to hold them.

    CreateAcls answers before the broker has replayed the new metadata record, so a
    process started right after (``oms topics apply && oms run``) could be refused its
    first fetch; reading the rules back from the broker that authorizes closes that gap.
    """
    rules = acl_rules(settings)
    client = admin(settings)
    try:
        client.create_acls(rules)
        wanted = set(rules)
        deadline = time.monotonic() + timeout_s
        while missing := wanted - client.acls():
            if time.monotonic() > deadline:
                raise KafkaError(
                    f"{len(missing)} ACL rules not in effect after {timeout_s:.0f} s "
                    f"(e.g. {next(iter(missing))}): check the controller's log"
                )
            time.sleep(0.2)
    except KafkaError as exc:
        # confluent: SECURITY_DISABLED; kafka-python: SecurityDisabledError
        if "SECURITY_DISABLED" in str(exc) or "SecurityDisabled" in str(exc):
            return None
        raise
    finally:
        client.close()
    return len(rules)
