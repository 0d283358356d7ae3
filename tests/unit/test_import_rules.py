"""The package stands alone: it imports neither bench/ nor tests/, finds its files with
importlib.resources (no paths into a checkout), and nobody edits sys.path."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SYS_PATH_EDIT = re.compile(r"sys\.path\.(insert|append|extend)|sys\.path\s*[+]?=")
PACKAGE = [*(ROOT / "src" / "oms_events").rglob("*.py"), *(ROOT / "consumers").rglob("*.py")]


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of its code."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            found.update(a.value for a in node.args if isinstance(a, ast.Constant))
    return found


def top(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


@pytest.mark.parametrize("path", PACKAGE, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_package_imports_neither_bench_nor_tests(path: Path) -> None:
    assert not top(imports(path)) & {"bench", "tests"}


@pytest.mark.parametrize(
    "path", sorted((ROOT / "bench").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_bench_does_not_import_tests(path: Path) -> None:
    assert "tests" not in top(imports(path))


def test_projection_spec_does_not_import_the_consumers() -> None:
    # consumers/ imports spec to declare projections; the reverse would be a cycle.
    assert "consumers" not in top(imports(ROOT / "src/oms_events/projection/spec.py"))


def test_no_path_into_a_checkout_and_no_sys_path_edits() -> None:
    code = [*PACKAGE, *(ROOT / "bench").rglob("*.py"), *(ROOT / "tests").rglob("*.py")]
    this = Path(__file__).resolve()
    edits = [p for p in code if p.resolve() != this and SYS_PATH_EDIT.search(p.read_text())]
    assert edits == []
    climbing = [p for p in PACKAGE if ".parents[" in p.read_text()]
    assert climbing == []
