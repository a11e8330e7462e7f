"""History visibility as the spec's table: setting x membership x "joined later"."""

from __future__ import annotations

import pytest

from actors.sync.history_visibility import (
    EventFacts,
    allowed,
    is_visible,
    membership_at_event,
    normalise_setting,
)

ME = "@me:x"
OTHER = "@other:x"

# (setting, membership at the event, joined later) -> allowed
RULES = [
    ("world_readable", None, False, True),
    ("world_readable", "leave", False, True),
    ("world_readable", "ban", False, True),
    ("shared", "join", False, True),
    ("shared", None, True, True),
    ("shared", None, False, False),
    ("shared", "leave", True, True),
    ("shared", "invite", False, False),
    ("shared", "ban", False, False),
    ("invited", "invite", False, True),
    ("invited", "join", False, True),
    ("invited", None, True, False),
    ("invited", "leave", False, False),
    ("invited", "knock", False, False),
    ("joined", "join", False, True),
    ("joined", "invite", False, False),
    ("joined", None, True, False),
    ("joined", "leave", True, False),
]


@pytest.mark.parametrize(("setting", "membership", "joined_later", "expected"), RULES)
def test_rules(setting: str, membership, joined_later: bool, expected: bool) -> None:
    assert allowed(setting, membership, joined_later) is expected


@pytest.mark.parametrize(("value", "setting"), [
    (None, "shared"), ("nonsense", "shared"), (3, "shared"),
    ("joined", "joined"), ("invited", "invited"), ("world_readable", "world_readable"),
])
def test_missing_or_unknown_setting_is_shared(value, setting: str) -> None:
    assert normalise_setting(value) == setting


def facts(event_type="m.room.message", state_key=None, content=None, setting="shared",
          membership=None, joined_later=False) -> EventFacts:
    return EventFacts(event_type, state_key, content or {}, setting, membership, joined_later)


def test_message_uses_the_state_before_it() -> None:
    assert not is_visible(ME, facts(setting="joined", membership="invite"))
    assert is_visible(ME, facts(setting="invited", membership="invite"))


def test_history_visibility_event_visible_if_before_or_after_allows() -> None:
    to_world = facts("m.room.history_visibility", "", {"history_visibility": "world_readable"},
                     setting="joined", membership=None)
    from_world = facts("m.room.history_visibility", "", {"history_visibility": "joined"},
                       setting="world_readable", membership=None)
    neither = facts("m.room.history_visibility", "", {"history_visibility": "invited"},
                    setting="joined", membership=None)
    assert is_visible(ME, to_world) and is_visible(ME, from_world)
    assert not is_visible(ME, neither)


def test_own_membership_event_visible_if_before_or_after_allows() -> None:
    join = facts("m.room.member", ME, {"membership": "join"}, setting="joined", membership=None)
    leave = facts("m.room.member", ME, {"membership": "leave"}, setting="joined",
                  membership="join")
    reject = facts("m.room.member", ME, {"membership": "leave"}, setting="joined",
                   membership="invite")
    assert is_visible(ME, join) and is_visible(ME, leave)
    assert not is_visible(ME, reject)


def test_someone_elses_membership_event_uses_my_membership() -> None:
    their_join = facts("m.room.member", OTHER, {"membership": "join"}, setting="joined",
                       membership=None)
    assert not is_visible(ME, their_join)


def test_unsigned_membership_includes_the_events_own_change() -> None:
    assert membership_at_event(ME, facts(membership=None)) == "leave"
    assert membership_at_event(ME, facts(membership="join")) == "join"
    assert membership_at_event(
        ME, facts("m.room.member", ME, {"membership": "join"}, membership="invite")) == "join"
    assert membership_at_event(
        ME, facts("m.room.member", OTHER, {"membership": "join"}, membership="invite")) == "invite"
