"""The authorization rules of room versions 1-12, rule by rule.

Expected rule numbers are written out per version family, from each
version's own list: v1-v5 (membership is rule 5), v6-v7 (rule 4, no
authoriser rule), v8-v11 (rule 4 with 4.2 the authoriser signature) and
v12 (rule 5, with 4.2's equivalent at 5.2).
"""

from __future__ import annotations

from typing import Any

import pytest
from signedjson.key import generate_signing_key
from signedjson.sign import sign_json
from unpaddedbase64 import encode_base64

from protocol.auth_rules import AuthError, check_auth_events_selection, check_auth_rules
from protocol.events import (
    ALIASES,
    CREATE,
    JOIN_RULES,
    MEMBER,
    POWER_LEVELS,
    REDACTION,
    THIRD_PARTY_INVITE,
    Event,
)
from tests.protocol.event_factory import (
    ALICE,
    ALL_VERSIONS,
    BOB,
    CAROL,
    DAVE,
    RoomFactory,
    admin_levels,
    standard_room,
)

V = int


def family(version: str, v1_5: str, v6_7: str, v8_11: str, v12: str) -> str:
    """Pick the expected rule number for `version` from its family's list."""
    n = V(version)
    if n <= 5:
        return v1_5
    if n <= 7:
        return v6_7
    if n <= 11:
        return v8_11
    return v12


def rejects(room: RoomFactory, event: Event, rule: str, **kwargs: Any) -> AuthError:
    with pytest.raises(AuthError) as info:
        room.check(event, **kwargs)
    assert info.value.rule == rule, info.value.reason
    return info.value


def versions(lo: int, hi: int = 12) -> list[str]:
    return [v for v in ALL_VERSIONS if lo <= V(v) <= hi]


# --- rule 1: m.room.create -----------------------------------------------------


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_create_event_is_allowed(version: str) -> None:
    room = RoomFactory(version)
    check_auth_rules(room.create, {})


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_create_with_prev_events_is_rejected(version: str) -> None:
    room = RoomFactory(version)
    event = room.make(CREATE, ALICE, room.default_create_content(ALICE), "")
    rejects(room, event, "1.1")


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_any_later_create_type_event_is_rejected(version: str) -> None:
    room = RoomFactory(version)
    rejects(room, room.make(CREATE, ALICE, {}, "other"), "1.1")
    rejects(room, room.make(CREATE, ALICE, {}), "1.1")


@pytest.mark.parametrize("version", versions(1, 11))
def test_create_room_id_domain_must_be_senders(version: str) -> None:
    room = RoomFactory(version, room_id="!room:elsewhere.test")
    rejects(room, room.create, "1.2")


def test_v12_create_must_not_have_a_room_id() -> None:
    room = RoomFactory("12")
    event = room.make(
        CREATE, ALICE, {"room_version": "12"}, "", prev=[], extra={"room_id": "!x:a.test"}
    )
    rejects(room, event, "1.2")


@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize("room_ver", ["999", 12, ["1"]])
def test_create_with_unknown_room_version_is_rejected(version: str, room_ver: object) -> None:
    content = RoomFactory(version).default_create_content(ALICE) | {"room_version": room_ver}
    room = RoomFactory(version, create_content=content)
    rejects(room, room.create, "1.3")


@pytest.mark.parametrize("version", versions(1, 10))
def test_create_without_creator_is_rejected_before_v11(version: str) -> None:
    room = RoomFactory(version, create_content={"room_version": version})
    rejects(room, room.create, "1.4")


@pytest.mark.parametrize("version", ["11", "12"])
def test_create_without_creator_is_fine_from_v11(version: str) -> None:
    room = RoomFactory(version, create_content={"room_version": version})
    room.check(room.create)


@pytest.mark.parametrize("extra", [[BOB, CAROL], []], ids=["two", "empty"])
def test_v12_valid_additional_creators(extra: list[str]) -> None:
    room = RoomFactory("12", create_content={"additional_creators": extra})
    room.check(room.create)


@pytest.mark.parametrize("extra", ["@bob:b.test", [BOB, "bob"], [BOB, 5], [":no-sigil"], ["@bob"]])
def test_v12_invalid_additional_creators(extra: object) -> None:
    room = RoomFactory("12", create_content={"additional_creators": extra})
    rejects(room, room.create, "1.4")


@pytest.mark.parametrize("version", versions(1, 11))
def test_additional_creators_is_not_validated_before_v12(version: str) -> None:
    content = RoomFactory(version).default_create_content(ALICE) | {"additional_creators": 5}
    room = RoomFactory(version, create_content=content)
    room.check(room.create)


# --- auth events: rejected, wrong room, missing create, v12 rule 2 ---------------


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_rejected_auth_event_is_rejected(version: str) -> None:
    room = standard_room(version)
    room.force(MEMBER, BOB, {"membership": "join"}, BOB, rejected=True)
    event = room.make("m.room.message", BOB, {"body": "hi"})
    rule = {"6": "2", "7": "2", "12": "3.3"}.get(version, "2.3")
    rejects(room, event, rule)


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_auth_event_from_another_room_is_rejected(version: str) -> None:
    room = standard_room(version)
    room.force(MEMBER, BOB, {"membership": "join"}, BOB, extra={"room_id": "!other:b.test"})
    event = room.make("m.room.message", BOB, {"body": "hi"})
    rejects(room, event, "3.4" if version == "12" else "2")


@pytest.mark.parametrize("version", versions(1, 11))
def test_missing_create_event_is_rejected(version: str) -> None:
    room = standard_room(version)
    event = room.make("m.room.message", ALICE, {"body": "hi"})
    auth = room.auth_map(event)
    del auth[(CREATE, "")]
    with pytest.raises(AuthError) as info:
        check_auth_rules(event, auth)
    assert info.value.rule == {"6": "3", "7": "3"}.get(version, "2.4")


def test_v12_missing_create_event_is_rule_2() -> None:
    room = standard_room("12")
    event = room.make("m.room.message", ALICE, {"body": "hi"})
    auth = room.auth_map(event)
    del auth[(CREATE, "")]
    with pytest.raises(AuthError) as info:
        check_auth_rules(event, auth)
    assert info.value.rule == "2"


def test_v12_rejected_create_event_is_rule_2() -> None:
    room = standard_room("12")
    event = room.make("m.room.message", ALICE, {"body": "hi"})
    auth = room.auth_map(event)
    create = auth[(CREATE, "")]
    auth[(CREATE, "")] = Event(create.pdu, create.room_version, create.event_id, "bad")
    with pytest.raises(AuthError) as info:
        check_auth_rules(event, auth)
    assert info.value.rule == "2"


def test_v12_room_id_must_be_the_create_event_id() -> None:
    room = standard_room("12")
    event = room.make("m.room.message", ALICE, {"body": "hi"}, extra={"room_id": "!other"})
    rejects(room, event, "2")


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_auth_event_under_the_wrong_key_is_rejected(version: str) -> None:
    room = standard_room(version, users={BOB: 50})
    room.member(BOB, BOB, "join")
    event = room.make("m.room.message", BOB, {"body": "hi"})
    auth = room.auth_map(event)
    auth[(MEMBER, BOB)] = auth[(MEMBER, ALICE)]
    with pytest.raises(AuthError) as info:
        check_auth_rules(event, auth)
    assert info.value.rule == ("3.2" if version == "12" else "2.2")


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_entries_outside_the_selection_are_ignored(version: str) -> None:
    room = standard_room(version)
    room.force("m.room.topic", ALICE, {"topic": "x"}, "", rejected=True)
    room.add("m.room.message", ALICE, {"body": "hi"})


# --- check_auth_events_selection ---------------------------------------------------


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_cited_auth_events_of_the_selection_pass(version: str) -> None:
    room = standard_room(version)
    room.member(BOB, BOB, "join")
    event = room.make(MEMBER, BOB, {"membership": "leave"}, BOB)
    check_auth_events_selection(event, room.cited_for(event.pdu))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_duplicate_cited_auth_events_are_rejected(version: str) -> None:
    room = standard_room(version)
    event = room.make("m.room.message", ALICE, {"body": "hi"})
    old_pl = room.events[next(i for i in room.events if room.events[i].type == POWER_LEVELS)]
    room.power_levels(**admin_levels(version, **{BOB: 10}))
    cited = room.cited_for(event.pdu) + [old_pl]
    with pytest.raises(AuthError) as info:
        check_auth_events_selection(event, cited)
    assert info.value.rule == ("3.1" if version == "12" else "2.1")


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_unselected_cited_auth_events_are_rejected(version: str) -> None:
    room = standard_room(version)
    event = room.make("m.room.message", ALICE, {"body": "hi"})
    cited = room.cited_for(event.pdu) + [room.state[(JOIN_RULES, "")]]
    with pytest.raises(AuthError) as info:
        check_auth_events_selection(event, cited)
    assert info.value.rule == ("3.2" if version == "12" else "2.2")


def test_v12_citing_the_create_event_is_rejected() -> None:
    room = standard_room("12")
    event = room.make("m.room.message", ALICE, {"body": "hi"})
    with pytest.raises(AuthError) as info:
        check_auth_events_selection(event, room.cited_for(event.pdu) + [room.create])
    assert info.value.rule == "3.2"


# --- m.federate ---------------------------------------------------------------------


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_unfederated_room_rejects_other_servers(version: str) -> None:
    content = RoomFactory(version).default_create_content(ALICE) | {"m.federate": False}
    room = RoomFactory(version, create_content=content)
    room.member(ALICE, ALICE, "join")
    room.join_rules("public")
    room.member(DAVE, DAVE, "join")  # same server as the creator
    event = room.member_event(BOB, BOB, "join")
    rejects(room, event, family(version, "3", "3", "3", "4"))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_federate_true_allows_other_servers(version: str) -> None:
    content = RoomFactory(version).default_create_content(ALICE) | {"m.federate": True}
    room = RoomFactory(version, create_content=content)
    room.member(ALICE, ALICE, "join")
    room.join_rules("public")
    room.member(BOB, BOB, "join")


# --- rule 4 of v1-v5: m.room.aliases ---------------------------------------------------


@pytest.mark.parametrize("version", versions(1, 5))
def test_aliases_of_own_server_need_no_membership(version: str) -> None:
    room = standard_room(version)
    room.add(ALIASES, BOB, {"aliases": ["#x:b.test"]}, "b.test")


@pytest.mark.parametrize("version", versions(1, 5))
def test_aliases_of_another_server_are_rejected(version: str) -> None:
    room = standard_room(version)
    rejects(room, room.make(ALIASES, BOB, {"aliases": []}, "a.test"), "4.2")


@pytest.mark.parametrize("version", versions(1, 5))
def test_aliases_without_state_key_are_rejected(version: str) -> None:
    room = standard_room(version)
    rejects(room, room.make(ALIASES, BOB, {"aliases": []}), "4.1")


@pytest.mark.parametrize("version", versions(6))
def test_aliases_are_ordinary_state_from_v6(version: str) -> None:
    room = standard_room(version)
    rejects(
        room, room.make(ALIASES, BOB, {"aliases": []}, "b.test"), family(version, "", "5", "5", "6")
    )
    room.member(BOB, BOB, "join")
    rejects(
        room, room.make(ALIASES, BOB, {"aliases": []}, "b.test"), family(version, "", "7", "7", "8")
    )
    room.add(ALIASES, ALICE, {"aliases": []}, "b.test")


# --- membership: basics ---------------------------------------------------------------


def member_head(version: str) -> str:
    """The membership rule's number: 5 in v1-v5 and v12, 4 in v6-v11."""
    n = V(version)
    return "5" if n <= 5 or n == 12 else "4"


def member_rule(version: str, branch: int, *rest: int) -> str:
    """The number of membership sub-rule `branch` (v1 numbering: 2 join, 3 invite,
    4 leave, 5 ban, 6 knock/unknown) in `version`'s list."""
    n = V(version)
    head = member_head(version)
    if n >= 8:
        branch += 1  # the join_authorised_via_users_server rule comes second
    return ".".join([head, str(branch), *map(str, rest)])


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_member_without_membership_is_rejected(version: str) -> None:
    room = standard_room(version)
    rejects(room, room.make(MEMBER, BOB, {}, BOB), member_head(version) + ".1")


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_member_without_state_key_is_rejected(version: str) -> None:
    room = standard_room(version)
    rejects(room, room.make(MEMBER, BOB, {"membership": "join"}), member_head(version) + ".1")


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_unknown_membership_is_rejected(version: str) -> None:
    room = standard_room(version)
    unknown = 7 if V(version) >= 7 else 6
    rejects(room, room.member_event(BOB, BOB, "wave"), member_rule(version, unknown))


@pytest.mark.parametrize("version", versions(1, 6))
def test_knock_is_an_unknown_membership_before_v7(version: str) -> None:
    room = standard_room(version, "knock")
    rejects(room, room.member_event(BOB, BOB, "knock"), member_rule(version, 6))


# --- joins ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_creator_first_join(version: str) -> None:
    room = RoomFactory(version)
    room.member(ALICE, ALICE, "join")


@pytest.mark.parametrize("version", versions(1, 10))
def test_first_join_is_content_creator_before_v11(version: str) -> None:
    room = RoomFactory(version, create_content={"creator": BOB, "room_version": version})
    rejects(
        room,
        room.member_event(ALICE, ALICE, "join"),
        member_rule(version, 2, 6 if V(version) < 8 else 7),
    )
    room.member(BOB, BOB, "join")


@pytest.mark.parametrize("version", ["11", "12"])
def test_first_join_is_create_sender_from_v11(version: str) -> None:
    room = RoomFactory(version, create_content={"creator": BOB})
    rejects(room, room.member_event(BOB, BOB, "join"), member_rule(version, 2, 7))
    room.member(ALICE, ALICE, "join")


def test_v12_additional_creator_is_not_the_first_joiner() -> None:
    room = RoomFactory("12", create_content={"additional_creators": [BOB]})
    rejects(room, room.member_event(BOB, BOB, "join"), "5.3.7")


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_creator_join_not_right_after_create_needs_the_join_rules(version: str) -> None:
    room = RoomFactory(version)
    room.force("m.room.topic", ALICE, {"topic": "x"}, "")
    otherwise = member_rule(version, 2, 6 if V(version) < 8 else 7)
    rejects(room, room.member_event(ALICE, ALICE, "join"), otherwise)


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_public_join(version: str) -> None:
    room = standard_room(version)
    room.member(BOB, BOB, "join")


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_join_for_someone_else_is_rejected(version: str) -> None:
    room = standard_room(version)
    rejects(room, room.member_event(ALICE, BOB, "join"), member_rule(version, 2, 2))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_banned_user_cannot_join(version: str) -> None:
    room = standard_room(version)
    room.member(ALICE, BOB, "ban")
    rejects(room, room.member_event(BOB, BOB, "join"), member_rule(version, 2, 3))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_invite_only_join(version: str) -> None:
    room = standard_room(version, "invite")
    otherwise = member_rule(version, 2, 6 if V(version) < 8 else 7)
    rejects(room, room.member_event(BOB, BOB, "join"), otherwise)
    room.member(ALICE, BOB, "invite")
    room.member(BOB, BOB, "join")
    room.member(BOB, BOB, "join")  # a join while joined (profile change) is fine


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_without_join_rules_the_room_is_invite_only(version: str) -> None:
    room = RoomFactory(version)
    room.member(ALICE, ALICE, "join")
    otherwise = member_rule(version, 2, 6 if V(version) < 8 else 7)
    rejects(room, room.member_event(BOB, BOB, "join"), otherwise)
    room.member(ALICE, BOB, "invite")
    room.member(BOB, BOB, "join")


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_private_or_unknown_join_rule_rejects(version: str) -> None:
    room = standard_room(version, "private")
    otherwise = member_rule(version, 2, 6 if V(version) < 8 else 7)
    rejects(room, room.member_event(BOB, BOB, "join"), otherwise)


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_knock_join_rule_join(version: str) -> None:
    room = standard_room(version, "knock")
    otherwise = member_rule(version, 2, 6 if V(version) < 8 else 7)
    rejects(room, room.member_event(BOB, BOB, "join"), otherwise)
    room.member(ALICE, BOB, "invite")
    if V(version) >= 7:
        room.member(BOB, BOB, "join")
    else:  # "knock" is not a join rule before v7: nothing lets anyone in
        rejects(room, room.member_event(BOB, BOB, "join"), otherwise)


# --- restricted joins (v8+) -------------------------------------------------------------------


def restricted_room(version: str, rule: str = "restricted") -> RoomFactory:
    room = standard_room(version, rule, users={CAROL: 10}, invite=10)
    room.set_member(CAROL, "join")
    return room


@pytest.mark.parametrize("version", versions(8))
def test_restricted_join_with_authoriser(version: str) -> None:
    room = restricted_room(version)
    event = room.member_event(BOB, BOB, "join", join_authorised_via_users_server=CAROL)
    seen: list[str] = []

    def signed_by(ev: Event, server: str) -> bool:
        seen.append(server)
        return True

    room.check(event, is_signed_by=signed_by)
    assert seen == ["c.test"]


@pytest.mark.parametrize("version", versions(8))
def test_restricted_join_without_authoriser_is_rejected(version: str) -> None:
    room = restricted_room(version)
    rejects(room, room.member_event(BOB, BOB, "join"), member_rule(version, 2, 5, 2))


@pytest.mark.parametrize("version", versions(8))
def test_restricted_join_authoriser_needs_invite_power(version: str) -> None:
    room = restricted_room(version)
    room.set_member(DAVE, "join")  # joined, but level 0 < invite 10
    event = room.member_event(BOB, BOB, "join", join_authorised_via_users_server=DAVE)
    rejects(room, event, member_rule(version, 2, 5, 2))


@pytest.mark.parametrize("version", versions(8))
def test_restricted_join_authoriser_must_be_joined(version: str) -> None:
    room = restricted_room(version)
    room.set_member(CAROL, "leave")
    event = room.member_event(BOB, BOB, "join", join_authorised_via_users_server=CAROL)
    rejects(room, event, member_rule(version, 2, 5, 2))


@pytest.mark.parametrize("version", versions(8))
def test_restricted_join_authoriser_signature_is_required(version: str) -> None:
    room = restricted_room(version)
    event = room.member_event(BOB, BOB, "join", join_authorised_via_users_server=CAROL)
    rejects(room, event, member_head(version) + ".2.1", is_signed_by=lambda ev, s: False)


@pytest.mark.parametrize("version", versions(8))
def test_authoriser_signature_applies_to_every_membership(version: str) -> None:
    room = restricted_room(version)
    room.member(BOB, BOB, "join", join_authorised_via_users_server=CAROL)
    event = room.member_event(BOB, BOB, "leave", join_authorised_via_users_server="not-a-user")
    rejects(room, event, member_head(version) + ".2.1")


@pytest.mark.parametrize("version", versions(8))
def test_restricted_join_of_invited_user_needs_no_authoriser(version: str) -> None:
    room = restricted_room(version)
    room.member(ALICE, BOB, "invite")
    room.member(BOB, BOB, "join")


@pytest.mark.parametrize("version", versions(1, 7))
def test_restricted_is_not_a_join_rule_before_v8(version: str) -> None:
    room = restricted_room(version)
    event = room.member_event(BOB, BOB, "join", join_authorised_via_users_server=CAROL)
    rejects(room, event, member_rule(version, 2, 6))


@pytest.mark.parametrize("version", versions(10))
def test_knock_restricted_join(version: str) -> None:
    room = restricted_room(version, "knock_restricted")
    rejects(room, room.member_event(BOB, BOB, "join"), member_rule(version, 2, 5, 2))
    room.member(BOB, BOB, "join", join_authorised_via_users_server=CAROL)


@pytest.mark.parametrize("version", ["8", "9"])
def test_knock_restricted_is_not_a_join_rule_before_v10(version: str) -> None:
    room = restricted_room(version, "knock_restricted")
    event = room.member_event(BOB, BOB, "join", join_authorised_via_users_server=CAROL)
    rejects(room, event, "4.3.7")


# --- invites ------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_plain_invite(version: str) -> None:
    room = standard_room(version)
    room.member(ALICE, BOB, "invite")


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_invite_by_non_member_is_rejected(version: str) -> None:
    room = standard_room(version)
    rejects(room, room.member_event(BOB, CAROL, "invite"), member_rule(version, 3, 2))


@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize("membership", ["join", "ban"])
def test_invite_of_joined_or_banned_user_is_rejected(version: str, membership: str) -> None:
    room = standard_room(version)
    room.set_member(BOB, membership)
    rejects(room, room.member_event(ALICE, BOB, "invite"), member_rule(version, 3, 3))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_invite_needs_invite_level(version: str) -> None:
    room = standard_room(version, invite=50)
    room.member(BOB, BOB, "join")
    rejects(room, room.member_event(BOB, CAROL, "invite"), member_rule(version, 3, 5))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_invite_of_invited_or_left_user_is_fine(version: str) -> None:
    room = standard_room(version)
    room.member(ALICE, BOB, "invite")
    room.member(ALICE, BOB, "invite")
    room.set_member(BOB, "leave")
    room.member(ALICE, BOB, "invite")


# --- third-party invites -------------------------------------------------------------------------


IDENTITY_KEY = generate_signing_key("0")
OTHER_KEY = generate_signing_key("0")
TOKEN = "tok123"


def signed_block(key: Any = IDENTITY_KEY, mxid: str = BOB, token: str = TOKEN) -> dict[str, Any]:
    return sign_json({"mxid": mxid, "token": token}, "id.test", key)


def third_party_room(version: str, *, listed: bool = False) -> RoomFactory:
    room = standard_room(version)
    public = encode_base64(IDENTITY_KEY.verify_key.encode())
    content: dict[str, Any] = {"display_name": "b...", "key_validity_url": "https://id.test/v"}
    if listed:
        content["public_key"] = encode_base64(OTHER_KEY.verify_key.encode())
        content["public_keys"] = [{"public_key": "not base64!"}, {"public_key": public}]
    else:
        content["public_key"] = public
    room.add(THIRD_PARTY_INVITE, ALICE, content, TOKEN)
    return room


def tp_invite(room: RoomFactory, third_party_invite: Any, sender: str = ALICE) -> Event:
    return room.member_event(sender, BOB, "invite", third_party_invite=third_party_invite)


@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize("listed", [False, True], ids=["public_key", "public_keys"])
def test_third_party_invite_with_valid_signature(version: str, listed: bool) -> None:
    room = third_party_room(version, listed=listed)
    room.check(tp_invite(room, {"display_name": "b", "signed": signed_block()}))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_third_party_invite_with_wrong_key_is_rejected(version: str) -> None:
    room = third_party_room(version)
    event = tp_invite(room, {"signed": signed_block(OTHER_KEY)})
    rejects(room, event, member_rule(version, 3, 1, 8))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_third_party_invite_with_tampered_signed_is_rejected(version: str) -> None:
    room = third_party_room(version)
    signed = signed_block() | {"extra": "changed after signing"}
    rejects(room, tp_invite(room, {"signed": signed}), member_rule(version, 3, 1, 8))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_third_party_invite_without_signatures_is_rejected(version: str) -> None:
    room = third_party_room(version)
    signed = {"mxid": BOB, "token": TOKEN}
    rejects(room, tp_invite(room, {"signed": signed}), member_rule(version, 3, 1, 8))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_third_party_invite_of_banned_target_is_rejected(version: str) -> None:
    room = third_party_room(version)
    room.set_member(BOB, "ban")
    rejects(room, tp_invite(room, {"signed": signed_block()}), member_rule(version, 3, 1, 1))


@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize("tpi", [{}, {"signed": "x"}, "x"], ids=["no-signed", "str-signed", "str"])
def test_third_party_invite_without_signed_is_rejected(version: str, tpi: Any) -> None:
    room = third_party_room(version)
    rejects(room, tp_invite(room, tpi), member_rule(version, 3, 1, 2))


@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize("drop", ["mxid", "token"])
def test_third_party_invite_without_mxid_or_token_is_rejected(version: str, drop: str) -> None:
    room = third_party_room(version)
    signed = signed_block()
    del signed[drop]
    rejects(room, tp_invite(room, {"signed": signed}), member_rule(version, 3, 1, 3))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_third_party_invite_mxid_must_be_the_target(version: str) -> None:
    room = third_party_room(version)
    event = tp_invite(room, {"signed": signed_block(mxid=CAROL)})
    rejects(room, event, member_rule(version, 3, 1, 4))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_third_party_invite_needs_the_invite_event(version: str) -> None:
    room = third_party_room(version)
    event = tp_invite(room, {"signed": signed_block(token="other")})
    rejects(room, event, member_rule(version, 3, 1, 5))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_third_party_invite_sender_must_have_sent_the_invite_event(version: str) -> None:
    room = third_party_room(version)
    room.member(DAVE, DAVE, "join")
    event = tp_invite(room, {"signed": signed_block()}, sender=DAVE)
    rejects(room, event, member_rule(version, 3, 1, 6))


# --- leaves, kicks, unbans ------------------------------------------------------------------------


@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize("before", ["join", "invite"])
def test_leave_of_self(version: str, before: str) -> None:
    room = standard_room(version)
    room.set_member(BOB, before)
    room.member(BOB, BOB, "leave")


@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize("before", [None, "leave", "ban"])
def test_leave_of_self_without_membership_is_rejected(version: str, before: str | None) -> None:
    room = standard_room(version)
    if before is not None:
        room.set_member(BOB, before)
    rejects(room, room.member_event(BOB, BOB, "leave"), member_rule(version, 4, 1))


@pytest.mark.parametrize("version", versions(7))
def test_knock_can_be_retracted(version: str) -> None:
    room = standard_room(version, "knock")
    room.member(BOB, BOB, "knock")
    room.member(BOB, BOB, "leave")


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_kick_by_non_member_is_rejected(version: str) -> None:
    room = standard_room(version, users={BOB: 100})
    room.member(CAROL, CAROL, "join")
    rejects(room, room.member_event(BOB, CAROL, "leave"), member_rule(version, 4, 2))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_kick(version: str) -> None:
    room = standard_room(version, users={BOB: 50})
    room.member(BOB, BOB, "join")
    room.member(CAROL, CAROL, "join")
    room.member(BOB, CAROL, "leave")


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_kick_of_a_peer_is_rejected(version: str) -> None:
    room = standard_room(version, users={BOB: 50, CAROL: 50})
    room.member(BOB, BOB, "join")
    room.member(CAROL, CAROL, "join")
    rejects(room, room.member_event(BOB, CAROL, "leave"), member_rule(version, 4, 5))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_kick_below_kick_level_is_rejected(version: str) -> None:
    room = standard_room(version, users={BOB: 40})
    room.member(BOB, BOB, "join")
    room.member(CAROL, CAROL, "join")
    rejects(room, room.member_event(BOB, CAROL, "leave"), member_rule(version, 4, 5))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_unban_needs_ban_level(version: str) -> None:
    room = standard_room(version, users={BOB: 60}, kick=50, ban=70)
    room.member(BOB, BOB, "join")
    room.member(ALICE, CAROL, "ban")
    rejects(room, room.member_event(BOB, CAROL, "leave"), member_rule(version, 4, 3))
    room.member(ALICE, CAROL, "leave")


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_unban_needs_kick_level_too(version: str) -> None:
    room = standard_room(version, users={BOB: 60}, kick=70, ban=50)
    room.member(BOB, BOB, "join")
    room.member(ALICE, CAROL, "ban")
    rejects(room, room.member_event(BOB, CAROL, "leave"), member_rule(version, 4, 5))


# --- bans -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_ban(version: str) -> None:
    room = standard_room(version, users={BOB: 50})
    room.member(BOB, BOB, "join")
    room.member(BOB, CAROL, "ban")  # need not be in the room


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_ban_by_non_member_is_rejected(version: str) -> None:
    room = standard_room(version, users={BOB: 100})
    rejects(room, room.member_event(BOB, CAROL, "ban"), member_rule(version, 5, 1))


@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize("bob, carol", [(40, 0), (50, 50), (50, 60)])
def test_ban_without_power_is_rejected(version: str, bob: int, carol: int) -> None:
    room = standard_room(version, users={BOB: bob, CAROL: carol})
    room.member(BOB, BOB, "join")
    rejects(room, room.member_event(BOB, CAROL, "ban"), member_rule(version, 5, 3))


# --- knocks (v7+) --------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", versions(7))
def test_knock(version: str) -> None:
    room = standard_room(version, "knock")
    room.member(BOB, BOB, "knock")
    room.member(ALICE, BOB, "invite")  # accepting a knock
    room.member(BOB, BOB, "join")


@pytest.mark.parametrize("version", versions(7))
@pytest.mark.parametrize("rule", ["invite", "public", "restricted"])
def test_knock_needs_knock_join_rule(version: str, rule: str) -> None:
    room = standard_room(version, rule)
    rejects(room, room.member_event(BOB, BOB, "knock"), member_rule(version, 6, 1))


@pytest.mark.parametrize("version", versions(7))
def test_knock_for_someone_else_is_rejected(version: str) -> None:
    room = standard_room(version, "knock")
    room.set_member(BOB, "join")
    rejects(room, room.member_event(BOB, CAROL, "knock"), member_rule(version, 6, 2))


@pytest.mark.parametrize("version", versions(7))
@pytest.mark.parametrize("before", ["ban", "invite", "join"])
def test_knock_when_banned_invited_or_joined_is_rejected(version: str, before: str) -> None:
    room = standard_room(version, "knock")
    room.set_member(BOB, before)
    rejects(room, room.member_event(BOB, BOB, "knock"), member_rule(version, 6, 4))


@pytest.mark.parametrize("version", versions(7))
def test_knock_on_knock_restricted(version: str) -> None:
    room = standard_room(version, "knock_restricted")
    event = room.member_event(BOB, BOB, "knock")
    if V(version) >= 10:
        room.check(event)
    else:
        rejects(room, event, member_rule(version, 6, 1))


# --- events of non-members, third-party invite events ------------------------------------------------


@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize("membership", [None, "invite", "leave", "ban", "knock"])
def test_non_member_cannot_send(version: str, membership: str | None) -> None:
    room = standard_room(version)
    if membership is not None:
        room.set_member(BOB, membership)
    event = room.make("m.room.message", BOB, {"body": "hi"})
    rejects(room, event, family(version, "6", "5", "5", "6"))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_third_party_invite_event_needs_invite_level(version: str) -> None:
    room = standard_room(version, invite=50, events={THIRD_PARTY_INVITE: 0})
    room.member(BOB, BOB, "join")
    event = room.make(THIRD_PARTY_INVITE, BOB, {"public_key": "x"}, "tok")
    rejects(room, event, family(version, "7.1", "6.1", "6.1", "7.1"))
    room.add(THIRD_PARTY_INVITE, ALICE, {"public_key": "x"}, "tok")


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_third_party_invite_event_ignores_its_required_level(version: str) -> None:
    room = standard_room(version, invite=0, events={THIRD_PARTY_INVITE: 100})
    room.member(BOB, BOB, "join")
    room.add(THIRD_PARTY_INVITE, BOB, {"public_key": "x"}, "tok")


# --- required power level and `@` state keys -------------------------------------------------------


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_message_needs_events_default(version: str) -> None:
    room = standard_room(version, events_default=10, users={CAROL: 10})
    room.member(BOB, BOB, "join")
    room.member(CAROL, CAROL, "join")
    rejects(room, room.make("m.room.message", BOB, {}), family(version, "8", "7", "7", "8"))
    room.add("m.room.message", CAROL, {})


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_events_override_the_defaults(version: str) -> None:
    room = standard_room(version, events={"m.room.topic": 0, "m.custom": 20})
    room.member(BOB, BOB, "join")
    room.add("m.room.topic", BOB, {"topic": "x"}, "")
    rejects(room, room.make("m.custom", BOB, {}), family(version, "8", "7", "7", "8"))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_state_needs_state_default(version: str) -> None:
    room = standard_room(version)
    room.member(BOB, BOB, "join")
    event = room.make("m.room.name", BOB, {"name": "x"}, "")
    rejects(room, event, family(version, "8", "7", "7", "8"))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_without_power_levels_only_the_creator_sends_state(version: str) -> None:
    room = RoomFactory(version)
    room.member(ALICE, ALICE, "join")
    room.join_rules("public")
    room.member(BOB, BOB, "join")
    room.add("m.room.message", BOB, {})
    room.add("m.room.name", ALICE, {"name": "x"}, "")
    rejects(
        room, room.make("m.room.name", BOB, {"name": "y"}, ""), family(version, "8", "7", "7", "8")
    )


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_state_key_of_another_user_is_rejected(version: str) -> None:
    room = standard_room(version, events={"m.custom": 0})
    room.member(BOB, BOB, "join")
    room.add("m.custom", BOB, {}, BOB)
    room.add("m.custom", BOB, {}, "not-a-user")
    rejects(room, room.make("m.custom", BOB, {}, CAROL), family(version, "9", "8", "8", "9"))
    rejects(room, room.make("m.custom", ALICE, {}, BOB), family(version, "9", "8", "8", "9"))


# --- power levels -------------------------------------------------------------------------------------


def pl_rule(version: str, v1: str) -> str:
    """A power-levels sub-rule, given its v1 number (1 users, 2 no previous,
    3.x named, 4.1 events removed, 5.1 events added, 6.1 users removed, 7.1 users added)."""
    n = V(version)
    head = family(version, "10", "9", "9", "10")
    step, _, sub = v1.partition(".")
    offset = 0 if n < 10 else (2 if n < 12 else 3)
    if step == "1":
        number = 3 if n >= 10 else 1
    else:
        number = int(step) + offset
    return f"{head}.{number}" + (f".{sub}" if sub else "")


def moderated_room(
    version: str, events: dict[str, int] | None = None, **levels: Any
) -> RoomFactory:
    """Bob is a moderator (50) and may send power levels; Carol is at 50 too."""
    events = {POWER_LEVELS: 50} | (events or {})
    room = standard_room(version, users={BOB: 50, CAROL: 50}, events=events, **levels)
    room.member(BOB, BOB, "join")
    return room


def bob_sets(room: RoomFactory, **changes: Any) -> Event:
    content = dict(room.state[(POWER_LEVELS, "")].content)
    content.update(changes)
    return room.make(POWER_LEVELS, BOB, content, "")


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_first_power_levels_event_is_allowed(version: str) -> None:
    room = RoomFactory(version)
    room.member(ALICE, ALICE, "join")
    room.power_levels(**(admin_levels(version, **{BOB: 1000}) | {"ban": 5000}))


@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize(
    "users", [{"bob": 5}, {"@bob": 5}, {BOB: None}, {BOB: "high"}, {BOB: True}, [BOB], "x"]
)
def test_invalid_users_are_rejected(version: str, users: Any) -> None:
    room = RoomFactory(version)
    room.member(ALICE, ALICE, "join")
    event = room.make(POWER_LEVELS, ALICE, {"users": users}, "")
    rejects(room, event, pl_rule(version, "1"))


@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize("value", ["50", " +050 ", "-5"])
def test_stringy_users_are_accepted_before_v10(version: str, value: str) -> None:
    room = standard_room(version)
    event = room.make(POWER_LEVELS, ALICE, admin_levels(version, **{BOB: value}), "")
    if V(version) >= 10:
        rejects(room, event, pl_rule(version, "1"))
    else:
        room.check(event)


@pytest.mark.parametrize("version", versions(1, 9))
@pytest.mark.parametrize("value", ["5.0", "1e3", "", "50a", "0x10", "+-5"])
def test_non_integer_strings_are_rejected(version: str, value: str) -> None:
    room = standard_room(version)
    event = room.make(POWER_LEVELS, ALICE, admin_levels(version, **{BOB: value}), "")
    rejects(room, event, pl_rule(version, "1"))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_float_users_only_before_v6(version: str) -> None:
    room = standard_room(version)
    event = room.make(POWER_LEVELS, ALICE, admin_levels(version, **{BOB: 50.57}), "")
    if V(version) <= 5:
        room.check(event)
    else:
        rejects(room, event, pl_rule(version, "1"))


@pytest.mark.parametrize("version", versions(10))
@pytest.mark.parametrize(
    "name", ["users_default", "events_default", "state_default", "ban", "redact", "kick", "invite"]
)
def test_v10_named_levels_must_be_integers(version: str, name: str) -> None:
    room = standard_room(version)
    content = admin_levels(version) | {name: "50"}
    rejects(room, room.make(POWER_LEVELS, ALICE, content, ""), "10.1" if version == "12" else "9.1")


@pytest.mark.parametrize("version", versions(10))
@pytest.mark.parametrize("name", ["events", "notifications"])
@pytest.mark.parametrize("value", [{"m.x": "50"}, {"m.x": 1.5}, [], 5])
def test_v10_events_and_notifications_must_be_integer_maps(
    version: str, name: str, value: Any
) -> None:
    room = standard_room(version)
    content = admin_levels(version) | {name: value}
    rejects(room, room.make(POWER_LEVELS, ALICE, content, ""), "10.2" if version == "12" else "9.2")


@pytest.mark.parametrize("version", versions(1, 9))
def test_stringy_named_levels_are_fine_before_v10(version: str) -> None:
    room = standard_room(version)
    content = admin_levels(version) | {
        "ban": "50",
        "events": {"m.x": "10"},
        "notifications": {"room": "5"},
    }
    room.add(POWER_LEVELS, ALICE, content, "")


@pytest.mark.parametrize("version", versions(1, 9))
def test_restating_a_level_as_a_string_is_no_change(version: str) -> None:
    room = moderated_room(version, ban=100)
    room.check(bob_sets(room, ban="100"))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_raising_a_named_level_above_own_is_rejected(version: str) -> None:
    room = moderated_room(version)
    rejects(room, bob_sets(room, kick=51), pl_rule(version, "3.2"))
    room.check(bob_sets(room, kick=50))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_changing_a_named_level_above_own_is_rejected(version: str) -> None:
    room = moderated_room(version, state_default=60)
    rejects(room, bob_sets(room, state_default=10), pl_rule(version, "3.1"))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_removing_a_named_level_above_own_is_rejected(version: str) -> None:
    room = moderated_room(version, redact=60)
    content = dict(room.state[(POWER_LEVELS, "")].content)
    del content["redact"]
    rejects(room, room.make(POWER_LEVELS, BOB, content, ""), pl_rule(version, "3.1"))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_adding_a_named_level_above_own_is_rejected(version: str) -> None:
    room = moderated_room(version)
    content = dict(room.state[(POWER_LEVELS, "")].content)
    del content["invite"]
    room.force(POWER_LEVELS, ALICE, content, "")
    rejects(room, bob_sets(room, invite=70), pl_rule(version, "3.2"))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_events_entry_above_own_cannot_change(version: str) -> None:
    room = moderated_room(version, events={POWER_LEVELS: 50, "m.room.tombstone": 100})
    events = {POWER_LEVELS: 50, "m.room.tombstone": 40}
    rejects(room, bob_sets(room, events=events), pl_rule(version, "4.1"))
    rejects(room, bob_sets(room, events={POWER_LEVELS: 50}), pl_rule(version, "4.1"))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_events_entry_cannot_be_set_above_own(version: str) -> None:
    room = moderated_room(version)
    events = {POWER_LEVELS: 50, "m.room.name": 60}
    rejects(room, bob_sets(room, events=events), pl_rule(version, "5.1"))
    room.check(bob_sets(room, events={POWER_LEVELS: 50, "m.room.name": 50}))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_notifications_are_checked_from_v6(version: str) -> None:
    room = moderated_room(version, notifications={"room": 80})
    lowered = bob_sets(room, notifications={"room": 10})
    raised = moderated_room(version)
    raising = bob_sets(raised, notifications={"room": 90})
    if V(version) <= 5:
        room.check(lowered)
        raised.check(raising)
    else:
        rejects(room, lowered, pl_rule(version, "4.1"))
        rejects(raised, raising, pl_rule(version, "5.1"))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_changing_a_peer_is_rejected(version: str) -> None:
    room = moderated_room(version)
    users = dict(room.state[(POWER_LEVELS, "")].content["users"]) | {CAROL: 0}
    rejects(room, bob_sets(room, users=users), pl_rule(version, "6.1"))
    del users[CAROL]
    rejects(room, bob_sets(room, users=users), pl_rule(version, "6.1"))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_own_entry_may_be_lowered_or_removed(version: str) -> None:
    room = moderated_room(version)
    users = dict(room.state[(POWER_LEVELS, "")].content["users"]) | {BOB: 10}
    room.check(bob_sets(room, users=users))
    del users[BOB]
    room.check(bob_sets(room, users=users))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_users_cannot_be_raised_above_own(version: str) -> None:
    room = moderated_room(version)
    users = dict(room.state[(POWER_LEVELS, "")].content["users"])
    rejects(room, bob_sets(room, users=users | {BOB: 51}), pl_rule(version, "7.1"))
    rejects(room, bob_sets(room, users=users | {DAVE: 51}), pl_rule(version, "7.1"))
    room.check(bob_sets(room, users=users | {DAVE: 50}))


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_power_levels_need_their_required_level(version: str) -> None:
    room = moderated_room(version, events={POWER_LEVELS: 100})
    rejects(room, bob_sets(room), family(version, "8", "7", "7", "8"))


# --- v12 creators -------------------------------------------------------------------------------------


def v12_room(**create: Any) -> RoomFactory:
    room = RoomFactory("12", create_content=create)
    room.member(ALICE, ALICE, "join")
    room.power_levels(**admin_levels("12", **{DAVE: 100}))
    room.join_rules("public")
    room.member(DAVE, DAVE, "join")
    return room


@pytest.mark.parametrize("who", [ALICE, BOB])
def test_v12_creators_cannot_be_in_users(who: str) -> None:
    room = v12_room(additional_creators=[BOB])
    event = room.make(POWER_LEVELS, ALICE, admin_levels("12", **{who: 100}), "")
    rejects(room, event, "10.4")


def test_v12_first_power_levels_cannot_list_the_creator() -> None:
    room = RoomFactory("12")
    room.member(ALICE, ALICE, "join")
    rejects(room, room.make(POWER_LEVELS, ALICE, {"users": {ALICE: 100}}, ""), "10.4")


@pytest.mark.parametrize("version", versions(1, 11))
def test_creator_may_be_in_users_before_v12(version: str) -> None:
    room = standard_room(version)
    room.power_levels(**admin_levels(version, **{ALICE: 100}))


def test_v12_creator_has_infinite_power() -> None:
    room = v12_room()
    content = admin_levels("12", **{DAVE: 0, BOB: 10**15}) | {"ban": 10**15}
    room.power_levels(**content)
    room.member(ALICE, DAVE, "ban")


def test_v12_creators_cannot_be_kicked_or_banned() -> None:
    room = v12_room(additional_creators=[BOB])
    room.member(BOB, BOB, "join")
    rejects(room, room.member_event(DAVE, BOB, "ban"), "5.6.3")
    rejects(room, room.member_event(DAVE, ALICE, "leave"), "5.5.5")
    rejects(room, room.member_event(BOB, ALICE, "ban"), "5.6.3")  # not even by a co-creator


def test_v12_additional_creator_can_demote_an_admin() -> None:
    room = v12_room(additional_creators=[BOB])
    room.member(BOB, BOB, "join")
    event = room.make(POWER_LEVELS, BOB, admin_levels("12", **{DAVE: 0}), "")
    room.check(event)


def test_v12_admin_cannot_demote_a_peer_admin() -> None:
    room = v12_room()
    room.power_levels(**admin_levels("12", **{DAVE: 100, CAROL: 100}))
    event = room.make(POWER_LEVELS, DAVE, admin_levels("12", **{DAVE: 100, CAROL: 0}), "")
    rejects(room, event, "10.9.1")


def test_v11_creator_is_an_ordinary_user_once_power_levels_exist() -> None:
    room = RoomFactory("11")
    room.member(ALICE, ALICE, "join")
    room.join_rules("public")
    room.power_levels(users={DAVE: 100})
    room.member(DAVE, DAVE, "join")
    rejects(room, room.make("m.room.name", ALICE, {"name": "x"}, ""), "7")
    room.member(DAVE, ALICE, "ban")


# --- redactions -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1", "2"])
def test_v1_redaction_of_own_server_event(version: str) -> None:
    room = standard_room(version)
    room.member(BOB, BOB, "join")
    target = room.add("m.room.message", BOB, {})
    room.add(REDACTION, BOB, {}, extra={"redacts": target.event_id})


@pytest.mark.parametrize("version", ["1", "2"])
def test_v1_redaction_of_other_server_event_needs_redact_level(version: str) -> None:
    room = standard_room(version)
    room.member(BOB, BOB, "join")
    target = room.add("m.room.message", ALICE, {})
    rejects(room, room.make(REDACTION, BOB, {}, extra={"redacts": target.event_id}), "11.3")
    rejects(room, room.make(REDACTION, BOB, {}), "11.3")
    other = room.add("m.room.message", BOB, {})
    room.add(REDACTION, ALICE, {}, extra={"redacts": other.event_id})


@pytest.mark.parametrize("version", versions(3))
def test_redaction_is_an_ordinary_event_from_v3(version: str) -> None:
    room = standard_room(version)
    room.member(BOB, BOB, "join")
    target = room.add("m.room.message", ALICE, {})
    redacts = (
        {"content": {"redacts": target.event_id}}
        if V(version) >= 11
        else {"redacts": target.event_id}
    )
    room.add(REDACTION, BOB, {}, extra=redacts)


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_redaction_needs_its_required_level(version: str) -> None:
    room = standard_room(version, events={REDACTION: 10})
    room.member(BOB, BOB, "join")
    target = room.add("m.room.message", BOB, {})
    event = room.make(REDACTION, BOB, {}, extra={"redacts": target.event_id})
    rejects(room, event, family(version, "8", "7", "7", "8"))


# --- whole-state maps and ordinary events -------------------------------------------------------------------


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_a_typical_room_history_is_allowed(version: str) -> None:
    room = standard_room(version, users={BOB: 50})
    room.member(BOB, BOB, "join")
    room.add("m.room.name", BOB, {"name": "room"}, "")
    room.member(BOB, CAROL, "invite")
    room.member(CAROL, CAROL, "join")
    room.add("m.room.message", CAROL, {"body": "hello"})
    room.member(BOB, CAROL, "leave")
    room.member(ALICE, CAROL, "ban")
    room.member(ALICE, CAROL, "leave")
    room.member(DAVE, DAVE, "join")
    room.member(DAVE, DAVE, "leave")
