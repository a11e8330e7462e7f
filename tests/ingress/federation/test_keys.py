"""`/_matrix/key/v2` end to end, over the TLS federation port: our keys and the notary."""

from __future__ import annotations

import httpx
import pytest

from dendray.server import RunningServer
from protocol.server_keys import parse_key_response
from protocol.signing import get_verify_key, key_id, read_signing_keys, verify_json
from tests.e2e_server import FEDERATION_PORT, SERVER_NAME
from tests.openapi import SERVER_SERVER, assert_matches

FED_URL = f"https://127.0.0.1:{FEDERATION_PORT}"


def fed_get(path: str) -> httpx.Response:
    return httpx.get(f"{FED_URL}{path}", verify=False, timeout=30)


def test_our_key_answer_over_tls(server: RunningServer) -> None:
    r = fed_get("/_matrix/key/v2/server")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert_matches("keys_server.yaml", "/server", "get", 200, r.json(), api=SERVER_SERVER)
    keys = parse_key_response(r.json(), SERVER_NAME)  # self-signed by the key it publishes
    ours = read_signing_keys(server.config.signing_key)[0]
    assert key_id(ours) in keys.verify_keys
    assert r.json()["valid_until_ts"] > 0
    # The same on the client port, and with the deprecated key ID form.
    plain = httpx.get(f"{server.client_url}/_matrix/key/v2/server", timeout=30)
    assert parse_key_response(plain.json(), SERVER_NAME).verify_keys == keys.verify_keys
    assert fed_get(f"/_matrix/key/v2/server/{key_id(ours)}").status_code == 200


def test_notary_answers_for_ourselves_signed(server: RunningServer) -> None:
    ours = read_signing_keys(server.config.signing_key)[0]
    r = fed_get(f"/_matrix/key/v2/query/{SERVER_NAME}")
    assert r.status_code == 200, r.text
    assert_matches("keys_query.yaml", "/query/{serverName}", "get", 200, r.json(),
                   api=SERVER_SERVER)
    [answer] = r.json()["server_keys"]
    verify_json(answer, SERVER_NAME, key_id(ours), get_verify_key(ours))
    bulk = httpx.post(f"{FED_URL}/_matrix/key/v2/query", verify=False, timeout=30, json={
        "server_keys": {SERVER_NAME: {key_id(ours): {"minimum_valid_until_ts": 0}}}})
    assert bulk.status_code == 200, bulk.text
    assert_matches("keys_query.yaml", "/query", "post", 200, bulk.json(), api=SERVER_SERVER)
    assert [a["server_name"] for a in bulk.json()["server_keys"]] == [SERVER_NAME]
    empty = httpx.post(f"{FED_URL}/_matrix/key/v2/query", verify=False, timeout=30,
                       json={"server_keys": {}})
    assert empty.json() == {"server_keys": []}


def test_notary_for_an_unreachable_server_answers_empty(server: RunningServer) -> None:
    # Nothing listens there, and nothing is cached: an empty list, not an error.
    r = fed_get("/_matrix/key/v2/query/127.0.0.1:1")
    assert r.status_code == 200 and r.json() == {"server_keys": []}


@pytest.mark.parametrize(("body", "errcode"), [
    (b"not json", "M_NOT_JSON"),
    (b"[]", "M_BAD_JSON"),
    (b"{}", "M_BAD_JSON"),
    (b'{"server_keys": []}', "M_BAD_JSON"),
    (b'{"server_keys": {"a.org": []}}', "M_BAD_JSON"),
    (b'{"server_keys": {"a.org": {"ed25519:x": {"minimum_valid_until_ts": "soon"}}}}',
     "M_BAD_JSON"),
])
def test_bad_notary_queries(server: RunningServer, body: bytes, errcode: str) -> None:
    r = httpx.post(f"{FED_URL}/_matrix/key/v2/query", content=body, verify=False, timeout=30)
    assert (r.status_code, r.json()["errcode"]) == (400, errcode)


def test_version_and_no_delegation(server: RunningServer) -> None:
    r = fed_get("/_matrix/federation/v1/version")
    assert r.status_code == 200
    assert_matches("version.yaml", "/version", "get", 200, r.json(), api=SERVER_SERVER)
    assert r.json()["server"]["name"] == "dendray"
    wk = fed_get("/.well-known/matrix/server")
    assert (wk.status_code, wk.json()["errcode"]) == (404, "M_NOT_FOUND")
    unknown = fed_get("/_matrix/federation/v1/no_such_endpoint")
    assert (unknown.status_code, unknown.json()["errcode"]) == (404, "M_UNRECOGNIZED")
