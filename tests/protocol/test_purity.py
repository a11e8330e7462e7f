"""`protocol/` must stay pure: no Ray, database, HTTP or search imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

FORBIDDEN = {
    "ray", "asyncpg", "fastapi", "httpx", "tantivy", "aiohttp", "uvicorn",
    "starlette", "requests", "socket", "storage", "actors", "ingress", "sharding",
    "search_index",
}
PROTOCOL = Path(__file__).resolve().parents[2] / "protocol"


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", sorted(PROTOCOL.rglob("*.py")), ids=lambda p: p.name)
def test_protocol_module_imports_no_io(path: Path) -> None:
    assert not _imported_roots(path) & FORBIDDEN


def test_purity_check_sees_imports(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import ray.serve\nfrom asyncpg import Pool\n")
    assert _imported_roots(bad) & FORBIDDEN == {"ray", "asyncpg"}
