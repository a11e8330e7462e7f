"""The filter API end to end: upload, download, use in /sync."""

from __future__ import annotations

from tests.ingress.client.sync_client import Client, fresh_account, timeline
from tests.openapi import assert_matches


def test_filter_round_trip_and_use(server) -> None:
    alice = Client(server, fresh_account(server, "alice"))
    definition = {"room": {"timeline": {"limit": 1, "types": ["m.room.message"]}},
                  "event_fields": ["type", "content.body", "event_id"]}
    r = alice.http.post(f"/user/{alice.user_id}/filter", json=definition)
    created = alice.ok(r)
    assert_matches("filter.yaml", "/user/{userId}/filter", "post", 200, created)
    fetched = alice.ok(alice.get(f"/user/{alice.user_id}/filter/{created['filter_id']}"))
    assert_matches("filter.yaml", "/user/{userId}/filter/{filterId}", "get", 200, fetched)
    assert fetched == definition

    room = alice.create_room()
    alice.send(room, "one")
    alice.send(room, "two")
    # Not schema-checked: event_fields asks for events without their required fields.
    events = timeline(alice.ok(alice.get("/sync", filter=created["filter_id"])), room)["events"]
    assert events == [{"type": "m.room.message", "content": {"body": "two"},
                       "event_id": events[0]["event_id"]}]


def test_filter_errors(server) -> None:
    alice = Client(server, fresh_account(server, "alice"))
    bob = Client(server, fresh_account(server, "bob"))
    r = alice.http.post(f"/user/{bob.user_id}/filter", json={})
    assert r.status_code == 403 and r.json()["errcode"] == "M_FORBIDDEN"
    r = alice.http.post(f"/user/{alice.user_id}/filter", json={"room": {"rooms": "!x:y"}})
    assert r.status_code == 400 and r.json()["errcode"] == "M_BAD_JSON"
    r = alice.http.post(f"/user/{alice.user_id}/filter", content=b"{nope")
    assert r.status_code == 400 and r.json()["errcode"] == "M_NOT_JSON"
    r = alice.get(f"/user/{alice.user_id}/filter/424242")
    assert r.status_code == 404 and r.json()["errcode"] == "M_NOT_FOUND"
    created = alice.ok(alice.http.post(f"/user/{alice.user_id}/filter", json={}))
    r = bob.get(f"/user/{alice.user_id}/filter/{created['filter_id']}")
    assert r.status_code == 403
    r = alice.get("/sync", filter="424242")
    assert r.status_code == 400 and r.json()["errcode"] == "M_INVALID_PARAM"
