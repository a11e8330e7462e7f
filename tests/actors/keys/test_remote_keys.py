"""Keys across servers: querying and claiming remote users' keys, serving ours."""

from __future__ import annotations

import time

import pytest

from actors.keys.remote_keys import CLAIM_PATH, QUERY_PATH
from federation.client import FederationError
from protocol.errors import MatrixError
from tests.actors.keys.helpers import ClientDevice, CrossSigning
from tests.openapi import SERVER_SERVER, assert_matches

REMOTE = "remote.example"
OTHER = "other.example"


def remote_device(name: str, server: str = REMOTE) -> ClientDevice:
    return ClientDevice(f"@{name}:{server}", name.upper())


async def test_query_fans_out_and_keeps_only_what_each_server_may_say(stack) -> None:
    alice = await stack.user()
    await stack.keys.upload_keys(alice.user_id, alice.device_id, {"device_keys": alice.device_keys()})
    bob, bob2, carol = remote_device("bob"), remote_device("bobby"), remote_device("carol", OTHER)
    bob_keys = bob.device_keys()
    master = CrossSigning(bob.user_id).key_json("master")
    stack.keys.federation.answer("POST", REMOTE, QUERY_PATH, {
        "device_keys": {
            bob.user_id: {bob.device_id: bob_keys, "UNASKED": bob.device_keys()},
            bob2.user_id: {bob2.device_id: bob.device_keys()},  # under someone else's name
            carol.user_id: {carol.device_id: carol.device_keys()},  # not this server's user
        },
        "master_keys": {bob.user_id: master, carol.user_id: master},
    })
    answer = await stack.keys.query_keys(alice.user_id, {"device_keys": {
        alice.user_id: [], bob.user_id: [bob.device_id], bob2.user_id: [], carol.user_id: [],
    }})
    assert answer["device_keys"][bob.user_id] == {bob.device_id: bob_keys}
    assert answer["device_keys"][bob2.user_id] == {}
    assert carol.user_id not in answer["device_keys"]
    assert list(answer["device_keys"][alice.user_id]) == [alice.device_id]
    assert answer["master_keys"] == {bob.user_id: master}
    assert list(answer["failures"]) == [OTHER]
    (request,) = stack.keys.federation.requests[:1]
    assert request.body == {"device_keys": {bob.user_id: [bob.device_id], bob2.user_id: []}}


async def test_query_reports_errors_and_slow_servers_within_the_timeout(stack) -> None:
    alice = await stack.user()
    fake = stack.keys.federation
    fake.answer("POST", OTHER, QUERY_PATH, FederationError(500, "M_UNKNOWN", {}))
    fake.answer("POST", REMOTE, QUERY_PATH, {"device_keys": {}})
    fake.delay = 1.0
    started = time.monotonic()
    answer = await stack.keys.query_keys(alice.user_id, {"timeout": 100, "device_keys": {
        f"@bob:{REMOTE}": [], f"@carol:{OTHER}": []}})
    assert time.monotonic() - started < 0.9
    assert answer["failures"][REMOTE]["status"] == 504
    assert answer["failures"][OTHER]["status"] == 504
    fake.delay = 0
    answer = await stack.keys.query_keys(alice.user_id, {"device_keys": {
        f"@bob:{REMOTE}": [], f"@carol:{OTHER}": []}})
    assert answer["failures"] == {OTHER: {
        "status": 500, "errcode": "M_UNKNOWN", "message": "The server answered with an error"}}
    assert answer["device_keys"] == {}


@pytest.mark.parametrize("timeout", ["10", 1.5, True])
async def test_bad_timeout(stack, timeout) -> None:
    alice = await stack.user()
    with pytest.raises(MatrixError) as e:
        await stack.keys.query_keys(alice.user_id, {"timeout": timeout, "device_keys": {}})
    assert (e.value.status, e.value.errcode) == (400, "M_BAD_JSON")


async def test_claim_fans_out(stack) -> None:
    alice, dave = await stack.user(), await stack.user()
    await stack.keys.upload_keys(dave.user_id, dave.device_id, {
        "device_keys": dave.device_keys(), "one_time_keys": dave.one_time_keys(1)})
    bob, carol = remote_device("bob"), remote_device("carol", OTHER)
    otk = bob.one_time_keys(1)
    stack.keys.federation.answer("POST", REMOTE, CLAIM_PATH, {"one_time_keys": {
        bob.user_id: {bob.device_id: otk, "UNASKED": otk},
        carol.user_id: {carol.device_id: otk},
    }})
    answer = await stack.keys.claim_keys(alice.user_id, {"one_time_keys": {
        bob.user_id: {bob.device_id: "signed_curve25519"},
        carol.user_id: {carol.device_id: "signed_curve25519"},
        dave.user_id: {dave.device_id: "signed_curve25519"},
    }})
    assert answer["one_time_keys"][bob.user_id] == {bob.device_id: otk}
    assert carol.user_id not in answer["one_time_keys"]
    assert list(answer["one_time_keys"][dave.user_id]) == [dave.device_id]
    assert list(answer["failures"]) == [OTHER]


async def test_federation_query_and_claim_serve_only_local_users(stack) -> None:
    alice = await stack.user("phone")
    signing = CrossSigning(alice.user_id)
    await stack.keys.upload_keys(alice.user_id, alice.device_id, {
        "device_keys": alice.device_keys(), "one_time_keys": alice.one_time_keys(1)})
    await stack.keys.upload_device_signing(alice.user_id, alice.device_id, signing.upload_body())
    answer = await stack.keys.federation_query_keys(
        {"device_keys": {alice.user_id: [], f"@bob:{REMOTE}": []}})
    assert_matches("user_keys.yaml", "/user/keys/query", "post", 200, answer, api=SERVER_SERVER)
    assert list(answer["device_keys"]) == [alice.user_id]
    assert set(answer) == {"device_keys", "master_keys", "self_signing_keys"}
    assert list(answer["master_keys"]) == [alice.user_id]

    claimed = await stack.keys.federation_claim_keys({"one_time_keys": {
        alice.user_id: {alice.device_id: "signed_curve25519"},
        f"@bob:{REMOTE}": {"BOB": "signed_curve25519"},
    }})
    assert_matches("user_keys.yaml", "/user/keys/claim", "post", 200, claimed, api=SERVER_SERVER)
    assert list(claimed["one_time_keys"]) == [alice.user_id]
    assert stack.keys.federation.requests == []


async def test_federation_user_devices(stack) -> None:
    alice = await stack.user("laptop")
    first = await stack.keys.federation_user_devices(alice.user_id)
    assert first["devices"] == []
    await stack.keys.upload_keys(alice.user_id, alice.device_id, {"device_keys": alice.device_keys()})
    await stack.keys.upload_device_signing(
        alice.user_id, alice.device_id, CrossSigning(alice.user_id).upload_body())
    answer = await stack.keys.federation_user_devices(alice.user_id)
    assert_matches("user_devices.yaml", "/user/devices/{userId}", "get", 200, answer,
                   api=SERVER_SERVER)
    assert answer["stream_id"] > first["stream_id"]
    (device,) = answer["devices"]
    assert device["device_id"] == alice.device_id
    assert device["device_display_name"] == "laptop"
    assert "unsigned" not in device["keys"]
    assert set(answer) == {"user_id", "stream_id", "devices", "master_key", "self_signing_key"}
    for user, expected in ((f"@nobody:{stack.keys.ctx.server_name}", 404),
                           (f"@bob:{REMOTE}", 404), ("bob", 400)):
        with pytest.raises(MatrixError) as e:
            await stack.keys.federation_user_devices(user)
        assert e.value.status == expected
