"""The main client journey, driven by a third-party client library (matrix-nio, no encryption).

Two users register and log in through nio, name themselves, and then, for
the default room version and two older ones, share a room: create, invite,
join, talk, follow each other with `sync` and a `sync_forever` loop, set the
topic, redact, page back through history, list members, leave and forget.
Every step asserts on nio's parsed response objects, so a reply nio cannot
read (wrong shape, wrong status) fails the step.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    JoinedMembersResponse,
    JoinResponse,
    LoginResponse,
    MessageDirection,
    ProfileGetDisplayNameResponse,
    ProfileSetDisplayNameResponse,
    RedactedEvent,
    RegisterResponse,
    RoomCreateResponse,
    RoomForgetResponse,
    RoomGetEventResponse,
    RoomGetStateEventResponse,
    RoomInviteResponse,
    RoomLeaveResponse,
    RoomMemberEvent,
    RoomMessagesResponse,
    RoomMessageText,
    RoomPutStateResponse,
    RoomRedactResponse,
    RoomSendResponse,
    RoomTopicEvent,
    SyncResponse,
)

from tests.e2e_server import SERVER_NAME

PASSWORD = "correct horse battery staple"


async def _new_user(server: Any, name: str) -> AsyncClient:
    """Register through nio (m.login.dummy), then log in again as a fresh device."""
    localpart = f"{name}{secrets.token_hex(4)}"
    config = AsyncClientConfig(encryption_enabled=False, store_sync_tokens=False)
    registrar = AsyncClient(server.client_url, localpart, config=config)
    registered = await registrar.register(localpart, PASSWORD, device_name="nio register")
    await registrar.close()
    assert isinstance(registered, RegisterResponse), registered
    assert registered.user_id == f"@{localpart}:{SERVER_NAME}"

    client = AsyncClient(server.client_url, registered.user_id, config=config)
    logged_in = await client.login(PASSWORD, device_name="nio journey")
    assert isinstance(logged_in, LoginResponse), logged_in
    assert logged_in.user_id == registered.user_id
    assert logged_in.device_id != registered.device_id
    return client


@pytest.fixture(scope="module")
async def people(server: Any) -> AsyncIterator[tuple[AsyncClient, AsyncClient]]:
    alice = await _new_user(server, "alice")
    bob = await _new_user(server, "bob")
    for client, name in ((alice, "Alice Liddell"), (bob, "Bob Builder")):
        assert isinstance(await client.set_displayname(name), ProfileSetDisplayNameResponse)
        got = await client.get_displayname()
        assert isinstance(got, ProfileGetDisplayNameResponse) and got.displayname == name
        # The initial sync every client starts with.
        assert isinstance(await client.sync(timeout=0), SyncResponse)
    try:
        yield alice, bob
    finally:
        await alice.close()
        await bob.close()


async def _sync(client: AsyncClient, timeout_ms: int = 0) -> SyncResponse:
    response = await client.sync(timeout=timeout_ms)
    assert isinstance(response, SyncResponse), response
    return response


def _texts(events: list[Any]) -> list[str]:
    return [e.body for e in events if isinstance(e, RoomMessageText)]


async def _send(client: AsyncClient, room_id: str, body: str) -> str:
    sent = await client.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": body})
    assert isinstance(sent, RoomSendResponse), sent
    return sent.event_id


async def _followed_by_sync_forever(
    reader: AsyncClient, writer: AsyncClient, room_id: str, bodies: list[str]
) -> list[str]:
    """Run `reader.sync_forever` (long-polling) while `writer` sends `bodies`; what it saw."""
    seen: list[str] = []
    done = asyncio.Event()

    async def on_message(room: Any, event: RoomMessageText) -> None:
        if room.room_id == room_id:
            seen.append(event.body)
            if len(seen) >= len(bodies):
                done.set()

    reader.add_event_callback(on_message, RoomMessageText)
    loop = asyncio.ensure_future(reader.sync_forever(timeout=5_000))
    try:
        # The first pass of sync_forever syncs at once; let it finish before sending.
        await asyncio.wait_for(reader.synced.wait(), 30)
        for body in bodies:
            await _send(writer, room_id, body)
        await asyncio.wait_for(done.wait(), 30)
    finally:
        reader.stop_sync_forever()
        loop.cancel()
        try:
            await loop
        except asyncio.CancelledError:
            pass
        # nio has no way to remove a callback but editing its list.
        reader.event_callbacks = [c for c in reader.event_callbacks if c.func is not on_message]
    return seen


@pytest.mark.parametrize("room_version", [None, "10", "1"])
async def test_two_users_share_a_room(
    people: tuple[AsyncClient, AsyncClient], room_version: str | None
) -> None:
    alice, bob = people
    tag = room_version or "default"

    # --- alice creates the room and invites bob; bob sees the invite and joins ---------
    created = await alice.room_create(
        name=f"Journey {tag}", topic="first topic", room_version=room_version
    )
    assert isinstance(created, RoomCreateResponse), created
    room_id = created.room_id
    create_event = await alice.room_get_state_event(room_id, "m.room.create")
    assert isinstance(create_event, RoomGetStateEventResponse), create_event
    assert create_event.content["room_version"] == (room_version or "12")

    assert isinstance(await alice.room_invite(room_id, bob.user_id), RoomInviteResponse)
    invited = await _sync(bob)
    assert room_id in invited.rooms.invite
    invite_events = invited.rooms.invite[room_id].invite_state
    assert any(
        isinstance(e, InviteMemberEvent) and e.state_key == bob.user_id
        and e.membership == "invite" for e in invite_events
    )
    joined = await bob.join(room_id)
    assert isinstance(joined, JoinResponse) and joined.room_id == room_id

    # --- they talk; each sees the other's messages, in order ---------------------------
    await _sync(alice)
    first = await _send(alice, room_id, "hello bob")
    await _send(bob, room_id, "hello alice")
    await _send(alice, room_id, "how are you?")
    for client in (alice, bob):
        response = await _sync(client)
        assert _texts(response.rooms.join[room_id].timeline.events) == [
            "hello bob", "hello alice", "how are you?"]
    room = bob.rooms[room_id]
    assert room.name == f"Journey {tag}" and room.topic == "first topic"
    assert room.user_name(alice.user_id) == "Alice Liddell"
    assert alice.rooms[room_id].user_name(bob.user_id) == "Bob Builder"

    # --- bob follows along with a long-polling sync_forever loop -----------------------
    later = [f"news {i}" for i in range(3)]
    assert await _followed_by_sync_forever(bob, alice, room_id, later) == later

    # --- topic and redaction --------------------------------------------------------
    put = await alice.room_put_state(room_id, "m.room.topic", {"topic": "second topic"})
    assert isinstance(put, RoomPutStateResponse), put
    redacted = await alice.room_redact(room_id, first, reason="typo")
    assert isinstance(redacted, RoomRedactResponse), redacted
    response = await _sync(bob)
    timeline = response.rooms.join[room_id].timeline.events
    assert any(isinstance(e, RoomTopicEvent) and e.topic == "second topic" for e in timeline)
    assert bob.rooms[room_id].topic == "second topic"
    got = await bob.room_get_event(room_id, first)
    assert isinstance(got, RoomGetEventResponse), got
    assert isinstance(got.event, RedactedEvent) and got.event.reason == "typo"

    # --- paging back through the whole history, two events at a time ---------------------
    seen: list[Any] = []
    token = None
    for _ in range(50):
        page = await bob.room_messages(room_id, start=token, limit=2)
        assert isinstance(page, RoomMessagesResponse), page
        assert len(page.chunk) <= 2
        seen.extend(page.chunk)
        if not page.chunk or page.end is None:
            break
        token = page.end
    assert _texts(list(reversed(seen))) == ["hello alice", "how are you?", *later]
    assert [e.event_id for e in seen if isinstance(e, RedactedEvent)] == [first]
    assert seen[-1].source["type"] == "m.room.create"
    forward = await bob.room_messages(
        room_id, start=token, limit=100, direction=MessageDirection.front
    )
    assert isinstance(forward, RoomMessagesResponse), forward
    assert _texts(forward.chunk) == ["hello alice", "how are you?", *later]

    # --- members ------------------------------------------------------------------------
    members = await alice.joined_members(room_id)
    assert isinstance(members, JoinedMembersResponse), members
    assert {(m.user_id, m.display_name) for m in members.members} == {
        (alice.user_id, "Alice Liddell"), (bob.user_id, "Bob Builder")}

    # --- bob leaves: alice sees it, and bob gets the room in his leave section -----------
    assert isinstance(await bob.room_leave(room_id), RoomLeaveResponse)
    left = await _sync(bob)
    assert room_id in left.rooms.leave and room_id not in left.rooms.join
    assert any(
        isinstance(e, RoomMemberEvent) and e.state_key == bob.user_id and e.membership == "leave"
        for e in left.rooms.leave[room_id].timeline.events
    )
    seen_by_alice = await _sync(alice)
    assert any(
        isinstance(e, RoomMemberEvent) and e.state_key == bob.user_id and e.membership == "leave"
        for e in seen_by_alice.rooms.join[room_id].timeline.events
    )
    members = await alice.joined_members(room_id)
    assert isinstance(members, JoinedMembersResponse)
    assert [m.user_id for m in members.members] == [alice.user_id]
    assert isinstance(await bob.room_forget(room_id), RoomForgetResponse)
