"""Reading fields of a client's JSON body with the spec's errors for bad ones.

A wrong type is `M_BAD_JSON` (valid JSON, malformed content); a missing
required field is `M_MISSING_PARAM`. Strings may not contain U+0000, which
JSON allows but PostgreSQL can store neither in text nor in jsonb.
"""

from __future__ import annotations

from typing import Any, TypeVar

from protocol.errors import bad_json, missing_param

T = TypeVar("T")

_TYPE_NAMES = {str: "a string", bool: "a boolean", int: "an integer", list: "an array",
               dict: "an object"}


def optional(body: dict[str, Any], key: str, kind: type[T]) -> T | None:
    """`body[key]` when present and not null, checked to be of `kind`."""
    value = body.get(key)
    if value is None:
        return None
    # bool is an int in Python, never in JSON.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise bad_json(f"{key} must be {_TYPE_NAMES.get(kind, kind.__name__)}")
    if not storable(value):
        raise bad_json(f"{key} must not contain NUL characters")
    return value


def storable(value: Any) -> bool:
    """Whether no string in `value` (keys included, at any depth) contains U+0000."""
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, dict):
        return all(storable(k) and storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(storable(item) for item in value)
    return True


def required(body: dict[str, Any], key: str, kind: type[T]) -> T:
    value = optional(body, key, kind)
    if value is None:
        raise missing_param(f"Missing parameter: {key}")
    return value


def flag(body: dict[str, Any], key: str, default: bool = False) -> bool:
    value = optional(body, key, bool)
    return default if value is None else value
