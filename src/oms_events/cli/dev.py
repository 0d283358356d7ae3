"""``oms dev``: the local Kafka broker, PostgreSQL server, payment sandboxes and carrier
simulator."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from oms_events.cli.errors import one_line_errors
from oms_events.devservices import postgres_roles, services
from oms_events.kafka.security import credentials_path
from oms_events.settings import get_settings

app = typer.Typer(
    help="Local Kafka (KRaft, one node or --brokers 3), PostgreSQL, the Alipay / WeChat Pay "
    "sandboxes and the carrier simulator on loopback, data under one folder "
    "(OMS_DEV_DATA_DIR). No Docker needed.",
    no_args_is_help=True,
)
out = Console()


@app.command()
@one_line_errors
def up(
    brokers: int = typer.Option(
        None,
        "--brokers",
        min=1,
        max=9,
        help="Kafka nodes (each broker and controller) on loopback ports "
        "OMS_DEV_KAFKA_PORT, +2, +4…; new topics then get 3 replicas and "
        "min.insync.replicas=2 [default: OMS_DEV_KAFKA_BROKERS, 1]",
        show_default=False,
    ),
) -> None:
    """Start Kafka, PostgreSQL, the payment sandboxes and the carrier simulator unless they
    run (safe to repeat).

    The first run resolves the Kafka broker from Maven Central into ~/.m2 and generates
    the Kafka principals' passwords (OMS_DEV_DATA_DIR/credentials/kafka.json, 0600);
    later runs start in seconds. A three-node cluster (三节点集群), every node broker
    and controller:

    Example: oms dev up --brokers 3

    Beside services already running, give it its own folder and ports, e.g.
    OMS_DEV_DATA_DIR=/tmp/cluster OMS_DEV_KAFKA_PORT=19092 OMS_DEV_KAFKA_CONTROLLER_PORT=19093
    OMS_DEV_KAFKA_HEAP=384m (and OMS_DEV_POSTGRES_PORT, OMS_PAYMENTS_*_PORT).

    PostgreSQL gets the database oms and its roles (oms_migrator, oms_writer, oms_api,
    oms_analyst); their passwords are generated into
    OMS_DEV_DATA_DIR/credentials/postgres.pgpass (mode 0600): `oms dev dsn` prints the DSNs.
    """
    settings = get_settings()
    with out.status("starting PostgreSQL, Kafka, the payment sandboxes and the carriers…"):
        kafka_started, pg_started, payments_started, carriers_started = services.up(
            settings, brokers
        )
    st = services.status(settings)
    out.print(
        f"kafka      {'started' if kafka_started else 'already running'}  "
        f"{st.kafka.address}  (Apache Kafka {st.kafka.version}, KRaft, "
        f"{len(st.kafka.nodes)} node{'s' if len(st.kafka.nodes) > 1 else ''})",
        soft_wrap=True,
    )
    out.print(
        f"           SASL/SCRAM-SHA-512 with ACLs; passwords in {credentials_path(settings)} "
        '(0600; README "Security")',
        soft_wrap=True,
        highlight=False,
    )
    if st.kafka.address != settings.kafka.bootstrap_servers:
        out.print(
            f"           clients reach it with OMS_KAFKA_BOOTSTRAP_SERVERS={st.kafka.address}",
            soft_wrap=True,
            highlight=False,
        )
    out.print(
        f"postgresql {'started' if pg_started else 'already running'}  "
        f"{st.postgres.dsn}  (PostgreSQL {st.postgres.version})",
        soft_wrap=True,
        highlight=False,
    )
    out.print(
        f"payments   {'started' if payments_started else 'already running'}  "
        f"alipay {st.payments.alipay_url}  wechatpay {st.payments.wechatpay_url}  (sandboxes)"
    )
    out.print(
        f"carriers   {'started' if carriers_started else 'already running'}  "
        f"simulator pushing to {st.carriers.topic_prefix or ''}oms.carrier.updates  "
        f"time x{st.carriers.time_scale or 0:g}",
        highlight=False,
    )


@app.command()
@one_line_errors
def down(wipe: bool = typer.Option(False, "--wipe", help="Also delete all data and logs.")) -> None:
    """Stop every service; data is kept unless --wipe."""
    settings = get_settings()
    kafka_ran, pg_ran, payments_ran, carriers_ran = services.down(settings, wipe=wipe)
    out.print(f"kafka      {'stopped' if kafka_ran else 'was not running'}")
    out.print(f"postgresql {'stopped' if pg_ran else 'was not running'}")
    out.print(f"payments   {'stopped' if payments_ran else 'was not running'}")
    out.print(f"carriers   {'stopped' if carriers_ran else 'was not running'}")
    if wipe:
        out.print(f"data wiped under {settings.dev.data_dir}")


@app.command()
@one_line_errors
def status() -> None:
    """Show every service: running or not, address or DSN, version, log file."""
    st = services.status(get_settings())
    # Plain lines, not a table: the DSN must stay whole to be copied into psql.
    for node in st.kafka.nodes:
        name = "kafka" if len(st.kafka.nodes) == 1 else f"kafka {node.node}"
        out.print(
            f"{name:<11} {_state(node.running)}  {node.address}  "
            f"Apache Kafka {node.version} (KRaft)  pid {node.pid or '-'}"
        )
        out.print(f"            log {node.log}", highlight=False)
    out.print(
        f"postgresql  {_state(st.postgres.running)}  {st.postgres.dsn}  "
        f"PostgreSQL {st.postgres.version}  pid {st.postgres.pid or '-'}",
        soft_wrap=True,
    )
    out.print(f"            log {st.postgres.log}", highlight=False)
    for role, dsn in st.postgres.roles.items():
        out.print(f"            role {role:<12} {dsn}", soft_wrap=True, highlight=False)
    out.print(
        f"payments    {_state(st.payments.running)}  alipay {st.payments.alipay_url}  "
        f"wechatpay {st.payments.wechatpay_url}  pid {st.payments.pid or '-'}",
        soft_wrap=True,
    )
    out.print(f"            log {st.payments.log}", highlight=False)
    out.print(
        f"carriers    {_state(st.carriers.running)}  simulator pushing to "
        f"{st.carriers.topic_prefix or ''}oms.carrier.updates  "
        f"time x{st.carriers.time_scale or 0:g}  pid {st.carriers.pid or '-'}",
        soft_wrap=True,
    )
    out.print(f"            log {st.carriers.log}", highlight=False)
    running = (st.kafka.running, st.postgres.running, st.payments.running, st.carriers.running)
    if not all(running):
        raise typer.Exit(3)


def _state(running: bool) -> str:
    return "[green]running[/]" if running else "[red]stopped[/]"


ROLES = {
    "writer": postgres_roles.WRITER,
    "migrator": postgres_roles.MIGRATOR,
    "api": postgres_roles.API,
    "analyst": postgres_roles.ANALYST,
}


@app.command()
@one_line_errors
def dsn(
    role: Annotated[
        str,
        typer.Argument(help="writer (run time), migrator (owner of the tables), api or analyst."),
    ] = "analyst",
    password: Annotated[
        bool,
        typer.Option(
            "--password",
            help="Write the password into the DSN (for another OS user, who cannot read "
            "the password file); otherwise the DSN names the file (passfile=).",
        ),
    ] = False,
) -> None:
    """Print the DSN of a dev PostgreSQL role, for psql or a BI tool.

    The passwords are generated by the first `oms dev up` into
    OMS_DEV_DATA_DIR/credentials/postgres.pgpass (mode 0600).

    Example: psql "$(oms dev dsn analyst)" -c 'SELECT count(*) FROM oms.order_tracking'
    """
    if role not in ROLES:
        raise typer.BadParameter(
            f"unknown role {role!r} (未知角色); use one of: {', '.join(ROLES)}"
        )
    settings = get_settings()
    name, data_dir = ROLES[role], settings.dev.data_dir
    secret = postgres_roles.read_passwords(data_dir).get(name)
    if secret is None:
        raise typer.BadParameter(
            f"no password for {name} in {postgres_roles.passfile(data_dir)} (还没有密码): "
            "run `oms dev up`"
        )
    print(
        postgres_roles.dsn(data_dir, settings.dev.postgres_port, name, secret if password else None)
    )
