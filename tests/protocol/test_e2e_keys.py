"""protocol.e2e_keys: key shapes, users' signatures, and the key-backup replacement rule."""

from __future__ import annotations

import pytest

from protocol.e2e_keys import (
    KeyFormatError,
    add_signatures,
    backup_key_rank,
    backup_key_replaces,
    check_cross_signing_key,
    check_device_keys,
    check_one_time_key,
    same_signed_content,
    split_key_id,
)
from protocol.signing import SignatureError, sign_json
from tests.actors.keys.helpers import ClientDevice, CrossSigning, public

USER = "@alice:example.com"


def test_device_keys_signed_by_their_own_ed25519_key() -> None:
    device = ClientDevice(USER, "JLAFKJWSCS")
    keys = device.device_keys()
    assert check_device_keys(keys, USER, "JLAFKJWSCS") == device.ed25519
    with pytest.raises(SignatureError):
        check_device_keys({**keys, "algorithms": ["changed"]}, USER, "JLAFKJWSCS")
    with pytest.raises(KeyFormatError):
        check_device_keys(keys, USER, "OTHERDEVICE")
    without_ed25519 = sign_json(
        {**{k: v for k, v in keys.items() if k != "signatures"},
         "keys": {"curve25519:JLAFKJWSCS": "x"}}, USER, device.key)
    with pytest.raises(KeyFormatError):
        check_device_keys(without_ed25519, USER, "JLAFKJWSCS")
    with pytest.raises(KeyFormatError) as err:
        check_device_keys({**keys, "keys": "nope"}, USER, "JLAFKJWSCS")
    assert err.value.bad_json


def test_one_time_keys() -> None:
    device = ClientDevice(USER, "DEV")
    [(key_id, key)] = device.one_time_keys(1).items()
    assert check_one_time_key(key_id, key, USER, "DEV", device.ed25519) == (
        "signed_curve25519", key_id.partition(":")[2])
    with pytest.raises(SignatureError):
        check_one_time_key(key_id, {**key, "key": "other"}, USER, "DEV", device.ed25519)
    with pytest.raises(KeyFormatError):  # no device key to check the signature with
        check_one_time_key(key_id, key, USER, "DEV", None)
    assert check_one_time_key("curve25519:AAAB", "plainkey", USER, "DEV", None) == (
        "curve25519", "AAAB")
    with pytest.raises(KeyFormatError):
        check_one_time_key("signed_curve25519:AAAB", "plainkey", USER, "DEV", device.ed25519)


@pytest.mark.parametrize("bad", ["nocolon", ":id", "alg:", 5])
def test_key_ids_need_an_algorithm_and_an_id(bad) -> None:
    with pytest.raises(KeyFormatError):
        split_key_id(bad)


def test_cross_signing_key_shape() -> None:
    keys = CrossSigning(USER)
    master = keys.key_json("master")
    assert check_cross_signing_key(master, USER, "master") == public(keys.master)
    for broken in (
        {**master, "user_id": "@bob:example.com"},
        {**master, "usage": ["self_signing"]},
        {**master, "keys": {"ed25519:abc": "abc"}},  # not a 32-byte key
        {**master, "keys": {f"ed25519:{public(keys.master)}": public(keys.self_signing)}},
        {**master, "keys": {}},
    ):
        with pytest.raises(KeyFormatError):
            check_cross_signing_key(broken, USER, "master")


def test_signatures_merge_and_signed_content() -> None:
    obj = {"a": 1, "signatures": {USER: {"ed25519:X": "sx"}}, "unsigned": {"n": 1}}
    merged = add_signatures(obj, [(USER, "ed25519:Y", "sy"), ("@bob:example.com", "ed25519:Z", "sz")])
    assert merged["signatures"] == {USER: {"ed25519:X": "sx", "ed25519:Y": "sy"},
                                    "@bob:example.com": {"ed25519:Z": "sz"}}
    assert obj["signatures"] == {USER: {"ed25519:X": "sx"}}  # the original is untouched
    assert same_signed_content(obj, {"a": 1})
    assert not same_signed_content(obj, {"a": 2})


def test_backup_replacement_rule() -> None:
    def replaces(old: tuple, new: tuple) -> bool:
        return backup_key_replaces(backup_key_rank(*old), backup_key_rank(*new))

    # (is_verified, first_message_index, forwarded_count)
    assert replaces((False, 0, 0), (True, 9, 9))
    assert not replaces((True, 9, 9), (False, 0, 0))
    assert replaces((False, 5, 0), (False, 4, 9))
    assert not replaces((False, 4, 0), (False, 5, 0))
    assert replaces((False, 4, 2), (False, 4, 1))
    assert not replaces((False, 4, 1), (False, 4, 1))
