"""Who a client is to Kafka: its security protocol and SASL/SCRAM credentials.

One place maps ``settings.kafka`` (``OMS_KAFKA_USERNAME``, ``OMS_KAFKA_PASSWORD``,
``OMS_KAFKA_SECURITY_PROTOCOL``, ``OMS_KAFKA_SASL_MECHANISM``) to what both clients
need. When the environment leaves them unset, the dev services fill them from the
credentials ``oms dev up`` generated (``<OMS_DEV_DATA_DIR>/credentials/kafka.json``,
mode 0600): a long-running service runs as its own principal (:func:`as_service`:
``oms run`` as engine, ``oms channel serve`` as api...), anything else as the admin
principal (topic creation and the dev tools), and a user named without a password
(``OMS_KAFKA_USERNAME=warehouse``) takes that principal's password from the file.
The file is consulted only for loopback bootstrap servers, so dev credentials never
travel to another cluster.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from oms_events.settings import Settings

# The broker's own principal and the tools' (a super user); then one per service.
ADMIN = "admin"
SERVICES: tuple[str, ...] = (
    "engine",
    "intake",
    "projections",
    "notifier",
    "warehouse",
    "carrier",
    "channel",
    "analyst",
    "api",
)
PRINCIPALS: tuple[str, ...] = (ADMIN, *SERVICES)
MECHANISM = "SCRAM-SHA-512"

_LOOPBACK = ("127.", "localhost", "[::1]", "::1")


class KafkaCredentialsError(RuntimeError):
    """The Kafka credentials cannot be found or read; the message names the fix."""


@dataclass(frozen=True)
class ClientSecurity:
    """How a client authenticates: protocol, and for SASL the mechanism and user."""

    protocol: str
    mechanism: str = MECHANISM
    username: str = ""
    password: str = ""

    @property
    def sasl(self) -> bool:
        """True when the client authenticates with SASL."""
        return self.protocol.startswith("SASL_")

    def librdkafka(self) -> dict[str, str]:
        """The librdkafka properties (confluent-kafka, kcat ``-X``)."""
        if not self.sasl:
            return {"security.protocol": self.protocol.lower()}
        return {
            "security.protocol": self.protocol.lower(),
            "sasl.mechanisms": self.mechanism,
            "sasl.username": self.username,
            "sasl.password": self.password,
        }

    def kafka_python(self) -> dict[str, str]:
        """The keyword arguments of kafka-python's clients."""
        if not self.sasl:
            return {"security_protocol": self.protocol}
        return {
            "security_protocol": self.protocol,
            "sasl_mechanism": self.mechanism,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password,
        }


# Clients built without settings (unit tests of the client modules): no authentication.
PLAINTEXT = ClientSecurity("PLAINTEXT")


def credentials_path(settings: Settings) -> Path:
    """Where ``oms dev up`` keeps the generated SCRAM passwords of every principal."""
    return settings.dev.data_dir / "credentials" / "kafka.json"


def read_credentials(path: Path) -> dict[str, str]:
    """Every principal's password from the dev credentials file ({} when absent)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise KafkaCredentialsError(
            f"cannot read the Kafka credentials {path} ({exc.strerror}): run as the user "
            "who ran `oms dev up`, or set OMS_KAFKA_USERNAME and OMS_KAFKA_PASSWORD"
        ) from exc
    values = json.loads(text)
    return {str(k): str(v) for k, v in values.items()}


def ensure_credentials(path: Path) -> dict[str, str]:
    """The dev credentials, generated once (a random password per principal) and written
    with mode 0600; principals added since are generated into the existing file."""
    known = read_credentials(path)
    wanted = {p: known.get(p) or secrets.token_hex(24) for p in PRINCIPALS}
    if any(p not in known for p in PRINCIPALS):
        # Beside the PostgreSQL roles' passwords, in a folder only its owner enters.
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        # Created 0600, never chmod-ed after: no moment where others could read it.
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({**known, **wanted}, f, indent=2)
        partial.replace(path)
    return wanted


def _loopback(bootstrap_servers: str) -> bool:
    return all(a.strip().startswith(_LOOPBACK) for a in bootstrap_servers.split(","))


def client_security(settings: Settings) -> ClientSecurity:
    """The protocol and credentials every Kafka client of this process uses (module doc)."""
    k = settings.kafka
    if k.security_protocol == "PLAINTEXT":  # said so: no credentials, none looked up
        return PLAINTEXT
    username, password = k.username, k.password
    if not (username and password) and _loopback(k.bootstrap_servers):
        generated = read_credentials(credentials_path(settings))
        if generated:
            username = username or ADMIN
            if not password and username not in generated:
                raise KafkaCredentialsError(
                    f"OMS_KAFKA_USERNAME={username} is not a principal of the dev Kafka "
                    f"({', '.join(SERVICES)}, {ADMIN}): fix it, or set OMS_KAFKA_PASSWORD"
                )
            password = password or generated[username]
    if username and not password:
        raise KafkaCredentialsError(
            f"OMS_KAFKA_PASSWORD is not set for Kafka user {username}: set it (the dev "
            f"services' passwords are in {credentials_path(settings)})"
        )
    protocol = k.security_protocol or ("SASL_PLAINTEXT" if username else "PLAINTEXT")
    return ClientSecurity(protocol, k.sasl_mechanism, username, password)


def with_credentials(settings: Settings) -> Settings:
    """``settings`` with the resolved protocol and credentials written in, so copies
    made from it (another data dir, a child's environment) keep reaching the same
    cluster as the same user."""
    security = client_security(settings)
    return settings.replace(
        kafka={
            "security_protocol": security.protocol,
            "username": security.username,
            "password": security.password,
        }
    )


def as_admin(settings: Settings) -> Settings:
    """``settings`` as the dev cluster's admin principal (its password from the
    credentials file), whatever user the environment names."""
    return settings.replace(kafka={"username": ADMIN, "password": "", "security_protocol": ""})


def as_service(settings: Settings, principal: str) -> Settings:
    """``settings`` as the service ``principal`` (one of :data:`SERVICES`) when nothing
    names the Kafka user and the dev credentials know that principal: each long-running
    process then holds only its own rights (acls.py), never the admin's. A user the
    environment names (``OMS_KAFKA_USERNAME``) wins, and a cluster without the dev
    credentials (PLAINTEXT, another host) is left as configured."""
    k = settings.kafka
    if k.username or k.security_protocol == "PLAINTEXT" or not _loopback(k.bootstrap_servers):
        return settings
    if principal not in read_credentials(credentials_path(settings)):
        return settings
    return settings.replace(kafka={"username": principal})


def environment(settings: Settings) -> dict[str, str]:
    """The ``OMS_KAFKA_*`` variables that make a child process authenticate as this
    process does."""
    security = client_security(settings)
    return {
        "OMS_KAFKA_SECURITY_PROTOCOL": security.protocol,
        "OMS_KAFKA_SASL_MECHANISM": security.mechanism,
        "OMS_KAFKA_USERNAME": security.username,
        "OMS_KAFKA_PASSWORD": security.password,
    }
