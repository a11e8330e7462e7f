"""Every malformed request to the keys service is a Matrix 4xx error and changes nothing."""

from __future__ import annotations

import pytest

from protocol.errors import MatrixError

USER_KEY = "@x:test.local"

CASES = [
    ("upload_keys", {"device_keys": "x"}),
    ("upload_keys", {"one_time_keys": ["x"]}),
    ("upload_keys", {"one_time_keys": {"signed_curve25519:A": 5}}),
    ("upload_keys", {"one_time_keys": {"nocolon": "k"}}),
    ("upload_keys", {"one_time_keys": {"curve25519:A\x00": "k"}}),
    ("upload_keys", {"fallback_keys": {"signed_curve25519:A": {"key": 1}}}),
    ("query_keys", {}),
    ("query_keys", {"device_keys": []}),
    ("query_keys", {"device_keys": {"not-a-user": []}}),
    ("query_keys", {"device_keys": {USER_KEY: "all"}}),
    ("query_keys", {"device_keys": {USER_KEY: [5]}}),
    ("claim_keys", {"one_time_keys": {USER_KEY: []}}),
    ("claim_keys", {"one_time_keys": {USER_KEY: {"DEV": 5}}}),
    ("claim_keys", {"one_time_keys": {"@bad": {}}}),
    ("upload_device_signing", {"master_key": 5}),
    ("upload_device_signing", {"master_key": {"user_id": USER_KEY}}),
    ("upload_signatures", {USER_KEY: 5}),
    ("upload_signatures", {"not-a-user": {}}),
    ("create_backup_version", {"algorithm": 5, "auth_data": {}}),
    ("create_backup_version", {"algorithm": "m.megolm_backup.v1.curve25519-aes-sha2",
                               "auth_data": {}}),
    ("create_backup_version", {"algorithm": "a", "auth_data": "x"}),
]


@pytest.mark.parametrize(("method", "body"), CASES, ids=lambda v: str(v)[:40])
async def test_malformed_requests(stack, method, body) -> None:
    device = await stack.user()
    args = {
        "upload_keys": (device.user_id, device.device_id, body),
        "upload_device_signing": (device.user_id, device.device_id, body),
    }.get(method, (device.user_id, body))
    with pytest.raises(MatrixError) as err:
        await getattr(stack.keys, method)(*args)
    assert 400 <= err.value.status < 500


BACKUP_CASES = [
    {"rooms": {"!r:x": 5}},
    {"rooms": {"!r:x": {"sessions": {"s": 5}}}},
    {"rooms": {"!r:x": {"sessions": {"s": {"first_message_index": 2**60, "forwarded_count": 0,
                                           "is_verified": False, "session_data": {}}}}}},
    {"rooms": {"!r:x": {"sessions": {"s": {"first_message_index": 0, "forwarded_count": 0,
                                           "is_verified": "no", "session_data": {}}}}}},
    {"rooms": {"!r:x": {"sessions": {"s": {"first_message_index": 0, "forwarded_count": 0,
                                           "is_verified": False, "session_data": "x"}}}}},
    {"rooms": []},
    {},
]


@pytest.mark.parametrize("body", BACKUP_CASES, ids=lambda v: str(v)[:50])
async def test_malformed_backup_keys(stack, body) -> None:
    user = (await stack.user()).user_id
    version = (await stack.keys.create_backup_version(user, {
        "algorithm": "m.megolm_backup.v1.curve25519-aes-sha2",
        "auth_data": {"public_key": "pk"}}))["version"]
    with pytest.raises(MatrixError) as err:
        await stack.keys.put_room_keys(user, version, body)
    assert 400 <= err.value.status < 500
    assert (await stack.keys.backup_version(user, version))["count"] == 0
