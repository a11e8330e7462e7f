"""Cross-signing keys and signature uploads through the keys service."""

from __future__ import annotations

import pytest

from actors.accounts.uia import AuthRequired
from protocol.errors import MatrixError
from protocol.signing import sign_json
from tests.actors.accounts.helpers import password_auth
from tests.actors.keys.helpers import CrossSigning, public, signing_key


async def setup_user(stack, *, cross_signing: bool = True):
    device = await stack.user()
    await stack.keys.upload_keys(device.user_id, device.device_id,
                                 {"device_keys": device.device_keys()})
    keys = CrossSigning(device.user_id)
    if cross_signing:
        await stack.keys.upload_device_signing(device.user_id, device.device_id, keys.upload_body())
    return device, keys


async def query(stack, viewer, *users):
    return await stack.keys.query_keys(viewer, {"device_keys": {u: [] for u in users}})


async def test_first_upload_needs_no_authentication_and_query_shows_the_keys(stack) -> None:
    alice, alice_keys = await setup_user(stack)
    bob, _ = await setup_user(stack)
    own = await query(stack, alice.user_id, alice.user_id)
    assert own["master_keys"][alice.user_id] == {**alice_keys.key_json("master"), "signatures": {}}
    assert own["self_signing_keys"][alice.user_id] == alice_keys.key_json("self_signing")
    assert own["user_signing_keys"][alice.user_id] == alice_keys.key_json("user_signing")
    # Others never see the user-signing key.
    other = await query(stack, bob.user_id, alice.user_id)
    assert alice.user_id in other["master_keys"] and alice.user_id in other["self_signing_keys"]
    assert other["user_signing_keys"] == {}


async def test_bad_cross_signing_uploads(stack) -> None:
    alice, _ = await setup_user(stack, cross_signing=False)
    keys = CrossSigning(alice.user_id)
    body = keys.upload_body()
    # Signed by another key than the master key.
    body["self_signing_key"] = sign_json(
        {k: v for k, v in body["self_signing_key"].items() if k != "signatures"},
        alice.user_id, signing_key(public(keys.master)))
    with pytest.raises(MatrixError) as err:
        await stack.keys.upload_device_signing(alice.user_id, alice.device_id, body)
    assert (err.value.status, err.value.errcode) == (400, "M_INVALID_SIGNATURE")
    # No master key anywhere to check a self-signing key against.
    with pytest.raises(MatrixError) as err:
        await stack.keys.upload_device_signing(
            alice.user_id, alice.device_id, {"self_signing_key": keys.key_json("self_signing")})
    assert (err.value.status, err.value.errcode) == (400, "M_MISSING_PARAM")
    # A key whose public key is one of the user's device IDs.
    clash = CrossSigning(alice.user_id)
    await stack.accounts.pool.execute(
        "INSERT INTO devices (user_id, device_id, created_ts) VALUES ($1, $2, 0)",
        alice.user_id, public(clash.master))
    with pytest.raises(MatrixError) as err:
        await stack.keys.upload_device_signing(alice.user_id, alice.device_id, clash.upload_body())
    assert (err.value.status, err.value.errcode) == (403, "M_FORBIDDEN")
    # Nothing was stored by any of these.
    assert (await query(stack, alice.user_id, alice.user_id))["master_keys"] == {}


async def test_replacing_keys_needs_the_password_but_a_retry_does_not(stack) -> None:
    alice, keys = await setup_user(stack)
    # The very same keys again (a retried request): no authentication, nothing changes.
    assert await stack.keys.upload_device_signing(
        alice.user_id, alice.device_id, keys.upload_body()) == {}
    new = CrossSigning(alice.user_id)
    with pytest.raises(AuthRequired) as challenge:
        await stack.keys.upload_device_signing(alice.user_id, alice.device_id, new.upload_body())
    session = challenge.value.session
    with pytest.raises(AuthRequired) as wrong:
        await stack.keys.upload_device_signing(
            alice.user_id, alice.device_id,
            new.upload_body(password_auth(alice.user_id, "wrong", session)))
    assert wrong.value.failure is not None and wrong.value.failure.errcode == "M_FORBIDDEN"
    master = (await query(stack, alice.user_id, alice.user_id))["master_keys"][alice.user_id]
    assert master["keys"] == keys.key_json("master")["keys"]
    await stack.keys.upload_device_signing(
        alice.user_id, alice.device_id, new.upload_body(password_auth(alice.user_id, "pw", session)))
    master = (await query(stack, alice.user_id, alice.user_id))["master_keys"][alice.user_id]
    assert master["keys"] == new.key_json("master")["keys"]


async def test_signing_own_device_and_master_key(stack) -> None:
    alice, keys = await setup_user(stack)
    bob, _ = await setup_user(stack)
    device_keys = (await query(stack, alice.user_id, alice.user_id))["device_keys"][alice.user_id]
    stored = {k: v for k, v in device_keys[alice.device_id].items() if k != "unsigned"}
    by_ssk = sign_json(stored, alice.user_id, keys.self_signing)
    by_device = sign_json(keys.key_json("master"), alice.user_id, alice.key)
    result = await stack.keys.upload_signatures(alice.user_id, {
        alice.user_id: {alice.device_id: by_ssk, public(keys.master): by_device}})
    assert result == {"failures": {}}
    seen = await query(stack, bob.user_id, alice.user_id)
    device_sigs = seen["device_keys"][alice.user_id][alice.device_id]["signatures"][alice.user_id]
    assert device_sigs[f"ed25519:{public(keys.self_signing)}"] == (
        by_ssk["signatures"][alice.user_id][f"ed25519:{public(keys.self_signing)}"])
    master_sigs = seen["master_keys"][alice.user_id]["signatures"][alice.user_id]
    assert f"ed25519:{alice.device_id}" in master_sigs


async def test_user_signing_signature_is_seen_only_by_its_signer(stack) -> None:
    alice, alice_keys = await setup_user(stack)
    bob, bob_keys = await setup_user(stack)
    carol, _ = await setup_user(stack)
    bob_master = (await query(stack, alice.user_id, bob.user_id))["master_keys"][bob.user_id]
    signed = sign_json(bob_master, alice.user_id, alice_keys.user_signing)
    result = await stack.keys.upload_signatures(
        alice.user_id, {bob.user_id: {public(bob_keys.master): signed}})
    assert result == {"failures": {}}
    usk_id = f"ed25519:{public(alice_keys.user_signing)}"
    by_alice = await query(stack, alice.user_id, bob.user_id)
    assert by_alice["master_keys"][bob.user_id]["signatures"][alice.user_id][usk_id]
    for viewer in (bob, carol):
        seen = await query(stack, viewer.user_id, bob.user_id)
        assert alice.user_id not in seen["master_keys"][bob.user_id]["signatures"]
    # The change is for alice alone.
    private = await stack.keys.pool.fetchval(
        "SELECT visible_to FROM device_list_changes WHERE user_id = $1 AND visible_to IS NOT NULL",
        bob.user_id)
    assert private == alice.user_id


async def test_bad_signature_uploads_become_failures(stack) -> None:
    alice, alice_keys = await setup_user(stack)
    bob, bob_keys = await setup_user(stack)
    stored = {k: v for k, v in (await query(stack, alice.user_id, alice.user_id))[
        "device_keys"][alice.user_id][alice.device_id].items() if k != "unsigned"}
    forged = sign_json(stored, alice.user_id, signing_key(public(alice_keys.self_signing)))
    changed = sign_json({**stored, "algorithms": ["other"]}, alice.user_id, alice_keys.self_signing)
    by_wrong_key = sign_json(bob_keys.key_json("master"), alice.user_id, alice_keys.self_signing)
    good = sign_json(stored, alice.user_id, alice_keys.self_signing)
    result = await stack.keys.upload_signatures(alice.user_id, {
        alice.user_id: {alice.device_id: forged, "NOSUCHDEVICE": good},
        bob.user_id: {public(bob_keys.master): by_wrong_key, "notakey": by_wrong_key},
        "@remote:elsewhere.example": {"X": good},
    })
    failures = result["failures"]
    assert failures[alice.user_id][alice.device_id]["errcode"] == "M_INVALID_SIGNATURE"
    assert failures[alice.user_id]["NOSUCHDEVICE"]["errcode"] == "M_NOT_FOUND"
    assert failures[bob.user_id][public(bob_keys.master)]["errcode"] == "M_INVALID_SIGNATURE"
    assert failures[bob.user_id]["notakey"]["errcode"] == "M_NOT_FOUND"
    assert "@remote:elsewhere.example" in failures
    result = await stack.keys.upload_signatures(
        alice.user_id, {alice.user_id: {alice.device_id: changed}})
    assert result["failures"][alice.user_id][alice.device_id]["errcode"] == "M_INVALID_PARAM"
    assert await stack.keys.pool.fetchval(
        "SELECT count(*) FROM key_signatures WHERE signer_user = $1", alice.user_id) == 0
