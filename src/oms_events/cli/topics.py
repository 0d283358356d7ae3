"""``oms topics``: create or verify the registry's topics."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from oms_events.cli.errors import one_line_errors
from oms_events.kafka.acls import apply_acls
from oms_events.kafka.admin import apply_topics
from oms_events.settings import get_settings
from oms_events.topics import registry

app = typer.Typer(
    help="Kafka topics of the engine (names in oms_events.topics).", no_args_is_help=True
)
out = Console()


@app.command()
@one_line_errors
def apply() -> None:
    """Create missing topics and verify existing ones; a topic's retention is set to the
    registry's (raw input: OMS_PRIVACY_RAW_RETENTION_DAYS), any other difference (say,
    another partition count) is reported as an error and nothing is changed. Then write the
    ACLs of every service principal on these topics (OMS_KAFKA_TOPIC_PREFIX's
    names), when the cluster has an authorizer; run it as the admin principal.

    Example: OMS_KAFKA_TOPIC_PREFIX=tenant1. oms topics apply
    """
    settings = get_settings()
    states = apply_topics(settings)
    created = [s for s in states if s.action == "created"]
    updated = [s for s in states if s.action == "updated"]
    for s in states:
        out.print(f"{s.action:8} {s.name}  ({s.partitions} partitions)")
    out.print(f"{len(states)} topics, {len(created)} created, {len(updated)} retention updated")
    rules = apply_acls(settings)
    if rules is None:
        out.print("no ACLs written: the cluster has no authorizer (集群未启用授权)")
    else:
        out.print(f"{rules} ACL rules for the service principals (服务账号的访问规则)")


@app.command("list")
def list_() -> None:
    """Print the registry: every topic, its key, partitions and configuration."""
    table = Table("topic", "kind", "key", "partitions", "config")
    for spec in registry(get_settings()):
        table.add_row(
            spec.name,
            spec.kind.value,
            spec.key,
            str(spec.partitions),
            ", ".join(f"{k}={v}" for k, v in spec.config.items()),
        )
    out.print(table)
