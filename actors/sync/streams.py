"""The non-room streams of `/sync`: how a stream plugs into the sync response.

Room events are the sync handler's own business (writers, room order). Every
other stream (account data, receipts, typing, presence, to-device, device
lists...) is a `StreamSource`, one instance per sync shard, registered in
`stream_sources` at the bottom of this file. In each sync pass, after the
rooms are computed, the handler calls every source in turn on the pass's
database connection:

    now  = await source.current(conn, req)            # the stream's "now"
    pos  = await source.fill(conn, req, now, out)     # add (since, now]; -> next_batch

- `name` is the stream's name in `SyncToken.streams` (`sync_token.STREAM_CODES`
  maps it to its code in the token: ad, rc, ty, pr, td, dl).
- `current` returns a position P such that every change at or below it can
  be read now, and, once `fill` has run, every later change gets a position
  above P (persisted streams: `storage.stream_positions.current_position`,
  see that module; typing: each shard moves its clock up to P in `fill`).
- `fill` adds what changed in `(req.since_pos(name), now]` to `out` (all of it
  when `req.since_pos(name)` is None: an initial sync), for `req.viewer`,
  restricted by `req.filter`, and returns the position to put in
  `next_batch` (normally `now`; lower when it stopped early, e.g. at a
  per-response limit, and then it must mark news so the client comes back at
  once). The handler never lets a position go below the client's `since`.
- Top-level sections go through `out.add_events(section, events)`
  (`account_data`, `presence`, `to_device`: `{"events": [...]}`) or
  `out.set_field(key, value, news=...)` (`device_lists`,
  `device_one_time_keys_count`, ...). Per-room parts of joined rooms go
  through `out.add_room_events(room_id, section, events)` (`ephemeral`,
  `account_data`), only for rooms in `req.joined_rooms`; a room the room
  stream left out of `rooms.join` gets an entry of its own.
- Non-empty events (or `news=True`) make the response worth returning; an
  empty response long-polls until a notification past `now`.

Producers wake long-polls after committing: `actors.sync.api.notify_stream(
router, stream, pos, user_ids)` calls `on_stream` (fire and forget) on the
sync shards of those users, with the position of the change. As for room
events, a lost wake-up costs latency, never data.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from actors.context import Context
from actors.sync.event_access import Viewer
from actors.sync.filters import SyncFilter
from actors.sync.sync_token import SyncToken

# Top-level sections whose value is {"events": [...]}.
EVENT_SECTIONS = ("account_data", "presence", "to_device")
# Per-room sections of a joined room that streams fill.
ROOM_SECTIONS = ("ephemeral", "account_data")


@dataclass(frozen=True)
class StreamRequest:
    """What a source needs to know about the sync it fills."""

    viewer: Viewer
    filter: SyncFilter
    since: SyncToken | None
    full_state: bool
    # Rooms the user is joined to now that the filter's room list admits.
    joined_rooms: tuple[str, ...]
    # Joined rooms this response describes from scratch (initial sync, newly
    # joined, full_state): sources send their whole current part for these.
    new_rooms: frozenset[str] = frozenset()

    def since_pos(self, stream: str) -> int | None:
        """The client's position in `stream`; None on an initial sync."""
        return None if self.since is None else self.since.stream_pos(stream)


@dataclass
class StreamOutput:
    """The streams' parts of one response, merged into it by `apply`."""

    top: dict[str, Any] = field(default_factory=dict)
    rooms: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    news: bool = False

    def add_events(self, section: str, events: list[dict[str, Any]]) -> None:
        if section not in EVENT_SECTIONS:
            raise ValueError(f"not an event section: {section}")
        self.top.setdefault(section, {"events": []})["events"].extend(events)
        self.news = self.news or bool(events)

    def set_field(self, key: str, value: Any, *, news: bool) -> None:
        self.top[key] = value
        self.news = self.news or news

    def add_room_events(self, room_id: str, section: str, events: list[dict[str, Any]]) -> None:
        if section not in ROOM_SECTIONS:
            raise ValueError(f"not a room section: {section}")
        if events:
            self.rooms.setdefault(room_id, {}).setdefault(section, []).extend(events)
            self.news = True

    def apply(self, response: dict[str, Any], prev_batch: str) -> None:
        """Merge into `response`; rooms with stream news only get an empty-timeline entry."""
        for key, value in self.top.items():
            if key in EVENT_SECTIONS:
                response.setdefault(key, {"events": []})["events"].extend(value["events"])
            else:
                response[key] = value
        joined = response["rooms"]["join"]
        for room_id, parts in self.rooms.items():
            entry = joined.get(room_id)
            if entry is None:
                entry = joined[room_id] = {
                    "timeline": {"events": [], "limited": False, "prev_batch": prev_batch},
                    "state": {"events": []},
                    "account_data": {"events": []},
                    "ephemeral": {"events": []},
                }
            for section, events in parts.items():
                entry.setdefault(section, {"events": []})["events"].extend(events)


class StreamSource(ABC):
    """One non-room stream's reader on a sync shard (see the module docstring)."""

    name: ClassVar[str]

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @abstractmethod
    async def current(self, conn: Any, req: StreamRequest) -> int:
        """The stream's position now: all below is readable, all later is above."""

    @abstractmethod
    async def fill(self, conn: Any, req: StreamRequest, now: int, out: StreamOutput) -> int:
        """Add the changes in (since, now] to `out`; return the position for next_batch."""


def stream_sources(ctx: Context) -> list[StreamSource]:
    """Every stream source, in the order they fill a response. Register new ones here."""
    # Imported here: the source modules import this one for the base class.
    from actors.sync.stream_account_data import AccountDataSource
    from actors.sync.stream_device_lists import DeviceListsSource
    from actors.sync.stream_presence import PresenceSource
    from actors.sync.stream_receipts import ReceiptsSource
    from actors.sync.stream_to_device import ToDeviceSource
    from actors.sync.stream_typing import TypingSource

    return [
        AccountDataSource(ctx),
        PresenceSource(ctx),
        ReceiptsSource(ctx),
        TypingSource(ctx),
        ToDeviceSource(ctx),
        DeviceListsSource(ctx),
    ]
