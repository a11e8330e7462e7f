"""Presence as a function of time (pure): what a stored record means at a given moment.

A record holds the state last written, the last activity and when the user's
last /sync is expected to end. From these, without any timer having run:

- a user goes **offline** `offline_after_ms` after both their last sync
  ended and their last activity (a client that stops syncing disappears);
- an **online** user with no activity for `idle_after_ms` is **unavailable**
  (idle);
- `currently_active` is true for an online user active in the last minute.

The presence shard's timers only make these transitions *visible* (written
with a stream position, so syncs deliver them); every read evaluates the
record lazily, so a late or lost timer never shows a wrong state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from dendray.config import PresenceConfig

ONLINE = "online"
UNAVAILABLE = "unavailable"
OFFLINE = "offline"
STATES = (ONLINE, UNAVAILABLE, OFFLINE)
PRESENCE = "m.presence"
# Activity within this long counts as "currently active".
ACTIVE_WINDOW_MS = 60_000


@dataclass(frozen=True)
class PresenceRecord:
    user_id: str
    state: str
    status_msg: str | None
    last_active_ts: int
    sync_until_ts: int = 0

    @classmethod
    def from_row(cls, row: Any) -> PresenceRecord:
        return cls(row["user_id"], row["state"], row["status_msg"], row["last_active_ts"],
                   row["sync_until_ts"])


def offline_deadline(rec: PresenceRecord, cfg: PresenceConfig) -> int:
    return max(rec.sync_until_ts, rec.last_active_ts) + cfg.offline_after_ms


def idle_deadline(rec: PresenceRecord, cfg: PresenceConfig) -> int:
    return rec.last_active_ts + cfg.idle_after_ms


def effective_state(rec: PresenceRecord, now: int, cfg: PresenceConfig) -> str:
    if rec.state == OFFLINE or now >= offline_deadline(rec, cfg):
        return OFFLINE
    if rec.state == ONLINE and now >= idle_deadline(rec, cfg):
        return UNAVAILABLE
    return rec.state


def effective(rec: PresenceRecord, now: int, cfg: PresenceConfig) -> PresenceRecord:
    """The record as it stands at `now` (its state after any due transition)."""
    state = effective_state(rec, now, cfg)
    return rec if state == rec.state else replace(rec, state=state)


def next_deadline(rec: PresenceRecord, cfg: PresenceConfig) -> int | None:
    """When the record's state changes next by itself (None: never, it is offline)."""
    if rec.state == OFFLINE:
        return None
    deadline = offline_deadline(rec, cfg)
    if rec.state == ONLINE:
        deadline = min(deadline, idle_deadline(rec, cfg))
    return deadline


def currently_active(rec: PresenceRecord, now: int, cfg: PresenceConfig) -> bool:
    return effective_state(rec, now, cfg) == ONLINE and now - rec.last_active_ts < ACTIVE_WINDOW_MS


def presence_content(rec: PresenceRecord, now: int, cfg: PresenceConfig) -> dict[str, Any]:
    """The client form (GET /presence/…/status, and the m.presence event's content)."""
    content: dict[str, Any] = {
        "presence": effective_state(rec, now, cfg),
        "last_active_ago": max(0, now - rec.last_active_ts),
        "currently_active": currently_active(rec, now, cfg),
    }
    if rec.status_msg is not None:
        content["status_msg"] = rec.status_msg
    return content


def presence_event(rec: PresenceRecord, now: int, cfg: PresenceConfig) -> dict[str, Any]:
    return {"type": PRESENCE, "sender": rec.user_id, "content": presence_content(rec, now, cfg)}
