"""Joins, leaves, invites and knocks over federation, both ways, against a fake remote server.

The remote server builds and signs its room's events with its own key
(`fake_remote.FakeRemote`, the protocol core); `Resident` answers the
membership endpoints from that room the way a resident server would.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import unquote

import pytest

from actors.room_server.remote import Remote
from actors.room_server.service import RoomServerService
from federation.client import FederationError, FederationUnreachable
from protocol.auth_chain import auth_chain
from protocol.errors import MatrixError
from protocol.event_ids import compute_event_id
from protocol.events import CREATE, Event
from protocol.room_versions import room_version
from protocol.signing import generate_signing_key, sign_event
from tests.actors.room_server.fake_remote import REMOTE, FakeRemote

LOCAL = "test.local"
CAROL = f"@carol:{REMOTE}"


def uid(name: str) -> str:
    return f"@{name}{secrets.token_hex(3)}:{LOCAL}"


class Resident(FakeRemote):
    """A remote server that is in the room and answers membership requests."""

    def __init__(self, version_id: str, local_key: Any, *, join_rule: str = "public") -> None:
        version = room_version(version_id)
        super().__init__(version, "", LOCAL, local_key)
        create: dict[str, Any] = {
            "type": CREATE, "state_key": "", "sender": CAROL, "content": {"room_version": version_id},
            "origin_server_ts": self.clock, "prev_events": [], "auth_events": [], "depth": 1,
        }
        if version.implicit_room_creator is False:
            create["content"]["creator"] = CAROL
        if not version.room_id_is_create_event_id:
            self.room_id = create["room_id"] = f"!{secrets.token_hex(6)}:{REMOTE}"
        if not version.updated_redaction_rules:
            create["origin"] = REMOTE
        signed = sign_event(create, version, REMOTE, self.key)
        create_id = compute_event_id(signed, version)
        if version.room_id_is_create_event_id:
            self.room_id = "!" + create_id[1:]
        self.learn(create_id, signed)
        self.build("m.room.member", CAROL, {"membership": "join"}, state_key=CAROL)
        # From v12 the creator's power is implicit and may not be listed.
        users = {} if version.privileged_creators else {CAROL: 100}
        self.build("m.room.power_levels", CAROL, {"users": users}, state_key="")
        self.build("m.room.join_rules", CAROL, {"join_rule": join_rule}, state_key="")
        self.build("m.room.name", CAROL, {"name": "Remote lounge"}, state_key="")
        self.sent: list[tuple[str, str]] = []
        self.refuse: set[str] = set()

    async def get_json(self, destination: str, path: str, query: Any = None) -> Any:
        self.sent.append((destination, path))
        if destination in self.refuse:
            raise FederationUnreachable(destination)
        parts = [unquote(p) for p in path.split("/")]
        if parts[4] == "query":
            if query == {"room_alias": f"#lounge:{REMOTE}"}:
                return {"room_id": self.room_id, "servers": [REMOTE]}
            raise FederationError(404, "M_NOT_FOUND", {"errcode": "M_NOT_FOUND", "error": "no"})
        if parts[4] in ("make_join", "make_leave", "make_knock"):
            membership = parts[4][len("make_"):]
            if self.version.identifier not in query["ver"]:
                raise FederationError(400, "M_INCOMPATIBLE_ROOM_VERSION", {})
            user = parts[6]
            _, pdu = self.build("m.room.member", user, {"membership": membership},
                                state_key=user, learn=False)
            template = {k: v for k, v in pdu.items() if k not in ("signatures", "hashes")}
            return {"room_version": self.version.identifier, "event": template}
        return await super().get_json(destination, path, query)

    async def put_json(self, destination: str, path: str, body: Any) -> Any:
        self.sent.append((destination, path))
        parts = [unquote(p) for p in path.split("/")]
        event_id = parts[6]
        assert compute_event_id(body, self.version) == event_id
        before = self.state_before(Event(body, self.version, event_id).prev_event_ids)
        self.learn(event_id, body)
        if parts[4] == "send_join":
            return {
                "origin": REMOTE,
                "state": [self.pdu(e) for e in before.values()],
                "auth_chain": [self.pdu(e) for e in auth_chain(before.values(), self.get)],
                "members_omitted": False,
            }
        if parts[4] == "send_knock":
            return {"knock_room_state": [self.pdu(before[("m.room.name", "")])]}
        return {}

    def invite(self, target: str) -> tuple[str, dict[str, Any]]:
        """Carol invites `target` (not learnt: the invitee's server co-signs it first)."""
        return self.build("m.room.member", CAROL, {"membership": "invite"}, state_key=target,
                          learn=False)


async def local_user(service: RoomServerService, name: str) -> str:
    user = uid(name)
    await service.ctx.pool.execute(
        "INSERT INTO users (user_id, created_ts) VALUES ($1, 0)", user)
    return user


def connect(service: RoomServerService, remote: Resident) -> None:
    service.remote = Remote(remote, remote.fetch_keys)
    remote.keys[LOCAL] = service.ctx.signing_key


async def membership_row(service: RoomServerService, room_id: str, user: str) -> Any:
    return await service.ctx.pool.fetchrow(
        "SELECT cs.membership, e.outlier, e.state_before, e.state_after, e.pdu FROM current_state cs"
        " JOIN events e ON e.event_id = cs.event_id"
        " WHERE cs.room_id = $1 AND cs.type = 'm.room.member' AND cs.state_key = $2",
        room_id, user)


# --- our users on the remote server's rooms ---------------------------------


@pytest.mark.parametrize("version", ["3", "10", "11", "12"])
async def test_join_remote_room_stores_its_checked_state(room_server, version: str) -> None:
    remote = Resident(version, room_server.ctx.signing_key)
    connect(room_server, remote)
    alice = await local_user(room_server, "alice")
    join_id = await room_server.update_membership(
        remote.room_id, alice, alice, "join", None, {"via": [REMOTE]})
    row = await membership_row(room_server, remote.room_id, alice)
    assert row["membership"] == "join" and not row["outlier"]
    assert row["state_before"] is not None
    state = dict(await room_server.ctx.pool.fetch(
        "SELECT type, event_id FROM current_state WHERE room_id = $1 AND state_key = ''",
        remote.room_id))
    assert set(state) == {CREATE, "m.room.power_levels", "m.room.join_rules", "m.room.name"}
    kinds = await room_server.ctx.pool.fetch(
        "SELECT outlier, count(*) FROM events WHERE room_id = $1 GROUP BY outlier",
        remote.room_id)
    assert {r["outlier"]: r["count"] for r in kinds} == {True: 5, False: 1}
    # The remote learnt our signed join, and the room continues from it here.
    assert join_id in remote.events
    room = await room_server._room(remote.room_id)
    assert room.extremities.keys() == {join_id} and room.membership(alice) == "join"


async def test_join_by_remote_alias_asks_the_alias_server(room_server) -> None:
    remote = Resident("11", room_server.ctx.signing_key)
    connect(room_server, remote)
    alice = await local_user(room_server, "alice")
    room_server.ctx.router.call = room_server_call(room_server)
    room_id = await room_server.membership_by_alias(f"#lounge:{REMOTE}", alice, "join", None)
    assert room_id == remote.room_id
    assert remote.sent[0][1] == "/_matrix/federation/v1/query/directory"
    with pytest.raises(MatrixError) as e:
        await room_server.membership_by_alias(f"#nope:{REMOTE}", alice, "join", None)
    assert (e.value.status, e.value.errcode) == (404, "M_NOT_FOUND")


def room_server_call(service: RoomServerService) -> Any:
    """The router's call, for a one-shard test: straight to the service."""
    async def call(component: str, key: str, method: str, *args: Any, **kwargs: Any) -> Any:
        assert component == "room_server"
        return await getattr(service, method)(*args)
    return call


async def test_join_tries_the_next_server_and_fails_cleanly(room_server) -> None:
    remote = Resident("11", room_server.ctx.signing_key)
    connect(room_server, remote)
    alice = await local_user(room_server, "alice")
    remote.refuse.add("down.test")
    await room_server.update_membership(remote.room_id, alice, alice, "join", None,
                                        {"via": ["down.test", REMOTE]})
    assert [d for d, _ in remote.sent[:2]] == ["down.test", REMOTE]
    other = Resident("11", room_server.ctx.signing_key)
    connect(room_server, other)
    other.refuse.add(REMOTE)
    with pytest.raises(MatrixError) as e:
        await room_server.update_membership(other.room_id, alice, alice, "join", None)
    assert e.value.status == 502
    assert await room_server.ctx.pool.fetchval(
        "SELECT count(*) FROM events WHERE room_id = $1", other.room_id) == 0


async def test_join_answer_with_a_forged_event_writes_nothing(room_server) -> None:
    remote = Resident("10", room_server.ctx.signing_key)
    connect(room_server, remote)
    alice = await local_user(room_server, "alice")
    # A tampered power-levels event: its signature no longer verifies.
    pl_id = [e for e, ev in remote.events.items() if ev.type == "m.room.power_levels"][0]
    remote.events[pl_id].pdu["content"] = {"users": {alice: 100}}
    with pytest.raises(MatrixError) as e:
        await room_server.update_membership(remote.room_id, alice, alice, "join", None)
    assert e.value.status == 502
    assert await room_server.ctx.pool.fetchval(
        "SELECT count(*) FROM events WHERE room_id = $1", remote.room_id) == 0


async def test_remote_invite_then_reject(room_server) -> None:
    remote = Resident("11", room_server.ctx.signing_key)
    connect(room_server, remote)
    alice = await local_user(room_server, "alice")
    invite_id, invite_pdu = remote.invite(alice)
    create = [e.pdu for e in remote.events.values() if e.type == CREATE][0]
    answer = await room_server.receive_invite(remote.room_id, invite_id, {
        "room_version": "11", "event": invite_pdu, "invite_room_state": [create],
    }, REMOTE)
    assert LOCAL in answer["event"]["signatures"] and REMOTE in answer["event"]["signatures"]
    row = await membership_row(room_server, remote.room_id, alice)
    assert row["membership"] == "invite" and row["state_after"] is not None
    assert row["pdu"]["unsigned"]["invite_room_state"] == [create]
    # A retry stores nothing new.
    await room_server.receive_invite(remote.room_id, invite_id, {
        "room_version": "11", "event": invite_pdu, "invite_room_state": [create]}, REMOTE)
    remote.learn(invite_id, answer["event"])
    await room_server.update_membership(remote.room_id, alice, alice, "leave", None)
    row = await membership_row(room_server, remote.room_id, alice)
    assert row["membership"] == "leave"
    asked = [unquote(p).rsplit("/", 2)[0] for _, p in remote.sent[-2:]]
    assert asked == ["/_matrix/federation/v1/make_leave", "/_matrix/federation/v2/send_leave"]


async def test_invite_checks(room_server) -> None:
    remote = Resident("12", room_server.ctx.signing_key)
    connect(room_server, remote)
    alice = await local_user(room_server, "alice")
    invite_id, invite_pdu = remote.invite(alice)
    create = [e.pdu for e in remote.events.values() if e.type == CREATE][0]
    bad = [
        ({"room_version": "12", "event": invite_pdu, "invite_room_state": []}, REMOTE, 400),
        ({"room_version": "99", "event": invite_pdu}, REMOTE, 400),
        ({"room_version": "12", "event": invite_pdu, "invite_room_state": [create]},
         "other.test", 400),
    ]
    for body, origin, status in bad:
        with pytest.raises(MatrixError) as e:
            await room_server.receive_invite(remote.room_id, invite_id, body, origin)
        assert e.value.status == status
    assert (await membership_row(room_server, remote.room_id, alice)) is None
    forged = dict(invite_pdu, origin_server_ts=1)
    with pytest.raises(MatrixError) as e:
        await room_server.receive_invite(remote.room_id, compute_event_id(forged, remote.version), {
            "room_version": "12", "event": forged, "invite_room_state": [create]}, REMOTE)
    assert e.value.status == 403


async def test_knock_on_remote_room(room_server) -> None:
    remote = Resident("10", room_server.ctx.signing_key, join_rule="knock")
    connect(room_server, remote)
    alice = await local_user(room_server, "alice")
    await room_server.update_membership(remote.room_id, alice, alice, "knock", None,
                                        {"via": [REMOTE]})
    row = await membership_row(room_server, remote.room_id, alice)
    assert row["membership"] == "knock"
    assert row["pdu"]["unsigned"]["knock_room_state"][0]["content"] == {"name": "Remote lounge"}


# --- remote users in our rooms ------------------------------------------------


async def our_room(service: RoomServerService, version: str, preset: str = "public_chat") -> tuple[
        str, str]:
    alice = await local_user(service, "alice")
    room_id = (await service.create_room(alice, {"room_version": version, "preset": preset}))[
        "room_id"]
    return alice, room_id


def sign_template(remote: FakeRemote, template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    pdu = dict(template["event"])
    if not remote.version.uses_hash_event_ids:
        pdu["event_id"] = f"${secrets.token_hex(6)}:{REMOTE}"
    signed = sign_event(pdu, remote.version, REMOTE, remote.key)
    return compute_event_id(signed, remote.version), signed


@pytest.mark.parametrize("version", ["2", "11", "12"])
async def test_serve_make_join_and_send_join(room_server, version: str) -> None:
    alice, room_id = await our_room(room_server, version)
    remote = FakeRemote(room_version(version), room_id, LOCAL, room_server.ctx.signing_key)
    room_server.remote = Remote(remote, remote.fetch_keys)
    bob = f"@bob:{REMOTE}"
    template = await room_server.make_membership(room_id, bob, "join", REMOTE, [version])
    assert template["room_version"] == version
    assert "signatures" not in template["event"]
    event_id, signed = sign_template(remote, template)
    answer = await room_server.send_membership(room_id, event_id, signed, "join", REMOTE)
    state_ids = {compute_event_id(p, remote.version) for p in answer["state"]}
    assert event_id not in state_ids and len(state_ids) == 6
    chain = {compute_event_id(p, remote.version) for p in answer["auth_chain"]}
    assert chain <= state_ids
    assert answer["members_omitted"] is False and answer["servers_in_room"] == [LOCAL]
    row = await membership_row(room_server, room_id, bob)
    assert row["membership"] == "join"
    assert await room_server.ctx.pool.fetchval(
        "SELECT origin FROM federation_forward WHERE event_id = $1", event_id) == REMOTE
    # A retry answers again without a second event.
    again = await room_server.send_membership(room_id, event_id, signed, "join", REMOTE)
    assert {compute_event_id(p, remote.version) for p in again["state"]} == state_ids


async def test_make_join_refusals(room_server) -> None:
    _, room_id = await our_room(room_server, "11", preset="private_chat")
    cases = [
        ("@bob:elsewhere.test", ["11"], 403, "M_FORBIDDEN"),
        (f"@bob:{REMOTE}", ["10"], 400, "M_INCOMPATIBLE_ROOM_VERSION"),
        (f"@bob:{REMOTE}", ["11"], 403, "M_FORBIDDEN"),  # invite-only room
    ]
    for user, versions, status, errcode in cases:
        with pytest.raises(MatrixError) as e:
            await room_server.make_membership(room_id, user, "join", REMOTE, versions)
        assert (e.value.status, e.value.errcode) == (status, errcode)
    with pytest.raises(MatrixError) as e:
        await room_server.make_membership("!nope:test.local", f"@bob:{REMOTE}", "join", REMOTE,
                                          ["11"])
    assert e.value.status == 404


async def test_send_join_refuses_bad_events(room_server) -> None:
    _, room_id = await our_room(room_server, "11")
    remote = FakeRemote(room_version("11"), room_id, LOCAL, room_server.ctx.signing_key)
    room_server.remote = Remote(remote, remote.fetch_keys)
    bob = f"@bob:{REMOTE}"
    template = await room_server.make_membership(room_id, bob, "join", REMOTE, ["11"])
    event_id, signed = sign_template(remote, template)
    with pytest.raises(MatrixError) as e:  # sent by another server than the user's
        await room_server.send_membership(room_id, event_id, signed, "join", "other.test")
    assert e.value.status == 403
    with pytest.raises(MatrixError) as e:  # the path's event ID is another one
        await room_server.send_membership(room_id, "$other", signed, "join", REMOTE)
    assert e.value.status == 400
    # Signed under the right key ID with another key: a forgery.
    forged = sign_event(template["event"], remote.version, REMOTE, generate_signing_key("r1"))
    with pytest.raises(MatrixError) as e:
        await room_server.send_membership(room_id, compute_event_id(forged, remote.version),
                                          forged, "join", REMOTE)
    assert e.value.status == 403
    with pytest.raises(MatrixError) as e:  # a leave is not a join
        await room_server.send_membership(room_id, event_id, signed, "leave", REMOTE)
    assert e.value.status == 400
    assert await membership_row(room_server, room_id, bob) is None


async def test_serve_leave_and_knock(room_server) -> None:
    alice, room_id = await our_room(room_server, "10")
    await room_server.send_state(room_id, alice, "m.room.join_rules", "", {"join_rule": "knock"})
    remote = FakeRemote(room_version("10"), room_id, LOCAL, room_server.ctx.signing_key)
    room_server.remote = Remote(remote, remote.fetch_keys)
    bob = f"@bob:{REMOTE}"
    template = await room_server.make_membership(room_id, bob, "knock", REMOTE, ["10"])
    event_id, signed = sign_template(remote, template)
    answer = await room_server.send_membership(room_id, event_id, signed, "knock", REMOTE)
    assert {p["type"] for p in answer["knock_room_state"]} >= {CREATE, "m.room.join_rules"}
    assert (await membership_row(room_server, room_id, bob))["membership"] == "knock"
    template = await room_server.make_membership(room_id, bob, "leave", REMOTE, ["10"])
    event_id, signed = sign_template(remote, template)
    assert await room_server.send_membership(room_id, event_id, signed, "leave", REMOTE) == {}
    assert (await membership_row(room_server, room_id, bob))["membership"] == "leave"


async def test_invite_remote_user(room_server) -> None:
    alice, room_id = await our_room(room_server, "11")
    remote = FakeRemote(room_version("11"), room_id, LOCAL, room_server.ctx.signing_key)

    class Invitee:
        bodies: list[Any] = []

        async def put_json(self, destination: str, path: str, body: Any) -> Any:
            self.bodies.append(body)
            return {"event": sign_event(body["event"], remote.version, REMOTE, remote.key)}

        async def get_json(self, destination: str, path: str, query: Any = None) -> Any:
            raise AssertionError(path)

    invitee = Invitee()
    room_server.remote = Remote(invitee, remote.fetch_keys)
    event_id = await room_server.update_membership(room_id, alice, f"@bob:{REMOTE}", "invite")
    row = await membership_row(room_server, room_id, f"@bob:{REMOTE}")
    assert row["membership"] == "invite"
    assert set(row["pdu"]["signatures"]) == {LOCAL, REMOTE}
    body = invitee.bodies[0]
    assert compute_event_id(body["event"], remote.version) == event_id
    assert CREATE in {p["type"] for p in body["invite_room_state"]}


async def test_query_directory(room_server) -> None:
    alice, room_id = await our_room(room_server, "11")
    alias = f"#q{secrets.token_hex(3)}:{LOCAL}"
    await room_server.create_alias(alias, room_id, alice)
    assert await room_server.query_directory(alias) == {"room_id": room_id, "servers": [LOCAL]}
    for unknown in (f"#missing:{LOCAL}", f"#x:{REMOTE}", "nonsense"):
        with pytest.raises(MatrixError) as e:
            await room_server.query_directory(unknown)
        assert (e.value.status, e.value.errcode) == (404, "M_NOT_FOUND")


async def test_remote_invite_into_a_room_we_are_in(room_server) -> None:
    _, room_id = await our_room(room_server, "11")
    remote = FakeRemote(room_version("11"), room_id, LOCAL, room_server.ctx.signing_key)
    room_server.remote = Remote(remote, remote.fetch_keys)
    bob = f"@bob:{REMOTE}"
    template = await room_server.make_membership(room_id, bob, "join", REMOTE, ["11"])
    event_id, signed = sign_template(remote, template)
    await room_server.send_membership(room_id, event_id, signed, "join", REMOTE)
    await remote.copy_from(room_server.ctx.pool)
    dave = await local_user(room_server, "dave")
    invite_id, invite_pdu = remote.build("m.room.member", bob, {"membership": "invite"},
                                         state_key=dave, learn=False)
    await room_server.receive_invite(room_id, invite_id, {
        "room_version": "11", "event": invite_pdu, "invite_room_state": []}, REMOTE)
    row = await membership_row(room_server, room_id, dave)
    # Part of the room's DAG, authorised against its state; no summary kept.
    assert row["membership"] == "invite" and "unsigned" not in row["pdu"]
    assert row["state_before"] is not None
