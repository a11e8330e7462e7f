"""Device-list changes in /sync and /keys/changes: who must re-fetch whose keys."""

from __future__ import annotations

import asyncio
import time


async def share_a_room(stack, creator, *joiners) -> str:
    room = (await stack.room_server.create_room(creator.user_id, {"preset": "public_chat"}))[
        "room_id"]
    for user in joiners:
        await stack.room_server.update_membership(room, user.user_id, user.user_id, "join")
    return room


async def sync(stack, device, since=None, timeout_ms=0):
    return await stack.sync.sync(device.user_id, device.device_id, since=since,
                                 timeout_ms=timeout_ms)


def device_lists(response) -> dict:
    return response.get("device_lists", {"changed": [], "left": []})


async def test_key_uploads_reach_users_sharing_a_room_only(stack) -> None:
    alice, bob, carol = await stack.user(), await stack.user(), await stack.user()
    await share_a_room(stack, alice, bob)
    first = await sync(stack, alice)
    await stack.keys.upload_keys(bob.user_id, bob.device_id, {"device_keys": bob.device_keys()})
    await stack.keys.upload_keys(carol.user_id, carol.device_id,
                                 {"device_keys": carol.device_keys()})
    second = await sync(stack, alice, since=first["next_batch"])
    assert device_lists(second) == {"changed": [bob.user_id], "left": []}
    # Nothing new since then: an empty list, and nothing that counts as news.
    third = await sync(stack, alice, since=second["next_batch"])
    assert device_lists(third) == {"changed": [], "left": []}
    # Alice's own upload is announced to her too.
    await stack.keys.upload_keys(alice.user_id, alice.device_id,
                                 {"device_keys": alice.device_keys()})
    fourth = await sync(stack, alice, since=third["next_batch"])
    assert device_lists(fourth)["changed"] == [alice.user_id]


async def test_a_key_upload_wakes_a_long_poll(stack) -> None:
    alice, bob = await stack.user(), await stack.user()
    await share_a_room(stack, alice, bob)
    first = await sync(stack, alice)
    started = time.monotonic()
    waiting = asyncio.create_task(sync(stack, alice, since=first["next_batch"], timeout_ms=10_000))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    await stack.keys.upload_keys(bob.user_id, bob.device_id, {"device_keys": bob.device_keys()})
    woken = await asyncio.wait_for(waiting, 5)
    assert device_lists(woken)["changed"] == [bob.user_id]
    assert time.monotonic() - started < 5


async def test_joining_and_leaving_change_the_lists(stack) -> None:
    alice, bob, carol = await stack.user(), await stack.user(), await stack.user()
    room = await share_a_room(stack, alice, bob)
    first = await sync(stack, alice)
    # Carol joins: alice now shares a room with her, and must fetch her keys.
    await stack.room_server.update_membership(room, carol.user_id, carol.user_id, "join")
    second = await sync(stack, alice, since=first["next_batch"])
    assert device_lists(second) == {"changed": [carol.user_id], "left": []}
    # A profile change is not a new member.
    await stack.room_server.set_member_profile(room, carol.user_id, "Carol", None)
    third = await sync(stack, alice, since=second["next_batch"])
    assert device_lists(third) == {"changed": [], "left": []}
    # Bob leaves the only room he shared with alice.
    await stack.room_server.update_membership(room, bob.user_id, bob.user_id, "leave")
    fourth = await sync(stack, alice, since=third["next_batch"])
    assert device_lists(fourth) == {"changed": [], "left": [bob.user_id]}

    # /keys/changes over the whole window says the same.
    everything = await stack.sync.key_changes(alice.user_id, first["next_batch"],
                                              fourth["next_batch"])
    assert everything == {"changed": [carol.user_id], "left": [bob.user_id]}


async def test_the_viewer_joining_or_leaving_a_room(stack) -> None:
    alice, bob, dave = await stack.user(), await stack.user(), await stack.user()
    room = await share_a_room(stack, bob, dave)
    first = await sync(stack, alice)
    await stack.room_server.update_membership(room, alice.user_id, alice.user_id, "join")
    second = await sync(stack, alice, since=first["next_batch"])
    assert device_lists(second) == {"changed": sorted([bob.user_id, dave.user_id]), "left": []}
    # Still sharing another room with dave: only bob is left behind.
    await share_a_room(stack, dave, alice)
    third = await sync(stack, alice, since=second["next_batch"])
    await stack.room_server.update_membership(room, alice.user_id, alice.user_id, "leave")
    fourth = await sync(stack, alice, since=third["next_batch"])
    assert device_lists(fourth)["left"] == [bob.user_id]


async def test_keys_changes_respects_its_upper_token(stack) -> None:
    alice, bob = await stack.user(), await stack.user()
    await share_a_room(stack, alice, bob)
    first = await sync(stack, alice)
    await stack.keys.upload_keys(bob.user_id, bob.device_id, {"device_keys": bob.device_keys()})
    second = await sync(stack, alice, since=first["next_batch"])
    await stack.keys.upload_keys(alice.user_id, alice.device_id,
                                 {"device_keys": alice.device_keys()})
    window = await stack.sync.key_changes(alice.user_id, first["next_batch"], second["next_batch"])
    assert window == {"changed": [bob.user_id], "left": []}
    later = await stack.sync.key_changes(alice.user_id, second["next_batch"],
                                         (await sync(stack, alice))["next_batch"])
    assert later == {"changed": [alice.user_id], "left": []}
