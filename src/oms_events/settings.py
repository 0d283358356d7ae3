"""The project's settings: one frozen object with a section per concern, read from
``OMS_*`` environment variables.

Each section reads the variables of its own prefix: ``kafka.bootstrap_servers`` is
``OMS_KAFKA_BOOTSTRAP_SERVERS``, ``engine.batch_size`` is ``OMS_ENGINE_BATCH_SIZE``.
Defaults match what ``oms dev up`` starts, so a fresh machine needs no configuration.
``oms config show`` prints every value with the variable it came from.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from oms_events.devservices import postgres_roles as pg_roles
from oms_events.domain.return_policy import REASONS, ReturnPolicy
from oms_events.domain.review import ReviewRules
from oms_events.domain.workflow import Workflow
from oms_events.waybills.formats import FORMATS


def default_data_dir() -> Path:
    """Where ``oms dev up`` keeps Kafka's and PostgreSQL's data and logs.

    Root gets a folder outside /root because PostgreSQL refuses to run as root and
    its own system user cannot traverse /root.
    """
    if os.geteuid() == 0:
        return Path("/var/lib/oms-events")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "oms-events"


def _section(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, frozen=True, extra="ignore")


class KafkaSettings(BaseSettings):
    """The cluster and the client that reaches it (``OMS_KAFKA_*``)."""

    model_config = _section("OMS_KAFKA_")

    bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated host:port"
    )
    client: Literal["confluent", "kafka-python"] = Field(
        "confluent",
        description="Kafka client behind the port: 'confluent' (librdkafka, the default) "
        "or 'kafka-python' (pure Python)",
    )
    partitions: int = Field(
        6, ge=1, description="Partitions of every command and event topic (same count for all)"
    )
    replication_factor: int | None = Field(
        None,
        ge=1,
        description="Replication factor of new topics; unset: min(3, brokers in the cluster). "
        "Their min.insync.replicas is 2 from three copies, else 1",
    )
    topic_prefix: str = Field(
        "",
        description="Prefix for every topic name (isolates test runs or tenants on one cluster)",
    )
    security_protocol: Literal["", "PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "",
        description="How clients reach the brokers; empty: SASL_PLAINTEXT when a user is "
        "known (OMS_KAFKA_USERNAME or the dev credentials), else PLAINTEXT",
    )
    sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        "SCRAM-SHA-512", description="SASL mechanism of the clients (`oms dev up`: SCRAM-SHA-512)"
    )
    username: str = Field(
        "",
        description="Kafka principal of this process (engine, intake, projections, notifier, "
        "warehouse, carrier, channel, analyst, api, admin); empty with the dev services: the "
        "service's own (oms run: engine, oms channel serve: api...), else admin",
    )
    password: str = Field(
        "",
        description="Password of OMS_KAFKA_USERNAME; empty with the dev services: read from "
        "<OMS_DEV_DATA_DIR>/credentials/kafka.json (0600)",
        json_schema_extra={"secret": True},
    )
    max_record_bytes: int = Field(
        900_000,
        ge=1024,
        description="Largest record value the project produces. A command or event above it "
        "is dead-lettered with reason record.too_large instead of failing the producer's "
        "transaction on every restart; keep it below the broker's message.max.bytes "
        "(1 MiB by default) to leave room for key, headers and batch overhead",
    )


class RegistrySettings(BaseSettings):
    """An optional Confluent-compatible schema registry (``OMS_REGISTRY_*``)."""

    model_config = _section("OMS_REGISTRY_")

    url: str | None = Field(
        None,
        description="Schema registry URL; when set, Avro uses the Confluent wire format "
        "(magic byte + schema id), otherwise Avro single-object encoding",
    )
    subject_strategy: Literal["topic_record", "record", "topic"] = Field(
        "topic_record",
        description="Subject naming: 'topic_record' (<topic>-<record full name>), 'record' "
        "(<record full name>) or 'topic' (<topic>-value)",
    )
    compatibility: str = Field(
        "FULL_TRANSITIVE",
        description="Compatibility level set on every subject the project registers",
    )


class PostgresSettings(BaseSettings):
    """The projections database, one DSN per role (``OMS_POSTGRES_*``).

    An unset DSN is filled when the settings are built: from ``OMS_POSTGRES_DSN`` when
    that is set (a database you bring, one role for everything unless you give more),
    else from the roles ``oms dev up`` generated (their password file under
    ``OMS_DEV_DATA_DIR``, the port ``OMS_DEV_POSTGRES_PORT``).
    """

    model_config = _section("OMS_POSTGRES_")

    dsn: str = Field(
        "",
        description="Run-time role (projections, notifier, CLI): reads and writes rows, "
        "creates nothing. Unset: the dev role oms_writer",
        json_schema_extra={"secret": True},
    )
    api_dsn: str = Field(
        "",
        description="The HTTP API's role: reads every table, writes only the API's own. "
        "Unset: OMS_POSTGRES_DSN if set, else the dev role oms_api",
        json_schema_extra={"secret": True},
    )
    migrator_dsn: str = Field(
        "",
        description="Owner of the schemas and tables: migrations and replays use it. Unset: "
        "OMS_POSTGRES_DSN if set, else the dev role oms_migrator",
        json_schema_extra={"secret": True},
    )
    analyst_dsn: str = Field(
        "",
        description="Read-only role of analysts (oms dev dsn analyst). Unset: "
        "OMS_POSTGRES_DSN if set, else the dev role oms_analyst",
        json_schema_extra={"secret": True},
    )

    def filled(self, dev: DevSettings) -> PostgresSettings:
        """These settings with every unset DSN filled (see the class)."""
        if self.dsn:
            fallback = {"migrator_dsn": self.dsn, "api_dsn": self.dsn, "analyst_dsn": self.dsn}
        else:
            port, home = dev.postgres_port, dev.data_dir
            fallback = {
                "dsn": pg_roles.dsn(home, port, pg_roles.WRITER),
                "migrator_dsn": pg_roles.dsn(home, port, pg_roles.MIGRATOR),
                "api_dsn": pg_roles.dsn(home, port, pg_roles.API),
                "analyst_dsn": pg_roles.dsn(home, port, pg_roles.ANALYST),
            }
        unset = {name: value for name, value in fallback.items() if not getattr(self, name)}
        return self.model_copy(update=unset)


class EngineSettings(BaseSettings):
    """How the processors batch, time out and decide (``OMS_ENGINE_*``)."""

    model_config = _section("OMS_ENGINE_")

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
        "20 ms made an idle engine burn 19-24% of a core per process in fetch round trips, "
        "for no latency gain measured at 50 orders/s",
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
    poison_attempts: int = Field(
        3,
        ge=1,
        description="Transactions aborted in a row for a record's fault (an event over the "
        "topic's max.message.bytes) before a processor retries one record at a time, and "
        "attempts of that record alone before it is dead-lettered as record.poison",
    )
    commit_delay_ms: int = Field(
        0,
        ge=0,
        description="Fault tests only: pause between sending a batch and committing it, so a "
        "paused process is caught holding an open transaction. 0 in production.",
    )
    snapshot_every: int = Field(
        200,
        ge=1,
        description="Events of one aggregate between two of its snapshots on "
        "oms.<type>.snapshots; a rebuild reads the newest snapshot and the events after it",
    )
    dormant_kept: int = Field(
        1000,
        ge=0,
        description="Per partition, how many aggregates the engine has nothing left to "
        "decide about (allocated orders, shipments) stay in memory, the most recently "
        "touched; older ones leave memory with a snapshot and are reloaded when a command "
        "comes. Bounds memory whatever the number of orders",
    )
    redelivery_window_s: float = Field(
        3600,
        ge=0,
        description="How long the engine remembers the id of a command an aggregate applied, "
        "so an upstream redelivery has no second effect; older ids leave memory (and a "
        "rebuild reads at least this much of the events partition to learn them again)",
    )
    workflow: str = Field(
        "{}",
        description="Order workflow as JSON (domain/workflow.py Workflow.from_dict), e.g. "
        '\'{"on_shortage": "preorder", "reservation_ttl": 1800}\'',
    )
    merge_window_s: float = Field(
        86400,
        ge=0,
        description="Merging orders (合单, oms order merge): the most time between the first "
        "and the last order's placing for them to ship as one parcel",
    )
    merge_cross_channel: bool = Field(
        False,
        description="Whether orders of different channels may be merged into one parcel (a "
        "platform's parcel usually must carry its own waybill)",
    )
    ttl_check_ms: int = Field(
        1000, ge=10, description="How often the order processor looks for expired reservations"
    )
    progress_every_s: float = Field(
        2.0, gt=0, description="Seconds between progress lines while a partition is rebuilt"
    )
    waybill_wait_s: float = Field(
        900,
        ge=0,
        description="How long the carrier adapter holds a scan of a tracking number no "
        "shipment or return has shipped under yet (the carrier was faster than the ship "
        "confirmation) before dead-lettering it as waybill.unknown",
    )
    waybill_window_days: float = Field(
        60,
        gt=0,
        description="How far back the carrier adapter's waybill index reads shipped "
        "parcels; carriers stop scanning long before, and this bounds its memory",
    )

    def order_workflow(self) -> Workflow:
        """The :class:`Workflow` the order saga follows."""
        return Workflow.from_dict(json.loads(self.workflow or "{}"))


class IntakeSettings(BaseSettings):
    """The channel adapters' reference tables (``OMS_INTAKE_*``); unset means the tables
    that ship inside the package."""

    model_config = _section("OMS_INTAKE_")

    sku_map: Path | None = Field(
        None, description="JSON file: {channel: {channel sku: our sku}}; unset: the shipped one"
    )
    promotions: Path | None = Field(
        None, description="JSON file: {code: promotion definition}; unset: the shipped one"
    )
    pull_url: str = Field(
        "http://127.0.0.1:18093",
        description="Base URL of the platforms' order APIs `oms channel pull` calls; the "
        "default is the local sandbox (`oms channel sandbox`)",
    )
    pull_app_key: str = Field("sandbox-app", description="App key registered with the platform")
    pull_app_secret: str = Field(
        "sandbox-secret", description="App secret that signs the requests (keep it out of logs)"
    )
    pull_session: str = Field(
        "sandbox-session", description="The shop's authorisation (Taobao session, access_token)"
    )
    pull_shop: str = Field(
        "shop-1",
        description="Shop pulled; keys the published pages and the window mark",
    )
    pull_page_size: int = Field(100, ge=1, le=100, description="Orders per page asked for")
    pull_lag_s: float = Field(
        180.0,
        ge=0,
        description="A window ends this long before now: platforms index late changes "
        "(Pinduoduo asks for 3 minutes)",
    )
    pull_interval_s: float = Field(
        30.0, gt=0, description="`--follow`: wait between polls once caught up"
    )


class EventStoreSettings(BaseSettings):
    """The ``eventsourcing`` persistence module on Kafka (``OMS_EVENTSTORE_*``); an
    application's own environment overrides these, as the library's settings do."""

    model_config = _section("OMS_EVENTSTORE_")

    types: str = Field(
        "", description="Aggregate types this application stores, comma-separated; empty: all"
    )
    default_type: str = Field(
        "app",
        description="Aggregate type (topics oms.<type>.events / .snapshots, created on demand) "
        "of event classes outside the domain registry; empty: such events are refused",
    )
    transactional_id: str = Field(
        "", description="Prefix of the writers' transactional ids; empty: one per process"
    )
    create_topics: bool = Field(True, description="Create missing topics of the registry")
    read_freshness_ms: int = Field(
        0, ge=0, description="How old the last end-offsets check may be before a read re-checks"
    )


class ProjectionSettings(BaseSettings):
    """The PostgreSQL read models (``OMS_PROJECTIONS_*``)."""

    model_config = _section("OMS_PROJECTIONS_")

    schema_name: str = Field("oms", description="PostgreSQL schema of the live projections")
    row_cache_size: int = Field(
        10_000,
        ge=0,
        description="Aggregates each projection keeps in memory between batches (0: reload)",
    )
    silent_parcel_hours: float = Field(
        48,
        gt=0,
        description="A parcel on the road with no carrier scan for this long is a "
        "silent_parcel exception (oms shipment silent, the exceptions view)",
    )


class HttpSettings(BaseSettings):
    """The HTTP API (``OMS_HTTP_*``)."""

    model_config = _section("OMS_HTTP_")

    host: str = Field("127.0.0.1", description="Address the HTTP server listens on")
    port: int = Field(8080, ge=1, le=65535, description="Port the HTTP server listens on")
    max_body_bytes: int = Field(
        512 * 1024,
        ge=1024,
        description="Largest request body accepted; above it the answer is 413. The raw "
        "delivery is published as one record, so keep it below kafka.max_record_bytes",
    )
    retry_after_s: int = Field(
        5, ge=1, description="Retry-After of a 503 answered while Kafka is unreachable"
    )


class ApiSettings(BaseSettings):
    """The operator API under ``/api/v1`` and the channels' keys (``OMS_API_*``)."""

    model_config = _section("OMS_API_")

    secret: str = Field(
        "",
        description="Key that signs the operator API's bearer tokens (HS256). Empty: a "
        "random key per server start, so tokens end with the process; set it in production",
        json_schema_extra={"secret": True},
    )
    token_ttl_s: int = Field(
        8 * 3600, ge=60, description="How long a bearer token from /api/v1/auth/token is valid"
    )
    channel_keys: bool = Field(
        True,
        description="Channel intake (POST /channels/{channel}/orders) requires a signed "
        "channel key (X-OMS-Key, X-OMS-Timestamp, X-OMS-Signature; oms user key). false "
        "only for local demos: anyone may then post orders",
    )
    signature_max_age_s: int = Field(
        300,
        ge=1,
        description="A signed intake request whose X-OMS-Timestamp is further than this "
        "from the server's clock is refused (401) as stale or replayed",
    )
    intake_rate_per_s: float = Field(
        20.0, gt=0, description="Intake requests per second each channel key may send (429 above)"
    )
    intake_burst: int = Field(
        40, ge=1, description="Requests a channel key may send at once before the rate applies"
    )
    command_wait_s: float = Field(
        30.0,
        gt=0,
        description="How long the API watches for the engine's answer to an operator "
        "command (GET /api/v1/commands/{id} stays pending after it)",
    )

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, value: str) -> str:
        # HS256 wants a key of at least its hash's 32 bytes (RFC 7518 3.2).
        if value and len(value) < 32:
            raise ValueError(
                "OMS_API_SECRET is shorter than 32 characters: use e.g. "
                "`python -c 'import secrets; print(secrets.token_hex(32))'`"
            )
        return value


class RecoverySettings(BaseSettings):
    """How processes wait out a Kafka or PostgreSQL outage (``OMS_RECOVERY_*``)."""

    model_config = _section("OMS_RECOVERY_")

    initial_backoff_s: float = Field(
        0.5, gt=0, description="First wait after a lost connection; doubled on each failure"
    )
    max_backoff_s: float = Field(
        30.0, gt=0, description="Longest wait between two attempts to reconnect (the cap)"
    )


class DevSettings(BaseSettings):
    """The local services of ``oms dev up`` (``OMS_DEV_*``)."""

    model_config = _section("OMS_DEV_")

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Folder of `oms dev up`: Kafka and PostgreSQL data, logs, Maven-resolved jars",
    )
    kafka_version: str = Field("4.1.1", description="Apache Kafka broker version `oms dev up` runs")
    kafka_port: int = Field(
        9092,
        description="Loopback port of the dev Kafka broker (node n of a cluster: this + 2(n-1))",
    )
    kafka_controller_port: int = Field(
        9093,
        description="Loopback port of the KRaft controller (node n of a cluster: this + 2(n-1))",
    )
    kafka_brokers: int = Field(
        1,
        ge=1,
        le=9,
        description="Nodes of the dev Kafka cluster `oms dev up` starts (--brokers); each is "
        "broker and controller. Fixed once its data dir is formatted",
    )
    kafka_heap: str = Field(
        "1g",
        pattern=r"^[0-9]+[kKmMgG]$",
        description="Largest Java heap of each dev Kafka node (-Xmx), e.g. 384m on a small "
        "machine running three",
    )
    postgres_port: int = Field(55432, description="Loopback port of the dev PostgreSQL server")


class PaymentSettings(BaseSettings):
    """The payment gateways and their local sandboxes (``OMS_PAYMENTS_*``)."""

    model_config = _section("OMS_PAYMENTS_")

    alipay_port: int = Field(
        18091, ge=1, le=65535, description="Loopback port of the Alipay sandbox (`oms dev up`)"
    )
    wechatpay_port: int = Field(
        18092, ge=1, le=65535, description="Loopback port of the WeChat Pay sandbox"
    )
    alipay_url: str = Field(
        "",
        description="Alipay gateway.do URL; empty: the sandbox, "
        "http://127.0.0.1:<alipay_port>/gateway.do",
    )
    wechatpay_url: str = Field(
        "", description="WeChat Pay API base URL; empty: the sandbox, http://127.0.0.1:<port>"
    )
    alipay_notify_url: str = Field(
        "http://127.0.0.1:8080/payments/alipay/notify",
        description="Where Alipay posts its asynchronous notifications",
    )
    wechatpay_notify_url: str = Field(
        "http://127.0.0.1:8080/payments/wechatpay/notify",
        description="Where WeChat Pay posts its notifications",
    )
    alipay_app_id: str = Field("2021000000000001", description="Our Alipay app_id")
    wechatpay_mchid: str = Field("1900000001", description="Our WeChat Pay merchant id (mchid)")
    wechatpay_appid: str = Field("wx0000000000000001", description="Our WeChat Pay appid")
    keys_dir: Path | None = Field(
        None,
        description="Folder of the gateways' keys (0600 files); unset: "
        "<OMS_DEV_DATA_DIR>/payments/keys, generated on first use",
    )


class CarrierSimSettings(BaseSettings):
    """The carrier simulator `oms dev up` starts, and `oms simulate` runs when none
    follows its topics (``OMS_CARRIERSIM_*``)."""

    model_config = _section("OMS_CARRIERSIM_")

    time_scale: float = Field(
        20_000.0,
        gt=0,
        description="Simulated seconds per real second: 20000 turns a parcel's two days on "
        "the road into about 9 s (a demo); tests use 2x10^6",
    )
    failure_rate: float = Field(
        0.1, ge=0, le=1, description="Share of delivery attempts that fail (then a retry)"
    )
    refusal_rate: float = Field(
        0.02, ge=0, le=1, description="Share of delivery attempts refused at the door (returned)"
    )
    lost_rate: float = Field(
        0.005, ge=0, le=1, description="Share of parcels lost on the way (their scans stop)"
    )
    max_attempts: int = Field(
        3, ge=1, description="Failed attempts after which a parcel is returned to sender"
    )
    intercept_success_rate: float = Field(
        0.8,
        ge=0,
        le=1,
        description="Share of interception requests (拦截) that succeed: the parcel is "
        "returned to sender; the others go on being delivered",
    )
    sf_format_share: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Share of SF parcels pushed in SF Express's route format instead of "
        "the generic JSON (COD parcels are always generic: SF's push carries no cash)",
    )
    seed: int | None = Field(
        None, description="Seed of the parcels' lives (same seed, same lives); unset: random"
    )


class ReturnSettings(BaseSettings):
    """Returns (RMA) rules (``OMS_RETURNS_*``); lists and maps are JSON in the environment."""

    model_config = _section("OMS_RETURNS_")

    window_days: float = Field(
        7.0,
        gt=0,
        description="Return window in days from delivery (fractions allowed); an order "
        "completes when it closes with no return open",
    )
    reasons: dict[str, tuple[str, str]] = Field(
        default_factory=lambda: dict(REASONS),
        description='Reason code -> [zh label, en label], e.g. {"quality": ["质量问题", '
        '"Quality problem"]}',
    )
    no_fault_reasons: list[str] = Field(
        ["no_reason_7d"],
        description="Reasons that are the customer's choice (七天无理由): refused for "
        "non-returnable skus",
    )
    non_returnable_skus: list[str] = Field(
        [], description="Skus that come back only for a fault (not for a no-fault reason)"
    )
    auto_approve_reasons: list[str] = Field(
        ["quality", "wrong_item", "missing", "damaged"],
        description="Reasons approved without an operator, up to auto_approve_limit",
    )
    auto_approve_limit: int = Field(
        50_000,
        ge=0,
        description="Most a return's lines may be worth (minor units) to be approved "
        "without an operator",
    )
    parcel_due_days: float = Field(
        7.0,
        gt=0,
        description="Days after approval by which the customer's parcel must be scanned "
        "or received; later, the return is listed in overdue_return",
    )

    def policy(self) -> ReturnPolicy:
        """The domain's ReturnPolicy of these settings."""
        return ReturnPolicy(
            window=timedelta(days=self.window_days),
            reasons=dict(self.reasons),
            no_fault_reasons=frozenset(self.no_fault_reasons),
            non_returnable=frozenset(self.non_returnable_skus),
            auto_approve_reasons=frozenset(self.auto_approve_reasons),
            auto_approve_limit=self.auto_approve_limit,
            parcel_due=timedelta(days=self.parcel_due_days),
        )


class WarehouseSettings(BaseSettings):
    """Warehouse documents and e-waybills: pick waves, bins, carriers, labels
    (``OMS_WAREHOUSE_*``)."""

    model_config = _section("OMS_WAREHOUSE_")

    wave_size: int = Field(
        20, ge=1, description="Most open shipments of one location in a pick wave (oms docs pick)"
    )
    bins: Path | None = Field(
        None,
        description="CSV file location,sku,bin (header row): where each sku sits; a sku "
        "not listed gets a bin derived from its name (oms_events.documents.bins)",
    )
    carriers: dict[str, str] = Field(
        default_factory=dict,
        description='JSON {location: carrier}, e.g. {"WH-SH": "YTO"}: the carrier of '
        "standard parcels from a location (SF, ZTO, YTO, STO, JD)",
    )
    default_carrier: str = Field(
        "ZTO", description="Carrier of standard parcels from a location not in `carriers`"
    )
    express_carrier: str = Field(
        "SF", description="Carrier of express, next_day and same_day orders, from any location"
    )
    sender_name: str = Field("OMS 发货仓", description="Sender name printed on shipping labels")
    sender_phone: str = Field("400-000-0000", description="Sender phone printed on labels")
    sender_addresses: dict[str, str] = Field(
        default_factory=dict,
        description="JSON {location: return address} printed as the sender; unset: the location id",
    )
    font: Path = Field(
        Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
        description="TrueType font (.ttf/.ttc) embedded in the PDFs for Chinese text "
        "(Debian fonts-wqy-zenhei); missing: the non-embedded CID font STSong-Light",
    )

    @field_validator("default_carrier", "express_carrier")
    @classmethod
    def _known_carrier(cls, value: str) -> str:
        if value not in FORMATS:
            raise ValueError(f"unknown carrier {value!r}; known: {', '.join(FORMATS)}")
        return value

    @field_validator("carriers")
    @classmethod
    def _known_carriers(cls, value: dict[str, str]) -> dict[str, str]:
        for location, carrier in value.items():
            cls._known_carrier(carrier)
            if not location.strip():
                raise ValueError("a location id is empty")
        return value


class FulfilmentSettings(BaseSettings):
    """Fulfilment rules: sourcing, carriers, boxes (``OMS_FULFILMENT_*``)."""

    model_config = _section("OMS_FULFILMENT_")

    rules: Path | None = Field(
        None,
        description="TOML file of sourcing, carrier and box rules (oms_events.fulfilment.rules "
        "shows an example); unset: the location with most stock, carriers by OMS_WAREHOUSE_*",
    )
    skus: Path | None = Field(
        None,
        description="CSV file sku,length_mm,width_mm,height_mm,weight_g (header row): sku "
        "sizes for box and carrier choice; a sku not listed counts as 1 kg in a 20 cm cube",
    )


class StockSettings(BaseSettings):
    """Stock administration and replenishment (``OMS_STOCK_*``)."""

    model_config = _section("OMS_STOCK_")

    lead_time_days: float = Field(
        7.0, gt=0, description="Days from ordering stock to having it on hand (oms stock suggest)"
    )
    safety_days: float = Field(
        3.0,
        ge=0,
        description="Safety stock in days of average sales; an item's low-stock threshold "
        "is the floor (oms stock suggest)",
    )
    answer_wait_s: float = Field(
        15.0,
        gt=0,
        description="How long `oms stock` waits for the engine's answer (events or refusal)",
    )


class ReviewSettings(BaseSettings):
    """Order review (审单) by rules before allocation (``OMS_REVIEW_*``); an order that
    fails a rule is held into the exception queue (``oms order queue``)."""

    model_config = _section("OMS_REVIEW_")

    enabled: bool = Field(
        False,
        description="Review orders before allocation: off, orders go to the warehouse as "
        "soon as they are reserved and paid (the workflow's own holds still apply)",
    )
    amount_above: int | None = Field(
        None,
        ge=0,
        description="Risk: hold an order whose total is above this, in minor units of "
        "amount_currency (e.g. 500000 = 5,000.00 CNY); unset: no amount rule",
    )
    amount_currency: str = Field("CNY", description="Currency of amount_above (ISO 4217)")
    blocked_phones: list[str] = Field(
        default_factory=list,
        description='Risk: hold orders of these phones, JSON list, e.g. ["13900000000"]',
    )
    trusted_customers: list[str] = Field(
        default_factory=list,
        description="Auto-approve: phones or accounts whose orders skip the address and "
        "risk rules (still waiting for stock and payment)",
    )
    trusted_channels: list[str] = Field(
        default_factory=list,
        description="Auto-approve: channels whose orders skip the address and risk rules, "
        'e.g. ["pos"]',
    )
    answer_wait_s: float = Field(
        30.0,
        gt=0,
        description="How long `oms order hold/release/review/edit/pay/reroute` waits for the "
        "engine's answer",
    )

    def rules(self) -> ReviewRules:
        """The :class:`ReviewRules` the order saga applies."""
        amount = (
            None
            if self.amount_above is None
            else {"amount": self.amount_above, "currency": self.amount_currency}
        )
        return ReviewRules.from_dict(
            {
                "enabled": self.enabled,
                "amount_above": amount,
                "blocked_phones": self.blocked_phones,
                "trusted_customers": self.trusted_customers,
                "trusted_channels": self.trusted_channels,
            }
        )


class AnalyticsSettings(BaseSettings):
    """Reports, charts and demand forecasts (``OMS_ANALYTICS_*``)."""

    model_config = _section("OMS_ANALYTICS_")

    timezone: str = Field(
        "Asia/Shanghai",
        description="IANA time zone of the shop's business day: every daily view, report "
        "and chart cuts days at its midnight",
    )
    reports_file: Path = Field(
        Path("reports.toml"),
        description="TOML file of saved report definitions (oms report list|run|schedule)",
    )
    output_dir: Path = Field(
        Path("reports"),
        description="Folder the reports are written to, one subfolder per report and run",
    )
    forecast_history_days: int = Field(
        112,
        ge=28,
        description="Days of shipped units a demand forecast learns from (oms stock suggest, "
        "oms forecast run|backtest)",
    )
    forecast_schedule: str | None = Field(
        "0 6 * * *",
        description="Cron expression (in the business time zone) on which oms report schedule "
        "runs the demand forecast into demand_forecast, which low_stock shows; empty: never",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as Asia/Shanghai"
            ) from None
        return value

    @field_validator("forecast_schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a cron expression; use e.g. '0 6 * * *'")
        return value


class NotifierSettings(BaseSettings):
    """Customer notifications and channel feedback, sent by ``oms notify run``
    (``OMS_NOTIFIER_*``)."""

    model_config = _section("OMS_NOTIFIER_")

    channels: str = Field(
        "email,sms,webhook,feed",
        description="Channels the notifier plans messages for, comma-separated: email, sms, "
        "webhook, feed (the sales channel's outbound ship call)",
    )
    smtp_host: str = Field("127.0.0.1", description="SMTP server that takes our mail")
    smtp_port: int = Field(1025, ge=1, le=65535, description="Port of the SMTP server")
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS")
    smtp_user: str = Field("", description="SMTP login; empty: no AUTH")
    smtp_password: str = Field("", description="SMTP password", json_schema_extra={"secret": True})
    mail_from: str = Field("OMS <noreply@oms.example>", description="From: of customer mail")
    sms_sandbox_file: Path | None = Field(
        None,
        description="The SMS sandbox provider's outbox (one JSON line per SMS); unset: "
        "<OMS_DEV_DATA_DIR>/notifier/sms.jsonl",
    )
    max_attempts: int = Field(
        5, ge=1, description="Attempts per message before it is dead-lettered (oms.deadletter)"
    )
    retry_base_s: float = Field(
        2.0, gt=0, description="Wait after the first failed attempt; doubles each attempt"
    )
    retry_cap_s: float = Field(300.0, gt=0, description="Longest wait between two attempts")
    send_timeout_s: float = Field(
        10.0, gt=0, description="Timeout of one SMTP, SMS or webhook attempt"
    )
    idle_s: float = Field(
        0.5, gt=0, description="Pause of the notifier loop when nothing was read or due"
    )
    stock_sync_s: float = Field(
        30.0,
        gt=0,
        description="How often changed available stock per sku is published for the "
        "channels' stock sync (oms.channel.<channel>.stock)",
    )

    def channel_set(self) -> frozenset[str]:
        """The channels of :attr:`channels` as a set."""
        return frozenset(c.strip() for c in self.channels.split(",") if c.strip())


class PrivacySettings(BaseSettings):
    """Personal data sealed per order, forgotten per customer (``OMS_PRIVACY_*``)."""

    model_config = _section("OMS_PRIVACY_")

    schema_name: str = Field(
        "oms_privacy",
        description="PostgreSQL schema of the key store (order keys, customer links, "
        "forgotten customers); the analysts' role cannot read it",
    )
    master_key_file: str = Field(
        "",
        description="File of the master key that wraps the order keys (hex, mode 0600, made "
        "on first use). Empty: <OMS_DEV_DATA_DIR>/credentials/privacy.key. Every process "
        "must read the same file: without it no sealed field opens",
    )
    key_ttl_s: float = Field(
        300,
        gt=0,
        description="How long a process keeps an order key in memory: after `oms customer "
        "forget` a running process may still open that customer's records this long",
    )
    key_cache_size: int = Field(
        100_000, ge=1, description="Order keys each process keeps in memory at most"
    )
    raw_retention_days: float = Field(
        7,
        gt=0,
        description="How long Kafka keeps records that cannot be sealed field by field: "
        "the channels' raw orders (oms.intake.<channel>), carriers' scans "
        "(oms.carrier.updates) and dead letters (oms.deadletter); "
        "`oms topics apply` sets it",
    )


class LogSettings(BaseSettings):
    """Logging (``OMS_LOG_*``)."""

    model_config = _section("OMS_LOG_")

    format: str = Field(
        "auto", description="Log output: 'json', 'console', or 'auto' (console on a terminal)"
    )
    level: str = Field("info", description="Minimum log level")


class Settings(BaseModel):
    """Every setting of the project, one section per concern; built from the environment
    by ``Settings()``. Frozen: change a value for a test with :meth:`replace`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    postgres: PostgresSettings = Field(default_factory=PostgresSettings)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    intake: IntakeSettings = Field(default_factory=IntakeSettings)
    eventstore: EventStoreSettings = Field(default_factory=EventStoreSettings)
    projections: ProjectionSettings = Field(default_factory=ProjectionSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    recovery: RecoverySettings = Field(default_factory=RecoverySettings)
    dev: DevSettings = Field(default_factory=DevSettings)
    payments: PaymentSettings = Field(default_factory=PaymentSettings)
    carriersim: CarrierSimSettings = Field(default_factory=CarrierSimSettings)
    returns: ReturnSettings = Field(default_factory=ReturnSettings)
    warehouse: WarehouseSettings = Field(default_factory=WarehouseSettings)
    stock: StockSettings = Field(default_factory=StockSettings)
    fulfilment: FulfilmentSettings = Field(default_factory=FulfilmentSettings)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    analytics: AnalyticsSettings = Field(default_factory=AnalyticsSettings)
    notifier: NotifierSettings = Field(default_factory=NotifierSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    log: LogSettings = Field(default_factory=LogSettings)

    @model_validator(mode="before")
    @classmethod
    def _postgres_roles(cls, data: Any) -> Any:
        # The DSNs the environment leaves unset follow the dev services' folder and
        # port, read once here: replace(dev=...) later (a test's own Kafka) keeps them.
        if not isinstance(data, dict):
            return data
        dev = data.get("dev")
        if not isinstance(dev, DevSettings):
            dev = DevSettings(**(dev or {}))
        postgres = data.get("postgres")
        if not isinstance(postgres, PostgresSettings):
            postgres = PostgresSettings(**(postgres or {}))
        # Likewise the master key: every process of a deployment must read the same one.
        privacy = data.get("privacy")
        if not isinstance(privacy, PrivacySettings):
            privacy = PrivacySettings(**(privacy or {}))
        if not privacy.master_key_file:
            default = dev.data_dir / "credentials" / "privacy.key"
            privacy = privacy.model_copy(update={"master_key_file": str(default)})
        return {**data, "dev": dev, "postgres": postgres.filled(dev), "privacy": privacy}

    def replace(self, **sections: dict[str, Any]) -> Settings:
        """A copy with some fields of some sections changed, e.g.
        ``settings.replace(kafka={"topic_prefix": "t1."})``; values are validated."""
        update: dict[str, Any] = {}
        for name, changes in sections.items():
            current: BaseSettings = getattr(self, name)
            merged = {**current.model_dump(), **changes}
            update[name] = type(current).model_validate(merged)
        return self.model_copy(update=update)

    def entries(self) -> Iterator[Entry]:
        """Every setting with its value, environment variable and where it came from."""
        for section_name in type(self).model_fields:
            section: BaseSettings = getattr(self, section_name)
            prefix = str(section.model_config.get("env_prefix", ""))
            for field_name, info in type(section).model_fields.items():
                variable = info.alias or f"{prefix}{field_name}".upper()
                extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
                yield Entry(
                    name=f"{section_name}.{field_name}",
                    variable=variable,
                    value=getattr(section, field_name),
                    source="environment" if variable in os.environ else "default",
                    secret=bool(extra.get("secret")),
                    description=info.description or "",
                )


class Entry(BaseModel):
    """One setting as ``oms config show`` prints it."""

    name: str
    variable: str
    value: Any
    source: Literal["environment", "default"]
    secret: bool
    description: str

    def shown(self) -> str:
        """The value as text, secrets masked (a DSN keeps everything but its password)."""
        text = "" if self.value is None else str(self.value)
        if not self.secret:
            return text
        if "://" in text and "@" in text:
            scheme, rest = text.split("://", 1)
            credentials, host = rest.rsplit("@", 1)
            if ":" not in credentials:  # no password in it (the dev roles' passfile=)
                return text
            user = credentials.split(":", 1)[0]
            return f"{scheme}://{user}:****@{host}"
        return "****" if text else ""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
