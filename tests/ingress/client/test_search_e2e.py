"""`POST /search` through HTTP on the Ray deployment, with two search shards.

Every successful answer is checked against the spec's OpenAPI schema. The
last test restarts the whole server with the search index folders deleted
in between, and leaves the session's server up.
"""

from __future__ import annotations

import asyncio
import io
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from dendray import search_cmd
from tests.clients import auth_headers
from tests.ingress.client.sync_client import Client, fresh_account
from tests.openapi import assert_matches

pytestmark = pytest.mark.timeout(600)

WAIT_SECONDS = 30


def word() -> str:
    """A word no other test uses: hits come only from this test's messages."""
    return "q" + secrets.token_hex(5)


def criteria(term: str, **more: Any) -> dict[str, Any]:
    return {"search_categories": {"room_events": {"search_term": term, **more}}}


def search(client: Client, body: dict[str, Any], next_batch: str | None = None) -> dict[str, Any]:
    params = {"next_batch": next_batch} if next_batch else {}
    r = client.http.post("/search", json=body, params=params)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert_matches("search.yaml", "/search", "post", 200, answer)
    return answer["search_categories"]["room_events"]


def bodies(section: dict[str, Any]) -> list[str]:
    return [r["result"]["content"]["body"] for r in section["results"]]


def until(client: Client, body: dict[str, Any], count: int) -> dict[str, Any]:
    """Search until `count` results show (indexing is asynchronous: about half a second)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        section = search(client, body)
        if len(section["results"]) >= count or time.monotonic() > deadline:
            return section
        time.sleep(0.2)


def until_counted(client: Client, body: dict[str, Any], count: int) -> dict[str, Any]:
    """Search until `count` messages are indexed (the first page of that search)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        section = search(client, body)
        if section["count"] >= count or time.monotonic() > deadline:
            assert section["count"] == count
            return section
        time.sleep(0.2)


@pytest.fixture(scope="module")
def alice(server) -> Client:
    return Client(server, fresh_account(server, "alice"))


def test_english_stemming_finds_running_for_run(alice: Client) -> None:
    tag = word()
    room = alice.create_room(name="Runners")
    alice.send(room, f"{tag} I went for a run this morning")
    alice.send(room, f"{tag} she is running the marathon")
    alice.send(room, f"{tag} nothing to see")
    section = until(alice, criteria(f"{tag} running"), 2)
    assert sorted(bodies(section)) == [f"{tag} I went for a run this morning",
                                       f"{tag} she is running the marathon"]
    assert bodies(section)[0] == f"{tag} she is running the marathon"  # the exact word first
    assert {"running", "run"} <= set(section["highlights"])
    assert section["count"] == 2


def test_chinese_and_japanese_phrases_found_by_a_substring(alice: Client) -> None:
    tag = word()
    room = alice.create_room()
    chinese = f"{tag} 我们明天在北京大学见面"
    japanese = f"{tag} 東京都庁で待ち合わせしましょう"
    alice.send(room, chinese)
    alice.send(room, japanese)
    alice.send(room, f"{tag} 京都で会いましょう")
    assert bodies(until(alice, criteria(f"{tag} 北京大学"), 1)) == [chinese]
    assert bodies(until(alice, criteria(f"{tag} 待ち合わせ"), 1)) == [japanese]
    assert sorted(bodies(until(alice, criteria(f"{tag} 会いましょう"), 1))) == [
        f"{tag} 京都で会いましょう"]
    assert bodies(search(alice, criteria(f"{tag} 大阪"))) == []


def test_rank_versus_recent_order(alice: Client) -> None:
    tag = word()
    room = alice.create_room()
    strong = f"{tag} {tag} {tag} pancakes"
    alice.send(room, strong)
    for i in range(3):
        alice.send(room, f"{tag} and a long message about many other things, number {i}")
    ranked = until(alice, criteria(tag), 4)
    assert bodies(ranked)[0] == strong
    ranks = [r["rank"] for r in ranked["results"]]
    assert ranks == sorted(ranks, reverse=True)
    recent = search(alice, criteria(tag, order_by="recent"))
    assert bodies(recent)[0].endswith("number 2") and bodies(recent)[-1] == strong
    times = [r["result"]["origin_server_ts"] for r in recent["results"]]
    assert times == sorted(times, reverse=True)


def test_pagination_over_200_hits_neither_repeats_nor_skips(server, alice: Client) -> None:
    tag = word()
    rooms = [alice.create_room() for _ in range(3)]
    sent = set()

    async def send_all() -> None:
        async with httpx.AsyncClient(base_url=alice.http.base_url, headers=auth_headers(
                alice.account), timeout=60) as http:
            async def one(i: int) -> None:
                text = f"{tag} message {i} " + "filler " * (i % 7)
                r = await http.put(f"/rooms/{rooms[i % 3]}/send/m.room.message/p{tag}{i}",
                                   json={"msgtype": "m.text", "body": text})
                assert r.status_code == 200, r.text
                sent.add(text)
            for start in range(0, 210, 30):
                await asyncio.gather(*(one(i) for i in range(start, min(start + 30, 210))))

    asyncio.run(send_all())
    for order in ("rank", "recent"):
        body = criteria(tag, order_by=order, filter={"limit": 25})
        section = until_counted(alice, body, 210)
        seen: list[dict[str, Any]] = []
        while True:
            seen += section["results"]
            if "next_batch" not in section:
                break
            section = search(alice, body, section["next_batch"])
        ids = [r["result"]["event_id"] for r in seen]
        assert len(ids) == len(set(ids)) == 210, order
        assert {r["result"]["content"]["body"] for r in seen} == sent
        key = "rank" if order == "rank" else None
        values = [r[key] if key else r["result"]["origin_server_ts"] for r in seen]
        assert values == sorted(values, reverse=True)


def test_no_hits_from_rooms_left_before_the_message_or_never_joined(server, alice: Client) -> None:
    tag = word()
    bob = Client(server, fresh_account(server, "bob"))
    eve = Client(server, fresh_account(server, "eve"))
    room = alice.create_room(preset="public_chat")
    bob.join(room)
    alice.send(room, f"{tag} while bob is here")
    bob.leave(room)
    alice.send(room, f"{tag} after bob left")
    private = alice.create_room()
    alice.send(private, f"{tag} private matters")
    assert len(until(alice, criteria(tag), 3)["results"]) == 3
    assert bodies(search(bob, criteria(tag))) == [f"{tag} while bob is here"]
    assert bodies(search(bob, criteria(tag, filter={"rooms": [private]}))) == []
    assert search(eve, criteria(tag))["results"] == []


def test_redacted_messages_disappear(alice: Client) -> None:
    tag = word()
    room = alice.create_room()
    gone = alice.send(room, f"{tag} oops wrong chat")
    alice.send(room, f"{tag} fine message")
    assert len(until(alice, criteria(tag), 2)["results"]) == 2
    r = alice.http.put(f"/rooms/{room}/redact/{gone}/r{tag}", json={"reason": "oops"})
    assert r.status_code == 200, r.text
    assert bodies(search(alice, criteria(tag))) == [f"{tag} fine message"]


def test_context_groups_and_state(alice: Client) -> None:
    tag = word()
    room = alice.create_room(name="Context")
    alice.send(room, "just before")
    alice.send(room, f"{tag} the hit")
    alice.send(room, "just after")
    until(alice, criteria(tag), 1)
    section = search(alice, criteria(
        tag, include_state=True, groupings={"group_by": [{"key": "room_id"}, {"key": "sender"}]},
        event_context={"before_limit": 1, "after_limit": 1, "include_profile": True}))
    context = section["results"][0]["context"]
    assert [e["content"]["body"] for e in context["events_before"]] == ["just before"]
    assert [e["content"]["body"] for e in context["events_after"]] == ["just after"]
    assert alice.user_id in context["profile_info"]
    assert any(e["type"] == "m.room.name" for e in section["state"][room])
    assert section["groups"]["room_id"][room]["results"] == [section["results"][0]["result"]["event_id"]]
    assert list(section["groups"]["sender"]) == [alice.user_id]


@pytest.mark.parametrize(("raw", "status", "errcode"), [
    (b"not json", 400, "M_NOT_JSON"),
    (b'{"search_categories": {"room_events": {"search_term": 1}}}', 400, "M_BAD_JSON"),
    (b'{"search_categories": {"room_events": {"search_term": "x", "order_by": "up"}}}', 400,
     "M_BAD_JSON"),
])
def test_bad_requests(alice: Client, raw: bytes, status: int, errcode: str) -> None:
    r = alice.http.post("/search", content=raw, headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()["errcode"]) == (status, errcode)


def test_bad_token_and_no_token(server, alice: Client) -> None:
    r = alice.http.post("/search", json=criteria("x"), params={"next_batch": "garbage!"})
    assert (r.status_code, r.json()["errcode"]) == (400, "M_INVALID_PARAM")
    r = httpx.post(f"{server.client_url}/_matrix/client/v3/search", json=criteria("x"), timeout=30)
    assert (r.status_code, r.json()["errcode"]) == (401, "M_MISSING_TOKEN")


def test_rebuild_command_reindexes_with_progress(server, alice: Client) -> None:
    tag = word()
    room = alice.create_room()
    alice.send(room, f"{tag} survives a rebuild")
    until(alice, criteria(tag), 1)
    out = io.StringIO()
    states = asyncio.run(search_cmd.rebuild(server.config, out, poll=0.2))
    assert len(states) == 2 and all(s["done"] == s["total"] for s in states)
    assert "100.0%" in out.getvalue()
    assert bodies(until(alice, criteria(tag), 1)) == [f"{tag} survives a rebuild"]


def test_an_index_deleted_while_stopped_is_rebuilt_at_start(server, alice: Client) -> None:
    tag = word()
    room = alice.create_room()
    alice.send(room, f"{tag} remembered after the restart")
    until(alice, criteria(tag), 1)
    folder = Path(server.config.data_dir) / "search"
    assert folder.is_dir()
    server.restart(while_stopped=lambda: shutil.rmtree(folder))
    again = Client(server, alice.account)
    assert bodies(until(again, criteria(tag), 1)) == [f"{tag} remembered after the restart"]
    assert folder.is_dir()
