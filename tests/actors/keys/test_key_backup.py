"""Server-side key backups through the keys service: versions, the replacement rule, etags."""

from __future__ import annotations

import pytest

from protocol.errors import MatrixError

ALGORITHM = "m.megolm_backup.v1.curve25519-aes-sha2"
ROOM = "!room:test.local"


def key_data(index: int = 0, forwarded: int = 0, verified: bool = False, tag: str = "x") -> dict:
    return {"first_message_index": index, "forwarded_count": forwarded, "is_verified": verified,
            "session_data": {"ephemeral": "e", "ciphertext": tag, "mac": "m"}}


async def errcode_of(call) -> tuple[int, str, dict]:
    with pytest.raises(MatrixError) as err:
        await call
    return err.value.status, err.value.errcode, err.value.extra


async def new_version(stack, user: str, public_key: str = "pk1") -> str:
    body = {"algorithm": ALGORITHM, "auth_data": {"public_key": public_key}}
    return (await stack.keys.create_backup_version(user, body))["version"]


async def test_versions_count_up_and_only_the_latest_takes_keys(stack) -> None:
    user = (await stack.user()).user_id
    keys = stack.keys
    assert await errcode_of(keys.backup_version(user, None)) == (404, "M_NOT_FOUND", {})
    assert await errcode_of(keys.put_room_keys(user, "1", key_data(), ROOM, "s")) == (
        404, "M_NOT_FOUND", {})
    first = await new_version(stack, user)
    second = await new_version(stack, user, "pk2")
    assert (first, second) == ("1", "2")
    current = await keys.backup_version(user, None)
    assert current == {"algorithm": ALGORITHM, "auth_data": {"public_key": "pk2"}, "count": 0,
                       "etag": "0", "version": "2"}
    for stale in ("1", "7", "not-a-version"):
        assert await errcode_of(keys.put_room_keys(user, stale, key_data(), ROOM, "s")) == (
            403, "M_WRONG_ROOM_KEYS_VERSION", {"current_version": "2"})
    # The older version can still be read.
    assert (await keys.backup_version(user, "1"))["auth_data"] == {"public_key": "pk1"}
    assert await errcode_of(keys.backup_version(user, "3")) == (404, "M_NOT_FOUND", {})


async def test_replacement_keeps_the_better_key(stack) -> None:
    user = (await stack.user()).user_id
    keys = stack.keys
    version = await new_version(stack, user)
    stored = await keys.put_room_keys(user, version, key_data(index=5, forwarded=1, tag="a"),
                                      ROOM, "s")
    assert stored == {"etag": "1", "count": 1}

    async def held() -> str:
        got = await keys.get_room_keys(user, version, ROOM, "s")
        return got["session_data"]["ciphertext"]

    # A worse key (later first message) is ignored and the etag stays.
    assert await keys.put_room_keys(user, version, key_data(index=9, tag="b"), ROOM, "s") == {
        "etag": "1", "count": 1}
    assert await held() == "a"
    # Same index, fewer forwards: better.
    await keys.put_room_keys(user, version, key_data(index=5, forwarded=0, tag="c"), ROOM, "s")
    assert await held() == "c"
    # Same everything: the stored key stays.
    await keys.put_room_keys(user, version, key_data(index=5, forwarded=0, tag="d"), ROOM, "s")
    assert await held() == "c"
    # Verified beats everything, even a later index.
    result = await keys.put_room_keys(
        user, version, key_data(index=50, forwarded=3, verified=True, tag="e"), ROOM, "s")
    assert await held() == "e" and result == {"etag": "3", "count": 1}
    # ...and an unverified key never replaces it.
    await keys.put_room_keys(user, version, key_data(index=0, tag="f"), ROOM, "s")
    assert await held() == "e"


async def test_keys_by_room_and_all_and_deletion(stack) -> None:
    user = (await stack.user()).user_id
    keys = stack.keys
    version = await new_version(stack, user)
    body = {"rooms": {ROOM: {"sessions": {"s1": key_data(), "s2": key_data()}},
                      "!other:test.local": {"sessions": {"s3": key_data()}}}}
    assert await keys.put_room_keys(user, version, body) == {"etag": "1", "count": 3}
    everything = await keys.get_room_keys(user, version)
    assert sorted(everything["rooms"]) == ["!other:test.local", ROOM]
    assert sorted((await keys.get_room_keys(user, version, ROOM))["sessions"]) == ["s1", "s2"]
    assert await keys.get_room_keys(user, version, "!empty:test.local") == {"sessions": {}}
    assert await errcode_of(keys.get_room_keys(user, version, ROOM, "nope")) == (
        404, "M_NOT_FOUND", {})
    assert await keys.delete_room_keys(user, version, ROOM, "s1") == {"etag": "2", "count": 2}
    assert await keys.delete_room_keys(user, version, ROOM) == {"etag": "3", "count": 1}
    # Deleting nothing leaves the etag alone.
    assert await keys.delete_room_keys(user, version, ROOM) == {"etag": "3", "count": 1}
    assert await keys.delete_room_keys(user, version) == {"etag": "4", "count": 0}
    assert await keys.get_room_keys(user, version) == {"rooms": {}}


async def test_bad_key_data_is_refused_whole(stack) -> None:
    user = (await stack.user()).user_id
    keys = stack.keys
    version = await new_version(stack, user)
    bad = {"rooms": {ROOM: {"sessions": {"good": key_data(),
                                         "bad": {**key_data(), "first_message_index": -1}}}}}
    assert (await errcode_of(keys.put_room_keys(user, version, bad)))[:2] == (400, "M_BAD_JSON")
    missing = {k: v for k, v in key_data().items() if k != "is_verified"}
    assert (await errcode_of(keys.put_room_keys(user, version, missing, ROOM, "s")))[:2] == (
        400, "M_MISSING_PARAM")
    assert (await keys.backup_version(user, version))["count"] == 0


async def test_update_and_delete_versions(stack) -> None:
    user = (await stack.user()).user_id
    keys = stack.keys
    version = await new_version(stack, user)
    await keys.put_room_keys(user, version, key_data(), ROOM, "s")
    update = {"algorithm": ALGORITHM, "auth_data": {"public_key": "pk9"}, "version": version}
    assert await keys.update_backup_version(user, version, update) == {}
    assert (await keys.backup_version(user, version))["auth_data"] == {"public_key": "pk9"}
    for wrong in ({**update, "version": "99"}, {**update, "algorithm": "org.example.other"}):
        assert (await errcode_of(keys.update_backup_version(user, version, wrong)))[:2] == (
            400, "M_INVALID_PARAM")
    unversioned = {k: v for k, v in update.items() if k != "version"}
    assert (await errcode_of(keys.update_backup_version(user, "42", unversioned)))[:2] == (
        404, "M_NOT_FOUND")
    assert await keys.delete_backup_version(user, version) == {}
    # Deleted: gone, deleting again still succeeds, and its number is never reused.
    assert await keys.delete_backup_version(user, version) == {}
    assert (await errcode_of(keys.backup_version(user, None)))[:2] == (404, "M_NOT_FOUND")
    assert (await errcode_of(keys.get_room_keys(user, version))) == (404, "M_NOT_FOUND", {})
    assert (await errcode_of(keys.delete_backup_version(user, "77")))[:2] == (404, "M_NOT_FOUND")
    assert await new_version(stack, user) == str(int(version) + 1)
    # Another user's backups are separate.
    other = (await stack.user()).user_id
    assert (await errcode_of(keys.backup_version(other, None)))[:2] == (404, "M_NOT_FOUND")
