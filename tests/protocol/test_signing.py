"""Signing keys, signed JSON and event signatures, against the spec's test vectors.

The vectors (appendices, "Cryptographic Test Vectors") are pasted verbatim as
JSON text so a diff against the spec is easy to read.
"""

from __future__ import annotations

import copy
import json

import pytest
from unpaddedbase64 import decode_base64

from protocol.hashes import check_content_hash
from protocol.room_versions import KNOWN_ROOM_VERSIONS, room_version
from protocol.signing import (
    SignatureError,
    decode_signing_key_base64,
    decode_verify_key_base64,
    encode_signing_key_base64,
    generate_signing_key,
    get_verify_key,
    key_id,
    key_valid_for_event,
    read_signing_keys,
    servers_that_must_sign,
    sign_event,
    sign_json,
    signature_key_ids,
    verify_event_signature,
    verify_json,
    verify_key_base64,
    write_signing_keys,
)

# ------------------------------------------------------------ spec vectors

SIGNING_KEY_SEED = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"
SERVER_NAME = "domain"
KEY_ID = "ed25519:1"

EMPTY_OBJECT = "{}"
EMPTY_OBJECT_SIGNED = """
{
    "signatures": {
        "domain": {
            "ed25519:1": "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"
        }
    }
}
"""

SIMPLE_OBJECT = """
{
    "one": 1,
    "two": "Two"
}
"""
SIMPLE_OBJECT_SIGNED = """
{
    "one": 1,
    "signatures": {
        "domain": {
            "ed25519:1": "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"
        }
    },
    "two": "Two"
}
"""

MINIMAL_EVENT = """
{
    "room_id": "!x:domain",
    "sender": "@a:domain",
    "origin": "domain",
    "origin_server_ts": 1000000,
    "signatures": {},
    "hashes": {},
    "type": "X",
    "content": {},
    "prev_events": [],
    "auth_events": [],
    "depth": 3,
    "unsigned": {
        "age_ts": 1000000
    }
}
"""
MINIMAL_EVENT_SIGNED = """
{
    "auth_events": [],
    "content": {},
    "depth": 3,
    "hashes": {
        "sha256": "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"
    },
    "origin": "domain",
    "origin_server_ts": 1000000,
    "prev_events": [],
    "room_id": "!x:domain",
    "sender": "@a:domain",
    "signatures": {
        "domain": {
            "ed25519:1": "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg"
        }
    },
    "type": "X",
    "unsigned": {
        "age_ts": 1000000
    }
}
"""

REDACTABLE_EVENT = """
{
    "content": {
        "body": "Here is the message content"
    },
    "event_id": "$0:domain",
    "origin": "domain",
    "origin_server_ts": 1000000,
    "type": "m.room.message",
    "room_id": "!r:domain",
    "sender": "@u:domain",
    "signatures": {},
    "unsigned": {
        "age_ts": 1000000
    }
}
"""
REDACTABLE_EVENT_SIGNED = """
{
    "content": {
        "body": "Here is the message content"
    },
    "event_id": "$0:domain",
    "hashes": {
        "sha256": "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"
    },
    "origin": "domain",
    "origin_server_ts": 1000000,
    "type": "m.room.message",
    "room_id": "!r:domain",
    "sender": "@u:domain",
    "signatures": {
        "domain": {
            "ed25519:1": "Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA"
        }
    },
    "unsigned": {
        "age_ts": 1000000
    }
}
"""

# The spec's event vectors keep the top-level `origin`, which redaction
# protects only before v11, so they hold for room versions 1-10.
PRE_V11 = [v for v in KNOWN_ROOM_VERSIONS.values() if not v.updated_redaction_rules]
V11_PLUS = [v for v in KNOWN_ROOM_VERSIONS.values() if v.updated_redaction_rules]


@pytest.fixture
def spec_key():
    return decode_signing_key_base64("ed25519", "1", SIGNING_KEY_SEED)


@pytest.fixture
def spec_verify_key(spec_key):
    return get_verify_key(spec_key)


def test_spec_key_identity(spec_key):
    assert key_id(spec_key) == KEY_ID
    # The spec's seed string has non-zero padding bits in its last character
    # ("1"); decoding ignores them, so re-encoding gives the canonical "...XA0"
    # for the same 32 bytes.
    assert decode_base64(encode_signing_key_base64(spec_key)) == decode_base64(SIGNING_KEY_SEED)
    assert encode_signing_key_base64(spec_key) == SIGNING_KEY_SEED[:-1] + "0"


@pytest.mark.parametrize(
    ("given", "expected"),
    [(EMPTY_OBJECT, EMPTY_OBJECT_SIGNED), (SIMPLE_OBJECT, SIMPLE_OBJECT_SIGNED)],
    ids=["empty-object", "simple-object"],
)
def test_spec_json_signing_vectors(spec_key, spec_verify_key, given, expected):
    signed = sign_json(json.loads(given), SERVER_NAME, spec_key)
    assert signed == json.loads(expected)
    verify_json(signed, SERVER_NAME, KEY_ID, spec_verify_key)


@pytest.mark.parametrize("rv", PRE_V11, ids=lambda v: f"v{v.identifier}")
@pytest.mark.parametrize(
    ("given", "expected"),
    [(MINIMAL_EVENT, MINIMAL_EVENT_SIGNED), (REDACTABLE_EVENT, REDACTABLE_EVENT_SIGNED)],
    ids=["minimal-event", "redactable-event"],
)
def test_spec_event_signing_vectors(spec_key, spec_verify_key, rv, given, expected):
    signed = sign_event(json.loads(given), rv, SERVER_NAME, spec_key)
    assert signed == json.loads(expected)
    assert check_content_hash(signed)
    verify_event_signature(signed, rv, SERVER_NAME, KEY_ID, spec_verify_key)


@pytest.mark.parametrize("rv", V11_PLUS, ids=lambda v: f"v{v.identifier}")
def test_v11_signature_differs_because_origin_is_no_longer_protected(spec_key, rv):
    signed = sign_event(json.loads(MINIMAL_EVENT), rv, SERVER_NAME, spec_key)
    vector = json.loads(MINIMAL_EVENT_SIGNED)
    assert signed["hashes"] == vector["hashes"]  # the content hash is version-independent
    assert signed["signatures"] != vector["signatures"]


def test_spec_redactable_event_signature_survives_redaction(spec_verify_key):
    signed = json.loads(REDACTABLE_EVENT_SIGNED)
    signed["content"] = {}  # what a redacting server would store
    v1 = room_version("1")
    verify_event_signature(signed, v1, SERVER_NAME, KEY_ID, spec_verify_key)
    assert not check_content_hash(signed)


# --------------------------------------------------------- verify failures


def test_tampered_protected_field_fails(spec_verify_key):
    signed = json.loads(MINIMAL_EVENT_SIGNED)
    signed["depth"] = 4
    with pytest.raises(SignatureError):
        verify_event_signature(signed, room_version("10"), SERVER_NAME, KEY_ID, spec_verify_key)


def test_tampered_content_fails_hash_not_signature(spec_verify_key):
    # Message content is not covered by the signature (it is redactable), only
    # by the content hash, which is what catches the change.
    signed = json.loads(REDACTABLE_EVENT_SIGNED)
    signed["content"]["body"] = "something else"
    verify_event_signature(signed, room_version("1"), SERVER_NAME, KEY_ID, spec_verify_key)
    assert not check_content_hash(signed)


def test_tampered_protected_content_fails_signature(spec_key, spec_verify_key):
    rv = room_version("10")
    member = {
        "type": "m.room.member",
        "state_key": "@a:domain",
        "sender": "@a:domain",
        "room_id": "!r:domain",
        "content": {"membership": "join"},
        "origin_server_ts": 1,
        "depth": 1,
        "prev_events": [],
        "auth_events": [],
    }
    signed = sign_event(member, rv, SERVER_NAME, spec_key)
    signed["content"]["membership"] = "ban"
    with pytest.raises(SignatureError):
        verify_event_signature(signed, rv, SERVER_NAME, KEY_ID, spec_verify_key)


def test_wrong_key_fails():
    other = get_verify_key(generate_signing_key("1"))
    signed = json.loads(SIMPLE_OBJECT_SIGNED)
    with pytest.raises(SignatureError):
        verify_json(signed, SERVER_NAME, KEY_ID, other)


@pytest.mark.parametrize(
    ("obj", "server", "kid"),
    [
        ({"one": 1}, SERVER_NAME, KEY_ID),  # no signatures at all
        (json.loads(SIMPLE_OBJECT_SIGNED), "other.server", KEY_ID),  # wrong server
        (json.loads(SIMPLE_OBJECT_SIGNED), SERVER_NAME, "ed25519:2"),  # wrong key ID
        (json.loads(SIMPLE_OBJECT_SIGNED), SERVER_NAME, "curve25519:1"),  # unknown algorithm
        ({"signatures": {SERVER_NAME: {KEY_ID: "!!not base64!!"}}}, SERVER_NAME, KEY_ID),
        ({"signatures": {SERVER_NAME: {KEY_ID: "AAAA"}}}, SERVER_NAME, KEY_ID),  # too short
        ({"signatures": "nope"}, SERVER_NAME, KEY_ID),
        ({"signatures": {SERVER_NAME: []}}, SERVER_NAME, KEY_ID),
    ],
    ids=[
        "no-signatures",
        "wrong-server",
        "wrong-key-id",
        "unknown-algorithm",
        "bad-base64",
        "short-signature",
        "signatures-not-object",
        "entry-not-object",
    ],
)
def test_missing_or_malformed_signature_fails(spec_verify_key, obj, server, kid):
    with pytest.raises(SignatureError):
        verify_json(obj, server, kid, spec_verify_key)


def test_unencodable_object_fails_as_signature_error(spec_verify_key):
    signed = json.loads(SIMPLE_OBJECT_SIGNED)
    signed["one"] = float("nan")
    with pytest.raises(SignatureError):
        verify_json(signed, SERVER_NAME, KEY_ID, spec_verify_key)


def test_signature_error_is_value_error():
    assert issubclass(SignatureError, ValueError)


# ------------------------------------------------------------ sign_json


def test_sign_json_does_not_mutate_and_keeps_unsigned(spec_key, spec_verify_key):
    obj = {"a": 1, "unsigned": {"age_ts": 5}, "signatures": {"other": {"ed25519:x": "abc"}}}
    before = copy.deepcopy(obj)
    signed = sign_json(obj, SERVER_NAME, spec_key)
    assert obj == before
    assert signed["unsigned"] == {"age_ts": 5}
    assert signed["signatures"]["other"] == {"ed25519:x": "abc"}
    assert set(signed["signatures"][SERVER_NAME]) == {KEY_ID}
    # unsigned and other signatures are outside the signed bytes.
    signed["unsigned"] = {"age_ts": 99}
    signed["signatures"]["third"] = {"ed25519:y": "def"}
    verify_json(signed, SERVER_NAME, KEY_ID, spec_verify_key)


def test_sign_json_twice_with_two_keys_keeps_both(spec_key):
    second = generate_signing_key("2")
    signed = sign_json(sign_json({"x": 1}, SERVER_NAME, spec_key), SERVER_NAME, second)
    assert set(signed["signatures"][SERVER_NAME]) == {KEY_ID, "ed25519:2"}
    verify_json(signed, SERVER_NAME, KEY_ID, get_verify_key(spec_key))
    verify_json(signed, SERVER_NAME, "ed25519:2", get_verify_key(second))
    assert sorted(signature_key_ids(signed, SERVER_NAME)) == [KEY_ID, "ed25519:2"]


def test_signature_key_ids_skips_unknown_algorithms():
    obj = {"signatures": {"s": {"ed25519:a": "x", "foo:b": "y"}}}
    assert signature_key_ids(obj, "s") == ["ed25519:a"]
    assert signature_key_ids(obj, "t") == []
    assert signature_key_ids({}, "s") == []


# ---------------------------------------------------------- sign_event


def test_sign_event_keeps_an_existing_hash_and_cosigns(spec_key, spec_verify_key):
    rv = room_version("10")
    signed = sign_event(json.loads(MINIMAL_EVENT), rv, SERVER_NAME, spec_key)
    other_key = generate_signing_key("k")
    cosigned = sign_event(signed, rv, "other.example", other_key)
    assert cosigned["hashes"] == signed["hashes"]
    verify_event_signature(cosigned, rv, SERVER_NAME, KEY_ID, spec_verify_key)
    verify_event_signature(cosigned, rv, "other.example", "ed25519:k", get_verify_key(other_key))


def test_sign_event_does_not_mutate_input(spec_key):
    event = json.loads(MINIMAL_EVENT)
    before = copy.deepcopy(event)
    sign_event(event, room_version("1"), SERVER_NAME, spec_key)
    assert event == before


# ------------------------------------------------------------------ keys


def test_key_file_round_trip():
    keys = [generate_signing_key("a_AbCd"), generate_signing_key("b_2")]
    text = write_signing_keys(keys)
    assert text.splitlines()[0].startswith("ed25519 a_AbCd ")
    again = read_signing_keys("\n" + text + "\n\n")
    assert [key_id(k) for k in again] == ["ed25519:a_AbCd", "ed25519:b_2"]
    assert [encode_signing_key_base64(k) for k in again] == [
        encode_signing_key_base64(k) for k in keys
    ]


def test_read_spec_key_line():
    (key,) = read_signing_keys(f"ed25519 1 {SIGNING_KEY_SEED}\n")
    assert sign_json({}, SERVER_NAME, key) == json.loads(EMPTY_OBJECT_SIGNED)


@pytest.mark.parametrize(
    "text",
    ["ed25519 1", "ed25519 1 abc def", "rsa 1 " + SIGNING_KEY_SEED, "ed25519 1 AAAA"],
    ids=["too-few", "too-many", "unknown-alg", "short-seed"],
)
def test_read_signing_keys_rejects_malformed(text):
    with pytest.raises(ValueError):
        read_signing_keys(text)


@pytest.mark.parametrize("version", ["", "a b"])
def test_generate_signing_key_rejects_bad_versions(version):
    with pytest.raises(ValueError):
        generate_signing_key(version)


def test_verify_key_base64_and_decode(spec_key, spec_verify_key):
    b64 = verify_key_base64(spec_key)
    assert b64 == verify_key_base64(spec_verify_key)
    assert len(b64) == 43  # 32 bytes, unpadded
    decoded = decode_verify_key_base64(KEY_ID, b64)
    verify_json(json.loads(SIMPLE_OBJECT_SIGNED), SERVER_NAME, KEY_ID, decoded)
    assert key_id(decoded) == KEY_ID


@pytest.mark.parametrize(
    ("kid", "b64"), [("curve25519:1", "AAAA"), ("ed25519", "AAAA"), ("ed25519:1", "AAAA")]
)
def test_decode_verify_key_rejects_malformed(kid, b64):
    with pytest.raises(ValueError):
        decode_verify_key_base64(kid, b64)


# -------------------------------------------------- who must sign an event


def _member(content: dict, sender: str = "@alice:a.example") -> dict:
    return {
        "type": "m.room.member",
        "state_key": sender,
        "sender": sender,
        "room_id": "!r:a.example",
        "content": content,
    }


def test_sender_server_must_sign():
    pdu = {"type": "m.room.message", "sender": "@alice:a.example:8448", "content": {}}
    assert servers_that_must_sign(pdu, room_version("10")) == {"a.example:8448"}


@pytest.mark.parametrize("version", ["1", "2"])
def test_v1_v2_event_id_server_must_sign(version):
    pdu = {"type": "m.room.message", "sender": "@alice:a.example", "event_id": "$x:b.example"}
    assert servers_that_must_sign(pdu, room_version(version)) == {"a.example", "b.example"}


def test_v3_plus_ignores_event_id():
    pdu = {"type": "m.room.message", "sender": "@alice:a.example", "event_id": "$x:b.example"}
    assert servers_that_must_sign(pdu, room_version("3")) == {"a.example"}


@pytest.mark.parametrize("version", [v for v in KNOWN_ROOM_VERSIONS if int(v) >= 8])
def test_join_authorised_via_users_server_must_sign(version):
    pdu = _member({"membership": "join", "join_authorised_via_users_server": "@mod:c.example"})
    assert servers_that_must_sign(pdu, room_version(version)) == {"a.example", "c.example"}


@pytest.mark.parametrize("version", [v for v in KNOWN_ROOM_VERSIONS if int(v) < 8])
def test_join_authorised_ignored_before_v8(version):
    pdu = _member({"membership": "join", "join_authorised_via_users_server": "@mod:c.example"})
    pdu["event_id"] = "$e:a.example"
    assert servers_that_must_sign(pdu, room_version(version)) == {"a.example"}


def test_third_party_invite_exempts_sender_server():
    pdu = _member(
        {"membership": "invite", "third_party_invite": {"signed": {"mxid": "@b:b.example"}}}
    )
    pdu["state_key"] = "@b:b.example"
    assert servers_that_must_sign(pdu, room_version("10")) == set()
    pdu["event_id"] = "$e:b.example"
    assert servers_that_must_sign(pdu, room_version("1")) == {"b.example"}


def test_plain_invite_needs_sender_server():
    pdu = _member({"membership": "invite"})
    assert servers_that_must_sign(pdu, room_version("10")) == {"a.example"}


@pytest.mark.parametrize(
    "pdu",
    [
        {"type": "m.room.message", "sender": "alice"},
        {"type": "m.room.message"},
        {"type": "m.room.message", "sender": "@alice:"},
        _member({"membership": "join", "join_authorised_via_users_server": 5}),
    ],
)
def test_servers_that_must_sign_rejects_bad_identifiers(pdu):
    with pytest.raises(ValueError):
        servers_that_must_sign(pdu, room_version("10"))


def test_v1_needs_event_id():
    with pytest.raises(ValueError):
        servers_that_must_sign({"sender": "@a:a.example"}, room_version("1"))


# ------------------------------------------------------ key validity (v5+)


@pytest.mark.parametrize(
    ("version", "valid_until", "expected"),
    [("4", 0, True), ("5", 999_999, False), ("5", 1_000_000, True), ("12", 2_000_000, True)],
)
def test_key_valid_for_event(version, valid_until, expected):
    pdu = json.loads(MINIMAL_EVENT)  # origin_server_ts 1000000
    assert key_valid_for_event(pdu, room_version(version), valid_until) is expected


def test_key_validity_needs_a_timestamp_from_v5():
    assert key_valid_for_event({}, room_version("5"), 10**15) is False
