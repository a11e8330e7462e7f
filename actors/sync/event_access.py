"""Which events a user may see, and serving them in the user's view.

`EventAccess` joins the pure history-visibility rules to the database: for a
batch of events it resolves the setting and the user's membership before
each event with one state-group query (events of a linear room share their
groups), and only when the `shared` rule needs it, when the user joined
each room. Serving builds the client (or federation) format with the
requesting user's `unsigned`: age, transaction ID for the sending device,
previous content when the user may see the replaced event, membership.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from actors.context import now_ms
from actors.sync import event_store
from actors.sync.client_format import client_event, federation_event
from actors.sync.event_store import EventRow
from actors.sync.filters import project_fields
from actors.sync.history_visibility import (
    HISTORY_VISIBILITY_TYPE,
    MEMBER_TYPE,
    SHARED,
    EventFacts,
    is_visible,
    membership_at_event,
    normalise_setting,
    setting_of,
)
from actors.sync.state_groups import StateGroupReader
from protocol.redaction import redact_content
from protocol.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion

# A room whose version this server does not know (it could not have been
# stored) is served with the oldest rules rather than failing the request.
_FALLBACK_VERSION = KNOWN_ROOM_VERSIONS["1"]
_VALUE_CACHE_SIZE = 100_000


@dataclass(frozen=True)
class Viewer:
    """Who is reading: the user, and the device (for transaction IDs)."""

    user_id: str
    device_id: str | None = None


@dataclass(frozen=True)
class EventFormat:
    """How to serve events: `client` or `federation`, with or without room IDs."""

    event_format: str = "client"
    include_room_id: bool = True
    event_fields: tuple[str, ...] | None = None


class EventAccess:
    def __init__(self, states: StateGroupReader) -> None:
        self.states = states
        self._versions: dict[str, RoomVersion] = {}
        # event ID -> (membership, history_visibility): immutable, survive redaction.
        self._values: OrderedDict[str, tuple[str | None, str | None]] = OrderedDict()

    # --- lookups ---------------------------------------------------------------

    async def room_versions(self, conn: Any, room_ids: Iterable[str]) -> dict[str, RoomVersion]:
        rooms = set(room_ids)
        missing = [r for r in rooms if r not in self._versions]
        if missing:
            for room, version in (await event_store.room_version_ids(conn, missing)).items():
                self._versions[room] = KNOWN_ROOM_VERSIONS.get(version, _FALLBACK_VERSION)
        return {r: self._versions.get(r, _FALLBACK_VERSION) for r in rooms}

    async def event_memberships(
        self, conn: Any, event_ids: Iterable[str]
    ) -> dict[str, tuple[str | None, str | None]]:
        """(content.membership, content.history_visibility) of each event, cached."""
        ids = set(event_ids)
        out = {i: self._values[i] for i in ids if i in self._values}
        missing = ids - out.keys()
        if missing:
            loaded = await event_store.membership_values(conn, missing)
            for i, value in loaded.items():
                self._values[i] = value
                out[i] = value
            while len(self._values) > _VALUE_CACHE_SIZE:
                self._values.popitem(last=False)
        return out

    async def memberships_at(
        self, conn: Any, user_id: str, groups: Iterable[int | None]
    ) -> dict[int, tuple[str, str | None]]:
        """(history visibility setting, user's membership) in each state group."""
        groups = {g for g in groups if g is not None}
        hv_key = (HISTORY_VISIBILITY_TYPE, "")
        member_key = (MEMBER_TYPE, user_id)
        entries = await self.states.entries(conn, groups, [hv_key, member_key])
        values = await self.event_memberships(
            conn, (eid for state in entries.values() for eid in state.values())
        )
        out: dict[int, tuple[str, str | None]] = {}
        for g in groups:
            state = entries.get(g, {})
            hv = values.get(state.get(hv_key, ""), (None, None))[1]
            membership = values.get(state.get(member_key, ""), (None, None))[0]
            out[g] = (normalise_setting(hv), membership)
        return out

    # --- visibility --------------------------------------------------------------

    async def facts(self, conn: Any, user_id: str, rows: Sequence[EventRow]) -> dict[str, EventFacts]:
        at = await self.memberships_at(conn, user_id, (r.state_before for r in rows))
        partial: dict[str, tuple[str, str | None]] = {
            r.event_id: at.get(r.state_before, (SHARED, None)) if r.state_before is not None
            else (SHARED, None)
            for r in rows
        }
        # Rule 3 needs "did the user join after this event": ask only when it can matter.
        needs_joins = {
            r.room_id
            for r in rows
            if partial[r.event_id][1] != "join"
            and SHARED in (partial[r.event_id][0], _setting_after(r))
        }
        last_join: dict[str, int] = {}
        if needs_joins:
            history = await event_store.member_history(conn, needs_joins, user_id)
            for room, events in history.items():
                joins = [seq for seq, _, m in events if m == "join"]
                if joins:
                    last_join[room] = max(joins)
        return {
            r.event_id: EventFacts(
                event_type=r.type,
                state_key=r.state_key,
                content=r.content,
                setting_before=partial[r.event_id][0],
                membership_before=partial[r.event_id][1],
                joined_later=last_join.get(r.room_id, -1) > r.room_seq,
            )
            for r in rows
        }

    async def visible(
        self, conn: Any, user_id: str, rows: Sequence[EventRow]
    ) -> list[tuple[EventRow, EventFacts]]:
        """The rows the user may see, in the given order, with their facts."""
        facts = await self.facts(conn, user_id, rows)
        return [(r, facts[r.event_id]) for r in rows if is_visible(user_id, facts[r.event_id])]

    # --- serving -----------------------------------------------------------------

    async def serve(
        self,
        conn: Any,
        viewer: Viewer,
        rows: Sequence[EventRow],
        fmt: EventFormat,
        facts: dict[str, EventFacts] | None = None,
    ) -> list[dict[str, Any]]:
        """The events in the viewer's format, in order."""
        if not rows:
            return []
        facts = facts or {}
        versions = await self.room_versions(conn, (r.room_id for r in rows))
        redactions = await event_store.fetch_events(
            conn, (r.redacted_by for r in rows if r.redacted_by)
        )
        because = {
            eid: self._build(red, viewer, versions.get(red.room_id, _FALLBACK_VERSION), fmt, None, None)
            for eid, red in redactions.items()
        }
        prev_content = await self._previous_contents(conn, viewer.user_id, rows, versions)
        out = []
        for r in rows:
            rv = versions.get(r.room_id, _FALLBACK_VERSION)
            event = self._build(
                r, viewer, rv, fmt, facts.get(r.event_id), prev_content,
                because.get(r.redacted_by) if r.redacted_by else None,
            )
            if fmt.event_fields is not None:
                event = project_fields(event, fmt.event_fields)
            out.append(event)
        return out

    async def _previous_contents(
        self, conn: Any, user_id: str, rows: Sequence[EventRow], versions: dict[str, RoomVersion]
    ) -> dict[str, Any]:
        """Content of each replaced state event the user may see (redacted if it was)."""
        replaced = await event_store.fetch_events(
            conn, (r.replaces_state for r in rows if r.replaces_state)
        )
        if not replaced:
            return {}
        seen = await self.visible(conn, user_id, list(replaced.values()))
        out = {}
        for prev, _ in seen:
            content = prev.content if isinstance(prev.content, dict) else {}
            if prev.redacted_by:
                rv = versions.get(prev.room_id, _FALLBACK_VERSION)
                content = redact_content(prev.type, content, rv)
            out[prev.event_id] = content
        return out

    def _build(
        self,
        r: EventRow,
        viewer: Viewer,
        rv: RoomVersion,
        fmt: EventFormat,
        facts: EventFacts | None,
        prev_content: dict[str, Any] | None,
        redacted_because: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        unsigned: dict[str, Any] = {"age": max(0, now_ms() - r.origin_server_ts)}
        if (
            r.txn_id is not None
            and viewer.device_id is not None
            and r.sender == viewer.user_id
            and r.sender_device == viewer.device_id
        ):
            unsigned["transaction_id"] = r.txn_id
        if r.replaces_state:
            unsigned["replaces_state"] = r.replaces_state
            if prev_content is not None and r.replaces_state in prev_content:
                unsigned["prev_content"] = prev_content[r.replaces_state]
        if facts is not None:
            unsigned["membership"] = membership_at_event(viewer.user_id, facts)
        redacted = r.redacted_by is not None
        if fmt.event_format == "federation":
            return federation_event(r.pdu, r.event_id, rv, unsigned=unsigned, redacted=redacted)
        return client_event(
            r.pdu, r.event_id, r.room_id, rv,
            unsigned=unsigned,
            include_room_id=fmt.include_room_id,
            redacted_because=redacted_because,
            redacted=redacted,
        )


def _setting_after(row: EventRow) -> str | None:
    """The setting an `m.room.history_visibility` event sets (None for other events)."""
    if row.type == HISTORY_VISIBILITY_TYPE and row.state_key == "":
        return setting_of(row.content)
    return None
