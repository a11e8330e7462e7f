"""Content hashes, reference hashes, event IDs and v12 room IDs."""

from __future__ import annotations

import copy
import hashlib
import json
import re

import pytest
from unpaddedbase64 import decode_base64, encode_base64

from protocol.canonical_json import encode_canonical_json
from protocol.event_ids import compute_event_id, make_v1_event_id, room_id_for_create_event
from protocol.events import Event
from protocol.hashes import (
    add_content_hash,
    check_content_hash,
    compute_content_hash,
    compute_reference_hash,
    pdu_after_hash_check,
)
from protocol.redaction import redact_pdu
from protocol.room_versions import KNOWN_ROOM_VERSIONS, EventFormat, room_version
from protocol.signing import decode_signing_key_base64, sign_event

# Events and expected hashes from the spec's "Event Signing" test vectors.
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
MINIMAL_EVENT_SHA256 = "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"

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
REDACTABLE_EVENT_SHA256 = "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"

HASH_VERSIONS = [v for v in KNOWN_ROOM_VERSIONS.values() if v.uses_hash_event_ids]
V1_VERSIONS = [v for v in KNOWN_ROOM_VERSIONS.values() if not v.uses_hash_event_ids]


def _message(depth: int = 5, body: str = "hello") -> dict:
    return {
        "type": "m.room.message",
        "room_id": "!r:example.org",
        "sender": "@alice:example.org",
        "origin_server_ts": 1_700_000_000_000,
        "depth": depth,
        "prev_events": ["$prev"],
        "auth_events": ["$create", "$member", "$pl"],
        "content": {"msgtype": "m.text", "body": body},
    }


# ----------------------------------------------------------- content hash


@pytest.mark.parametrize(
    ("event", "expected"),
    [(MINIMAL_EVENT, MINIMAL_EVENT_SHA256), (REDACTABLE_EVENT, REDACTABLE_EVENT_SHA256)],
    ids=["minimal-event", "redactable-event"],
)
def test_spec_content_hashes(event, expected):
    pdu = json.loads(event)
    assert encode_base64(compute_content_hash(pdu)) == expected
    hashed = add_content_hash(pdu)
    assert hashed["hashes"] == {"sha256": expected}
    assert check_content_hash(hashed)
    assert pdu == json.loads(event)  # input untouched


def test_content_hash_ignores_unsigned_signatures_and_hashes():
    pdu = _message()
    base = compute_content_hash(pdu)
    noisy = dict(pdu, unsigned={"age": 1}, signatures={"s": {}}, hashes={"sha256": "x"})
    assert compute_content_hash(noisy) == base


def test_content_hash_is_sha256_of_canonical_json():
    pdu = _message()
    assert compute_content_hash(pdu) == hashlib.sha256(encode_canonical_json(pdu)).digest()


def test_add_content_hash_keeps_other_algorithms():
    hashed = add_content_hash(dict(_message(), hashes={"sha512": "future"}))
    assert set(hashed["hashes"]) == {"sha256", "sha512"}


@pytest.mark.parametrize(
    "hashes",
    [None, {}, {"sha256": 5}, {"sha256": "!!!"}, {"sha256": "AAAA"}, "not-an-object"],
    ids=["absent", "empty", "not-string", "bad-base64", "wrong-hash", "not-object"],
)
def test_check_content_hash_failures(hashes):
    pdu = _message()
    if hashes is not None:
        pdu["hashes"] = hashes
    assert check_content_hash(pdu) is False


def test_check_content_hash_catches_tampered_content():
    pdu = add_content_hash(_message())
    pdu["content"]["body"] = "tampered"
    assert not check_content_hash(pdu)


def test_check_content_hash_accepts_padded_base64():
    pdu = add_content_hash(_message())
    pdu["hashes"]["sha256"] += "="
    assert check_content_hash(pdu)


def test_pdu_after_hash_check():
    rv = room_version("10")
    good = add_content_hash(_message())
    assert pdu_after_hash_check(good, rv) == good
    bad = copy.deepcopy(good)
    bad["content"]["body"] = "tampered"
    assert pdu_after_hash_check(bad, rv) == redact_pdu(bad, rv)
    assert pdu_after_hash_check(bad, rv)["content"] == {}


# --------------------------------------------------------- reference hash


@pytest.mark.parametrize("rv", list(KNOWN_ROOM_VERSIONS.values()), ids=lambda v: f"v{v.identifier}")
def test_reference_hash_covers_only_the_redacted_event(rv):
    pdu = add_content_hash(_message())
    ref = compute_reference_hash(pdu, rv)
    assert (
        ref
        == hashlib.sha256(
            encode_canonical_json(
                {k: v for k, v in redact_pdu(pdu, rv).items() if k != "signatures"}
            )
        ).digest()
    )
    # Not covered: signatures, unsigned, age_ts, redactable content.
    assert compute_reference_hash(dict(pdu, signatures={"x": {"ed25519:1": "s"}}), rv) == ref
    assert compute_reference_hash(dict(pdu, unsigned={"age": 3}, age_ts=9), rv) == ref
    assert compute_reference_hash(redact_pdu(pdu, rv), rv) == ref
    # Covered: protected fields and the content hash.
    assert compute_reference_hash(dict(pdu, depth=6), rv) != ref
    assert compute_reference_hash(add_content_hash(_message(body="other")), rv) != ref


def test_reference_hash_depends_on_version_rules():
    pdu = add_content_hash(dict(_message(), origin="example.org"))
    # v11 no longer protects `origin`, so the redacted form differs.
    assert compute_reference_hash(pdu, room_version("10")) != compute_reference_hash(
        pdu, room_version("11")
    )


# ---------------------------------------------------------------- event IDs

V3_ID = re.compile(r"^\$[A-Za-z0-9+/]{43}$")
V4_ID = re.compile(r"^\$[A-Za-z0-9_-]{43}$")


@pytest.mark.parametrize("rv", HASH_VERSIONS, ids=lambda v: f"v{v.identifier}")
def test_hash_event_id_is_reference_hash(rv):
    pdu = add_content_hash(_message())
    event_id = compute_event_id(pdu, rv)
    assert (V3_ID if rv.event_format is EventFormat.V2 else V4_ID).match(event_id)
    assert decode_base64(event_id[1:]) == compute_reference_hash(pdu, rv)


def _pdu_whose_id_has_special_chars() -> dict:
    """A PDU whose v3 ID contains `+` or `/`, found by varying the depth."""
    for depth in range(1, 10_000):
        pdu = add_content_hash(_message(depth=depth))
        eid = compute_event_id(pdu, room_version("3"))
        if "+" in eid and "/" in eid:
            return pdu
    raise AssertionError("no PDU found")  # pragma: no cover


def test_v3_and_v4_encodings_differ_only_in_alphabet():
    pdu = _pdu_whose_id_has_special_chars()
    v3 = compute_event_id(pdu, room_version("3"))
    v4 = compute_event_id(pdu, room_version("4"))
    assert V3_ID.match(v3) and V4_ID.match(v4)
    assert "+" in v3 and "/" in v3
    assert "+" not in v4 and "/" not in v4
    assert v4 == v3.replace("+", "-").replace("/", "_")
    # v4..v10 share redaction rules for messages, so the ID is the same.
    assert compute_event_id(pdu, room_version("10")) == v4


@pytest.mark.parametrize("rv", HASH_VERSIONS, ids=lambda v: f"v{v.identifier}")
def test_event_id_round_trips(rv):
    key = decode_signing_key_base64("ed25519", "1", "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1")
    pdu = _message()
    unsigned_id = compute_event_id(add_content_hash(pdu), rv)
    signed = sign_event(pdu, rv, "example.org", key)
    event_id = compute_event_id(signed, rv)
    # Signing, adding unsigned data, redacting and a JSON round trip keep the ID.
    assert event_id == unsigned_id
    assert compute_event_id(dict(signed, unsigned={"age": 5}), rv) == event_id
    assert compute_event_id(redact_pdu(signed, rv), rv) == event_id
    assert compute_event_id(json.loads(json.dumps(signed)), rv) == event_id
    assert Event(signed, rv, event_id).event_id == event_id


@pytest.mark.parametrize("rv", HASH_VERSIONS, ids=lambda v: f"v{v.identifier}")
def test_stray_event_id_field_changes_a_hash_id(rv):
    # v3+ PDUs do not carry `event_id`, but redaction still protects the key, so
    # one left in a PDU is hashed: strip it before computing or sending.
    pdu = add_content_hash(_message())
    event_id = compute_event_id(pdu, rv)
    assert compute_event_id(dict(pdu, event_id=event_id), rv) != event_id


@pytest.mark.parametrize("rv", V1_VERSIONS, ids=lambda v: f"v{v.identifier}")
def test_v1_v2_event_id_is_carried(rv):
    pdu = json.loads(REDACTABLE_EVENT)
    assert compute_event_id(pdu, rv) == "$0:domain"
    del pdu["event_id"]
    with pytest.raises(ValueError):
        compute_event_id(pdu, rv)
    with pytest.raises(ValueError):
        compute_event_id(dict(pdu, event_id=7), rv)


def test_make_v1_event_id():
    assert make_v1_event_id("abc123", "example.org:8448") == "$abc123:example.org:8448"
    for local, server in [("", "s"), ("a:b", "s"), ("a", ""), ("x" * 300, "s")]:
        with pytest.raises(ValueError):
            make_v1_event_id(local, server)


# --------------------------------------------------------------- v12 room IDs


def _v12_create() -> dict:
    return add_content_hash(
        {
            "type": "m.room.create",
            "state_key": "",
            "sender": "@alice:example.org",
            "origin_server_ts": 1_700_000_000_000,
            "depth": 1,
            "prev_events": [],
            "auth_events": [],
            "content": {"room_version": "12", "additional_creators": ["@bob:example.org"]},
        }
    )


def test_v12_room_id_is_create_event_id_with_bang():
    create = _v12_create()
    v12 = room_version("12")
    event_id = compute_event_id(create, v12)
    room_id = room_id_for_create_event(create)
    assert room_id == "!" + event_id[1:]
    assert V4_ID.match("$" + room_id[1:])
    assert room_id_for_create_event(create, v12) == room_id
    # protocol.events derives the same room ID from the event ID.
    assert Event(create, v12, event_id).room_id == room_id


def test_v12_room_id_covers_whole_create_content():
    # v11+ redaction keeps all of the create content, so it is in the room ID.
    other = _v12_create()
    other["content"]["additional_creators"] = []
    other = add_content_hash(other)
    assert room_id_for_create_event(other) != room_id_for_create_event(_v12_create())


@pytest.mark.parametrize(
    "change",
    [
        {"type": "m.room.member"},
        {"state_key": "x"},
        {"content": {"room_version": "11"}},
        {"content": {}},  # absent room_version means "1"
        {"content": {"room_version": "nope"}},
    ],
    ids=["not-create", "state-key", "v11", "implicit-v1", "unknown-version"],
)
def test_room_id_for_create_event_rejects(change):
    with pytest.raises(ValueError):
        room_id_for_create_event(dict(_v12_create(), **change))


def test_room_id_for_create_event_rejects_explicit_older_version():
    with pytest.raises(ValueError):
        room_id_for_create_event(_v12_create(), room_version("11"))
