"""End-to-end encryption keys over HTTP: upload, query, claim, changes, /sync, cross-signing, backups.

Every response is checked against the spec's OpenAPI definitions.
"""

from __future__ import annotations

import concurrent.futures
from typing import Any

from protocol.signing import sign_json
from tests.actors.keys.helpers import ClientDevice, CrossSigning, public
from tests.e2e_server import SERVER_NAME
from tests.ingress.client.sync_client import Client, fresh_account
from tests.openapi import assert_matches

BACKUP_ALGORITHM = "m.megolm_backup.v1.curve25519-aes-sha2"


def keyed(server: Any, name: str) -> tuple[Client, ClientDevice]:
    client = Client(server, fresh_account(server, name))
    return client, ClientDevice(client.user_id, client.account.device_id)


def post(client: Client, path: str, body: dict[str, Any], spec: tuple[str, str] | None = None,
         status: int = 200) -> Any:
    r = client.http.post(path, json=body)
    assert r.status_code == status, f"{r.status_code} {r.text}"
    if spec is not None:
        assert_matches(spec[0], spec[1], "post", status, r.json())
    return r.json()


def upload(client: Client, body: dict[str, Any]) -> dict[str, Any]:
    return post(client, "/keys/upload", body, ("keys.yaml", "/keys/upload"))


def query(client: Client, *users: str) -> dict[str, Any]:
    return post(client, "/keys/query", {"device_keys": {u: [] for u in users}},
                ("keys.yaml", "/keys/query"))


def test_upload_query_claim_and_changes(server) -> None:
    alice, alice_dev = keyed(server, "alice")
    bob, bob_dev = keyed(server, "bob")
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    since = bob.sync()["next_batch"]

    counts = upload(alice, {"device_keys": alice_dev.device_keys(),
                            "one_time_keys": alice_dev.one_time_keys(2),
                            "fallback_keys": alice_dev.one_time_keys(1, fallback=True)})
    assert counts == {"one_time_key_counts": {"signed_curve25519": 2}}
    answer = query(bob, alice.user_id, "@someone:elsewhere.example")
    assert alice_dev.device_id in answer["device_keys"][alice.user_id]
    assert "elsewhere.example" in answer["failures"]

    claim = {"one_time_keys": {alice.user_id: {alice_dev.device_id: "signed_curve25519"}}}
    claimed = [post(bob, "/keys/claim", claim, ("keys.yaml", "/keys/claim")) for _ in range(4)]
    key_ids = [next(iter(c["one_time_keys"][alice.user_id][alice_dev.device_id]))
               for c in claimed]
    assert len(set(key_ids[:2])) == 2 and key_ids[2] == key_ids[3]  # then the fallback key

    # Bob's incremental /sync names alice, and so does /keys/changes.
    synced = bob.sync(since=since)
    assert alice.user_id in synced["device_lists"]["changed"]
    r = bob.get("/keys/changes", **{"from": since, "to": synced["next_batch"]})
    assert r.status_code == 200, r.text
    assert_matches("keys.yaml", "/keys/changes", "get", 200, r.json())
    assert r.json()["changed"] == [alice.user_id]
    # Alice's /sync shows her device's key state.
    own = alice.sync()
    assert own["device_one_time_keys_count"] == {}
    assert own["device_unused_fallback_key_types"] == []


def test_bad_key_requests(server) -> None:
    alice, alice_dev = keyed(server, "alice")
    keys = alice_dev.device_keys()
    keys["algorithms"] = ["tampered"]
    r = alice.http.post("/keys/upload", json={"device_keys": keys})
    assert r.status_code == 400 and r.json()["errcode"] == "M_INVALID_PARAM"
    r = alice.http.post("/keys/query", json={"device_keys": {"not-a-user": []}})
    assert r.status_code == 400 and r.json()["errcode"] == "M_INVALID_PARAM"
    r = alice.http.post("/keys/query", json={})
    assert r.status_code == 400 and r.json()["errcode"] == "M_MISSING_PARAM"
    r = alice.http.post("/keys/claim", json={"one_time_keys": {alice.user_id: []}})
    assert r.status_code == 400 and r.json()["errcode"] == "M_BAD_JSON"
    r = alice.get("/keys/changes", **{"from": "garbage", "to": "s0"})
    assert r.status_code == 400 and r.json()["errcode"] == "M_INVALID_PARAM"


def test_a_key_upload_wakes_a_sharing_users_sync(server) -> None:
    alice, _ = keyed(server, "alice")
    bob, bob_dev = keyed(server, "bob")
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    since = alice.sync()["next_batch"]
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(alice.sync, since=since, timeout=20_000)
        upload(bob, {"device_keys": bob_dev.device_keys(), "one_time_keys": bob_dev.one_time_keys(3)})
        woken = waiting.result(timeout=15)
    assert bob.user_id in woken["device_lists"]["changed"]
    assert bob.sync()["device_one_time_keys_count"] == {"signed_curve25519": 3}


def test_cross_signing_with_uia_and_signatures(server) -> None:
    alice, alice_dev = keyed(server, "alice")
    bob, bob_dev = keyed(server, "bob")
    for client, device in ((alice, alice_dev), (bob, bob_dev)):
        upload(client, {"device_keys": device.device_keys()})
    alice_keys, bob_keys = CrossSigning(alice.user_id), CrossSigning(bob.user_id)
    spec = ("cross_signing.yaml", "/keys/device_signing/upload")
    # First upload: no authentication needed.
    post(alice, "/keys/device_signing/upload", alice_keys.upload_body(), spec)
    post(bob, "/keys/device_signing/upload", bob_keys.upload_body(), spec)
    # Replacing them: a UIA challenge, then the password.
    new = CrossSigning(alice.user_id)
    challenge = alice.http.post("/keys/device_signing/upload", json=new.upload_body())
    assert challenge.status_code == 401, challenge.text
    flows = challenge.json()
    assert {"stages": ["m.login.password"]} in flows["flows"]
    auth = {"type": "m.login.password", "session": flows["session"], "password": "pw",
            "identifier": {"type": "m.id.user", "user": alice.user_id}}
    post(alice, "/keys/device_signing/upload", new.upload_body(auth), spec)
    alice_keys = new

    # Alice's self-signing key signs her device; her user-signing key signs bob's master key.
    mine = query(alice, alice.user_id, bob.user_id)
    device = {k: v for k, v in mine["device_keys"][alice.user_id][alice_dev.device_id].items()
              if k != "unsigned"}
    body = {
        alice.user_id: {alice_dev.device_id: sign_json(device, alice.user_id,
                                                       alice_keys.self_signing)},
        bob.user_id: {public(bob_keys.master): sign_json(
            mine["master_keys"][bob.user_id], alice.user_id, alice_keys.user_signing)},
    }
    result = post(alice, "/keys/signatures/upload", body,
                  ("cross_signing.yaml", "/keys/signatures/upload"))
    assert result == {"failures": {}}
    seen_by_bob = query(bob, alice.user_id, bob.user_id)
    assert f"ed25519:{public(alice_keys.self_signing)}" in (
        seen_by_bob["device_keys"][alice.user_id][alice_dev.device_id]["signatures"][alice.user_id])
    assert alice.user_id not in seen_by_bob["master_keys"][bob.user_id]["signatures"]
    assert seen_by_bob["user_signing_keys"] == {bob.user_id: bob_keys.key_json("user_signing")}
    seen_by_alice = query(alice, bob.user_id)
    assert alice.user_id in seen_by_alice["master_keys"][bob.user_id]["signatures"]


def test_key_backup_crud(server) -> None:
    alice, _ = keyed(server, "alice")
    spec = "key_backup.yaml"
    r = alice.get("/room_keys/version")
    assert r.status_code == 404 and r.json()["errcode"] == "M_NOT_FOUND"
    created = post(alice, "/room_keys/version", {
        "algorithm": BACKUP_ALGORITHM, "auth_data": {"public_key": "abc"}},
        (spec, "/room_keys/version"))
    version = created["version"]
    data = {"first_message_index": 1, "forwarded_count": 0, "is_verified": False,
            "session_data": {"ephemeral": "e", "ciphertext": "c", "mac": "m"}}
    room = f"!somewhere:{SERVER_NAME}"
    r = alice.http.put(f"/room_keys/keys/{room}/sess1", params={"version": version}, json=data)
    assert r.status_code == 200, r.text
    assert_matches(spec, "/room_keys/keys/{roomId}/{sessionId}", "put", 200, r.json())
    assert r.json()["count"] == 1
    r = alice.http.put("/room_keys/keys", params={"version": version},
                       json={"rooms": {room: {"sessions": {"sess2": data}}}})
    assert r.status_code == 200 and r.json()["count"] == 2
    info = alice.get("/room_keys/version")
    assert_matches(spec, "/room_keys/version", "get", 200, info.json())
    assert info.json()["etag"] == r.json()["etag"] and info.json()["version"] == version
    got = alice.get(f"/room_keys/keys/{room}", version=version)
    assert_matches(spec, "/room_keys/keys/{roomId}", "get", 200, got.json())
    assert sorted(got.json()["sessions"]) == ["sess1", "sess2"]
    got = alice.get("/room_keys/keys", version=version)
    assert_matches(spec, "/room_keys/keys", "get", 200, got.json())
    one = alice.get(f"/room_keys/keys/{room}/sess1", version=version)
    assert_matches(spec, "/room_keys/keys/{roomId}/{sessionId}", "get", 200, one.json())
    assert one.json() == data

    # A newer version: writes to the old one are refused with the current version.
    newer = post(alice, "/room_keys/version", {
        "algorithm": BACKUP_ALGORITHM, "auth_data": {"public_key": "def"}})["version"]
    r = alice.http.put(f"/room_keys/keys/{room}/sess3", params={"version": version}, json=data)
    assert r.status_code == 403
    assert r.json() == {"errcode": "M_WRONG_ROOM_KEYS_VERSION", "error": r.json()["error"],
                        "current_version": newer}
    r = alice.http.put(f"/room_keys/keys/{room}/sess3", json=data)
    assert r.status_code == 400 and r.json()["errcode"] == "M_MISSING_PARAM"

    r = alice.http.delete(f"/room_keys/keys/{room}/sess1", params={"version": version})
    assert r.status_code == 200 and r.json()["count"] == 1
    r = alice.http.put(f"/room_keys/version/{newer}", json={
        "algorithm": BACKUP_ALGORITHM, "auth_data": {"public_key": "ghi"}, "version": newer})
    assert r.status_code == 200, r.text
    assert alice.get(f"/room_keys/version/{newer}").json()["auth_data"] == {"public_key": "ghi"}
    for _ in range(2):  # deleting a deleted version still succeeds
        r = alice.http.delete(f"/room_keys/version/{newer}")
        assert r.status_code == 200, r.text
    r = alice.get(f"/room_keys/version/{newer}")
    assert r.status_code == 404 and r.json()["errcode"] == "M_NOT_FOUND"
    assert alice.get("/room_keys/version").json()["version"] == version


def test_logging_out_removes_the_devices_keys(server) -> None:
    alice, alice_dev = keyed(server, "alice")
    bob, _ = keyed(server, "bob")
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    upload(alice, {"device_keys": alice_dev.device_keys()})
    since = bob.sync()["next_batch"]
    assert alice_dev.device_id in query(bob, alice.user_id)["device_keys"][alice.user_id]
    post(alice, "/logout", {})
    assert query(bob, alice.user_id)["device_keys"][alice.user_id] == {}
    assert alice.user_id in bob.sync(since=since)["device_lists"]["changed"]


def test_concurrent_claims_never_hand_out_a_one_time_key_twice(server) -> None:
    alice, alice_dev = keyed(server, "alice")
    claimers = [keyed(server, f"claimer{i}")[0] for i in range(4)]
    one_time_keys = alice_dev.one_time_keys(20)
    fallback_keys = alice_dev.one_time_keys(1, fallback=True)
    upload(alice, {"device_keys": alice_dev.device_keys(), "one_time_keys": one_time_keys,
                   "fallback_keys": fallback_keys})
    claim = {"one_time_keys": {alice.user_id: {alice_dev.device_id: "signed_curve25519"}}}

    def claim_many(client: Client) -> list[str]:
        return [next(iter(post(client, "/keys/claim", claim)["one_time_keys"][alice.user_id]
                          [alice_dev.device_id])) for _ in range(8)]

    with concurrent.futures.ThreadPoolExecutor(len(claimers)) as pool:
        key_ids = [k for keys in pool.map(claim_many, claimers) for k in keys]
    handed_out = [k for k in key_ids if k in one_time_keys]
    assert sorted(handed_out) == sorted(one_time_keys), "each one-time key exactly once"
    assert [k for k in key_ids if k not in one_time_keys] == [next(iter(fallback_keys))] * 12
