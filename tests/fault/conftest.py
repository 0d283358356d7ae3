"""Fault tests: engine processes killed (SIGKILL) or paused (SIGSTOP) on the real broker."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conftest import dev_services, isolated

__all__ = ["dev_services", "isolated"]

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.fault)
            item.add_marker(pytest.mark.integration)
