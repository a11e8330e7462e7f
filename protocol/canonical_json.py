"""Canonical JSON (appendices, "Canonical JSON") and JSON parsing as a server must do it.

`encode_canonical_json` produces the bytes that are hashed and signed: keys sorted
by code point, no insignificant whitespace, UTF-8, and only the escapes the
appendix grammar allows. `parse_json` is the one way untrusted JSON enters the
server: it refuses what the spec says a server must not accept (invalid UTF-8,
duplicate keys, NaN/Infinity, lone surrogates) and, when `strict`, the values
that room versions 6+ forbid (floats, integers outside the IEEE-754-safe range).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, NoReturn

# The safe-integer range of the appendix: [-(2**53)+1, (2**53)-1].
MIN_SAFE_INTEGER = -(2**53) + 1
MAX_SAFE_INTEGER = 2**53 - 1

# `ensure_ascii=False` leaves non-ASCII as UTF-8 and escapes exactly what the
# appendix grammar escapes: `"`, `\`, the short forms \b \f \n \r \t, and any
# other control character below U+0020 as a lower-case \u00XX.
_ENCODER = json.JSONEncoder(
    ensure_ascii=False,
    allow_nan=False,
    separators=(",", ":"),
    sort_keys=True,
)

# A JSON \u escape for a UTF-16 surrogate; only input containing one can decode
# to a string with a lone surrogate, so only then is the (slower) walk needed.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class CanonicalJsonError(ValueError):
    """JSON that a Matrix server must not accept or cannot encode canonically."""


# --- encoding ---------------------------------------------------------------


def encode_canonical_json(obj: Any) -> bytes:
    """The canonical JSON encoding of `obj` (dicts, lists, str, int, float, bool, None).

    Floats with an integral value are written as integers, as the appendix's
    `{"b": 1e10}` -> `{"b":10000000000}` example requires (and `-0.0` as `0`).
    Other finite floats, which only rooms of versions 1-5 can contain, keep their
    shortest round-trip form; callers enforcing strict rules use
    `check_strict_values` first. NaN, infinities, lone surrogates, non-string
    keys and non-JSON types raise CanonicalJsonError.
    """
    try:
        text = _ENCODER.encode(_normalise(obj))
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise CanonicalJsonError("string contains a lone UTF-16 surrogate") from None
    except RecursionError:
        raise CanonicalJsonError("JSON nested too deeply") from None
    except (TypeError, ValueError) as e:
        if isinstance(e, CanonicalJsonError):
            raise
        raise CanonicalJsonError(f"cannot encode as canonical JSON: {e}") from None


def _normalise(value: Any) -> Any:
    """`value` with integral floats made ints; the same object when nothing changes.

    Copying only on change keeps the common case (no floats) allocation-free.
    """
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return _normalise_float(value)
    if isinstance(value, dict):
        return _normalise_dict(value)
    if isinstance(value, (list, tuple)):
        return _normalise_list(value)
    raise CanonicalJsonError(f"cannot encode a {type(value).__name__} as JSON")


def _normalise_float(value: float) -> int | float:
    if not math.isfinite(value):
        raise CanonicalJsonError(f"{value!r} is not a JSON number")
    # Integral values are written without decimal point or exponent; this also
    # turns -0.0 into 0, which the appendix forbids writing as "-0".
    return int(value) if value.is_integer() else value


def _normalise_dict(value: dict[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] | None = None
    for key, item in value.items():
        if not isinstance(key, str):
            raise CanonicalJsonError(f"object key {key!r} is not a string")
        new = _normalise(item)
        if new is not item:
            if out is None:
                out = dict(value)
            out[key] = new
    return value if out is None else out


def _normalise_list(value: list[Any] | tuple[Any, ...]) -> list[Any] | tuple[Any, ...]:
    out: list[Any] | None = None
    for i, item in enumerate(value):
        new = _normalise(item)
        if new is not item:
            if out is None:
                out = list(value)
            out[i] = new
    return value if out is None else out


# --- parsing ----------------------------------------------------------------


def parse_json(data: bytes | str, *, strict: bool = True) -> Any:
    """Parse untrusted JSON, refusing what a Matrix server must not accept.

    Always rejected: invalid UTF-8, duplicate object keys, NaN/Infinity,
    numbers that overflow a float, lone surrogates (raw or as \\u escapes).
    With `strict` (room versions 6+, and our own APIs) also rejected: any
    number with a fraction or exponent, and integers outside the safe range.
    """
    text = _as_text(data)
    try:
        value = (_STRICT_DECODER if strict else _LENIENT_DECODER).decode(text)
    except CanonicalJsonError:
        raise
    except json.JSONDecodeError as e:
        raise CanonicalJsonError(
            f"invalid JSON: {e.msg} at line {e.lineno} column {e.colno}"
        ) from None
    except RecursionError:
        raise CanonicalJsonError("JSON nested too deeply") from None
    except ValueError as e:
        # e.g. an integer literal longer than Python's int-parsing digit limit
        raise CanonicalJsonError(f"invalid JSON: {_one_line(e)}") from None
    if _SURROGATE_ESCAPE.search(text):
        _reject_lone_surrogates(value)
    return value


def _as_text(data: bytes | str) -> str:
    """The JSON text; bytes must be UTF-8 (never UTF-16/32, which json.loads sniffs)."""
    if isinstance(data, str):
        if _SURROGATE.search(data):
            raise CanonicalJsonError("JSON text contains a lone UTF-16 surrogate")
        return data
    if isinstance(data, (bytes, bytearray, memoryview)):
        try:
            # Python's strict UTF-8 codec also refuses overlong forms and
            # encoded surrogates (ED A0 80 ...), as RFC 3629 requires.
            return bytes(data).decode("utf-8")
        except UnicodeDecodeError as e:
            raise CanonicalJsonError(f"JSON is not valid UTF-8 (byte offset {e.start})") from None
    raise CanonicalJsonError(f"cannot parse a {type(data).__name__} as JSON")


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise CanonicalJsonError(f"duplicate key {key!r} in JSON object")
            seen.add(key)
    return obj


def _reject_constant(name: str) -> NoReturn:
    raise CanonicalJsonError(f"{name} is not allowed in JSON")


def _lenient_float(literal: str) -> float:
    value = float(literal)
    # "1e400" parses to inf, which no canonical encoding can represent.
    if not math.isfinite(value):
        raise CanonicalJsonError(f"number {literal[:32]} is out of range")
    return value


def _strict_float(literal: str) -> NoReturn:
    raise CanonicalJsonError(f"non-integer number {literal[:32]} is not allowed")


def _strict_int(literal: str) -> int:
    # Longer than any in-range integer: refuse before converting the digits.
    if len(literal) > 17:
        raise CanonicalJsonError(f"integer {literal[:32]} is out of range")
    value = int(literal)
    if not MIN_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        raise CanonicalJsonError(f"integer {literal} is out of range")
    return value


_STRICT_DECODER = json.JSONDecoder(
    object_pairs_hook=_object_without_duplicates,
    parse_constant=_reject_constant,
    parse_float=_strict_float,
    parse_int=_strict_int,
)
_LENIENT_DECODER = json.JSONDecoder(
    object_pairs_hook=_object_without_duplicates,
    parse_constant=_reject_constant,
    parse_float=_lenient_float,
)


def _reject_lone_surrogates(value: Any) -> None:
    """Raise if any string or key in the parsed `value` holds a lone surrogate.

    The decoder pairs valid \\uD83D\\uDE00-style escapes into one code point, so
    any surrogate left in a Python string was unpaired in the input.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise CanonicalJsonError("JSON string contains a lone UTF-16 surrogate")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


# --- strict values ----------------------------------------------------------


def check_strict_values(obj: Any) -> None:
    """Raise CanonicalJsonError unless `obj` obeys the room version 6+ value rules.

    Numbers must be integers in [-(2**53)+1, 2**53-1] (no floats at all, so no
    NaN or infinities), object keys must be strings, and only JSON types occur.
    """
    stack = [obj]
    while stack:
        item = stack.pop()
        if item is None or isinstance(item, (str, bool)):
            continue
        if isinstance(item, int):
            if not MIN_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                raise CanonicalJsonError(f"integer {item} is out of range")
        elif isinstance(item, float):
            raise CanonicalJsonError(f"non-integer number {item!r} is not allowed")
        elif isinstance(item, dict):
            for key in item:
                if not isinstance(key, str):
                    raise CanonicalJsonError(f"object key {key!r} is not a string")
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        else:
            raise CanonicalJsonError(f"a {type(item).__name__} is not a JSON value")
