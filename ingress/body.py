"""Reading a JSON request body as the spec asks: size-limited, strict JSON, an object."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from protocol.canonical_json import CanonicalJsonError, parse_json
from protocol.errors import bad_json, not_json, too_large

DEFAULT_MAX_BODY = 1_048_576


async def read_body(request: Request, limit: int = DEFAULT_MAX_BODY) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large()
        chunks.append(chunk)
    return b"".join(chunks)


async def json_object(request: Request, *, empty_ok: bool = False) -> dict[str, Any]:
    """The body as a JSON object; an empty body is `{}` when `empty_ok`."""
    raw = await read_body(request, getattr(request.app.state, "max_body", DEFAULT_MAX_BODY))
    if not raw.strip():
        if empty_ok:
            return {}
        raise not_json("Request body is empty")
    try:
        value = parse_json(raw, strict=False)
    except CanonicalJsonError as e:
        raise not_json(f"Content not JSON: {e}") from None
    if not isinstance(value, dict):
        raise bad_json("Content must be a JSON object")
    return value


async def json_body(request: Request) -> dict[str, Any]:
    """FastAPI dependency: a required JSON object body."""
    return await json_object(request)


async def optional_json_body(request: Request) -> dict[str, Any]:
    """FastAPI dependency: a JSON object body that may be absent."""
    return await json_object(request, empty_ok=True)
