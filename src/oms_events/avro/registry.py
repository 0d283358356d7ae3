"""A client for a Confluent-compatible schema registry's REST API (register, fetch by id)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from oms_events.avro.catalog import Schema, from_raw

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class RegistryError(RuntimeError):
    """The registry refused or could not be reached; the message names the URL."""


class SchemaRegistry:
    """Registers our schemas under their record name and caches ids both ways."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(timeout=timeout, headers={"Content-Type": CONTENT_TYPE})
        self._ids: dict[tuple[str, bytes], int] = {}
        self._schemas: dict[int, Schema] = {}

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            response = self.http.request(method, self.url + path, json=body)
        except httpx.HTTPError as exc:
            raise RegistryError(f"schema registry at {self.url} unreachable: {exc}") from exc
        if response.status_code >= 400:
            raise RegistryError(
                f"schema registry {method} {path}: {response.status_code} {response.text[:200]}"
            )
        return response.json()

    def id_for(self, subject: str, schema: Schema) -> int:
        """Register (idempotently) and return the schema's global id."""
        key = (subject, schema.fingerprint)
        if key not in self._ids:
            body = {"schema": json.dumps(schema.raw), "schemaType": "AVRO"}
            result = self._call("POST", f"/subjects/{subject}/versions", body)
            self._ids[key] = int(result["id"])
            self._schemas[int(result["id"])] = schema
        return self._ids[key]

    def schema_for(self, schema_id: int) -> Schema:
        """The writer schema registered under ``schema_id``."""
        if schema_id not in self._schemas:
            result = self._call("GET", f"/schemas/ids/{schema_id}")
            raw = json.loads(result["schema"])
            self._schemas[schema_id] = from_raw(raw, Path(f"registry:{schema_id}"))
        return self._schemas[schema_id]


def codec_from_settings(schema_registry_url: str | None) -> Any:
    """The codec the settings ask for: Confluent with a registry, single-object otherwise."""
    from oms_events.avro.codec import ConfluentCodec, SingleObjectCodec

    if schema_registry_url:
        return ConfluentCodec(SchemaRegistry(schema_registry_url))
    return SingleObjectCodec()
