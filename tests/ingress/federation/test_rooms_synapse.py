"""Room events between a real Synapse and dendray: live PDUs over `/send` and
history over `/backfill`, seen through our client API."""

from __future__ import annotations

from tests.clients import register
from tests.ingress.federation.test_membership_synapse import call, eventually, room_path


def bodies(events: list[dict]) -> list[str]:
    return [e["content"].get("body") for e in events if e["type"] == "m.room.message"]


def test_synapse_messages_arrive_and_history_backfills(server, synapse_peer) -> None:
    ours_url, their_url = server.client_url, synapse_peer.client_url
    ours, theirs = register(server), register(synapse_peer)
    room_id = call(their_url, theirs, "POST", "/createRoom", {
        "preset": "public_chat", "initial_state": [{
            "type": "m.room.history_visibility", "state_key": "",
            "content": {"history_visibility": "shared"}}]})["room_id"]
    path = f"/rooms/{room_path(room_id)}"
    for i in range(3):
        call(their_url, theirs, "PUT", f"{path}/send/m.room.message/old{i}",
             {"msgtype": "m.text", "body": f"old {i}"})
    call(ours_url, ours, "POST", f"/join/{room_path(room_id)}",
         params={"via": synapse_peer.server_name}, body={})
    since = call(ours_url, ours, "GET", "/sync", params={"timeout": "0"})["next_batch"]

    # A live message: Synapse's /send reaches our room server, and our /sync shows it.
    call(their_url, theirs, "PUT", f"{path}/send/m.room.message/live",
         {"msgtype": "m.text", "body": "live"})

    def arrived() -> bool:
        rooms = call(ours_url, ours, "GET", "/sync",
                     params={"since": since, "timeout": "1000"})["rooms"]
        timeline = rooms.get("join", {}).get(room_id, {}).get("timeline", {}).get("events", [])
        return "live" in bodies(timeline)

    eventually(arrived, "Synapse's message in our /sync", timeout=90)

    # Paging back past our join backfills the messages sent before it.
    page = call(ours_url, ours, "GET", f"{path}/messages", params={"dir": "b", "limit": "30"})
    got = bodies(page["chunk"])
    assert got[:1] == ["live"] and ["old 2", "old 1", "old 0"] == [b for b in got if b != "live"]
    # Backfilled history is not news for an incremental sync.
    rooms = call(ours_url, ours, "GET", "/sync", params={"since": since, "timeout": "0"})["rooms"]
    timeline = rooms.get("join", {}).get(room_id, {}).get("timeline", {}).get("events", [])
    assert not [b for b in bodies(timeline) if b.startswith("old")]
