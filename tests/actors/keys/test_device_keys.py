"""Device and one-time keys through the keys service: upload, query, claim, deletion."""

from __future__ import annotations

import asyncio
import copy

import pytest

from actors.context import Context
from actors.keys.service import KeysService
from protocol.errors import MatrixError
from storage.pool import create_pool
from tests.actors.keys.helpers import signing_key


async def upload(stack, device, body):
    return await stack.keys.upload_keys(device.user_id, device.device_id, body)


async def query(stack, viewer, users):
    return await stack.keys.query_keys(viewer.user_id, {"device_keys": users})


async def test_upload_then_query_returns_the_signed_keys_and_display_name(stack) -> None:
    alice = await stack.user("Alice's phone")
    bob = await stack.user()
    keys = alice.device_keys()
    result = await upload(stack, alice, {"device_keys": keys, "one_time_keys": alice.one_time_keys(3)})
    assert result == {"one_time_key_counts": {"signed_curve25519": 3}}

    answer = await query(stack, bob, {alice.user_id: []})
    served = answer["device_keys"][alice.user_id][alice.device_id]
    assert served["unsigned"] == {"device_display_name": "Alice's phone"}
    assert {k: v for k, v in served.items() if k != "unsigned"} == keys
    assert answer["failures"] == {}
    # Asking for other devices only leaves this one out.
    answer = await query(stack, bob, {alice.user_id: ["NOTADEVICE"]})
    assert answer["device_keys"] == {alice.user_id: {}}


async def test_remote_users_are_failures_of_their_server(stack) -> None:
    alice = await stack.user()
    answer = await query(stack, alice, {"@someone:elsewhere.example": []})
    assert list(answer["failures"]) == ["elsewhere.example"]
    assert answer["device_keys"] == {}


@pytest.mark.parametrize("tamper", ["signature", "other_key", "wrong_device", "wrong_user"])
async def test_bad_device_keys_are_refused_and_nothing_is_stored(stack, tamper) -> None:
    alice = await stack.user()
    keys = alice.device_keys()
    if tamper == "signature":
        keys["algorithms"].append("m.extra")  # after signing: the signature no longer matches
    elif tamper == "other_key":
        # Signed by a key that is not the device's published ed25519 key.
        keys = dict(keys, signatures={})
        from protocol.signing import sign_json
        keys = sign_json(keys, alice.user_id, signing_key(alice.device_id))
    elif tamper == "wrong_device":
        keys["device_id"] = "SOMEONEELSE"
    else:
        keys["user_id"] = "@mallory:test.local"
    with pytest.raises(MatrixError) as err:
        await upload(stack, alice, {"device_keys": keys, "one_time_keys": alice.one_time_keys(2)})
    assert (err.value.status, err.value.errcode) == (400, "M_INVALID_PARAM")
    answer = await query(stack, alice, {alice.user_id: []})
    assert answer["device_keys"][alice.user_id] == {}
    counts = await upload(stack, alice, {})
    assert counts == {"one_time_key_counts": {}}


async def test_one_time_keys_need_a_good_signature_and_known_device_keys(stack) -> None:
    alice = await stack.user()
    with pytest.raises(MatrixError) as err:
        await upload(stack, alice, {"one_time_keys": alice.one_time_keys(1)})
    assert err.value.errcode == "M_INVALID_PARAM"  # no device keys to check them against
    await upload(stack, alice, {"device_keys": alice.device_keys()})
    otks = alice.one_time_keys(2)
    first = next(iter(otks))
    otks[first] = dict(otks[first], key="c29tZXRoaW5nIGVsc2UgZW50aXJlbHkgaGVyZSBvaw")
    with pytest.raises(MatrixError) as err:
        await upload(stack, alice, {"one_time_keys": otks})
    assert err.value.errcode == "M_INVALID_PARAM"
    assert await upload(stack, alice, {}) == {"one_time_key_counts": {}}
    with pytest.raises(MatrixError) as err:
        await upload(stack, alice, {"one_time_keys": {"signed_curve25519:A": "plain"}})
    assert err.value.errcode == "M_BAD_JSON"


async def test_one_time_keys_are_idempotent_per_key_id(stack) -> None:
    alice = await stack.user()
    otks = alice.one_time_keys(2)
    await upload(stack, alice, {"device_keys": alice.device_keys(), "one_time_keys": otks})
    # The same keys again (a retried request) change nothing.
    assert (await upload(stack, alice, {"one_time_keys": otks}))["one_time_key_counts"] == {
        "signed_curve25519": 2}
    # Another key under an existing ID is refused, with nothing of the request stored.
    clash = alice.one_time_keys(1)
    clash[next(iter(otks))] = next(iter(clash.values()))
    with pytest.raises(MatrixError) as err:
        await upload(stack, alice, {"one_time_keys": clash})
    assert err.value.errcode == "M_INVALID_PARAM"
    assert (await upload(stack, alice, {}))["one_time_key_counts"] == {"signed_curve25519": 2}


async def test_claim_hands_out_each_key_once_under_concurrent_claims(stack, pg_dsn) -> None:
    alice = await stack.user()
    bob = await stack.user()
    otks = alice.one_time_keys(5)
    fallback = alice.one_time_keys(1, fallback=True)
    await upload(stack, alice, {
        "device_keys": alice.device_keys(), "one_time_keys": otks, "fallback_keys": fallback,
    })
    # Twenty claims at once, each on its own connection, against the real database.
    pool = await create_pool(pg_dsn, min_size=20, max_size=20)
    try:
        ctx = Context(config=stack.keys.ctx.config, pool=pool, router=stack.router,
                      signing_key=None)
        keys = KeysService(ctx, 0)
        body = {"one_time_keys": {alice.user_id: {alice.device_id: "signed_curve25519"}}}
        results = await asyncio.gather(*(keys.claim_keys(bob.user_id, body) for _ in range(20)))
    finally:
        await pool.close()
    claimed = [r["one_time_keys"][alice.user_id][alice.device_id] for r in results]
    key_ids = [next(iter(c)) for c in claimed]
    one_time = [k for k in key_ids if k in otks]
    assert sorted(one_time) == sorted(otks)  # every one-time key exactly once
    assert key_ids.count(next(iter(fallback))) == 15  # the rest got the fallback key
    for c in claimed:
        [(key_id, key)] = c.items()
        assert key == (otks.get(key_id) or fallback[key_id])
    assert (await upload(stack, alice, {}))["one_time_key_counts"] == {}


async def test_fallback_key_used_flag_and_replacement(stack) -> None:
    alice = await stack.user()
    bob = await stack.user()
    fallback = alice.one_time_keys(1, fallback=True)
    await upload(stack, alice, {"device_keys": alice.device_keys(), "fallback_keys": fallback})
    sync = await stack.sync.sync(alice.user_id, alice.device_id)
    assert sync["device_unused_fallback_key_types"] == ["signed_curve25519"]
    body = {"one_time_keys": {alice.user_id: {alice.device_id: "signed_curve25519"},
                              bob.user_id: {bob.device_id: "signed_curve25519"}}}
    claimed = await stack.keys.claim_keys(bob.user_id, body)
    assert claimed["one_time_keys"] == {alice.user_id: {alice.device_id: fallback}}
    sync = await stack.sync.sync(alice.user_id, alice.device_id)
    assert sync["device_unused_fallback_key_types"] == []
    # The same key again stays used; a new key is fresh.
    await upload(stack, alice, {"fallback_keys": fallback})
    sync = await stack.sync.sync(alice.user_id, alice.device_id)
    assert sync["device_unused_fallback_key_types"] == []
    await upload(stack, alice, {"fallback_keys": alice.one_time_keys(1, fallback=True)})
    sync = await stack.sync.sync(alice.user_id, alice.device_id)
    assert sync["device_unused_fallback_key_types"] == ["signed_curve25519"]
    two = alice.one_time_keys(2, fallback=True)
    with pytest.raises(MatrixError) as err:
        await upload(stack, alice, {"fallback_keys": two})
    assert err.value.errcode == "M_INVALID_PARAM"


async def test_one_time_key_counts_in_sync(stack) -> None:
    alice = await stack.user()
    await upload(stack, alice, {"device_keys": alice.device_keys(),
                                "one_time_keys": alice.one_time_keys(4)})
    sync = await stack.sync.sync(alice.user_id, alice.device_id)
    assert sync["device_one_time_keys_count"] == {"signed_curve25519": 4}
    assert "device_lists" not in sync  # only on incremental syncs


async def test_deleting_a_device_deletes_its_keys(stack) -> None:
    alice = await stack.user()
    bob = await stack.user()
    await upload(stack, alice, {"device_keys": alice.device_keys(),
                                "one_time_keys": alice.one_time_keys(2),
                                "fallback_keys": alice.one_time_keys(1, fallback=True)})
    announced = "SELECT count(*) FROM device_list_changes WHERE user_id = $1"
    assert await stack.keys.pool.fetchval(announced, alice.user_id) == 1
    await stack.accounts.logout(alice.user_id, alice.device_id)
    answer = await query(stack, bob, {alice.user_id: []})
    assert answer["device_keys"][alice.user_id] == {}
    body = {"one_time_keys": {alice.user_id: {alice.device_id: "signed_curve25519"}}}
    assert (await stack.keys.claim_keys(bob.user_id, body))["one_time_keys"] == {}
    for table in ("device_keys", "one_time_keys", "fallback_keys"):
        left = await stack.keys.pool.fetchval(
            f"SELECT count(*) FROM {table} WHERE user_id = $1", alice.user_id)
        assert left == 0, table
    # The deletion is a device-list change of its own.
    assert await stack.keys.pool.fetchval(announced, alice.user_id) == 2


async def test_recover_sweeps_keys_of_devices_deleted_behind_its_back(stack) -> None:
    alice = await stack.user()
    await upload(stack, alice, {"device_keys": alice.device_keys(),
                                "one_time_keys": alice.one_time_keys(1)})
    # As if the notice from accounts had been lost.
    await stack.keys.pool.execute(
        "DELETE FROM devices WHERE user_id = $1 AND device_id = $2", alice.user_id, alice.device_id)
    await stack.keys.recover()
    left = await stack.keys.pool.fetchval(
        "SELECT count(*) FROM one_time_keys WHERE user_id = $1", alice.user_id)
    assert left == 0


async def test_upload_for_a_deleted_device_is_refused(stack) -> None:
    alice = await stack.user()
    await stack.accounts.logout(alice.user_id, alice.device_id)
    with pytest.raises(MatrixError) as err:
        await upload(stack, alice, {"device_keys": copy.deepcopy(alice.device_keys())})
    assert err.value.errcode == "M_UNKNOWN_TOKEN"
