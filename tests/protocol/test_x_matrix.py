"""The X-Matrix Authorization header: signing, building and parsing (server-server "Request Authentication")."""

from __future__ import annotations

import pytest

from protocol.signing import generate_signing_key, get_verify_key
from protocol.x_matrix import (
    SignatureError,
    XMatrixAuth,
    XMatrixError,
    build_header,
    parse_header,
    request_json,
    sign_request,
    verify_request,
)

KEY = generate_signing_key("k1")
VERIFY = get_verify_key(KEY)


def test_request_json_has_content_only_with_a_body() -> None:
    assert request_json("get", "/_matrix/x?a=1", "o.org", "d.org") == {
        "method": "GET", "uri": "/_matrix/x?a=1", "origin": "o.org", "destination": "d.org"}
    assert request_json("PUT", "/p", "o", "d", {})["content"] == {}


def test_signed_request_round_trips_and_verifies() -> None:
    body = {"pdus": [], "edus": [{"edu_type": "m.typing", "content": {"x": 1}}]}
    header = sign_request(KEY, "origin.org:8448", "dest.org", "PUT", "/_matrix/federation/v1/send/1", body)
    assert header.startswith('X-Matrix origin="origin.org:8448",destination="dest.org",key="ed25519:k1",sig="')
    auth = parse_header(header)
    assert (auth.origin, auth.destination, auth.key) == ("origin.org:8448", "dest.org", "ed25519:k1")
    verify_request(auth, "PUT", "/_matrix/federation/v1/send/1", "dest.org", body, VERIFY)


@pytest.mark.parametrize("change", [
    {"method": "GET"},
    {"uri": "/_matrix/key/v2/query?x=1"},
    {"destination": "e.org"},
    {"content": {"a": 2}},
    {"verify_key": get_verify_key(generate_signing_key("k1"))},
], ids=["method", "uri", "destination", "content", "key"])
def test_any_change_breaks_the_signature(change: dict) -> None:
    auth = parse_header(sign_request(KEY, "o.org", "d.org", "POST", "/_matrix/key/v2/query", {"a": 1}))
    args = {"method": "POST", "uri": "/_matrix/key/v2/query", "destination": "d.org",
            "content": {"a": 1}, "verify_key": VERIFY}
    verify_request(auth, **args)
    with pytest.raises(SignatureError):
        verify_request(auth, **{**args, **change})


def test_get_without_body_signs_no_content() -> None:
    auth = parse_header(sign_request(KEY, "o.org", "d.org", "GET", "/_matrix/federation/v1/version"))
    verify_request(auth, "GET", "/_matrix/federation/v1/version", "d.org", None, VERIFY)
    with pytest.raises(SignatureError):
        verify_request(auth, "GET", "/_matrix/federation/v1/version", "d.org", {}, VERIFY)


@pytest.mark.parametrize("header", [
    # the spec's own example
    'X-Matrix origin="origin.hs.example.com",destination="destination.hs.example.com",'
    'key="ed25519:key1",sig="ABCDEF"',
    # case-insensitive scheme and names, any order, several spaces, OWS around '=' and ','
    'x-matrix   SIG="ABCDEF" , Key = "ed25519:key1",ORIGIN=origin.hs.example.com,'
    ' destination=destination.hs.example.com',
    # unquoted values with colons (older servers), empty list elements
    'X-Matrix ,origin=origin.hs.example.com,,destination=destination.hs.example.com,'
    'key=ed25519:key1,sig=ABCDEF,',
    # backslash escapes are unescaped; unknown parameters ignored
    'X-Matrix origin="origin.hs.exa\\mple.com",destination="destination.hs.example.com",'
    'key="ed25519:key1",sig="ABC\\DEF",extra="a, \\"b\\""',
])
def test_parse_accepts_the_grammar(header: str) -> None:
    assert parse_header(header) == XMatrixAuth(
        "origin.hs.example.com", "destination.hs.example.com", "ed25519:key1", "ABCDEF")


def test_destination_is_optional_on_receipt() -> None:
    auth = parse_header('X-Matrix origin=o.org,key="ed25519:a",sig="s"')
    assert auth.destination is None


@pytest.mark.parametrize("header", [
    "", "Bearer abc", "X-Matrix", "X-Matrixorigin=o.org",
    'X-Matrix key="ed25519:a",sig="s"',                      # no origin
    'X-Matrix origin="o.org",sig="s"',                       # no key
    'X-Matrix origin="o.org",key="ed25519:a"',               # no sig
    'X-Matrix origin="o.org",key="ed25519:a",sig=""',        # empty sig
    'X-Matrix origin="o.org" key="ed25519:a",sig="s"',       # no comma
    'X-Matrix origin="o.org,key="ed25519:a",sig="s"',        # unterminated quote
    'X-Matrix origin="o.org",key="ed25519:a",sig="s",origin="p.org"',
    'X-Matrix origin="not a server",key="ed25519:a",sig="s"',
    'X-Matrix origin="o.org",destination="bad name!",key="ed25519:a",sig="s"',
    'X-Matrix origin="o.org",key="nokeyid",sig="s"',
    'X-Matrix origin,key="ed25519:a",sig="s"',
])
def test_parse_rejects_malformed_headers(header: str) -> None:
    with pytest.raises(XMatrixError):
        parse_header(header)


def test_build_header_escapes_quotes_and_backslashes() -> None:
    auth = XMatrixAuth('o.org', None, "ed25519:a", 'x"y\\z')
    assert build_header(auth) == 'X-Matrix origin="o.org",key="ed25519:a",sig="x\\"y\\\\z"'
    assert parse_header(build_header(auth)) == auth
