"""`/search` through the services: matching, visibility, redactions, paging, bad input."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path
from typing import Any

import pytest

from protocol.errors import MatrixError

pytestmark = pytest.mark.timeout(120)


def uid(name: str) -> str:
    return f"@{name}{secrets.token_hex(3)}:test.local"


def word() -> str:
    """A word no other test uses, so hits come only from this test's rooms."""
    return "w" + secrets.token_hex(5)


def body(term: str, **criteria: Any) -> dict[str, Any]:
    return {"search_categories": {"room_events": {"search_term": term, **criteria}}}


def results(response: dict[str, Any]) -> list[dict[str, Any]]:
    return response["search_categories"]["room_events"]["results"]


def found(response: dict[str, Any]) -> list[str]:
    return [r["result"]["content"].get("body", r["result"]["content"].get("name", ""))
            for r in results(response)]


async def send(cluster, room: str, sender: str, text: str) -> str:
    return await cluster.room_server.send_event(
        room, sender, "D", secrets.token_hex(4), "m.room.message", {"msgtype": "m.text", "body": text})


async def test_stemmed_words_and_cjk_substrings(cluster) -> None:
    alice = uid("alice")
    room = (await cluster.room_server.create_room(alice, {}))["room_id"]
    tag = word()
    for text in (f"{tag} I was running late", f"{tag} we run", f"{tag} 我们明天在北京见面",
                 f"{tag} 東京都庁で会いましょう", f"{tag} 서울에서 만나요"):
        await send(cluster, room, alice, text)
    r = await cluster.search_as(alice, body(f"{tag} run"))
    assert sorted(found(r)) == [f"{tag} I was running late", f"{tag} we run"]
    assert "running" in r["search_categories"]["room_events"]["highlights"]
    r = await cluster.search_as(alice, body(f"running {tag}"))
    assert found(r)[0] == f"{tag} I was running late"
    assert found(await cluster.search_as(alice, body(f"{tag} 北京"))) == [f"{tag} 我们明天在北京见面"]
    assert found(await cluster.search_as(alice, body(f"{tag} 都庁"))) == [f"{tag} 東京都庁で会いましょう"]
    assert found(await cluster.search_as(alice, body(f"{tag} 서울"))) == [f"{tag} 서울에서 만나요"]
    assert found(await cluster.search_as(alice, body(f"{tag} 大阪"))) == []


async def test_names_topics_and_keys(cluster) -> None:
    alice = uid("alice")
    tag = word()
    room = (await cluster.room_server.create_room(
        alice, {"name": f"{tag} garden", "topic": f"{tag} roses"}))["room_id"]
    await send(cluster, room, alice, f"{tag} message")
    everything = await cluster.search_as(alice, body(tag))
    assert {r["result"]["type"] for r in results(everything)} == {
        "m.room.message", "m.room.name", "m.room.topic"}
    names = await cluster.search_as(alice, body(tag, keys=["content.name"]))
    assert [r["result"]["type"] for r in results(names)] == ["m.room.name"]
    no_types = await cluster.search_as(alice, body(tag, filter={"not_types": ["m.room.*"]}))
    assert results(no_types) == []


async def test_only_rooms_and_events_the_user_may_see(cluster) -> None:
    alice, bob, eve = uid("alice"), uid("bob"), uid("eve")
    tag = word()
    room = (await cluster.room_server.create_room(alice, {"preset": "public_chat"}))["room_id"]
    await cluster.room_server.send_state(room, alice, "m.room.history_visibility", "",
                                         {"history_visibility": "joined"})
    await send(cluster, room, alice, f"{tag} before bob joined")
    await cluster.room_server.update_membership(room, bob, bob, "join")
    await send(cluster, room, alice, f"{tag} while bob was here")
    await cluster.room_server.update_membership(room, bob, bob, "leave")
    await send(cluster, room, alice, f"{tag} after bob left")
    secret = (await cluster.room_server.create_room(alice, {}))["room_id"]
    await send(cluster, secret, alice, f"{tag} in a room bob never joined")

    assert len(results(await cluster.search_as(alice, body(tag)))) == 4
    assert found(await cluster.search_as(bob, body(tag))) == [f"{tag} while bob was here"]
    assert results(await cluster.search_as(eve, body(tag))) == []
    # A filter cannot widen the scope.
    assert results(await cluster.search_as(bob, body(tag, filter={"rooms": [secret]}))) == []


async def test_redacted_and_encrypted_events_are_not_found(cluster) -> None:
    alice = uid("alice")
    tag = word()
    room = (await cluster.room_server.create_room(alice, {}))["room_id"]
    gone = await send(cluster, room, alice, f"{tag} regrettable")
    await send(cluster, room, alice, f"{tag} fine")
    await cluster.room_server.send_event(room, alice, "D", None, "m.room.encrypted", {
        "algorithm": "m.megolm.v1.aes-sha2", "ciphertext": f"{tag} regrettable", "body": tag})
    assert len(results(await cluster.search_as(alice, body(tag)))) == 2
    await cluster.room_server.redact(room, alice, "D", None, gone, None)
    assert found(await cluster.search_as(alice, body(tag))) == [f"{tag} fine"]
    # Gone from the index itself, not merely hidden when served.
    shard = cluster.router.shard_for("search", room)
    page = await cluster.search[shard].query({
        "term": tag, "rooms": [room], "types": ["m.room.message", "m.room.encrypted"],
        "order": "rank", "after": None, "limit": 10})
    assert len(page["hits"]) == 1


async def collect(cluster, user: str, criteria: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    token = None
    for _ in range(100):
        r = (await cluster.search_as(user, criteria, token))["search_categories"]["room_events"]
        out += r["results"]
        token = r.get("next_batch")
        if token is None:
            return out
    raise AssertionError("pagination never ended")


@pytest.mark.parametrize("order", ["rank", "recent"])
async def test_pages_over_rooms_on_both_shards(cluster, order: str) -> None:
    alice = uid("alice")
    tag = word()
    rooms: dict[int, str] = {}
    while len(rooms) < 2:
        room = (await cluster.room_server.create_room(alice, {}))["room_id"]
        rooms.setdefault(cluster.router.shard_for("search", room), room)
    sent = set()
    for i in range(45):
        text = f"{tag} " + "x " * (i % 4) + str(i)
        await send(cluster, rooms[i % 2], alice, text)
        sent.add(text)
    criteria = body(tag, order_by=order, filter={"limit": 7})
    everything = await cluster.search_as(alice, body(tag, order_by=order, filter={"limit": 100}))
    assert everything["search_categories"]["room_events"]["count"] == 45
    full = [r["result"]["event_id"] for r in results(everything)]
    pages = await collect(cluster, alice, criteria)
    assert [r["result"]["event_id"] for r in pages] == full
    assert {r["result"]["content"]["body"] for r in pages} == sent
    keys = [(r["rank"] if order == "rank" else r["result"]["origin_server_ts"]) for r in pages]
    assert keys == sorted(keys, reverse=True)


async def test_groups_context_profiles_and_state(cluster) -> None:
    alice, bob = uid("alice"), uid("bob")
    tag = word()
    room = (await cluster.room_server.create_room(alice, {"preset": "public_chat"}))["room_id"]
    other = (await cluster.room_server.create_room(alice, {}))["room_id"]
    await cluster.room_server.update_membership(room, bob, bob, "join")
    await send(cluster, room, alice, "before")
    await send(cluster, room, bob, f"{tag} one")
    await send(cluster, room, alice, "after")
    for i in range(3):
        await send(cluster, other, alice, f"{tag} other {i}")
    r = (await cluster.search_as(alice, body(
        tag, order_by="recent", filter={"limit": 2}, include_state=True,
        event_context={"before_limit": 1, "after_limit": 1, "include_profile": True},
        groupings={"group_by": [{"key": "room_id"}, {"key": "sender"}]},
    )))["search_categories"]["room_events"]
    assert [x["result"]["content"]["body"] for x in r["results"]] == [f"{tag} other 2", f"{tag} other 1"]
    ctx = r["results"][0]["context"]
    assert [e["content"]["body"] for e in ctx["events_before"]] == [f"{tag} other 1"]
    assert ctx["events_after"] == []
    assert alice in ctx["profile_info"]
    assert set(r["state"]) == {other}
    assert any(e["type"] == "m.room.create" for e in r["state"][other])
    groups = r["groups"]
    assert list(groups["room_id"]) == [other] and groups["room_id"][other]["order"] == 1
    assert groups["sender"][alice]["results"] == [x["result"]["event_id"] for x in r["results"]]
    # A room group's token continues within that room only.
    rest = await collect(cluster, alice, body(tag, order_by="recent", filter={"limit": 2}))
    group_token = groups["room_id"][other]["next_batch"]
    in_group = (await cluster.search_as(alice, body(tag, order_by="recent"), group_token))
    assert found(in_group) == [f"{tag} other 0"]
    assert len(rest) == 4
    bob_ctx = (await cluster.search_as(alice, body(
        f"{tag} one", event_context={"include_profile": True})))
    only = results(bob_ctx)[0]["context"]
    assert [e["content"].get("body") for e in only["events_before"]][0] == "before", only
    assert [e["content"]["body"] for e in only["events_after"]] == ["after"]
    assert bob in only["profile_info"]


@pytest.mark.parametrize("bad", [
    {},
    {"search_categories": []},
    {"search_categories": {"room_events": {}}},
    {"search_categories": {"room_events": {"search_term": 5}}},
    body("x", keys=["content.secret"]),
    body("x", order_by="oldest"),
    body("x", filter={"limit": -1}),
    body("x", filter={"rooms": "!a:b"}),
    body("x", event_context={"before_limit": "5"}),
    body("x", include_state="yes"),
    body("x", groupings={"group_by": [{"key": "type"}]}),
])
async def test_bad_bodies_are_bad_json(cluster, bad: dict[str, Any]) -> None:
    with pytest.raises(MatrixError) as e:
        await cluster.search_as(uid("x"), bad)
    assert (e.value.status, e.value.errcode) == (400, "M_BAD_JSON")


async def test_bad_tokens_are_invalid_params(cluster) -> None:
    alice = uid("alice")
    tag = word()
    room = (await cluster.room_server.create_room(alice, {}))["room_id"]
    for i in range(3):
        await send(cluster, room, alice, f"{tag} {i}")
    token = (await cluster.search_as(alice, body(tag, filter={"limit": 1})))[
        "search_categories"]["room_events"]["next_batch"]
    for bad, criteria in (("!!!", body(tag)), ("eyJ4IjoxfQ", body(tag)),
                          (token, body(tag, order_by="recent"))):
        with pytest.raises(MatrixError) as e:
            await cluster.search_as(alice, criteria, bad)
        assert (e.value.status, e.value.errcode) == (400, "M_INVALID_PARAM")


async def test_no_category_and_empty_terms(cluster) -> None:
    alice = uid("alice")
    assert await cluster.search_as(alice, {"search_categories": {}}) == {"search_categories": {}}
    r = (await cluster.search_as(alice, body("  ?! ")))["search_categories"]["room_events"]
    assert r["results"] == [] and r["count"] == 0 and "next_batch" not in r


async def test_a_deleted_index_is_rebuilt_and_a_crash_duplicates_nothing(cluster) -> None:
    alice = uid("alice")
    tag = word()
    room = (await cluster.room_server.create_room(alice, {}))["room_id"]
    for i in range(5):
        await send(cluster, room, alice, f"{tag} kept {i}")
    assert len(results(await cluster.search_as(alice, body(tag)))) == 5
    # Stopped; the folder deleted; started again: everything is indexed again.
    await cluster.stop_search()
    shutil.rmtree(Path(cluster.ctx.config.data_dir) / "search")
    await cluster.start_search()
    assert len(results(await cluster.search_as(alice, body(tag)))) == 5
    # A crash after a commit but before the watermark was saved: replayed, not duplicated.
    await send(cluster, room, alice, f"{tag} late")
    shard = cluster.search[cluster.router.shard_for("search", room)]
    index, feeder = shard._ready()
    saved = dict(feeder.positions)
    await feeder.catch_up()
    async with cluster.ctx.pool.acquire() as conn:
        await conn.executemany(
            "UPDATE search_positions SET pos = $3 WHERE shard = $1 AND writer = $2",
            [(shard.shard, w, p) for w, p in saved.items()])
    await cluster.stop_search()
    await cluster.start_search()
    assert len(results(await cluster.search_as(alice, body(tag, filter={"limit": 50})))) == 6


async def test_rebuild_reports_progress(cluster) -> None:
    alice = uid("alice")
    tag = word()
    room = (await cluster.room_server.create_room(alice, {}))["room_id"]
    await send(cluster, room, alice, f"{tag} rebuilt")
    await cluster.indexed()
    shard = cluster.search[cluster.router.shard_for("search", room)]
    before = await shard.progress()
    after_reset = await shard.rebuild()
    assert after_reset["index_id"] != before["index_id"]
    await cluster.indexed()
    done = await shard.progress()
    assert done["done"] == done["total"] and done["documents"] >= 1
    assert found(await cluster.search_as(alice, body(tag))) == [f"{tag} rebuilt"]
