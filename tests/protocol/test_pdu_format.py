"""validate_pdu against the pdu_v1/v3/v4/v6/v11/v12 schemas and the size limits."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from protocol.canonical_json import encode_canonical_json
from protocol.pdu_format import MAX_PDU_BYTES, PduFormatError, validate_pdu
from protocol.room_versions import KNOWN_ROOM_VERSIONS, EventFormat, RoomVersion

ALL_VERSIONS = sorted(KNOWN_ROOM_VERSIONS, key=int)
HASH = "ThisHashCoversAllFieldsInCaseThisIsRedacted"
V3_ID = "$acR1l0raoZnm60CBwAVgqbZqoO/mYU81xysh1u7XcJk"  # standard alphabet (has "/")
V4_ID = "$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg"  # URL-safe alphabet (has "-", "_")
V12_ROOM = "!Nhcu5BS-UMnFX7hBVfVSoXiD7OgH6iRT-xyIuqDnpYQ"


def _event_id(rv: RoomVersion, n: int = 0) -> str:
    if rv.event_format is EventFormat.V1:
        return f"$event{n}:example.com"
    if rv.event_format is EventFormat.V2:
        return V3_ID[:-2] + f"{n:02d}"
    return V4_ID[:-2] + f"{n:02d}"


def _ref(rv: RoomVersion, n: int = 0) -> Any:
    if rv.event_format is EventFormat.V1:
        return [_event_id(rv, n), {"sha256": HASH}]
    return _event_id(rv, n)


def make_pdu(version: str) -> dict[str, Any]:
    """A well-formed message PDU of `version`, shaped like the spec's examples."""
    rv = KNOWN_ROOM_VERSIONS[version]
    pdu: dict[str, Any] = {
        "room_id": V12_ROOM if rv.room_id_is_create_event_id else "!abc123:example.com",
        "sender": "@alice:example.com",
        "origin_server_ts": 1234567890,
        "type": "m.room.message",
        "content": {"msgtype": "m.text", "body": "hello"},
        "depth": 12,
        "prev_events": [_ref(rv, 1)],
        "auth_events": [_ref(rv, 2), _ref(rv, 3)],
        "hashes": {"sha256": HASH},
        "signatures": {"example.com": {"ed25519:key_version": "86BytesOfSignature"}},
        "unsigned": {"age": 4612},
    }
    if rv.event_format is EventFormat.V1:
        pdu["event_id"] = "$a4ecee13e2accdadf56c1025:example.com"
    return pdu


def make_create(version: str) -> dict[str, Any]:
    pdu = make_pdu(version)
    pdu.update(
        type="m.room.create",
        state_key="",
        content={"room_version": version},
        depth=1,
        prev_events=[],
        auth_events=[],
    )
    if KNOWN_ROOM_VERSIONS[version].room_id_is_create_event_id:
        del pdu["room_id"]
    return pdu


def check(pdu: object, version: str) -> None:
    validate_pdu(pdu, KNOWN_ROOM_VERSIONS[version])  # type: ignore[arg-type]


def rejected(pdu: object, version: str, fragment: str) -> None:
    with pytest.raises(PduFormatError) as info:
        check(pdu, version)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


# --- well-formed PDUs -------------------------------------------------------


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_well_formed_message(version: str) -> None:
    check(make_pdu(version), version)


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_well_formed_create(version: str) -> None:
    check(make_create(version), version)


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_well_formed_state_event(version: str) -> None:
    pdu = make_pdu(version)
    pdu.update(type="m.room.member", state_key="@bob:example.com", content={"membership": "join"})
    check(pdu, version)


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_optional_fields_may_be_absent(version: str) -> None:
    pdu = make_pdu(version)
    del pdu["unsigned"]
    pdu["signatures"] = {}
    pdu["prev_events"] = []
    pdu["auth_events"] = []
    check(pdu, version)


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_historical_sender_accepted(version: str) -> None:
    pdu = make_pdu(version)
    pdu["sender"] = "@Alice Smith!:example.com"
    check(pdu, version)


@pytest.mark.parametrize("version", [v for v in ALL_VERSIONS if int(v) >= 3])
def test_event_id_is_ignored_from_v3(version: str) -> None:
    pdu = make_pdu(version)
    pdu["event_id"] = "$not-this-versions-format:example.com"
    check(pdu, version)
    pdu["event_id"] = 12
    check(pdu, version)


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_validation_does_not_modify_pdu(version: str) -> None:
    pdu = make_pdu(version)
    before = copy.deepcopy(pdu)
    check(pdu, version)
    assert pdu == before


# --- missing and mistyped fields --------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def drop(key: str) -> Mutation:
    def mutate(pdu: dict[str, Any]) -> None:
        del pdu[key]

    return mutate


def put(key: str, value: object) -> Mutation:
    def mutate(pdu: dict[str, Any]) -> None:
        pdu[key] = value

    return mutate


@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize(
    "mutate, fragment",
    [
        (drop("type"), "'type'"),
        (drop("sender"), "'sender'"),
        (drop("content"), "'content'"),
        (drop("origin_server_ts"), "'origin_server_ts'"),
        (drop("hashes"), "'hashes'"),
        (drop("signatures"), "'signatures'"),
        (drop("depth"), "'depth'"),
        (drop("prev_events"), "'prev_events'"),
        (drop("auth_events"), "'auth_events'"),
        (drop("room_id"), "'room_id'"),
        (put("type", 1), "'type'"),
        (put("type", None), "'type'"),
        (put("sender", ["@alice:example.com"]), "'sender'"),
        (put("sender", "alice"), "'sender'"),
        (put("sender", "@alice"), "'sender'"),
        (put("sender", "@alice:bad_server"), "'sender'"),
        (put("sender", "!alice:example.com"), "'sender'"),
        (put("sender", "@a\x00:example.com"), "'sender'"),
        (put("content", []), "'content'"),
        (put("content", "body"), "'content'"),
        (put("content", None), "'content'"),
        (put("origin_server_ts", "1234567890"), "'origin_server_ts'"),
        (put("origin_server_ts", True), "'origin_server_ts'"),
        (put("origin_server_ts", None), "'origin_server_ts'"),
        (put("hashes", []), "'hashes'"),
        (put("hashes", {}), "'sha256'"),
        (put("hashes", {"sha256": 1}), "'sha256'"),
        (put("hashes", {"sha512": HASH}), "'sha256'"),
        (put("signatures", []), "'signatures'"),
        (put("signatures", {"example.com": "sig"}), "'signatures'"),
        (put("signatures", {"example.com": {"ed25519:1": 1}}), "'signatures'"),
        (put("unsigned", []), "'unsigned'"),
        (put("unsigned", None), "'unsigned'"),
        (put("state_key", 1), "'state_key'"),
        (put("state_key", None), "'state_key'"),
        (put("depth", "12"), "'depth'"),
        (put("depth", True), "'depth'"),
        (put("depth", None), "'depth'"),
        (put("depth", -1), "'depth'"),
        (put("prev_events", None), "'prev_events'"),
        (put("prev_events", {}), "'prev_events'"),
        (put("auth_events", "$a:b"), "'auth_events'"),
        (put("room_id", 1), "'room_id'"),
        (put("room_id", "abc123:example.com"), "'room_id'"),
        (put("room_id", "#abc123:example.com"), "'room_id'"),
        (put("room_id", "!abc123:bad_server"), "'room_id'"),
    ],
)
def test_bad_fields(version: str, mutate: Mutation, fragment: str) -> None:
    pdu = make_pdu(version)
    mutate(pdu)
    rejected(pdu, version, fragment)


@pytest.mark.parametrize("value", [None, [], "pdu", 1])
def test_not_an_object(value: object) -> None:
    rejected(value, "11", "not a JSON object")


# --- size limits ------------------------------------------------------------

_255 = "é" * 127 + "a"  # 255 bytes of UTF-8
_256 = "é" * 128  # 256 bytes of UTF-8, only 128 characters


@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize("key", ["type", "state_key"])
def test_field_at_byte_limit(version: str, key: str) -> None:
    assert len(_255.encode()) == 255
    pdu = make_pdu(version)
    pdu[key] = _255
    check(pdu, version)


@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize("key", ["type", "state_key"])
def test_field_over_byte_limit(version: str, key: str) -> None:
    assert len(_256.encode()) == 256
    pdu = make_pdu(version)
    pdu[key] = _256
    rejected(pdu, version, f"'{key}' is 256 bytes")


def _long_user(n_bytes: int) -> str:
    return "@" + "a" * (n_bytes - len("@:example.com")) + ":example.com"


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_sender_byte_limit(version: str) -> None:
    pdu = make_pdu(version)
    pdu["sender"] = _long_user(255)
    check(pdu, version)
    pdu["sender"] = _long_user(256)
    rejected(pdu, version, "'sender' is 256 bytes")


@pytest.mark.parametrize("version", [v for v in ALL_VERSIONS if v != "12"])
def test_room_id_byte_limit(version: str) -> None:
    pdu = make_pdu(version)
    pdu["room_id"] = "!" + "r" * (255 - len("!:example.com")) + ":example.com"
    check(pdu, version)
    pdu["room_id"] = "!" + "r" * (256 - len("!:example.com")) + ":example.com"
    rejected(pdu, version, "'room_id' is 256 bytes")


@pytest.mark.parametrize("version", ["1", "2"])
def test_event_id_byte_limit(version: str) -> None:
    pdu = make_pdu(version)
    pdu["event_id"] = "$" + "e" * (255 - len("$:example.com")) + ":example.com"
    check(pdu, version)
    pdu["event_id"] = "$" + "e" * (256 - len("$:example.com")) + ":example.com"
    rejected(pdu, version, "'event_id' is 256 bytes")


def _padded_to(version: str, size: int) -> dict[str, Any]:
    pdu = make_pdu(version)
    pdu["content"]["body"] = ""
    base = len(encode_canonical_json(pdu))
    pdu["content"]["body"] = "x" * (size - base)
    assert len(encode_canonical_json(pdu)) == size
    return pdu


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_whole_pdu_size_limit(version: str) -> None:
    check(_padded_to(version, MAX_PDU_BYTES), version)
    rejected(_padded_to(version, MAX_PDU_BYTES + 1), version, "65537 bytes")


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_size_limit_counts_signatures_and_utf8_bytes(version: str) -> None:
    pdu = _padded_to(version, MAX_PDU_BYTES)
    pdu["signatures"]["other.example"] = {"ed25519:x": "s"}
    rejected(pdu, version, "limit is 65536")
    pdu = _padded_to(version, MAX_PDU_BYTES)
    pdu["content"]["body"] = pdu["content"]["body"][:-1] + "é"  # one more byte
    rejected(pdu, version, "65537 bytes")


# --- depth ------------------------------------------------------------------


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_depth_bounds(version: str) -> None:
    strict = KNOWN_ROOM_VERSIONS[version].strict_canonicaljson
    pdu = make_pdu(version)
    for depth in (0, 1, 2**53 - 1):
        pdu["depth"] = depth
        check(pdu, version)
    pdu["depth"] = 2**53
    if strict:
        rejected(pdu, version, "")
    else:
        check(pdu, version)
        pdu["depth"] = 2**63 - 1
        check(pdu, version)
        pdu["depth"] = 2**63
        rejected(pdu, version, "'depth'")


# --- event ID and event references ------------------------------------------


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize(
    "mutate",
    [
        drop("event_id"),
        put("event_id", None),
        put("event_id", V4_ID),
        put("event_id", "$x:bad_server"),
    ],
)
def test_v1_event_id_required_and_valid(version: str, mutate: Mutation) -> None:
    pdu = make_pdu(version)
    mutate(pdu)
    rejected(pdu, version, "'event_id'")


@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize("key, limit", [("prev_events", 20), ("auth_events", 10)])
def test_reference_count_limits(version: str, key: str, limit: int) -> None:
    rv = KNOWN_ROOM_VERSIONS[version]
    pdu = make_pdu(version)
    pdu[key] = [_ref(rv, n) for n in range(limit)]
    check(pdu, version)
    pdu[key].append(_ref(rv, limit))
    rejected(pdu, version, f"'{key}' has {limit + 1} entries")


@pytest.mark.parametrize("key", ["prev_events", "auth_events"])
@pytest.mark.parametrize(
    "version, refs",
    [
        # v1-2 need [event_id, hashes] pairs.
        ("1", ["$event1:example.com"]),
        ("1", [["$event1:example.com"]]),
        ("1", [["$event1:example.com", {"sha256": HASH}, 1]]),
        ("1", [["$event1:example.com", HASH]]),
        ("2", [[1, {"sha256": HASH}]]),
        ("2", [[V4_ID, {"sha256": HASH}]]),
        # v3+ need plain event IDs of their own format.
        ("3", [["$event1:example.com", {"sha256": HASH}]]),
        ("3", ["$event1:example.com"]),
        ("3", [V4_ID]),
        ("4", [V3_ID]),
        ("4", [V3_ID.replace("/", "+")]),
        ("6", [None]),
        ("11", [V4_ID[:-1]]),
        ("12", [V4_ID + "A"]),
        ("12", [V12_ROOM]),
    ],
)
def test_bad_references(version: str, refs: list[Any], key: str) -> None:
    pdu = make_pdu(version)
    pdu[key] = refs
    rejected(pdu, version, f"'{key}'")


@pytest.mark.parametrize("version", [v for v in ALL_VERSIONS if int(v) <= 10])
def test_top_level_redacts_before_v11(version: str) -> None:
    rv = KNOWN_ROOM_VERSIONS[version]
    pdu = make_pdu(version)
    pdu.update(type="m.room.redaction", content={}, redacts=_event_id(rv, 9))
    check(pdu, version)
    for bad in (None, 1, "$", V4_ID if rv.event_format is not EventFormat.V3 else V3_ID):
        pdu["redacts"] = bad
        rejected(pdu, version, "'redacts'")


@pytest.mark.parametrize("version", ["11", "12"])
def test_top_level_redacts_ignored_from_v11(version: str) -> None:
    pdu = make_pdu(version)
    pdu.update(type="m.room.redaction", content={"redacts": V4_ID}, redacts=None)
    check(pdu, version)


# --- room IDs per version ---------------------------------------------------


@pytest.mark.parametrize("version", [v for v in ALL_VERSIONS if v != "12"])
def test_v12_room_id_rejected_before_v12(version: str) -> None:
    pdu = make_pdu(version)
    pdu["room_id"] = V12_ROOM
    rejected(pdu, version, "'room_id'")


@pytest.mark.parametrize(
    "room_id",
    ["!abc123:example.com", "!" + V12_ROOM[1:] + ":example.com", V12_ROOM[:-1], "$" + V12_ROOM[1:]],
)
def test_v12_rejects_other_room_ids(room_id: str) -> None:
    pdu = make_pdu("12")
    pdu["room_id"] = room_id
    rejected(pdu, "12", "'room_id'")


# --- v12 create events ------------------------------------------------------


def test_v12_create_must_not_have_room_id() -> None:
    pdu = make_create("12")
    pdu["room_id"] = V12_ROOM
    rejected(pdu, "12", "must not have a 'room_id'")


@pytest.mark.parametrize("state_key", ["x", None, 0])
def test_v12_create_needs_empty_state_key(state_key: object) -> None:
    pdu = make_create("12")
    pdu["state_key"] = state_key
    rejected(pdu, "12", "'state_key'")
    del pdu["state_key"]
    rejected(pdu, "12", "'state_key'")


def test_v12_non_create_needs_room_id() -> None:
    pdu = make_pdu("12")
    del pdu["room_id"]
    rejected(pdu, "12", "no 'room_id'")


@pytest.mark.parametrize("version", [v for v in ALL_VERSIONS if v != "12"])
def test_create_needs_room_id_before_v12(version: str) -> None:
    pdu = make_create(version)
    del pdu["room_id"]
    rejected(pdu, version, "no 'room_id'")


# --- strict canonical JSON --------------------------------------------------


@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize(
    "where, value",
    [
        ("content", 1.5),
        ("content", 1.0),
        ("content", 2**53),
        ("content", -(2**53)),
        ("unsigned", 2**60),
        ("origin_server_ts", 2**53),
    ],
)
def test_strict_values_from_v6(version: str, where: str, value: object) -> None:
    pdu = make_pdu(version)
    if where == "origin_server_ts":
        pdu[where] = value
    else:
        pdu[where]["n"] = value
    if KNOWN_ROOM_VERSIONS[version].strict_canonicaljson:
        rejected(pdu, version, "canonical JSON")
    else:
        check(pdu, version)


@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize("value", [float("nan"), float("inf"), "\ud800"])
def test_unencodable_values_rejected_in_every_version(version: str, value: object) -> None:
    pdu = make_pdu(version)
    pdu["content"]["n"] = value
    rejected(pdu, version, "canonical JSON")


def test_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        check({}, "11")
