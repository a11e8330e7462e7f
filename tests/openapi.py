"""Validate responses against the spec's OpenAPI definitions (../shared/matrix-spec).

    from tests.openapi import assert_matches
    assert_matches("login.yaml", "/login", "post", r.status_code, r.json())

`response_schema` loads the schema of one response, with every `$ref`
resolved relative to the file it appears in, ready for jsonschema.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SPEC_ROOT = Path(__file__).resolve().parents[2] / "shared" / "matrix-spec" / "data" / "api"
CLIENT_SERVER = SPEC_ROOT / "client-server"
SERVER_SERVER = SPEC_ROOT / "server-server"


@functools.cache
def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _pointer(doc: Any, fragment: str) -> Any:
    for part in filter(None, fragment.split("/")):
        doc = doc[part.replace("~1", "/").replace("~0", "~")]
    return doc


def _resolve(node: Any, base: Path, depth: int = 0) -> Any:
    """`node` with every `$ref` replaced by what it points at (refs are relative to `base`)."""
    if depth > 50:
        raise RecursionError(f"$ref nesting too deep under {base}")
    if isinstance(node, list):
        return [_resolve(item, base, depth) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target, _, fragment = node["$ref"].partition("#")
        file = (base.parent / target).resolve() if target else base
        resolved = _resolve(_pointer(_load(file), fragment), file, depth + 1)
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        return {**resolved, **_resolve(siblings, base, depth)} if siblings else resolved
    return {key: _resolve(value, base, depth) for key, value in node.items()}


def response_schema(
    file: str, path: str, method: str, status: int, *, api: Path = CLIENT_SERVER
) -> dict[str, Any]:
    """The JSON schema of `method path`'s response with `status`, as the yaml `file` defines it."""
    source = api / file
    response = _load(source)["paths"][path][method.lower()]["responses"][str(status)]
    response = _resolve(response, source)
    return response["content"]["application/json"]["schema"]


def assert_matches(
    file: str, path: str, method: str, status: int, body: Any, *, api: Path = CLIENT_SERVER
) -> None:
    """Fail unless `body` is valid for the response `status` of `method path` in `file`."""
    jsonschema.validate(body, response_schema(file, path, method, status, api=api))
