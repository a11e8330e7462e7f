"""X-Matrix request authentication for `/_matrix/federation/*` (server-server "Request Authentication").

`x_matrix_origin` is the FastAPI dependency every federation route takes:
it reads the body (JSON object, size-limited), parses the Authorization
header, checks the destination is us, fetches the origin's key through the
server keys component and verifies the signature over exactly the method,
URI and body we received. It answers 401 `M_UNAUTHORIZED` otherwise (400
`M_NOT_JSON` / `M_BAD_JSON` for bad bodies). The route reads the verified
body with `Depends(signed_json_body)`.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request

from actors.context import now_ms
from actors.server_keys.api import verify_keys
from ingress.body import read_body
from ingress.services import Services, get_services
from protocol.canonical_json import CanonicalJsonError, parse_json
from protocol.errors import MatrixError, bad_json, forbidden, not_json
from protocol.signing import SignatureError, decode_verify_key_base64
from protocol.x_matrix import XMatrixError, parse_header, verify_request

# A transaction is up to 50 PDUs and 100 EDUs of up to 64 KiB each; room
# state and backfill answers we are sent (send_join) are larger still.
FEDERATION_MAX_BODY = 64 * 1024 * 1024
_BODY_METHODS = ("PUT", "POST")


def unauthorized(error: str) -> MatrixError:
    return MatrixError(401, "M_UNAUTHORIZED", error)


def request_uri(request: Request) -> str:
    """The request target as the origin signed it: the raw path and query, undecoded."""
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1") if raw else request.url.path
    # Some servers put the query in raw_path too; never add it twice.
    path = path.partition("?")[0]
    query = request.scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


async def _json_content(request: Request) -> Any:
    """The parsed body: None without one (GET), else a JSON object."""
    raw = await read_body(request, FEDERATION_MAX_BODY)
    # Later readers of the request (request.body(), json_body) get the same bytes.
    request._body = raw
    if not raw.strip():
        if request.method in _BODY_METHODS:
            raise not_json("Request body is empty")
        return None
    try:
        value = parse_json(raw, strict=False)
    except CanonicalJsonError as e:
        raise not_json(f"Content not JSON: {e}") from None
    if not isinstance(value, dict):
        raise bad_json("Content must be a JSON object")
    return value


async def x_matrix_origin(request: Request, services: Services = Depends(get_services)) -> str:
    """FastAPI dependency: the authenticated origin server name of a federation request."""
    config = services.config
    if not config.federation.enabled:
        raise forbidden("Federation is disabled on this server")
    content = await _json_content(request)
    header = request.headers.get("authorization")
    if not header:
        raise unauthorized("Missing X-Matrix Authorization header")
    try:
        auth = parse_header(header)
    except XMatrixError as e:
        raise unauthorized(f"Malformed Authorization header: {e}") from None
    if auth.destination is not None and auth.destination != config.server_name:
        raise unauthorized("Request is not addressed to this server")
    keys = await verify_keys(services.router, auth.origin, [auth.key], now_ms())
    key = keys.get(auth.key)
    if key is None:
        raise unauthorized(f"Cannot find key {auth.key} of {auth.origin}")
    try:
        verify_request(auth, request.method, request_uri(request), config.server_name, content,
                       decode_verify_key_base64(auth.key, key))
    except (SignatureError, ValueError):
        raise unauthorized("Invalid request signature") from None
    request.state.signed_json_body = content
    return auth.origin


async def signed_json_body(request: Request, _: str = Depends(x_matrix_origin)) -> dict[str, Any]:
    """FastAPI dependency: the verified JSON object body (`{}` for a request without one)."""
    body = request.state.signed_json_body
    return body if body is not None else {}
