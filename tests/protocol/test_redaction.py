"""The redaction algorithm per room version group, as a table of cases.

Groups follow where the spec's algorithm changes: 1-5 (v1-redactions), 6-7
(aliases no longer kept), 8 (join_rules keeps `allow`), 9-10 (member keeps
`join_authorised_via_users_server`), 11-12 (v11-redactions).
"""

from __future__ import annotations

import copy

import pytest

from protocol.redaction import kept_top_level_keys, redact_client_event, redact_pdu
from protocol.room_versions import RoomVersion, room_version

GROUPS: dict[str, list[str]] = {
    "1-5": ["1", "2", "3", "4", "5"],
    "6-7": ["6", "7"],
    "8": ["8"],
    "9-10": ["9", "10"],
    "11-12": ["11", "12"],
}


def _versions(group: str) -> list[RoomVersion]:
    return [room_version(v) for v in GROUPS[group]]


def _cases() -> list[tuple[str, RoomVersion]]:
    return [(g, rv) for g in GROUPS for rv in _versions(g)]


CASE_IDS = [f"{g}:v{rv.identifier}" for g, rv in _cases()]

# ------------------------------------------------------------ top level

ALL_TOP_LEVEL = {
    "event_id": "$e:s",
    "type": "m.room.message",
    "room_id": "!r:s",
    "sender": "@a:s",
    "state_key": "",
    "content": {},
    "hashes": {"sha256": "abc"},
    "signatures": {"s": {"ed25519:1": "sig"}},
    "depth": 7,
    "prev_events": ["$p"],
    "prev_state": [],
    "auth_events": ["$a"],
    "origin": "s",
    "origin_server_ts": 1234,
    "membership": "join",
    "unsigned": {"age_ts": 1},
    "redacts": "$old",
    "age_ts": 5,
    "custom": "dropped",
}

ALWAYS_KEPT = {
    "event_id",
    "type",
    "room_id",
    "sender",
    "state_key",
    "content",
    "hashes",
    "signatures",
    "depth",
    "prev_events",
    "auth_events",
    "origin_server_ts",
}
KEPT_BEFORE_V11 = {"origin", "membership", "prev_state"}

EXPECTED_TOP_LEVEL = {
    "1-5": ALWAYS_KEPT | KEPT_BEFORE_V11,
    "6-7": ALWAYS_KEPT | KEPT_BEFORE_V11,
    "8": ALWAYS_KEPT | KEPT_BEFORE_V11,
    "9-10": ALWAYS_KEPT | KEPT_BEFORE_V11,
    "11-12": ALWAYS_KEPT,
}


@pytest.mark.parametrize(("group", "rv"), _cases(), ids=CASE_IDS)
def test_top_level_keys(group, rv):
    redacted = redact_pdu(ALL_TOP_LEVEL, rv)
    assert set(redacted) == EXPECTED_TOP_LEVEL[group]
    assert set(kept_top_level_keys(rv)) == EXPECTED_TOP_LEVEL[group]
    # `unsigned`, the old top-level `redacts` and `age_ts` never survive.
    assert not {"unsigned", "redacts", "age_ts", "custom"} & set(redacted)
    for key in redacted:
        if key != "content":
            assert redacted[key] == ALL_TOP_LEVEL[key]


# --------------------------------------------------------------- content

FULL_CONTENT: dict[str, dict] = {
    "m.room.member": {
        "membership": "join",
        "displayname": "Alice",
        "avatar_url": "mxc://s/a",
        "join_authorised_via_users_server": "@mod:s",
        "third_party_invite": {
            "display_name": "alice@example.org",
            "signed": {"mxid": "@a:s", "token": "tok", "signatures": {"id": {"ed25519:0": "x"}}},
        },
        "reason": "hello",
    },
    "m.room.create": {
        "creator": "@a:s",
        "room_version": "9",
        "m.federate": False,
        "predecessor": {"room_id": "!old:s", "event_id": "$e"},
        "type": "m.space",
    },
    "m.room.join_rules": {
        "join_rule": "restricted",
        "allow": [{"type": "m.room_membership", "room_id": "!o:s"}],
        "extra": 1,
    },
    "m.room.power_levels": {
        "ban": 50,
        "events": {"m.room.name": 50},
        "events_default": 0,
        "invite": 0,
        "kick": 50,
        "redact": 50,
        "state_default": 50,
        "users": {"@a:s": 100},
        "users_default": 0,
        "notifications": {"room": 50},
        "extra": 1,
    },
    "m.room.aliases": {"aliases": ["#a:s"], "extra": 1},
    "m.room.history_visibility": {"history_visibility": "shared", "extra": 1},
    "m.room.redaction": {"redacts": "$target", "reason": "spam"},
    "m.room.message": {"msgtype": "m.text", "body": "hi"},
    "m.room.topic": {"topic": "secret"},
    "m.room.third_party_invite": {"display_name": "b", "key_validity_url": "u", "public_key": "k"},
}

PL_KEPT = {
    "ban",
    "events",
    "events_default",
    "kick",
    "redact",
    "state_default",
    "users",
    "users_default",
}

_BASE: dict[str, dict[str, set[str]]] = {
    "m.room.member": {"membership"},
    "m.room.create": {"creator"},
    "m.room.join_rules": {"join_rule"},
    "m.room.power_levels": PL_KEPT,
    "m.room.aliases": {"aliases"},
    "m.room.history_visibility": {"history_visibility"},
    "m.room.redaction": set(),
    "m.room.message": set(),
    "m.room.topic": set(),
    "m.room.third_party_invite": set(),
}


_V6 = {**_BASE, "m.room.aliases": set()}
_V8 = {**_V6, "m.room.join_rules": {"join_rule", "allow"}}
_V9 = {**_V8, "m.room.member": {"membership", "join_authorised_via_users_server"}}
_V11 = {
    **_V9,
    "m.room.member": {"membership", "join_authorised_via_users_server", "third_party_invite"},
    "m.room.create": set(FULL_CONTENT["m.room.create"]),
    "m.room.power_levels": PL_KEPT | {"invite"},
    "m.room.redaction": {"redacts"},
}

# group -> event type -> content keys that survive redaction
EXPECTED_CONTENT_KEYS: dict[str, dict[str, set[str]]] = {
    "1-5": _BASE,
    "6-7": _V6,
    "8": _V8,
    "9-10": _V9,
    "11-12": _V11,
}

CONTENT_CASES = [(g, rv, t) for g, rv in _cases() for t in FULL_CONTENT]
CONTENT_IDS = [f"{g}:v{rv.identifier}:{t}" for g, rv, t in CONTENT_CASES]


def _event(event_type: str, content: dict) -> dict:
    return {
        "type": event_type,
        "state_key": "@a:s" if event_type == "m.room.member" else "",
        "sender": "@a:s",
        "room_id": "!r:s",
        "content": copy.deepcopy(content),
        "origin_server_ts": 1,
        "depth": 2,
        "prev_events": [],
        "auth_events": [],
        "hashes": {"sha256": "h"},
        "signatures": {},
    }


@pytest.mark.parametrize(("group", "rv", "event_type"), CONTENT_CASES, ids=CONTENT_IDS)
def test_content_keys(group, rv, event_type):
    event = _event(event_type, FULL_CONTENT[event_type])
    redacted = redact_pdu(event, rv)
    assert set(redacted["content"]) == EXPECTED_CONTENT_KEYS[group][event_type]
    for key, value in redacted["content"].items():
        if key != "third_party_invite":
            assert value == FULL_CONTENT[event_type][key]


# ------------------------------------------- v11 member third_party_invite


@pytest.mark.parametrize(("group", "rv"), _cases(), ids=CASE_IDS)
def test_third_party_invite_keeps_only_signed_from_v11(group, rv):
    content = FULL_CONTENT["m.room.member"]
    redacted = redact_pdu(_event("m.room.member", content), rv)["content"]
    if group == "11-12":
        assert redacted["third_party_invite"] == {"signed": content["third_party_invite"]["signed"]}
    else:
        assert "third_party_invite" not in redacted


@pytest.mark.parametrize(
    ("tpi", "expected"),
    [
        ({"display_name": "x"}, {}),  # the key is protected, but holds no `signed`
        ({"signed": "odd", "display_name": "x"}, {"signed": "odd"}),
        ("not-an-object", None),  # nothing called `signed` to keep
        (None, None),
    ],
)
def test_third_party_invite_edge_cases_v11(tpi, expected):
    event = _event("m.room.member", {"membership": "invite", "third_party_invite": tpi})
    redacted = redact_pdu(event, room_version("11"))["content"]
    if expected is None:
        assert redacted == {"membership": "invite"}
    else:
        assert redacted == {"membership": "invite", "third_party_invite": expected}


def test_third_party_invite_key_outside_member_is_not_special():
    event = _event("m.room.message", {"third_party_invite": {"signed": {}}})
    assert redact_pdu(event, room_version("11"))["content"] == {}


# ------------------------------------------------------------ properties


@pytest.mark.parametrize(("group", "rv"), _cases(), ids=CASE_IDS)
def test_redaction_is_idempotent_and_pure(group, rv):
    for event_type, content in FULL_CONTENT.items():
        event = _event(event_type, content)
        event["unsigned"] = {"age": 1}
        before = copy.deepcopy(event)
        once = redact_pdu(event, rv)
        assert event == before
        assert redact_pdu(once, rv) == once


def test_result_does_not_share_structure_with_input():
    event = _event("m.room.power_levels", FULL_CONTENT["m.room.power_levels"])
    redacted = redact_pdu(event, room_version("10"))
    redacted["content"]["users"]["@x:s"] = 1
    redacted["signatures"]["new"] = {}
    assert "@x:s" not in event["content"]["users"]
    assert "new" not in event["signatures"]


@pytest.mark.parametrize("content", [None, "text", 5, ["list"]])
def test_missing_or_non_object_content_becomes_empty(content):
    event = _event("m.room.member", {})
    if content is None:
        del event["content"]
    else:
        event["content"] = content
    assert redact_pdu(event, room_version("10"))["content"] == {}


def test_v12_create_event_without_room_id():
    create = _event("m.room.create", {"room_version": "12", "additional_creators": ["@b:s"]})
    del create["room_id"]
    redacted = redact_pdu(create, room_version("12"))
    assert "room_id" not in redacted
    assert redacted["content"] == {"room_version": "12", "additional_creators": ["@b:s"]}


def test_content_rules_follow_type_even_without_state_key():
    # The spec keys the content rules on `type` alone.
    event = _event("m.room.history_visibility", {"history_visibility": "joined", "x": 1})
    del event["state_key"]
    assert redact_pdu(event, room_version("1"))["content"] == {"history_visibility": "joined"}


# ------------------------------------------------------------ client format


def _client_event() -> dict:
    return {
        "type": "m.room.message",
        "event_id": "$e",
        "room_id": "!r:s",
        "sender": "@a:s",
        "origin_server_ts": 10,
        "content": {"body": "hi", "msgtype": "m.text"},
        "unsigned": {
            "age": 100,
            "transaction_id": "txn",
            "prev_content": {"body": "old"},
            "m.relations": {"m.thread": {}},
        },
    }


def test_client_event_gets_redacted_because_and_keeps_delivery_keys():
    because = {"type": "m.room.redaction", "event_id": "$r", "content": {"redacts": "$e"}}
    redacted = redact_client_event(_client_event(), room_version("11"), because)
    assert redacted["content"] == {}
    assert redacted["unsigned"] == {
        "age": 100,
        "transaction_id": "txn",
        "redacted_because": because,
    }
    assert {"type", "event_id", "room_id", "sender", "origin_server_ts"} <= set(redacted)


def test_client_event_without_redacted_because_keeps_existing_one():
    event = _client_event()
    event["unsigned"] = {"redacted_because": {"event_id": "$r"}, "prev_content": {}}
    redacted = redact_client_event(event, room_version("10"))
    assert redacted["unsigned"] == {"redacted_because": {"event_id": "$r"}}


def test_client_event_with_nothing_left_in_unsigned_has_none():
    event = _client_event()
    event["unsigned"] = {"prev_content": {"body": "old"}}
    assert "unsigned" not in redact_client_event(event, room_version("10"))


def test_client_and_pdu_redaction_agree_outside_unsigned():
    event = _client_event()
    for version in ("1", "11"):
        rv = room_version(version)
        client = redact_client_event(event, rv)
        client.pop("unsigned", None)
        assert client == redact_pdu(event, rv)
