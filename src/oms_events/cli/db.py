"""``oms db``: the projections' PostgreSQL schema."""

from __future__ import annotations

import typer
from rich.console import Console

from oms_events.analytics.calendar import set_timezone
from oms_events.cli.errors import one_line_errors
from oms_events.cli.project import SCHEMA, schema_or_setting
from oms_events.privacy.keystore import KEYS_SQL
from oms_events.projection.migrate import migrate as apply_migrations
from oms_events.projection.migrate import migrate_files
from oms_events.projection.registry import select
from oms_events.projection.runner import connect
from oms_events.settings import get_settings

app = typer.Typer(
    help="PostgreSQL schema of the projections (SQL in projections/).", no_args_is_help=True
)
out = Console()


@app.command()
@one_line_errors
def migrate(schema: str | None = SCHEMA) -> None:
    """Apply the versioned SQL of projections/ that the schema lacks (safe to repeat), and
    the key store's to its own schema (OMS_PRIVACY_SCHEMA_NAME)."""
    settings = get_settings()
    schema = schema_or_setting(schema)
    with connect(settings.postgres.migrator_dsn, schema, "oms-db-migrate") as conn:
        results = apply_migrations(conn, schema, select([]))
        # The business day's zone reaches SQL through business_calendar (015).
        if set_timezone(conn, settings.analytics.timezone):
            out.print(f"business days now in {settings.analytics.timezone}")
        keys = migrate_files(conn, settings.privacy.schema_name, [(KEYS_SQL, "privacy")])
    for r in keys:
        out.print(
            f"{'applied' if r.applied else 'ok':8} {r.version}  (key store, schema "
            f"{settings.privacy.schema_name})"
        )
    for r in results:
        out.print(f"{'applied' if r.applied else 'ok':8} {r.version}  ({r.projection})")
    out.print(f"schema {schema}: {sum(r.applied for r in results)} migration(s) applied")
