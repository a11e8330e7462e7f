"""Which membership events each device's client already holds (lazy-loading members).

With `lazy_load_members`, a sync may leave out member events the client
already has ("redundant" ones) unless `include_redundant_members` is set.
This is only an optimisation the spec allows, so it lives in memory and is
lost with the actor: then members are simply sent again.

A response may never reach its client (a dropped connection), so what it
sent counts as known only once the client syncs with a `since` at or past
that response's `next_batch`. An initial sync (no `since`) starts afresh.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from actors.sync.sync_token import SyncToken

# room ID -> member user ID -> member event ID
MemberMap = dict[str, dict[str, str]]

MAX_DEVICES = 10_000
MAX_PENDING_PER_DEVICE = 8


def _at_or_past(token: SyncToken, mark: SyncToken) -> bool:
    n = max(len(token.writers), len(mark.writers))
    return all(token.writer_pos(w) >= mark.writer_pos(w) for w in range(n))


@dataclass
class _DeviceMembers:
    known: MemberMap = field(default_factory=dict)
    # Sent but not yet acknowledged: (next_batch, what was sent).
    pending: list[tuple[SyncToken, MemberMap]] = field(default_factory=list)


class LazyMemberTracker:
    def __init__(self, max_devices: int = MAX_DEVICES) -> None:
        self._devices: OrderedDict[tuple[str, str], _DeviceMembers] = OrderedDict()
        self._max_devices = max_devices

    def known(self, user_id: str, device_id: str, since: SyncToken | None) -> MemberMap:
        """What the client has, given the `since` it syncs from (read-only result)."""
        key = (user_id, device_id)
        if since is None:
            self._devices.pop(key, None)
            return {}
        entry = self._devices.get(key)
        if entry is None:
            return {}
        self._devices.move_to_end(key)
        still_pending = []
        for mark, sent in entry.pending:
            if _at_or_past(since, mark):
                _merge(entry.known, sent)
            else:
                still_pending.append((mark, sent))
        entry.pending = still_pending
        return entry.known

    def record(self, user_id: str, device_id: str, next_batch: SyncToken, sent: MemberMap) -> None:
        if not sent:
            return
        key = (user_id, device_id)
        entry = self._devices.get(key)
        if entry is None:
            entry = self._devices[key] = _DeviceMembers()
            while len(self._devices) > self._max_devices:
                self._devices.popitem(last=False)
        self._devices.move_to_end(key)
        entry.pending.append((next_batch, sent))
        del entry.pending[:-MAX_PENDING_PER_DEVICE]


def _merge(into: MemberMap, sent: MemberMap) -> None:
    for room_id, members in sent.items():
        into.setdefault(room_id, {}).update(members)
