"""docker-compose.yml is valid Compose and publishes the ports that `oms dev up` defaults to.

The file is checked against the Compose Specification's own JSON schema (vendored in
tests/fixtures/compose, see its README) plus the cross-references Compose resolves when it
loads a file (``depends_on`` targets, named volumes, variables to interpolate), so the
check needs only Python packages that `make install` installs, not a docker-compose binary.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from oms_events.settings import DevSettings

ROOT = Path(__file__).resolve().parents[2]
SPEC = json.loads((ROOT / "tests" / "fixtures" / "compose" / "compose-spec.json").read_text())


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def _problems(compose: dict[str, Any]) -> list[str]:
    """Every reason Compose would refuse ``compose`` (empty when it loads)."""
    validator = jsonschema.Draft7Validator(SPEC, format_checker=jsonschema.FormatChecker())
    found = [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator.iter_errors(compose)
    ]
    services: dict[str, Any] = compose.get("services") or {}
    volumes = set(compose.get("volumes") or {})
    for name, service in services.items():
        for needed in service.get("depends_on") or {}:
            if needed not in services:
                found.append(f"services/{name}/depends_on: no service {needed!r}")
        for mount in service.get("volumes") or []:
            source = mount.split(":", 1)[0] if isinstance(mount, str) else mount.get("source", "")
            named = source and not source.startswith((".", "/", "~"))
            if named and source not in volumes:
                found.append(f"services/{name}/volumes: undeclared volume {source!r}")
    # Compose would interpolate ${VAR} from the caller's shell: the file must not depend on it.
    found += [f"interpolates {m}" for m in re.findall(r"\$\{?\w+", json.dumps(compose))]
    return found


def _published(service: dict[str, Any]) -> set[int]:
    # Short syntax only ("host:container"), which is what the file uses.
    return {int(str(p).rsplit(":", 1)[0].rsplit(":", 1)[-1]) for p in service.get("ports", [])}


def test_compose_file_is_valid_and_matches_dev_defaults() -> None:
    compose = _compose()
    assert _problems(compose) == []
    services = compose["services"]
    assert {"kafka", "postgres", "engine"} <= set(services)
    # The compose file serves the defaults, whatever this shell's OMS_* variables say.
    s = DevSettings.model_construct()
    assert _published(services["kafka"]) == {s.kafka_port}
    assert _published(services["postgres"]) == {s.postgres_port}


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda c: c["services"]["kafka"].update(ports="9092:9092"), "ports"),
        (lambda c: c["services"]["kafka"].update(healthcheck={"tests": ["CMD", "true"]}), "tests"),
        (lambda c: c["services"]["postgres"].update(imag="postgres:15"), "imag"),
        (lambda c: c["services"]["engine"]["depends_on"].update(zk={}), "no service 'zk'"),
        (lambda c: c["volumes"].pop("pg-data"), "undeclared volume 'pg-data'"),
        (lambda c: c["services"]["engine"]["environment"].update(X="${HOME}"), "interpolates"),
    ],
)
def test_the_check_refuses_what_compose_refuses(change: Any, complaint: str) -> None:
    # The check is only worth something if it fails: each broken copy must be refused.
    compose = _compose()
    change(compose)
    assert any(complaint in p for p in _problems(compose))
