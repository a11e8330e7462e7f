"""Power level parsing, defaults, creators and the v12 infinite creator power."""

from __future__ import annotations

import math
from typing import Any

import pytest

from protocol import power_levels as pl
from protocol.events import CREATE, Event
from protocol.room_versions import room_version
from tests.protocol.event_factory import ALICE, ALL_VERSIONS, BOB, CAROL

V1, V5, V6, V9, V10, V11, V12 = (room_version(v) for v in ("1", "5", "6", "9", "10", "11", "12"))


def create_event(version: str, sender: str = ALICE, **content: Any) -> Event:
    rv = room_version(version)
    pdu: dict[str, Any] = {"type": CREATE, "state_key": "", "sender": sender, "content": content}
    if not rv.room_id_is_create_event_id:
        pdu["room_id"] = "!r:a.test"
    return Event(pdu, rv, "$create")


# --- parse_power_level ------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        (50, 50),
        (-5, -5),
        ("100", 100),
        ("000100", 100),
        ("+100", 100),
        ("-100", -100),
        (" 100 ", 100),
        (" 00100 ", 100),
        (" +100 ", 100),
        ("\t-7\n", -7),
    ],
)
@pytest.mark.parametrize("rv", [V1, V5, V6, V9], ids=lambda rv: f"v{rv.identifier}")
def test_stringy_power_levels_before_v10(rv: Any, value: object, expected: int) -> None:
    assert pl.parse_power_level(value, rv) == expected


@pytest.mark.parametrize(
    "value", ["", " ", "1.0", "1e3", "0x10", "+-1", "--1", "1 000", "ten", "1_000", "٣"]
)
def test_strings_that_are_not_integers(value: str) -> None:
    assert pl.parse_power_level(value, V1) is None
    assert pl.parse_power_level(value) is None


@pytest.mark.parametrize("value", [True, False, None, [], {}, [5]])
def test_non_numbers_are_never_power_levels(value: object) -> None:
    for rv in (V1, V6, V10, None):
        assert pl.parse_power_level(value, rv) is None


def test_floats_are_truncated_before_v6() -> None:
    assert pl.parse_power_level(50.57, V1) == 50
    assert pl.parse_power_level(5.114698e4, V5) == 51146
    assert pl.parse_power_level(-2.9, V1) == -2
    for bad in (math.inf, -math.inf, math.nan):
        assert pl.parse_power_level(bad, V1) is None


def test_floats_are_invalid_from_v6() -> None:
    assert pl.parse_power_level(50.0, V6) is None
    assert pl.parse_power_level(50.0, V10) is None


@pytest.mark.parametrize("rv", [V10, V11, V12], ids=lambda rv: f"v{rv.identifier}")
def test_only_integers_from_v10(rv: Any) -> None:
    assert pl.parse_power_level(50, rv) == 50
    assert pl.parse_power_level("50", rv) is None
    assert pl.parse_power_level(50.0, rv) is None
    assert not pl.is_valid_power_level("50", rv)


def test_without_a_version_every_encoding_is_read() -> None:
    assert pl.parse_power_level("50") == 50
    assert pl.parse_power_level(50.5) == 50


# --- defaults -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, default",
    [
        ("ban", 50),
        ("kick", 50),
        ("redact", 50),
        ("invite", 0),
        ("events_default", 0),
        ("state_default", 50),
        ("users_default", 0),
    ],
)
def test_named_level_defaults(name: str, default: int) -> None:
    assert pl.named_level(None, name) == default  # no power levels event
    assert pl.named_level({}, name) == default  # an event without the property
    assert pl.named_level({name: "bad"}, name, V1) == default
    assert pl.named_level({name: 7}, name) == 7


def test_notification_levels() -> None:
    assert pl.notification_level(None, "room") == 50
    assert pl.notification_level({"notifications": {}}, "room") == 50
    assert pl.notification_level({"notifications": {"room": 20}}, "room") == 20
    assert pl.notification_level({"notifications": {"room": "20"}}, "room", V6) == 20
    assert pl.notification_level({"notifications": "x"}, "room") == 50


def test_level_map_drops_unparseable_entries() -> None:
    content = {"users": {ALICE: 100, BOB: "50", CAROL: "x"}}
    assert pl.level_map(content, "users", V1) == {ALICE: 100, BOB: 50}
    assert pl.level_map(content, "users", V10) == {ALICE: 100}
    assert pl.level_map({"users": [ALICE]}, "users") == {}
    assert pl.level_map(None, "users") == {}


# --- required power level ------------------------------------------------------------


def test_required_level_without_power_levels_event() -> None:
    assert pl.required_power_level_for_event("m.room.message", False, None) == 0
    assert pl.required_power_level_for_event("m.room.name", True, None) == 50


def test_required_level_from_events_then_defaults() -> None:
    content = {
        "events": {"m.room.name": 10, "m.custom": 75},
        "events_default": 5,
        "state_default": 60,
    }
    assert pl.required_power_level_for_event("m.room.name", True, content) == 10
    assert pl.required_power_level_for_event("m.custom", False, content) == 75
    assert pl.required_power_level_for_event("m.room.topic", True, content) == 60
    assert pl.required_power_level_for_event("m.room.message", False, content) == 5


def test_required_level_reads_stringy_values_in_old_versions() -> None:
    content = {"events": {"m.room.name": "10"}, "state_default": "60"}
    assert pl.required_power_level_for_event("m.room.name", True, content, V9) == 10
    assert pl.required_power_level_for_event("m.room.topic", True, content, V9) == 60


# --- creators ----------------------------------------------------------------------------


@pytest.mark.parametrize("version", [v for v in ALL_VERSIONS if int(v) <= 10])
def test_creator_is_content_creator_before_v11(version: str) -> None:
    rv = room_version(version)
    assert pl.creators_of(create_event(version, sender=BOB, creator=ALICE), rv) == {ALICE}
    assert pl.creators_of(create_event(version, sender=BOB), rv) == set()


def test_creator_is_sender_in_v11() -> None:
    event = create_event("11", creator=BOB, additional_creators=[CAROL])
    assert pl.creators_of(event, V11) == {ALICE}


def test_creators_are_sender_and_additional_creators_in_v12() -> None:
    event = create_event("12", creator=BOB, additional_creators=[CAROL, 5])
    assert pl.creators_of(event, V12) == {ALICE, CAROL}
    assert pl.creators_of(create_event("12"), V12) == {ALICE}
    assert pl.creators_of(None, V12) == set()


# --- user_power_level ----------------------------------------------------------------------


@pytest.mark.parametrize("version", [v for v in ALL_VERSIONS if int(v) <= 11])
def test_without_power_levels_the_creator_has_100(version: str) -> None:
    rv = room_version(version)
    create = create_event(version, creator=ALICE)
    assert pl.user_power_level(ALICE, None, create, rv) == 100
    assert pl.user_power_level(BOB, None, create, rv) == 0


@pytest.mark.parametrize("version", [v for v in ALL_VERSIONS if int(v) <= 11])
def test_with_power_levels_the_creator_is_an_ordinary_user(version: str) -> None:
    rv = room_version(version)
    create = create_event(version, creator=ALICE)
    assert pl.user_power_level(ALICE, {}, create, rv) == 0
    assert pl.user_power_level(ALICE, {"users_default": 3}, create, rv) == 3
    assert pl.user_power_level(ALICE, {"users": {ALICE: 42}}, create, rv) == 42


def test_stringy_user_levels_before_v10_only() -> None:
    content = {"users": {BOB: "42"}, "users_default": "7"}
    assert pl.user_power_level(BOB, content, create_event("9", creator=ALICE), V9) == 42
    assert pl.user_power_level(CAROL, content, create_event("9", creator=ALICE), V9) == 7
    # v10+: an (impossible once authorised) string falls back to the default.
    assert pl.user_power_level(BOB, content, create_event("10", creator=ALICE), V10) == 0


def test_v12_creators_have_infinite_power() -> None:
    create = create_event("12", additional_creators=[BOB])
    for content in (None, {}, {"users": {ALICE: 1}, "users_default": 10**15}):
        assert pl.user_power_level(ALICE, content, create, V12) == pl.CREATOR_POWER_LEVEL
        assert pl.user_power_level(BOB, content, create, V12) == math.inf
    assert pl.user_power_level(CAROL, None, create, V12) == 0
    assert pl.user_power_level(CAROL, {"users": {CAROL: 100}}, create, V12) == 100


def test_creator_power_compares_above_every_integer() -> None:
    assert pl.CREATOR_POWER_LEVEL > 2**53
    assert not pl.CREATOR_POWER_LEVEL < pl.CREATOR_POWER_LEVEL
    assert pl.CREATOR_POWER_LEVEL >= pl.CREATOR_POWER_LEVEL
