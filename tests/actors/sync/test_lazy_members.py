"""Lazy-loading knowledge: counted only once the client acknowledges a response."""

from __future__ import annotations

from actors.sync.lazy_members import LazyMemberTracker
from actors.sync.sync_token import SyncToken

U, D = "@u:x", "DEV"


def test_sent_members_count_once_acknowledged() -> None:
    t = LazyMemberTracker()
    assert t.known(U, D, None) == {}
    t.record(U, D, SyncToken((5,)), {"!r:x": {"@a:x": "$1"}})
    # A retry of the same request (the response was lost) must not assume it.
    assert t.known(U, D, SyncToken((3,))) == {}
    assert t.known(U, D, SyncToken((5,))) == {"!r:x": {"@a:x": "$1"}}


def test_initial_sync_forgets_everything() -> None:
    t = LazyMemberTracker()
    t.record(U, D, SyncToken((5,)), {"!r:x": {"@a:x": "$1"}})
    assert t.known(U, D, SyncToken((5,)))
    assert t.known(U, D, None) == {}
    assert t.known(U, D, SyncToken((9,))) == {}


def test_devices_are_separate_and_bounded() -> None:
    t = LazyMemberTracker(max_devices=2)
    for i in range(3):
        t.record(U, f"D{i}", SyncToken((1,)), {"!r:x": {"@a:x": f"${i}"}})
    assert t.known(U, "D0", SyncToken((1,))) == {}
    assert t.known(U, "D2", SyncToken((1,))) == {"!r:x": {"@a:x": "$2"}}
