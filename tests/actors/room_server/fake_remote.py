"""A second homeserver in memory, for the room server's federation tests.

It knows the room's DAG (it copies our events from the database), builds and
signs its own events with its own key through the protocol core, and answers
the federation reads the room server makes (`/event`, `/event_auth`,
`/get_missing_events`, `/state_ids`, `/backfill`) from that DAG. `requests`
records what was asked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote

from protocol.auth_chain import auth_chain
from protocol.auth_events_selection import auth_types_for_event
from protocol.event_ids import compute_event_id
from protocol.events import Event, StateKey
from protocol.room_versions import RoomVersion
from protocol.signing import generate_signing_key, key_id, sign_event, verify_key_base64
from protocol.state_res import resolve_state

REMOTE = "remote.test"
BOB = f"@bob:{REMOTE}"
StateMap = dict[StateKey, str]


class FakeRemote:
    def __init__(self, version: RoomVersion, room_id: str, local_name: str, local_key: Any) -> None:
        self.version = version
        self.room_id = room_id
        self.key = generate_signing_key("r1")
        self.keys = {REMOTE: self.key, local_name: local_key}
        self.events: dict[str, Event] = {}
        self.state_after: dict[str, StateMap] = {}
        self.latest: list[str] = []
        self.requests: list[tuple[str, str]] = []
        self.clock = 10_000_000

    # --- the DAG -----------------------------------------------------------

    def get(self, event_id: str) -> Event | None:
        return self.events.get(event_id)

    def state_before(self, prev_ids: Sequence[str]) -> StateMap:
        states = [self.state_after[p] for p in prev_ids]
        return resolve_state(self.version, states, self.get) if states else {}

    def learn(self, event_id: str, pdu: Mapping[str, Any]) -> None:
        event = Event(pdu, self.version, event_id)
        self.events[event_id] = event
        after = self.state_before(event.prev_event_ids)
        if event.is_state:
            after[event.key] = event_id
        self.state_after[event_id] = after
        self.latest = [e for e in self.latest if e not in event.prev_event_ids] + [event_id]

    async def copy_from(self, pool: Any) -> None:
        """Learn every live event of the room we do not know yet, in room order."""
        rows = await pool.fetch(
            "SELECT event_id, pdu FROM events WHERE room_id = $1 AND NOT outlier"
            " AND rejected_reason IS NULL ORDER BY room_seq", self.room_id)
        for r in rows:
            if r["event_id"] not in self.events:
                self.learn(r["event_id"], r["pdu"])

    def build(
        self, event_type: str, sender: str, content: dict[str, Any], *,
        state_key: str | None = None, prev: Sequence[str] | None = None,
        sign_as: str = REMOTE, signing_key: Any = None, learn: bool = True,
    ) -> tuple[str, dict[str, Any]]:
        """Build and sign an event on top of `prev` (default: the remote's latest events)."""
        prev_ids = list(prev if prev is not None else self.latest)
        before = self.state_before(prev_ids)
        keys = auth_types_for_event(self.version, event_type, state_key, sender, content)
        self.clock += 1
        pdu: dict[str, Any] = {
            "type": event_type, "sender": sender, "content": content, "room_id": self.room_id,
            "origin_server_ts": self.clock, "prev_events": prev_ids,
            "auth_events": [before[k] for k in keys if k in before],
            "depth": max((self.events[p].depth for p in prev_ids), default=0) + 1,
        }
        if state_key is not None:
            pdu["state_key"] = state_key
        if not self.version.updated_redaction_rules:
            pdu["origin"] = sign_as
        signed = sign_event(pdu, self.version, sign_as, signing_key or self.keys[sign_as])
        event_id = compute_event_id(signed, self.version)
        if learn:
            self.learn(event_id, signed)
        return event_id, signed

    def pdu(self, event_id: str) -> dict[str, Any]:
        return dict(self.events[event_id].pdu)

    # --- keys --------------------------------------------------------------

    async def fetch_keys(self, server: str, key_ids: list[str], min_valid: int) -> dict[str, str]:
        key = self.keys.get(server)
        return {key_id(key): verify_key_base64(key)} if key is not None else {}

    # --- the federation API it serves --------------------------------------

    async def get_json(self, destination: str, path: str, query: dict[str, Any] | None = None) -> Any:
        self.requests.append(("GET", path))
        parts = [unquote(p) for p in path.split("/")]
        endpoint = parts[4]
        if endpoint == "event":
            return {"origin": REMOTE, "origin_server_ts": self.clock, "pdus": [self.pdu(parts[5])]}
        if endpoint == "event_auth":
            chain = auth_chain([parts[6]], self.get)
            return {"auth_chain": [self.pdu(e) for e in chain]}
        if endpoint == "state_ids":
            event_id = (query or {})["event_id"]
            state = self.state_before(self.events[event_id].prev_event_ids)
            return {"pdu_ids": list(state.values()),
                    "auth_chain_ids": sorted(auth_chain(state.values(), self.get))}
        if endpoint == "backfill":
            return {"origin": REMOTE, "origin_server_ts": self.clock,
                    "pdus": self._backfill(list((query or {})["v"]), int((query or {})["limit"]))}
        raise AssertionError(f"unexpected GET {path}")

    async def post_json(self, destination: str, path: str, body: Any) -> Any:
        self.requests.append(("POST", path))
        assert path.split("/")[4] == "get_missing_events"
        earliest = set(body["earliest_events"])
        found: dict[str, Event] = {}
        frontier = [p for e in body["latest_events"] for p in self.events[e].prev_event_ids]
        while frontier:
            event_id = frontier.pop()
            if event_id in found or event_id in earliest or event_id not in self.events:
                continue
            found[event_id] = self.events[event_id]
            frontier.extend(found[event_id].prev_event_ids)
        newest = sorted(found.values(), key=lambda e: e.depth)[-body["limit"]:]
        return {"events": [dict(e.pdu) for e in newest]}

    def _backfill(self, from_ids: list[str], limit: int) -> list[dict[str, Any]]:
        seen: dict[str, Event] = {}
        frontier = list(from_ids)
        while frontier and len(seen) < limit:
            event_id = frontier.pop(0)
            if event_id in seen or event_id not in self.events:
                continue
            seen[event_id] = self.events[event_id]
            frontier.extend(seen[event_id].prev_event_ids)
        return [dict(e.pdu) for e in seen.values()]
