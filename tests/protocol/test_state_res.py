"""State resolution scenarios (v1, v2 for rooms 10/11, v2.1 for room 12).

Each scenario builds a small room DAG (tests/protocol/dag.py) with readable
event IDs, forks it, and asserts the exact resolved event for every key the
scenario is about. Fixed points throughout: Alice created the room and has
100 (infinite in v12, where she is the creator), Bob is a moderator (50).
"""

from __future__ import annotations

import hashlib
import time

import pytest

from protocol.auth_chain import MissingEvent, auth_chain
from protocol.auth_rules import AuthError
from protocol.events import CREATE, JOIN_RULES, MEMBER, POWER_LEVELS, Event
from protocol.room_versions import room_version
from protocol.state_res import resolve_state
from protocol.state_res_v2 import (
    ResolutionContext,
    conflicted_state_subgraph,
    is_power_event,
    mainline_order,
    reverse_topological_power_order,
    split_conflicts,
)
from tests.protocol.dag import ALICE, BOB, CHARLIE, EVE, TOPIC, ZARA, Room

V2_FAMILY = ["10", "11", "12"]
ALL_VERSIONS = ["1", *V2_FAMILY]

PL = (POWER_LEVELS, "")
JR = (JOIN_RULES, "")
TOPIC_KEY = (TOPIC, "")


def member(user: str) -> tuple[str, str]:
    return (MEMBER, user)


def sha1_value(event_id: str) -> int:
    return int.from_bytes(hashlib.sha1(event_id.encode()).digest(), "big")


# --- the dispatcher ------------------------------------------------------------


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_empty_input_resolves_to_empty_state(version: str) -> None:
    assert resolve_state(room_version(version), [], lambda _: None) == {}


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_single_state_set_is_returned_as_is(version: str) -> None:
    room = Room.standard(version)
    state = room.state("$eve_join")
    # No event lookups are needed for a single set, not even of its own events.
    assert resolve_state(room.version, [state], lambda _: None) == state


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_identical_state_sets_are_returned_unchanged(version: str) -> None:
    room = Room.standard(version)
    state = room.state("$eve_join")
    assert resolve_state(room.version, [state, dict(state), dict(state)], room.get) == state


@pytest.mark.parametrize("version", V2_FAMILY)
def test_unconflicted_keys_present_in_only_one_set_are_conflicted_in_v2(version: str) -> None:
    room = Room.standard(version)
    room.topic("$topic", ALICE, "only on one side")
    room.fork_at("$eve_join").message("$msg", BOB)
    resolved = room.resolve_at("$topic", "$msg")
    assert resolved == {**room.state("$eve_join"), TOPIC_KEY: "$topic"}


# --- auth chains ------------------------------------------------------------------


def _linear_chain(length: int) -> dict[str, Event]:
    """`length` state events, each citing the one before as its only auth event."""
    rv = room_version("10")
    events: dict[str, Event] = {}
    for i in range(length):
        pdu = {
            "type": "m.room.member",
            "state_key": f"@u{i}:x",
            "sender": f"@u{i}:x",
            "content": {"membership": "join"},
            "auth_events": [f"$e{i - 1}"] if i else [],
            "prev_events": [f"$e{i - 1}"] if i else [],
            "room_id": "!r:x",
            "depth": i + 1,
            "origin_server_ts": i,
        }
        events[f"$e{i}"] = Event(pdu, rv, f"$e{i}")
    return events


def test_auth_chain_of_a_5000_event_linear_chain_needs_no_recursion() -> None:
    events = _linear_chain(5000)
    chain = auth_chain(["$e4999"], events.get)
    assert chain == {f"$e{i}" for i in range(4999)}


def test_auth_chain_is_the_union_and_excludes_unreachable_start_events() -> None:
    events = _linear_chain(10)
    assert auth_chain(["$e3", "$e7"], events.get) == {f"$e{i}" for i in range(7)}
    assert auth_chain(["$e0"], events.get) == set()


def test_auth_chain_names_the_missing_event() -> None:
    events = _linear_chain(10)
    del events["$e4"]
    with pytest.raises(MissingEvent) as info:
        auth_chain(["$e9"], events.get)
    assert info.value.event_id == "$e4"
    assert isinstance(info.value, KeyError)


@pytest.mark.parametrize("version", V2_FAMILY)
def test_resolution_raises_rather_than_resetting_when_an_auth_event_is_missing(
    version: str,
) -> None:
    room = Room.standard(version)
    room.ban("$ban_eve", ALICE, EVE)
    room.fork_at("$eve_join").topic("$topic", BOB, "x")
    del room.events["$bob_join"]
    with pytest.raises(MissingEvent) as info:
        room.resolve_at("$ban_eve", "$topic")
    assert info.value.event_id == "$bob_join"


# --- definitions -------------------------------------------------------------------


def test_split_conflicts_unconflicted_needs_the_same_event_in_every_set() -> None:
    a = {("t", ""): "$1", ("u", ""): "$2", ("v", ""): "$3"}
    b = {("t", ""): "$1", ("u", ""): "$4"}
    unconflicted, conflicted = split_conflicts([a, b])
    assert unconflicted == {("t", ""): "$1"}
    assert conflicted == {"$2", "$3", "$4"}


@pytest.mark.parametrize("version", V2_FAMILY)
def test_power_events(version: str) -> None:
    room = Room.standard(version)
    room.kick("$kick", ALICE, EVE)
    room.member("$leave", CHARLIE, "leave")
    room.ban("$ban", ALICE, CHARLIE)
    room.topic("$topic", ALICE, "t")
    power = {e for e in room.events if is_power_event(room.events[e])}
    assert power == {"$pl0", "$jr0", "$kick", "$ban"}


@pytest.mark.parametrize("version", V2_FAMILY)
def test_reverse_topological_power_order_tie_breaks(version: str) -> None:
    """Auth events first; then greater sender power, then earlier ts, then smaller ID."""
    room = Room.standard(version)
    room.fork_at("$eve_join").topic("$t_bob_late", BOB, "x", ts=5000)
    room.fork_at("$eve_join").topic("$t_alice_late", ALICE, "x", ts=5000)
    room.fork_at("$eve_join").topic("$t_bob_early", BOB, "x", ts=4000)
    room.fork_at("$eve_join").topic("$t_bob_same_ts_b", BOB, "x", ts=4500)
    room.fork_at("$eve_join").topic("$t_bob_same_ts_a", BOB, "x", ts=4500)
    ctx = ResolutionContext(room.version, [room.state("$eve_join")], room.get)
    order = reverse_topological_power_order(
        [
            "$t_bob_late",
            "$t_alice_late",
            "$t_bob_early",
            "$t_bob_same_ts_b",
            "$t_bob_same_ts_a",
            "$pl0",
        ],
        ctx,
    )
    assert order == [
        "$pl0",  # cited by every other event, so first whatever its rank
        "$t_alice_late",  # Alice outranks Bob despite the later timestamp
        "$t_bob_early",
        "$t_bob_same_ts_a",
        "$t_bob_same_ts_b",
        "$t_bob_late",
    ]


# --- ban racing a power level change -----------------------------------------------


def _ban_races_power_levels(version: str) -> Room:
    """Alice bans Bob on one fork; on the other, Bob (50) makes Eve a moderator."""
    room = Room.standard(version)
    room.fork_at("$eve_join").power_levels("$pl_bob", BOB, {ALICE: 100, BOB: 50, EVE: 50})
    room.topic("$topic_eve", EVE, "eve is a moderator now")
    room.fork_at("$eve_join").ban("$ban_bob", ALICE, BOB)
    return room


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_ban_racing_a_power_level_change_the_ban_stands(version: str) -> None:
    room = _ban_races_power_levels(version)
    resolved = room.resolve_at("$ban_bob", "$topic_eve")
    # The ban comes first (Alice outranks Bob, or in v1 Bob's membership is
    # itself in conflict), so Bob's power level change, and Eve's topic that
    # relied on it, are not applied.
    assert resolved[member(BOB)] == "$ban_bob"
    assert resolved[PL] == "$pl0"
    expected = {**room.state("$eve_join"), member(BOB): "$ban_bob"}
    if version == "1":
        # v1 never re-checks a key only one side holds: Eve's topic stays,
        # although the promotion it relied on is gone (a known v1 weakness).
        expected[TOPIC_KEY] = "$topic_eve"
    assert resolved == expected


@pytest.mark.parametrize("version", V2_FAMILY)
def test_ban_racing_a_power_level_change_is_order_independent(version: str) -> None:
    room = _ban_races_power_levels(version)
    forward = room.resolve_at("$ban_bob", "$topic_eve")
    backward = room.resolve_at("$topic_eve", "$ban_bob")
    assert forward == backward


# --- an admin demoted on one fork while acting on the other ------------------------


def _demotion_race(version: str) -> Room:
    room = Room.standard(version, users={ALICE: 100, BOB: 75})
    room.topic("$t0", ALICE, "original")
    # Bob's fork is built first, so all his events have the earlier timestamps.
    room.fork_at("$t0").ban("$bob_bans_charlie", BOB, CHARLIE)
    room.topic("$bob_topic", BOB, "bob was here")
    room.join_rules("$bob_jr", BOB, "invite")
    room.fork_at("$t0").power_levels("$pl_demote", ALICE, {ALICE: 100, BOB: 0})
    return room


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_power_level_demotion_race_undoes_the_demoted_admins_actions(version: str) -> None:
    room = _demotion_race(version)
    resolved = room.resolve_at("$bob_jr", "$pl_demote")
    assert resolved == {**room.state("$t0"), PL: "$pl_demote"}
    assert resolved[member(CHARLIE)] == "$charlie_join"
    assert resolved[TOPIC_KEY] == "$t0"
    assert resolved[JR] == "$jr0"


@pytest.mark.parametrize("version", V2_FAMILY)
def test_demotion_race_survives_a_later_merge_with_the_same_branches(version: str) -> None:
    room = _demotion_race(version)
    room.fork_at("$bob_jr", "$pl_demote").message("$merge", ALICE)
    room.fork_at("$bob_jr").message("$bob_late", BOB)
    resolved = room.resolve_at("$merge", "$bob_late")
    assert resolved == {**room.state("$t0"), PL: "$pl_demote"}


# --- a join rule change evading a ban ------------------------------------------------


def _ban_evasion(version: str) -> Room:
    room = Room.standard(version)
    room.join_rules("$jr_invite", ALICE, "invite")
    room.member("$eve_leaves", EVE, "leave")
    room.fork_at("$eve_leaves").ban("$ban_eve", ALICE, EVE)
    room.fork_at("$eve_leaves").join_rules("$jr_public", BOB, "public")
    room.join("$eve_rejoins", EVE)
    return room


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_join_rule_change_does_not_let_a_banned_user_back_in(version: str) -> None:
    room = _ban_evasion(version)
    resolved = room.resolve_at("$ban_eve", "$eve_rejoins")
    assert resolved[member(EVE)] == "$ban_eve"
    assert resolved[JR] == "$jr_public"
    assert resolved == {**room.state("$eve_leaves"), member(EVE): "$ban_eve", JR: "$jr_public"}


@pytest.mark.parametrize("version", V2_FAMILY)
def test_ban_evasion_rejoin_even_if_sent_by_a_faster_clock(version: str) -> None:
    """The rejoin carries an earlier timestamp than the ban: still not admitted."""
    room = Room.standard(version)
    room.join_rules("$jr_invite", ALICE, "invite")
    room.member("$eve_leaves", EVE, "leave", ts=2000)
    room.fork_at("$eve_leaves").join_rules("$jr_public", BOB, "public", ts=2001)
    room.join("$eve_rejoins", EVE, ts=2002)
    room.fork_at("$eve_leaves").ban("$ban_eve", ALICE, EVE, ts=9000)
    resolved = room.resolve_at("$eve_rejoins", "$ban_eve")
    assert resolved[member(EVE)] == "$ban_eve"
    assert resolved[JR] == "$jr_public"


# --- topic resets ----------------------------------------------------------------------


def _topic_reset(version: str, *, stale_power_change: bool) -> Room:
    room = Room.standard(version)
    room.topic("$t1", ALICE, "old topic")
    room.fork_at("$t1").power_levels("$pl_a", ALICE, {ALICE: 100, BOB: 50, ZARA: 10})
    room.topic("$t2", ALICE, "new topic")
    # A long-lived stale branch, built later (so its timestamps are later).
    room.fork_at("$t1")
    if stale_power_change:
        room.add(
            "$pl_b",
            POWER_LEVELS,
            BOB,
            {
                "users": {ALICE: 100, BOB: 50} if version != "12" else {BOB: 50},
                "events": {"m.room.name": 50},
            },
            state_key="",
        )
    for i in range(10):
        room.message(f"$chatter{i}", CHARLIE)
    room.member("$charlie_leaves", CHARLIE, "leave")
    room.join("$charlie_back", CHARLIE)
    return room


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_merging_a_stale_branch_does_not_reset_the_topic(version: str) -> None:
    room = _topic_reset(version, stale_power_change=False)
    resolved = room.resolve_at("$t2", "$charlie_back")
    assert resolved == {
        **room.state("$t1"),
        TOPIC_KEY: "$t2",
        PL: "$pl_a",
        member(CHARLIE): "$charlie_back",
    }


@pytest.mark.parametrize("version", V2_FAMILY)
def test_stale_branch_with_its_own_power_levels_change_does_not_reset_the_topic(
    version: str,
) -> None:
    room = _topic_reset(version, stale_power_change=True)
    resolved = room.resolve_at("$t2", "$charlie_back")
    # Alice's power levels sort first (she outranks Bob), so Bob's, which
    # passes against them, ends up in state; either way the topics share
    # their mainline position, and the newer one is applied last.
    assert resolved[PL] == "$pl_b"
    assert resolved[TOPIC_KEY] == "$t2"
    assert resolved[member(CHARLIE)] == "$charlie_back"


@pytest.mark.parametrize("version", V2_FAMILY)
def test_topic_survives_repeated_merges_with_the_stale_branch(version: str) -> None:
    room = _topic_reset(version, stale_power_change=True)
    room.fork_at("$t2", "$charlie_back").message("$merge1", ALICE)
    room.fork_at("$charlie_back").message("$stale_more", CHARLIE)
    room.fork_at("$merge1", "$stale_more").message("$merge2", ALICE)
    assert room.state("$merge2")[TOPIC_KEY] == "$t2"


# --- mainline ordering ---------------------------------------------------------------


def _mainline_rooms(version: str) -> Room:
    room = Room.standard(version)
    # Fork A: a new power levels event, then Bob's topic citing it (early ts).
    room.fork_at("$eve_join").power_levels("$pl1", ALICE, {ALICE: 100, BOB: 50, ZARA: 10})
    room.topic("$topic_a", BOB, "authorised by pl1")
    # Fork B: Alice's topic citing the older power levels, with a later ts.
    room.fork_at("$eve_join").topic("$topic_b", ALICE, "authorised by pl0")
    return room


@pytest.mark.parametrize("version", V2_FAMILY)
def test_mainline_position_beats_timestamp(version: str) -> None:
    room = _mainline_rooms(version)
    assert room.events["$topic_b"].origin_server_ts > room.events["$topic_a"].origin_server_ts
    resolved = room.resolve_at("$topic_a", "$topic_b")
    # Mainline of $pl1 is [$pl1, $pl0]: $topic_b (position 1) is applied
    # before $topic_a (position 0), so $topic_a is what remains.
    assert resolved == {**room.state("$eve_join"), PL: "$pl1", TOPIC_KEY: "$topic_a"}


@pytest.mark.parametrize("version", V2_FAMILY)
def test_mainline_order_positions_timestamps_and_ids(version: str) -> None:
    room = _mainline_rooms(version)
    room.fork_at("$eve_join").topic("$topic_c", ALICE, "same position and ts as d", ts=9000)
    room.fork_at("$eve_join").topic("$topic_d", ALICE, "same position and ts as c", ts=9000)
    ctx = ResolutionContext(room.version, [room.state("$topic_a")], room.get)
    order = mainline_order(["$topic_a", "$topic_d", "$topic_b", "$topic_c"], "$pl1", ctx)
    assert order == ["$topic_b", "$topic_c", "$topic_d", "$topic_a"]


@pytest.mark.parametrize("version", V2_FAMILY)
def test_mainline_order_without_power_levels_puts_everything_at_infinity(version: str) -> None:
    room = _mainline_rooms(version)
    ctx = ResolutionContext(room.version, [room.state("$topic_a")], room.get)
    order = mainline_order(["$topic_a", "$topic_b"], None, ctx)
    assert order == ["$topic_a", "$topic_b"]  # by timestamp alone


@pytest.mark.parametrize("version", V2_FAMILY)
def test_same_mainline_position_falls_back_to_timestamp_then_event_id(version: str) -> None:
    room = Room.standard(version)
    room.fork_at("$eve_join").topic("$topic_y", ALICE, "y", ts=7000)
    room.fork_at("$eve_join").topic("$topic_x", BOB, "x", ts=7000)
    room.fork_at("$eve_join").topic("$topic_w", BOB, "w", ts=6000)
    resolved = room.resolve_at("$topic_y", "$topic_x", "$topic_w")
    # All at the same position: w (earlier ts), then x, then y (larger ID) last.
    assert resolved[TOPIC_KEY] == "$topic_y"


# --- an off-topic power levels race ---------------------------------------------------


@pytest.mark.parametrize("version", V2_FAMILY)
def test_moderator_cannot_revert_a_promotion_made_concurrently_by_an_admin(version: str) -> None:
    room = Room.standard(version)
    room.fork_at("$eve_join").power_levels("$pl_bob", BOB, {ALICE: 100, BOB: 50, EVE: 50})
    room.topic("$eve_topic", EVE, "eve's topic")
    room.fork_at("$eve_join").power_levels("$pl_alice", ALICE, {ALICE: 100, BOB: 50, CHARLIE: 50})
    room.topic("$charlie_topic", CHARLIE, "charlie's topic")
    resolved = room.resolve_at("$eve_topic", "$charlie_topic")
    # $pl_alice sorts first (Alice outranks Bob); Bob's $pl_bob would remove
    # Charlie's 50 entry, which Bob (50) may not touch, so it is dropped and
    # Eve's topic, which needed it, goes with it.
    assert resolved == {**room.state("$eve_join"), PL: "$pl_alice", TOPIC_KEY: "$charlie_topic"}


@pytest.mark.parametrize("version", V2_FAMILY)
def test_power_levels_conflict_with_its_own_ancestor(version: str) -> None:
    """One state set still holds the older power levels the other replaced."""
    room = Room.standard(version)
    room.power_levels("$pl1", ALICE, {ALICE: 100, BOB: 50, CHARLIE: 50})
    room.topic("$charlie_topic", CHARLIE, "hello")
    stale = {**room.state("$charlie_topic"), PL: "$pl0"}
    resolved = room.resolve(room.state("$charlie_topic"), stale)
    assert resolved == room.state("$charlie_topic")


# --- state resets from incorrect state (MSC4297 problems A and B) --------------------


def _join_rules_after_alice_left(version: str) -> Room:
    """Alice sets join rules twice, others join under each, then Alice leaves."""
    room = Room(version)
    room.create(ALICE)
    room.join("$alice_join", ALICE)
    room.power_levels("$pl0", ALICE, {ALICE: 100})
    room.join_rules("$jr1", ALICE, "invite")
    room.invite("$invite_bob", ALICE, BOB)
    room.join("$bob_join", BOB)
    room.join_rules("$jr2", ALICE, "public")
    room.join("$charlie_join", CHARLIE)
    room.member("$alice_leaves", ALICE, "leave")
    return room


@pytest.mark.parametrize("version", ["10", "11"])
def test_v2_resets_join_rules_when_a_state_set_holds_outdated_join_rules(version: str) -> None:
    """MSC4297 problem A under v2: the unconflicted state says Alice has left,
    so neither of her join rules events passes, and the key disappears."""
    room = _join_rules_after_alice_left(version)
    correct = room.state("$alice_leaves")
    outdated = {**correct, JR: "$jr1"}  # e.g. a /state response from a faulty server
    resolved = room.resolve(correct, outdated)
    assert JR not in resolved
    assert resolved == {k: v for k, v in correct.items() if k != JR}


def test_v2_1_keeps_join_rules_when_a_state_set_holds_outdated_join_rules() -> None:
    """The same case under v2.1: the iterative auth checks start from an empty
    map, so each join rules event is checked against its own auth events."""
    room = _join_rules_after_alice_left("12")
    correct = room.state("$alice_leaves")
    outdated = {**correct, JR: "$jr1"}
    assert room.resolve(correct, outdated) == correct
    assert room.resolve(outdated, correct) == correct


def _promotion_chain(version: str) -> Room:
    """Alice promotes Bob ($pl1), who promotes Charlie ($pl2), who sets a topic."""
    room = Room(version)
    room.create(ALICE)
    room.join("$alice_join", ALICE)
    room.power_levels("$pl0", ALICE, {ALICE: 100})
    room.join_rules("$jr0", ALICE, "public")
    room.join("$bob_join", BOB)
    room.power_levels("$pl1", ALICE, {ALICE: 100, BOB: 50})
    room.join("$charlie_join", CHARLIE)
    room.power_levels("$pl2", BOB, {ALICE: 100, BOB: 50, CHARLIE: 50})
    room.topic("$charlie_topic", CHARLIE, "charlie can set topics")
    return room


@pytest.mark.parametrize("version", ["10", "11"])
def test_v2_resets_power_levels_when_a_state_set_holds_an_ancestor(version: str) -> None:
    """MSC4297 problem B under v2: $pl1 is in both auth chains, so it is not
    in the auth difference; without it Bob's $pl2 fails against $pl0."""
    room = _promotion_chain(version)
    correct = room.state("$charlie_topic")
    outdated = {**correct, PL: "$pl0"}
    resolved = room.resolve(correct, outdated)
    assert resolved == {**correct, PL: "$pl0"}


def test_v2_1_conflicted_subgraph_replays_the_promotion_chain() -> None:
    room = _promotion_chain("12")
    correct = room.state("$charlie_topic")
    outdated = {**correct, PL: "$pl0"}
    ctx = ResolutionContext(room.version, [correct, outdated], room.get)
    # Every auth path from $pl2 down to $pl0: through $pl1, and through Bob's
    # join (which cites $pl0 and the join rules, which cite $pl0 too).
    assert conflicted_state_subgraph({"$pl0", "$pl2"}, ctx) == {
        "$pl0",
        "$pl1",
        "$pl2",
        "$bob_join",
        "$jr0",
    }
    assert room.resolve(correct, outdated) == correct
    assert room.resolve(outdated, correct) == correct


# --- v12: room creators ---------------------------------------------------------------


def test_v12_creator_cannot_be_outpowered_by_an_admin() -> None:
    room = Room.standard("12", users={BOB: 100})
    # Bob (100) acts first in time: promotes Eve, then kicks Charlie.
    room.fork_at("$eve_join").power_levels("$bob_pl", BOB, {BOB: 100, EVE: 100})
    room.kick("$bob_kicks_charlie", BOB, CHARLIE)
    # Later, the creator demotes Bob; in v12 that is allowed (infinite > 100).
    room.fork_at("$eve_join").power_levels("$alice_pl", ALICE, {BOB: 0})
    ctx = ResolutionContext(room.version, [room.state("$eve_join")], room.get)
    order = reverse_topological_power_order(["$bob_pl", "$alice_pl", "$bob_kicks_charlie"], ctx)
    assert order == ["$alice_pl", "$bob_pl", "$bob_kicks_charlie"]
    resolved = room.resolve_at("$bob_kicks_charlie", "$alice_pl")
    assert resolved == {**room.state("$eve_join"), PL: "$alice_pl"}


def test_v11_admin_of_equal_power_cannot_be_demoted_so_v12_creators_matter() -> None:
    """The same demotion in v11, where the creator is just another 100."""
    room = Room.standard("11", users={ALICE: 100, BOB: 100})
    with pytest.raises(AuthError):
        room.power_levels("$alice_pl", ALICE, {ALICE: 100, BOB: 0})


def test_v12_additional_creator_is_also_infinite() -> None:
    room = Room("12")
    room.add(
        "$create", CREATE, ALICE, {"room_version": "12", "additional_creators": [BOB]}, state_key=""
    )
    room.join("$alice_join", ALICE)
    room.power_levels("$pl0", ALICE, {})
    room.join_rules("$jr0", ALICE, "public")
    room.join("$bob_join", BOB)
    room.join("$charlie_join", CHARLIE)
    # Alice kicks Charlie while Bob, a creator too, bans him: both valid.
    room.fork_at("$charlie_join").kick("$alice_kicks", ALICE, CHARLIE, ts=5000)
    room.fork_at("$charlie_join").ban("$bob_bans", BOB, CHARLIE, ts=5001)
    resolved = room.resolve_at("$alice_kicks", "$bob_bans")
    # Equal (infinite) power: the earlier kick first, then the ban on top.
    assert resolved[member(CHARLIE)] == "$bob_bans"


# --- rejected events ---------------------------------------------------------------------


@pytest.mark.parametrize("version", V2_FAMILY)
def test_rejected_events_never_enter_the_resolved_state(version: str) -> None:
    room = Room.standard(version)
    room.fork_at("$eve_join").topic("$good", ALICE, "accepted", ts=5000)
    room.fork_at("$eve_join").topic("$bad", BOB, "rejected later", ts=6000, rejected="test")
    state_with_bad = {**room.state("$eve_join"), TOPIC_KEY: "$bad"}
    resolved = room.resolve(room.state("$good"), state_with_bad)
    assert resolved[TOPIC_KEY] == "$good"


# --- version 1 specifics -------------------------------------------------------------------


def test_v1_other_conflicts_pick_highest_depth_then_lowest_sha1() -> None:
    room = Room.standard("1")
    room.fork_at("$eve_join").topic("$topic_p", ALICE, "p")
    room.fork_at("$eve_join").topic("$topic_q", ALICE, "q")
    room.fork_at("$eve_join").message("$m", BOB)
    room.topic("$topic_deeper", BOB, "deeper")
    lowest_sha1 = min(["$topic_p", "$topic_q"], key=sha1_value)
    assert room.resolve_at("$topic_p", "$topic_q")[TOPIC_KEY] == lowest_sha1
    assert room.resolve_at("$topic_p", "$topic_q", "$topic_deeper")[TOPIC_KEY] == "$topic_deeper"


def test_v1_power_levels_chain_stops_at_the_first_failure() -> None:
    room = Room.standard("1")
    room.fork_at("$eve_join").power_levels("$pl_a", ALICE, {ALICE: 100, BOB: 50, CHARLIE: 60})
    room.fork_at("$eve_join").message("$m1", BOB)
    room.power_levels("$pl_b", BOB, {ALICE: 100, BOB: 50, EVE: 20})
    room.fork_at("$eve_join").message("$m2", ALICE)
    room.message("$m3", ALICE)
    room.power_levels("$pl_c", ALICE, {ALICE: 100, BOB: 50, CHARLIE: 60, ZARA: 1})
    depths = [room.events[e].depth for e in ("$pl_a", "$pl_b", "$pl_c")]
    assert depths == sorted(depths) and len(set(depths)) == 3
    # $pl_a (shallowest) goes in unchecked. $pl_b would drop Charlie's 60,
    # above Bob's 50, so it fails against R and the chain stops there:
    # Alice's deeper $pl_c, which would pass, is never tried.
    assert room.resolve_at("$pl_a", "$pl_b", "$pl_c")[PL] == "$pl_a"
    # Without $pl_b in the way, $pl_c is applied after $pl_a.
    assert room.resolve_at("$pl_a", "$pl_c")[PL] == "$pl_c"


def test_v1_key_held_by_only_some_states_is_not_a_conflict() -> None:
    room = Room.standard("1")
    room.fork_at("$eve_join").topic("$topic", BOB, "x")
    room.fork_at("$eve_join").message("$m", CHARLIE)
    assert room.resolve_at("$topic", "$m") == room.state("$topic")


# --- scale ------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["11", "12"])
def test_resolution_of_a_large_room_is_fast(version: str) -> None:
    room = Room.standard(version)
    for i in range(1500):
        room.join(f"$join{i}", f"@user{i}:x.example")
    fork = room.latest
    assert fork is not None
    room.fork_at(fork).power_levels("$pl_a", ALICE, {ALICE: 100, BOB: 50, "@user7:x.example": 50})
    for i in range(0, 300, 3):
        room.kick(f"$kick{i}", ALICE, f"@user{i}:x.example")
    room.fork_at(fork).topic("$topic_b", BOB, "b")
    for i in range(1, 300, 3):
        room.member(f"$leave{i}", f"@user{i}:x.example", "leave")
    started = time.perf_counter()
    resolved = room.resolve_at(room.latest, "$kick297")
    elapsed = time.perf_counter() - started
    assert resolved[PL] == "$pl_a"
    assert resolved[TOPIC_KEY] == "$topic_b"
    assert resolved[member("@user0:x.example")] == "$kick0"
    assert resolved[member("@user1:x.example")] == "$leave1"
    assert resolved[member("@user2:x.example")] == "$join2"
    assert elapsed < 5.0
