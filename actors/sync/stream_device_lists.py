"""The device-list stream in /sync: `device_lists`, and the syncing device's key counts.

`device_lists` (incremental syncs only, as the spec says) names the users
whose device lists the client must re-fetch and those it may stop tracking
(`device_list_changes`). Every response also carries the device's
unclaimed one-time key counts and its unused fallback key algorithms, read
from the keys component's tables: they are the device's current state,
not changes, so they never make an otherwise empty response worth sending.
"""

from __future__ import annotations

from typing import Any

from actors.keys.one_time_keys import counts, unused_fallback_algorithms
from actors.sync import device_list_changes
from actors.sync.streams import StreamOutput, StreamRequest, StreamSource
from storage.stream_positions import current_position


class DeviceListsSource(StreamSource):
    name = "device_lists"

    async def current(self, conn: Any, req: StreamRequest) -> int:
        return await current_position(conn, self.name)

    async def fill(self, conn: Any, req: StreamRequest, now: int, out: StreamOutput) -> int:
        user, device = req.viewer.user_id, req.viewer.device_id
        if device is not None:
            out.set_field(
                "device_one_time_keys_count", await counts(conn, user, device),
                news=False,
            )
            out.set_field(
                "device_unused_fallback_key_types", await unused_fallback_algorithms(conn, user, device),
                news=False,
            )
        if req.since is not None:
            # Membership changes are read up to what is committed now, which may
            # be past this response's room positions: a user is then announced
            # once more in the next response, which costs a key query, not data.
            changes = await device_list_changes.changes(conn, user, req.since, now)
            out.set_field("device_lists", changes.json(), news=bool(changes))
        return now

