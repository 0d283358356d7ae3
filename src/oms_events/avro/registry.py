"""A client for a Confluent-compatible schema registry's REST API.

Each subject the engine writes under first gets the compatibility level the project
enforces (``PUT /config/<subject>``, FULL_TRANSITIVE by default): without it the
registry's global level (usually BACKWARD) would accept a change that
``oms schemas check`` forbids, such as removing a field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from oms_events.avro.catalog import Schema, SchemaNotFound, from_raw
from oms_events.avro.codec import CodecUnavailable

if TYPE_CHECKING:
    from oms_events.avro.codec import Codec
    from oms_events.settings import Settings

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
REFUSALS = (409, 422)  # incompatible with the subject's versions; invalid schema or level


class RegistryError(CodecUnavailable):
    """The registry could not be reached or failed; the message names the URL.

    Not a problem of the record at hand: the engine stops on it instead of
    dead-lettering every record it tries to write.
    """


class RegistryRefused(RegistryError):
    """The registry refused a schema (or a compatibility level) under a subject."""

    def __init__(self, subject: str, schema: str, status: int, reason: str) -> None:
        self.subject = subject
        self.schema = schema
        self.status = status
        self.reason = reason
        super().__init__(
            f"schema registry refused {schema} under subject {subject!r}: {status} {reason}"
        )


def _reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return " ".join(response.text.split())[:300]
    if isinstance(body, dict) and "message" in body:
        return " ".join(str(body["message"]).split())[:300]
    return " ".join(str(body).split())[:300]


class SchemaRegistry:
    """Registers our schemas under the subjects it is given and caches ids both ways."""

    def __init__(self, url: str, compatibility: str = "FULL_TRANSITIVE", timeout: float = 10.0):
        self.url = url.rstrip("/")
        self.compatibility = compatibility
        self.http = httpx.Client(timeout=timeout, headers={"Content-Type": CONTENT_TYPE})
        self._ids: dict[tuple[str, bytes], int] = {}
        self._schemas: dict[int, Schema] = {}
        self._configured: set[str] = set()

    def _call(
        self, method: str, path: str, body: Any = None, expected: tuple[int, ...] = REFUSALS
    ) -> httpx.Response:
        try:
            response = self.http.request(method, self.url + path, json=body)
        except httpx.HTTPError as exc:
            raise RegistryError(f"schema registry at {self.url} unreachable: {exc}") from exc
        if response.status_code >= 400 and response.status_code not in expected:
            raise RegistryError(
                f"schema registry {method} {self.url}{path}: "
                f"{response.status_code} {_reason(response)}"
            )
        return response

    def _configure(self, subject: str, schema: Schema) -> bool:
        """Set the subject's level; False when the subject does not exist yet.

        Confluent's registry takes a level for a subject before its first version;
        Apicurio's answers 404 until the subject exists, so the caller sets it again
        right after registering (a first version has nothing to be compatible with).
        """
        body = {"compatibility": self.compatibility}
        response = self._call("PUT", f"/config/{subject}", body, (*REFUSALS, 404))
        if response.status_code == 404:
            return False
        if response.status_code in REFUSALS:
            raise RegistryRefused(
                subject, schema.name, response.status_code, f"compatibility: {_reason(response)}"
            )
        self._configured.add(subject)
        return True

    def id_for(self, subject: str, schema: Schema) -> int:
        """Register (idempotently) and return the schema's global id.

        Raises :class:`RegistryRefused` when the registry refuses the schema under the
        subject (409: incompatible with its earlier versions; 422: invalid).
        """
        key = (subject, schema.fingerprint)
        if key not in self._ids:
            configured = subject in self._configured or self._configure(subject, schema)
            body = {"schema": json.dumps(schema.raw), "schemaType": "AVRO"}
            response = self._call("POST", f"/subjects/{subject}/versions", body)
            if response.status_code in REFUSALS:
                raise RegistryRefused(subject, schema.name, response.status_code, _reason(response))
            if not configured and not self._configure(subject, schema):
                raise RegistryError(f"schema registry lost subject {subject!r} just registered")
            schema_id = int(response.json()["id"])
            self._ids[key] = schema_id
            self._schemas[schema_id] = schema
        return self._ids[key]

    def schema_for(self, schema_id: int) -> Schema:
        """The writer schema registered under ``schema_id`` (SchemaNotFound if none is:
        the record came from elsewhere, a problem of that record, not of the registry)."""
        if schema_id not in self._schemas:
            response = self._call("GET", f"/schemas/ids/{schema_id}", expected=(404,))
            if response.status_code == 404:
                raise SchemaNotFound(f"schema registry at {self.url} has no schema id {schema_id}")
            raw = json.loads(response.json()["schema"])
            self._schemas[schema_id] = from_raw(raw, Path(f"registry:{schema_id}"))
        return self._schemas[schema_id]


def codec_from_settings(settings: Settings) -> Codec:
    """The codec the settings ask for: Confluent with a registry, single-object otherwise,
    sealing personal data under the key store's order keys (oms_events.privacy.vault)."""
    from oms_events.avro.codec import ConfluentCodec, SingleObjectCodec
    from oms_events.privacy.keystore import KeyStore
    from oms_events.privacy.vault import Vault

    registry = settings.registry
    inner: Codec = SingleObjectCodec()
    if registry.url:
        inner = ConfluentCodec(
            SchemaRegistry(registry.url, registry.compatibility), registry.subject_strategy
        )
    return Vault(inner, KeyStore(settings))
