"""The engine's decisions are plain Python: only the loops that feed them speak Kafka.

A reader (and a unit test) sees each decision without a broker; the processor loop,
the partition rebuild and the stock watcher are the engine's Kafka side.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.fresh_import import top_level_modules_loaded_by

ENGINE = Path(__file__).resolve().parents[3] / "src" / "oms_events" / "engine"
DECISIONS = [
    "allocation",
    "commands",
    "inventory_service",
    "order_saga",
    "order_service",
    "outbox",
    "service",
    "shipment_service",
    "sourcing",
    "warehouse_adapter",
]
KAFKA = ("kafka", "confluent_kafka", "oms_events.kafka")


def _imports(module: str) -> set[str]:
    tree = ast.parse((ENGINE / f"{module}.py").read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", DECISIONS)
def test_a_decision_module_imports_no_kafka_client(module: str) -> None:
    kafka = {n for n in _imports(module) if n == KAFKA[0] or n.startswith(KAFKA)}
    assert kafka == set()


def test_every_service_lives_in_a_file_named_after_it() -> None:
    from oms_events.engine.inventory_service import InventoryService
    from oms_events.engine.order_service import OrderService
    from oms_events.engine.shipment_service import ShipmentService
    from oms_events.engine.warehouse_adapter import WarehouseAdapter

    for cls in (InventoryService, OrderService, ShipmentService, WarehouseAdapter):
        words = cls.__module__.rsplit(".", 1)[-1].split("_")
        assert "".join(w.title() for w in words) == cls.__name__


def test_the_intake_builds_commands_without_loading_a_kafka_client() -> None:
    loaded = top_level_modules_loaded_by(
        "oms_events.engine.commands", "oms_events.intake.processor"
    )
    assert "oms_events" in loaded
    assert loaded.isdisjoint({"kafka", "confluent_kafka"})
