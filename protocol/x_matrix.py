"""Request authentication between servers: the `Authorization: X-Matrix` header.

Spec: server-server-api "Request Authentication". A request is signed by
signing the JSON object `{method, uri, origin, destination[, content]}` with
the origin's key; the signature travels in the header together with the
origin, destination and key ID. The header follows RFC 7235 `auth-param`s:
case-insensitive names in any order, values as tokens or quoted strings with
backslash escapes, plus (for older senders) unquoted values with colons.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from signedjson.types import SigningKey, VerifyKey

from protocol.identifiers import is_valid_key_id, is_valid_server_name
from protocol.signing import SignatureError, key_id, sign_json, verify_json

SCHEME = "X-Matrix"

# RFC 7230 tchar; ':' is added because older servers send it unquoted.
_TCHAR = frozenset("!#$%&'*+-.^_`|~:0123456789"
                   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_OWS = " \t"


class XMatrixError(ValueError):
    """An Authorization header that is not a well-formed X-Matrix credential."""


@dataclass(frozen=True)
class XMatrixAuth:
    origin: str
    # Optional on receipt: senders older than spec v1.3 leave it out.
    destination: str | None
    key: str
    sig: str


def request_json(
    method: str, uri: str, origin: str, destination: str, content: Any = None
) -> dict[str, Any]:
    """The object a request signature covers; `content` only when there is a body."""
    out: dict[str, Any] = {"method": method.upper(), "uri": uri,
                           "origin": origin, "destination": destination}
    if content is not None:
        out["content"] = content
    return out


def sign_request(
    key: SigningKey, origin: str, destination: str, method: str, uri: str, content: Any = None
) -> str:
    """The `Authorization` header value for a request from `origin` to `destination`.

    `uri` is the path with its query string, exactly as sent on the wire.
    """
    signed = sign_json(request_json(method, uri, origin, destination, content), origin, key)
    sig = signed["signatures"][origin][key_id(key)]
    return build_header(XMatrixAuth(origin, destination, key_id(key), sig))


def build_header(auth: XMatrixAuth) -> str:
    """One space after the scheme, lower-case names, quoted values (what old servers expect)."""
    params = [("origin", auth.origin)]
    if auth.destination is not None:
        params.append(("destination", auth.destination))
    params += [("key", auth.key), ("sig", auth.sig)]
    return f"{SCHEME} " + ",".join(f'{name}="{_escape(value)}"' for name, value in params)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def parse_header(header: str) -> XMatrixAuth:
    """The X-Matrix credentials in an Authorization header value; XMatrixError if malformed."""
    scheme, params_text = _split_scheme(header)
    if scheme.lower() != SCHEME.lower():
        raise XMatrixError(f"authorization scheme is not {SCHEME}")
    params = _parse_params(params_text)
    for required in ("origin", "key", "sig"):
        if not params.get(required):
            raise XMatrixError(f"X-Matrix header has no {required}")
    origin, destination = params["origin"], params.get("destination")
    if not is_valid_server_name(origin):
        raise XMatrixError("X-Matrix origin is not a server name")
    if destination is not None and not is_valid_server_name(destination):
        raise XMatrixError("X-Matrix destination is not a server name")
    if not is_valid_key_id(params["key"]):
        raise XMatrixError("X-Matrix key is not a key ID")
    return XMatrixAuth(origin, destination, params["key"], params["sig"])


def _split_scheme(header: str) -> tuple[str, str]:
    header = header.strip(_OWS)
    end = 0
    while end < len(header) and header[end] in _TCHAR:
        end += 1
    if end == 0 or (end < len(header) and header[end] != " "):
        raise XMatrixError("malformed authorization scheme")
    return header[:end], header[end:].lstrip(" ")


def _parse_params(text: str) -> dict[str, str]:
    """`#auth-param`: comma-separated `name=value`, empty list elements allowed."""
    params: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        i = _skip(text, i, _OWS + ",")
        if i >= n:
            break
        start = i
        while i < n and text[i] in _TCHAR and text[i] != ":":
            i += 1
        name = text[start:i].lower()
        if not name:
            raise XMatrixError("malformed X-Matrix parameter name")
        i = _skip(text, i, _OWS)
        if i >= n or text[i] != "=":
            raise XMatrixError(f"X-Matrix parameter {name} has no value")
        i = _skip(text, i + 1, _OWS)
        value, i = _read_value(text, i)
        if name in params:
            # Two different values would make the signed origin ambiguous.
            raise XMatrixError(f"X-Matrix parameter {name} given twice")
        params[name] = value
        i = _skip(text, i, _OWS)
        if i < n and text[i] != ",":
            raise XMatrixError("X-Matrix parameters must be separated by commas")
    return params


def _read_value(text: str, i: int) -> tuple[str, int]:
    n = len(text)
    if i < n and text[i] == '"':
        out: list[str] = []
        i += 1
        while i < n:
            c = text[i]
            if c == "\\":
                if i + 1 >= n:
                    break
                out.append(text[i + 1])
                i += 2
            elif c == '"':
                return "".join(out), i + 1
            else:
                out.append(c)
                i += 1
        raise XMatrixError("unterminated quoted X-Matrix value")
    start = i
    while i < n and text[i] in _TCHAR:
        i += 1
    # token68-style padding '=' is not a tchar, but base64 signatures in the
    # wild are unpadded; anything else here is a syntax error.
    if i == start:
        raise XMatrixError("empty X-Matrix value")
    return text[start:i], i


def _skip(text: str, i: int, chars: str) -> int:
    while i < len(text) and text[i] in chars:
        i += 1
    return i


def verify_request(
    auth: XMatrixAuth,
    method: str,
    uri: str,
    destination: str,
    content: Any,
    verify_key: VerifyKey,
) -> None:
    """Check the header's signature over the request as we received it.

    `destination` is our own server name (the header's, if present, must
    already have been checked against it). SignatureError if it does not verify.
    """
    signed: Mapping[str, Any] = {
        **request_json(method, uri, auth.origin, destination, content),
        "signatures": {auth.origin: {auth.key: auth.sig}},
    }
    verify_json(signed, auth.origin, auth.key, verify_key)


__all__ = [
    "SCHEME", "SignatureError", "XMatrixAuth", "XMatrixError", "build_header",
    "parse_header", "request_json", "sign_request", "verify_request",
]
