"""The server-server API's auth events selection, per room version."""

from __future__ import annotations

import pytest

from protocol.auth_events_selection import auth_types_for_event
from protocol.room_versions import room_version
from tests.protocol.event_factory import ALICE, ALL_VERSIONS, BOB, CAROL

CREATE = ("m.room.create", "")
PL = ("m.room.power_levels", "")
JR = ("m.room.join_rules", "")


def member(user: str) -> tuple[str, str]:
    return ("m.room.member", user)


def base(version: str) -> list[tuple[str, str]]:
    """create (not in v12), power levels."""
    return ([] if version == "12" else [CREATE]) + [PL]


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_create_event_cites_nothing(version: str) -> None:
    assert auth_types_for_event(version, "m.room.create", "", ALICE, {}) == []


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_message(version: str) -> None:
    got = auth_types_for_event(version, "m.room.message", None, ALICE, {"body": "x"})
    assert got == base(version) + [member(ALICE)]


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_state_event(version: str) -> None:
    got = auth_types_for_event(version, "m.room.name", "", ALICE, {"name": "x"})
    assert got == base(version) + [member(ALICE)]


def test_v12_never_selects_the_create_event() -> None:
    for event_type, state_key in [("m.room.message", None), ("m.room.member", BOB)]:
        got = auth_types_for_event("12", event_type, state_key, ALICE, {"membership": "join"})
        assert CREATE not in got
    assert CREATE in auth_types_for_event("11", "m.room.message", None, ALICE, {})


@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize("membership", ["join", "invite", "knock"])
def test_join_invite_and_knock_select_the_join_rules(version: str, membership: str) -> None:
    got = auth_types_for_event(version, "m.room.member", BOB, ALICE, {"membership": membership})
    assert got == base(version) + [member(ALICE), member(BOB), JR]


@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize("membership", ["leave", "ban", "weird"])
def test_other_memberships_do_not(version: str, membership: str) -> None:
    got = auth_types_for_event(version, "m.room.member", BOB, ALICE, {"membership": membership})
    assert got == base(version) + [member(ALICE), member(BOB)]


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_own_membership_is_listed_once(version: str) -> None:
    got = auth_types_for_event(version, "m.room.member", ALICE, ALICE, {"membership": "join"})
    assert got == base(version) + [member(ALICE), JR]


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_third_party_invite_by_token(version: str) -> None:
    content = {"membership": "invite", "third_party_invite": {"signed": {"token": "abc"}}}
    got = auth_types_for_event(version, "m.room.member", BOB, ALICE, content)
    assert got == base(version) + [
        member(ALICE),
        member(BOB),
        JR,
        ("m.room.third_party_invite", "abc"),
    ]


@pytest.mark.parametrize(
    "tpi", [{}, {"signed": {}}, {"signed": {"token": 5}}, {"signed": "x"}, "x"]
)
def test_third_party_invite_without_a_token_selects_nothing_more(tpi: object) -> None:
    content = {"membership": "invite", "third_party_invite": tpi}
    got = auth_types_for_event("9", "m.room.member", BOB, ALICE, content)
    assert got == [CREATE, PL, member(ALICE), member(BOB), JR]


def test_third_party_invite_only_for_invites() -> None:
    content = {"membership": "join", "third_party_invite": {"signed": {"token": "abc"}}}
    got = auth_types_for_event("9", "m.room.member", BOB, BOB, content)
    assert ("m.room.third_party_invite", "abc") not in got


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_restricted_join_authoriser_from_v8(version: str) -> None:
    content = {"membership": "join", "join_authorised_via_users_server": CAROL}
    got = auth_types_for_event(version, "m.room.member", BOB, BOB, content)
    expected = base(version) + [member(BOB), JR]
    if room_version(version).restricted_join:
        expected.append(member(CAROL))
    assert got == expected


def test_authoriser_only_for_joins() -> None:
    content = {"membership": "leave", "join_authorised_via_users_server": CAROL}
    got = auth_types_for_event("10", "m.room.member", BOB, BOB, content)
    assert member(CAROL) not in got


def test_non_string_authoriser_is_ignored() -> None:
    content = {"membership": "join", "join_authorised_via_users_server": 5}
    got = auth_types_for_event("10", "m.room.member", BOB, BOB, content)
    assert got == [CREATE, PL, member(BOB), JR]


def test_accepts_a_room_version_object() -> None:
    got = auth_types_for_event(room_version("4"), "m.room.message", None, ALICE, {})
    assert got == auth_types_for_event("4", "m.room.message", None, ALICE, {})


def test_member_without_state_key_selects_only_the_common_events() -> None:
    got = auth_types_for_event("10", "m.room.member", None, ALICE, {"membership": "join"})
    assert got == [CREATE, PL, member(ALICE)]
