"""Filters: shape checks with the right error, matching, and event_fields projection."""

from __future__ import annotations

import pytest

from actors.sync.filters import (
    RoomEventFilter,
    SyncFilter,
    json_query_param,
    parse_room_event_filter,
    parse_sync_filter,
    project_fields,
    split_field_path,
)
from protocol.errors import MatrixError, bad_json

SPEC_EXAMPLE = {
    "room": {
        "state": {"types": ["m.room.*"], "not_rooms": ["!726s6s6q:example.com"]},
        "timeline": {
            "limit": 10, "types": ["m.room.message"],
            "not_rooms": ["!726s6s6q:example.com"], "not_senders": ["@spam:example.com"],
        },
        "ephemeral": {"types": ["m.receipt", "m.typing"]},
    },
    "presence": {"types": ["m.presence"], "not_senders": ["@alice:example.com"]},
    "event_format": "client",
    "event_fields": ["type", "content", "sender"],
}


def test_the_spec_example_parses() -> None:
    f = parse_sync_filter(SPEC_EXAMPLE, bad_json)
    assert f.room.timeline.limit == 10
    assert f.room.timeline.not_senders == ("@spam:example.com",)
    assert f.room.state.types == ("m.room.*",)
    assert f.event_fields == ("type", "content", "sender")
    assert f.presence.not_senders == ("@alice:example.com",)


def test_empty_filter_is_the_default() -> None:
    assert parse_sync_filter({}) == SyncFilter()


@pytest.mark.parametrize("bad", [
    [],
    {"event_format": "xml"},
    {"event_fields": "type"},
    {"event_fields": [1]},
    {"room": []},
    {"room": {"rooms": "!a:b"}},
    {"room": {"include_leave": "yes"}},
    {"room": {"timeline": {"limit": "10"}}},
    {"room": {"timeline": {"limit": -1}}},
    {"room": {"timeline": {"limit": 1.5}}},
    {"room": {"timeline": {"limit": True}}},
    {"room": {"state": {"lazy_load_members": 1}}},
    {"room": {"timeline": {"contains_url": "true"}}},
    {"presence": {"senders": [None]}},
    {"account_data": {"not_types": {}}},
])
def test_malformed_filters_get_the_callers_error(bad) -> None:
    with pytest.raises(MatrixError) as e:
        parse_sync_filter(bad, bad_json)
    assert e.value.errcode == "M_BAD_JSON"
    with pytest.raises(MatrixError) as e:
        parse_sync_filter(bad)
    assert e.value.errcode == "M_INVALID_PARAM"


def test_unknown_keys_are_ignored() -> None:
    assert parse_sync_filter({"org.example": 1, "room": {"x": 2}}) == SyncFilter()


@pytest.mark.parametrize(("flt", "event", "expected"), [
    ({}, ("!r:x", "m.room.message", "@a:x", {}), True),
    ({"types": ["m.room.*"]}, ("!r:x", "m.room.message", "@a:x", {}), True),
    ({"types": ["m.room.*"]}, ("!r:x", "m.reaction", "@a:x", {}), False),
    ({"types": ["*"]}, ("!r:x", "anything", "@a:x", {}), True),
    ({"types": []}, ("!r:x", "m.room.message", "@a:x", {}), False),
    ({"types": ["m.room.message"], "not_types": ["m.room.*"]},
     ("!r:x", "m.room.message", "@a:x", {}), False),
    ({"types": ["m.?oom"]}, ("!r:x", "m.room", "@a:x", {}), False),
    ({"senders": ["@a:x"]}, ("!r:x", "t", "@a:x", {}), True),
    ({"senders": ["@a:x"], "not_senders": ["@a:x"]}, ("!r:x", "t", "@a:x", {}), False),
    ({"senders": ["@b:x"]}, ("!r:x", "t", "@a:x", {}), False),
    ({"rooms": ["!r:x"], "not_rooms": ["!r:x"]}, ("!r:x", "t", "@a:x", {}), False),
    ({"rooms": ["!q:x"]}, ("!r:x", "t", "@a:x", {}), False),
    ({"contains_url": True}, ("!r:x", "t", "@a:x", {"url": "mxc://a/b"}), True),
    ({"contains_url": True}, ("!r:x", "t", "@a:x", {}), False),
    ({"contains_url": False}, ("!r:x", "t", "@a:x", {"url": "mxc://a/b"}), False),
    ({"contains_url": False}, ("!r:x", "t", "@a:x", None), True),
])
def test_room_event_filter_matching(flt, event, expected: bool) -> None:
    assert parse_room_event_filter(flt).matches(*event) is expected


def test_limit_defaults_and_caps() -> None:
    assert RoomEventFilter().limit_or(10, 100) == 10
    assert parse_room_event_filter({"limit": 5000}).limit_or(10, 100) == 100
    assert parse_room_event_filter({"limit": 0}).limit_or(10, 100) == 0


def test_json_query_param() -> None:
    assert json_query_param('{"a": 1}') == {"a": 1}
    with pytest.raises(MatrixError) as e:
        json_query_param("{not json")
    assert e.value.errcode == "M_INVALID_PARAM"


@pytest.mark.parametrize(("path", "parts"), [
    ("content", ["content"]),
    ("content.body", ["content", "body"]),
    ("content.m\\.relates_to", ["content", "m.relates_to"]),
    ("a\\\\.b", ["a\\", "b"]),
    ("a\\b", ["a\\b"]),
])
def test_field_paths(path: str, parts: list[str]) -> None:
    assert split_field_path(path) == parts


def test_project_fields_copies_and_nests() -> None:
    event = {
        "type": "m.room.message", "sender": "@a:x", "event_id": "$e",
        "content": {"body": "hi", "msgtype": "m.text", "m.relates_to": {"rel_type": "r"}},
    }
    out = project_fields(event, ["type", "content.body", "content.m\\.relates_to", "nope.x"])
    assert out == {"type": "m.room.message",
                   "content": {"body": "hi", "m.relates_to": {"rel_type": "r"}}}
    out = project_fields(event, ["content", "content.body"])
    out["content"]["body"] = "changed"
    assert event["content"]["body"] == "hi"
