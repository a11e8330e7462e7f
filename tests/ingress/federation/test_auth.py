"""X-Matrix request authentication end to end: good signatures pass, anything else is 401."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest

from dendray.server import RunningServer
from protocol.canonical_json import encode_canonical_json
from protocol.signing import generate_signing_key, read_signing_keys
from protocol.x_matrix import XMatrixAuth, build_header, parse_header, sign_request
from tests.clients import register
from tests.e2e_server import FEDERATION_PORT, SERVER_NAME

FED_URL = f"https://127.0.0.1:{FEDERATION_PORT}"


def profile_uri(user_id: str) -> str:
    return f"/_matrix/federation/v1/query/profile?user_id={quote(user_id, safe='')}"


def send(method: str, uri: str, authorization: str | None, body: Any = None,
         raw: bytes | None = None) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization else {}
    content = raw if raw is not None else (None if body is None else encode_canonical_json(body))
    # The raw target is sent as is: what was signed is what arrives.
    return httpx.request(method, httpx.URL(FED_URL, raw_path=uri.encode()), headers=headers,
                         content=content, verify=False, timeout=30)


@pytest.fixture(scope="module")
def our_key(server: RunningServer) -> Any:
    return read_signing_keys(server.config.signing_key)[0]


def test_signed_request_is_accepted(server: RunningServer, our_key: Any) -> None:
    user = register(server)
    uri = profile_uri(user.user_id)
    r = send("GET", uri, sign_request(our_key, SERVER_NAME, SERVER_NAME, "GET", uri))
    assert r.status_code == 200, r.text


def test_request_without_destination_is_accepted(server: RunningServer, our_key: Any) -> None:
    user = register(server)
    uri = profile_uri(user.user_id)
    auth = parse_header(sign_request(our_key, SERVER_NAME, SERVER_NAME, "GET", uri))
    old_style = build_header(XMatrixAuth(auth.origin, None, auth.key, auth.sig))
    assert send("GET", uri, old_style).status_code == 200


def _assert_unauthorized(r: httpx.Response) -> None:
    assert r.status_code == 401, r.text
    assert r.json()["errcode"] == "M_UNAUTHORIZED"


def test_missing_and_malformed_headers(server: RunningServer) -> None:
    uri = profile_uri(f"@x:{SERVER_NAME}")
    _assert_unauthorized(send("GET", uri, None))
    _assert_unauthorized(send("GET", uri, "Bearer abc"))
    _assert_unauthorized(send("GET", uri, 'X-Matrix origin="a b",key="ed25519:x",sig="y"'))


def test_forged_signature_with_our_key_id(server: RunningServer, our_key: Any) -> None:
    uri = profile_uri(f"@x:{SERVER_NAME}")
    impostor = generate_signing_key(our_key.version)
    _assert_unauthorized(send("GET", uri, sign_request(impostor, SERVER_NAME, SERVER_NAME, "GET", uri)))


def test_unknown_key(server: RunningServer) -> None:
    uri = profile_uri(f"@x:{SERVER_NAME}")
    stranger = generate_signing_key("nosuchkey")
    _assert_unauthorized(send("GET", uri, sign_request(stranger, SERVER_NAME, SERVER_NAME, "GET", uri)))
    # An origin that does not exist: its keys cannot be fetched.
    _assert_unauthorized(send("GET", uri, sign_request(stranger, "127.0.0.1:1", SERVER_NAME, "GET", uri)))


def test_wrong_destination(server: RunningServer, our_key: Any) -> None:
    uri = profile_uri(f"@x:{SERVER_NAME}")
    _assert_unauthorized(send("GET", uri, sign_request(our_key, SERVER_NAME, "elsewhere.org", "GET", uri)))


def test_signature_covers_uri_method_and_body(server: RunningServer, our_key: Any) -> None:
    user = register(server)
    uri = profile_uri(user.user_id)
    other = profile_uri(f"@x:{SERVER_NAME}")
    _assert_unauthorized(send("GET", other, sign_request(our_key, SERVER_NAME, SERVER_NAME, "GET", uri)))
    path = "/_matrix/federation/v1/send/auth-test-1"
    signed = sign_request(our_key, SERVER_NAME, SERVER_NAME, "PUT", path, {"pdus": [], "edus": []})
    _assert_unauthorized(send("PUT", path, signed, {"pdus": [], "edus": [], "extra": 1}))


@pytest.mark.parametrize(("raw", "errcode"), [
    (b"", "M_NOT_JSON"), (b"{nope", "M_NOT_JSON"), (b"[1]", "M_BAD_JSON"),
])
def test_bad_bodies(server: RunningServer, our_key: Any, raw: bytes, errcode: str) -> None:
    path = "/_matrix/federation/v1/send/auth-test-2"
    r = send("PUT", path, sign_request(our_key, SERVER_NAME, SERVER_NAME, "PUT", path, {}), raw=raw)
    assert (r.status_code, r.json()["errcode"]) == (400, errcode)


def test_large_transaction_body_is_accepted(server: RunningServer, our_key: Any) -> None:
    # Bigger than the client API's 1 MiB limit: 50 PDUs of up to 64 KiB fit.
    path = "/_matrix/federation/v1/send/auth-test-big"
    body = {"pdus": [], "edus": [], "padding": "x" * 3_000_000}
    r = send("PUT", path, sign_request(our_key, SERVER_NAME, SERVER_NAME, "PUT", path, body), body)
    assert r.status_code != 413 and r.status_code != 401, r.text
