"""One room's part of a `/sync` response: timeline, state, summary; invite and knock state.

A joined or left room is described by a window: the timeline is the newest
visible events after `after_seq` up to `upto` (the sync's "now", or the
user's leave), and the state is either the full state at the start of the
timeline (`since_group` None: initial sync, newly joined room, full_state) or
what changed between the state the client has (`since_group`) and the start
of the timeline. With `use_state_after`, `state_after` is the same relative
to the *end* of the timeline instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from actors.sync import event_store
from actors.sync.client_format import is_valid_stripped_state, stripped_state
from actors.sync.event_access import EventAccess, EventFormat, Viewer
from actors.sync.event_store import EventRow, RoomPosition
from actors.sync.filters import SyncFilter
from actors.sync.lazy_members import MemberMap
from actors.sync.state_groups import StateKey, StateMap, state_delta
from actors.sync.sync_token import SyncToken
from actors.sync.timeline import filter_matcher, walk_room

MEMBER = "m.room.member"
DEFAULT_TIMELINE_LIMIT = 10
MAX_TIMELINE_LIMIT = 100
# Rows a timeline walk may examine for each event it may return.
_ROWS_PER_EVENT = 10
_MIN_ROWS = 200
MAX_HEROES = 5

# The state a user can see of a room they are invited to or knocked on (spec: Stripped state).
STRIPPED_STATE_TYPES = (
    "m.room.create",
    "m.room.name",
    "m.room.avatar",
    "m.room.topic",
    "m.room.join_rules",
    "m.room.canonical_alias",
    "m.room.encryption",
)


@dataclass(frozen=True)
class SyncParams:
    viewer: Viewer
    filter: SyncFilter
    since: SyncToken | None
    now: SyncToken
    full_state: bool
    use_state_after: bool
    # Lazy-loading: member events the client already holds, per room.
    known_members: MemberMap


@dataclass(frozen=True)
class RoomWindow:
    room_id: str
    after_seq: int
    upto: RoomPosition
    # The state group the client holds; None sends full state.
    since_group: int | None


class RoomSyncBuilder:
    """Builds room entries for one sync pass and collects the member events it sends."""

    def __init__(self, conn: Any, access: EventAccess, params: SyncParams) -> None:
        self.conn = conn
        self.access = access
        self.params = params
        self.sent_members: MemberMap = {}
        # Joined rooms described from scratch (full state): the streams send all of theirs.
        self.new_rooms: set[str] = set()
        f = params.filter
        self.fmt = EventFormat(
            event_format=f.event_format, include_room_id=False, event_fields=f.event_fields
        )
        self.timeline_limit = f.room.timeline.limit_or(DEFAULT_TIMELINE_LIMIT, MAX_TIMELINE_LIMIT)

    # --- joined and left rooms ---------------------------------------------------

    async def room(self, window: RoomWindow, *, joined: bool) -> dict[str, Any] | None:
        """The room's entry, or None when an incremental sync has nothing for it."""
        p = self.params
        user = p.viewer.user_id
        limit = self.timeline_limit
        walk = await walk_room(
            self.conn, self.access, user, window.room_id,
            after_seq=window.after_seq, upto_seq=window.upto.room_seq, backwards=True,
            want=limit + 1, matches=filter_matcher(p.filter.room.timeline),
            max_rows=max(_MIN_ROWS, (limit + 1) * _ROWS_PER_EVENT),
        )
        kept = walk.kept[:limit]
        limited = len(walk.kept) > limit or not walk.exhausted
        timeline_rows = [r for r, _ in reversed(kept)]
        facts = {r.event_id: f for r, f in kept}

        full = window.since_group is None
        start_group = timeline_rows[0].state_before if timeline_rows else window.upto.state_after
        target_group = window.upto.state_after if p.use_state_after else start_group
        states = self.access.states
        if full:
            changes = await states.full_state(self.conn, target_group)
        elif window.since_group == target_group:
            # The usual incremental case: messages only, no state to load.
            changes = {}
        else:
            since_state = await states.full_state(self.conn, window.since_group)
            changes = state_delta(since_state, await states.full_state(self.conn, target_group))

        if not full and not timeline_rows and not changes:
            return None

        member_changed = any(k[0] == MEMBER for k in changes) or any(
            r.type == MEMBER for r in timeline_rows
        )
        summary = None
        if joined and (full or member_changed):
            summary = await self._summary(window.upto.state_after)
        state_rows = await self._state_rows(
            window.room_id, changes, target_group, timeline_rows, full=full,
            heroes=summary.get("m.heroes", []) if summary else [],
        )
        if not full and not timeline_rows and not state_rows:
            return None
        timeline = await self.access.serve(self.conn, p.viewer, timeline_rows, self.fmt, facts)
        state = await self.access.serve(self.conn, p.viewer, state_rows, self.fmt)
        self._note_sent(window.room_id, state_rows)
        self._note_sent(window.room_id, timeline_rows)

        first = timeline_rows[0] if timeline_rows else walk.last_row
        if first is not None and (timeline_rows or limited):
            prev_batch = p.now.with_writer(first.writer, first.stream_pos - 1)
        else:
            prev_batch = p.now.with_writer(window.upto.writer, window.upto.stream_pos)
        entry: dict[str, Any] = {
            "timeline": {"events": timeline, "limited": limited, "prev_batch": prev_batch.encode()},
            "state_after" if p.use_state_after else "state": {"events": state},
            "account_data": {"events": []},
        }
        if joined:
            if full:
                self.new_rooms.add(window.room_id)
            entry["ephemeral"] = {"events": []}
            # Push (notification counts) is a later component: zeros until then.
            entry["unread_notifications"] = {"highlight_count": 0, "notification_count": 0}
            if summary is not None:
                entry["summary"] = summary
        return entry

    async def lone_membership(self, member_row: EventRow) -> dict[str, Any]:
        """A left room the user never joined (a rejected invite, a withdrawn knock, a ban).

        Only the user's own membership event: the client must learn that the
        invite or knock is over, and may see nothing else of the room.
        """
        events = await self.access.serve(self.conn, self.params.viewer, [member_row], self.fmt)
        self._note_sent(member_row.room_id, [member_row])
        return {
            "timeline": {"events": events, "limited": False},
            "state_after" if self.params.use_state_after else "state": {"events": []},
            "account_data": {"events": []},
        }

    # --- state -------------------------------------------------------------------

    async def _state_rows(
        self,
        room_id: str,
        changes: StateMap,
        target_group: int | None,
        timeline_rows: list[EventRow],
        *,
        full: bool,
        heroes: Iterable[str],
    ) -> list[EventRow]:
        p = self.params
        state_filter = p.filter.room.state
        if state_filter.lazy_load_members:
            chosen = {k: v for k, v in changes.items() if k[0] != MEMBER}
            if not full:
                # Membership changes in the gap are sent even if redundant (spec: /sync).
                chosen.update({k: v for k, v in changes.items() if k[0] == MEMBER})
            wanted = {r.sender for r in timeline_rows} | set(heroes)
            if full:
                wanted.add(p.viewer.user_id)
            known = p.known_members.get(room_id, {})
            skip_redundant = not (state_filter.include_redundant_members or p.full_state)
            in_timeline = {r.event_id for r in timeline_rows}
            keys: list[StateKey] = [(MEMBER, user) for user in wanted]
            target = {}
            if target_group is not None:
                target = (await self.access.states.entries(self.conn, [target_group], keys))[
                    target_group]
            for key in keys:
                user = key[1]
                event_id = target.get(key)
                if event_id is None or event_id in in_timeline:
                    continue
                own_required = full and user == p.viewer.user_id
                if skip_redundant and not own_required and known.get(user) == event_id:
                    continue
                chosen[key] = event_id
        else:
            chosen = dict(changes)
        rows = await event_store.fetch_events(self.conn, chosen.values())
        return sorted(
            (
                r for r in rows.values()
                if state_filter.matches(room_id, r.type, r.sender, r.content)
            ),
            key=lambda r: (r.type, r.state_key or ""),
        )

    def _note_sent(self, room_id: str, rows: Iterable[EventRow]) -> None:
        for r in rows:
            if r.type == MEMBER and r.state_key is not None:
                self.sent_members.setdefault(room_id, {})[r.state_key] = r.event_id

    async def _summary(self, group: int | None) -> dict[str, Any]:
        """`m.heroes` and member counts, from the room's state at the end of the timeline."""
        members = await self.access.states.entries_of_types(self.conn, group, [MEMBER])
        values = await self.access.event_memberships(self.conn, members.values())
        by_membership: dict[str, list[tuple[str, str]]] = {}
        for (_, user), event_id in members.items():
            membership = values.get(event_id, (None, None))[0] or "leave"
            by_membership.setdefault(membership, []).append((user, event_id))
        me = self.params.viewer.user_id
        candidates = [
            m for m in by_membership.get("join", []) + by_membership.get("invite", []) if m[0] != me
        ]
        if not candidates:
            candidates = [
                m for m in by_membership.get("leave", []) + by_membership.get("ban", [])
                if m[0] != me
            ]
        order = await event_store.room_seqs(self.conn, (e for _, e in candidates))
        candidates.sort(key=lambda m: (order.get(m[1], 0), m[0]))
        return {
            "m.heroes": [user for user, _ in candidates[:MAX_HEROES]],
            "m.joined_member_count": len(by_membership.get("join", [])),
            "m.invited_member_count": len(by_membership.get("invite", [])),
        }

    # --- invites and knocks ------------------------------------------------------

    async def stripped_room_state(self, member_row: EventRow, unsigned_key: str) -> list[dict[str, Any]]:
        """Stripped state for an invite or a knock, ending with the membership event itself.

        For a room this server is in, it is read from the state after the
        membership event. For a room it is not in (a remote invite, a knock
        through another server) it is what the other server sent, which the
        room server keeps in the stored event's `unsigned`.
        """
        # Stripped state is its own shape: event_fields and event_format do not apply.
        fmt = EventFormat(include_room_id=False)
        own = (await self.access.serve(self.conn, self.params.viewer, [member_row], fmt))[0]
        sent = member_row.pdu.get("unsigned", {})
        if member_row.state_after is None or member_row.outlier or (
                isinstance(sent, dict) and unsigned_key in sent):
            remote = sent.get(unsigned_key) if isinstance(sent, dict) else None
            events = [stripped_state(e) for e in remote or [] if is_valid_stripped_state(e)]
            return [*events, stripped_state(own)]
        state = await self.access.states.full_state(self.conn, member_row.state_after)
        keys: list[StateKey] = [(t, "") for t in STRIPPED_STATE_TYPES]
        keys.append((MEMBER, member_row.sender))
        ids = [state[k] for k in keys if k in state and state[k] != member_row.event_id]
        rows = await event_store.fetch_events(self.conn, ids)
        ordered = [rows[i] for i in dict.fromkeys(ids) if i in rows]
        served = await self.access.serve(self.conn, self.params.viewer, ordered, fmt)
        return [*(stripped_state(e) for e in served), stripped_state(own)]
