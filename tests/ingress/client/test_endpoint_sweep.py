"""A sweep over every endpoint of issue 3: well-formed requests, spec-valid answers, no 500s.

Each case sends one well-formed request through HTTP and the answer must
have the status the case expects (never 500, never M_UNRECOGNIZED) and a
body that validates against the spec's OpenAPI definition of that
endpoint. The cases share one set of users and rooms (module fixture) and
run in the order listed, since some build on earlier ones. Then the error
contract: bad JSON, non-object JSON, oversize events, values no event may
hold, wrong methods, malformed room IDs, permissions, tokens and CORS;
concurrent writes to one room; and a pass sending each body-taking endpoint
values of the wrong type, which must come back as a Matrix 4xx error.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jsonschema
import pytest
import yaml

from tests.clients import Account, auth_headers, register
from tests.e2e_server import SERVER_NAME
from tests.ingress.client.sync_client import Client
from tests.openapi import CLIENT_SERVER, assert_matches, response_schema

V3 = "/_matrix/client/v3"
PASSWORD = "pw"


@dataclass
class World:
    """Users and rooms every case may use; cases add to `notes` for later ones."""

    url: str
    server: Any
    alice: Account
    bob: Account
    carol: Account
    room: str
    alias: str
    private_room: str
    knock_room: str
    message: str
    since: str
    notes: dict[str, Any] = field(default_factory=dict)

    def http(self, account: Account | None = None) -> httpx.Client:
        headers = auth_headers(account) if account else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def call(
        self, account: Account | None, method: str, path: str, *,
        json_body: Any = None, params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        with self.http(account) as http:
            # Room aliases start with '#', which a URL would take for a fragment.
            return http.request(method, path.replace("#", "%23"), json=json_body, params=params)

    def new_account(self, name: str = "sweep") -> Account:
        return register(self.server, f"{name}{secrets.token_hex(4)}", PASSWORD)


@pytest.fixture(scope="module")
def world(server: Any) -> Iterator[World]:
    def account(name: str) -> Account:
        return register(server, f"{name}{secrets.token_hex(4)}", PASSWORD)

    alice, bob, carol = account("alice"), account("bob"), account("carol")
    a, b = Client(server, alice), Client(server, bob)
    alias_name = f"sweep{secrets.token_hex(4)}"
    room = a.create_room(preset="public_chat", visibility="public", name="Sweep room",
                         topic="sweeping", room_alias_name=alias_name)
    b.join(room)
    private_room = a.create_room(preset="private_chat", name="Private")
    knock_room = a.create_room(initial_state=[
        {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "knock"}}])
    message = a.send(room, "the first message")
    b.send(room, "bob's reply")
    since = a.sync()["next_batch"]
    a.send(room, "after the token")
    yield World(server.client_url, server, alice, bob, carol, room,
                f"#{alias_name}:{SERVER_NAME}", private_room, knock_room, message, since)
    a.http.close()
    b.http.close()


# ---------------------------------------------------------------------------
# The cases: one well-formed request each.
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    spec_file: str
    spec_path: str
    method: str
    run: Callable[[World], httpx.Response]
    status: int = 200
    # For a response schema that is a `oneOf`: the variant the case's answer must match.
    variant: int | None = None

    def __str__(self) -> str:
        return self.name


CASES: list[Case] = []


def case(
    spec_file: str, spec_path: str, method: str, status: int = 200, variant: int | None = None
) -> Callable[[Callable[[World], httpx.Response]], Callable[[World], httpx.Response]]:
    def register_case(run: Callable[[World], httpx.Response]) -> Callable[[World], httpx.Response]:
        CASES.append(Case(run.__name__, spec_file, spec_path, method, run, status, variant))
        return run

    return register_case


def password_auth(user_id: str, session: str) -> dict[str, Any]:
    return {"type": "m.login.password", "session": session, "password": PASSWORD,
            "identifier": {"type": "m.id.user", "user": user_id}}


def _uia(w: World, account: Account, method: str, path: str, body: dict[str, Any]) -> httpx.Response:
    """A user-interactive request: the 401 must be the spec's, then the password completes it."""
    first = w.call(account, method, path, json_body=body)
    assert first.status_code == 401, first.text
    challenge = first.json()
    assert challenge["flows"] == [{"stages": ["m.login.password"]}]
    auth = password_auth(account.user_id, challenge["session"])
    return w.call(account, method, path, json_body={**body, "auth": auth})


# --- discovery -------------------------------------------------------------


@case("versions.yaml", "/versions", "get")
def versions(w: World) -> httpx.Response:
    return w.call(None, "GET", "/_matrix/client/versions")


@case("wellknown.yaml", "/matrix/client", "get")
def well_known(w: World) -> httpx.Response:
    r = w.call(None, "GET", "/.well-known/matrix/client")
    assert r.json()["m.homeserver"]["base_url"] == w.url
    return r


@case("capabilities.yaml", "/capabilities", "get")
def capabilities(w: World) -> httpx.Response:
    r = w.call(w.alice, "GET", f"{V3}/capabilities")
    versions = r.json()["capabilities"]["m.room_versions"]
    assert versions["default"] == "12"
    assert set(versions["available"]) >= {str(v) for v in range(1, 13)}
    return r


# --- registration and login ----------------------------------------------------


@case("registration.yaml", "/register", "post", 401)
def register_challenge(w: World) -> httpx.Response:
    return w.call(None, "POST", f"{V3}/register", json_body={"password": PASSWORD})


@case("registration.yaml", "/register", "post")
def register_with_dummy_auth(w: World) -> httpx.Response:
    body = {"username": f"dummy{secrets.token_hex(4)}", "password": PASSWORD}
    session = w.call(None, "POST", f"{V3}/register", json_body=body).json()["session"]
    return w.call(None, "POST", f"{V3}/register",
                  json_body={**body, "auth": {"type": "m.login.dummy", "session": session}})


@case("registration.yaml", "/register", "post")
def register_with_registration_token(w: World) -> httpx.Response:
    token = w.server.config.registration.tokens[0]
    return w.call(None, "POST", f"{V3}/register", json_body={
        "username": f"tok{secrets.token_hex(4)}", "password": PASSWORD,
        "auth": {"type": "m.login.registration_token", "token": token}})


@case("registration.yaml", "/register/available", "get")
def username_available(w: World) -> httpx.Response:
    return w.call(None, "GET", f"{V3}/register/available",
                  params={"username": f"free{secrets.token_hex(4)}"})


@case("registration_tokens.yaml", "/register/m.login.registration_token/validity", "get")
def registration_token_validity(w: World) -> httpx.Response:
    token = w.server.config.registration.tokens[0]
    r = w.call(None, "GET", "/_matrix/client/v1/register/m.login.registration_token/validity",
               params={"token": token})
    assert r.json() == {"valid": True}
    return r


@case("login.yaml", "/login", "get")
def login_flows(w: World) -> httpx.Response:
    return w.call(None, "GET", f"{V3}/login")


@case("login.yaml", "/login", "post")
def login_with_password(w: World) -> httpx.Response:
    r = w.call(None, "POST", f"{V3}/login", json_body={
        "type": "m.login.password", "password": PASSWORD, "refresh_token": True,
        "identifier": {"type": "m.id.user", "user": w.alice.user_id}})
    w.notes["login"] = r.json()
    return r


@case("refresh.yaml", "/refresh", "post")
def refresh_tokens(w: World) -> httpx.Response:
    return w.call(None, "POST", f"{V3}/refresh",
                  json_body={"refresh_token": w.notes["login"]["refresh_token"]})


@case("whoami.yaml", "/account/whoami", "get")
def whoami(w: World) -> httpx.Response:
    r = w.call(w.alice, "GET", f"{V3}/account/whoami")
    assert r.json()["user_id"] == w.alice.user_id
    return r


@case("administrative_contact.yaml", "/account/3pid", "get")
def threepids(w: World) -> httpx.Response:
    return w.call(w.alice, "GET", f"{V3}/account/3pid")


# --- devices ---------------------------------------------------------------------


@case("device_management.yaml", "/devices", "get")
def list_devices(w: World) -> httpx.Response:
    return w.call(w.alice, "GET", f"{V3}/devices")


@case("device_management.yaml", "/devices/{deviceId}", "get")
def get_device(w: World) -> httpx.Response:
    return w.call(w.alice, "GET", f"{V3}/devices/{w.alice.device_id}")


@case("device_management.yaml", "/devices/{deviceId}", "put")
def update_device(w: World) -> httpx.Response:
    return w.call(w.alice, "PUT", f"{V3}/devices/{w.alice.device_id}",
                  json_body={"display_name": "Sweeping laptop"})


@case("device_management.yaml", "/devices/{deviceId}", "delete")
def delete_device_with_uia(w: World) -> httpx.Response:
    device = w.notes["login"]["device_id"]
    r = _uia(w, w.alice, "DELETE", f"{V3}/devices/{device}", {})
    assert w.call(w.alice, "GET", f"{V3}/devices/{device}").status_code == 404
    return r


@case("device_management.yaml", "/delete_devices", "post")
def delete_devices_with_uia(w: World) -> httpx.Response:
    user = w.new_account()
    r = _uia(w, user, "POST", f"{V3}/delete_devices", {"devices": [user.device_id]})
    assert w.call(user, "GET", f"{V3}/account/whoami").status_code == 401
    return r


# --- profile -----------------------------------------------------------------------


@case("profile.yaml", "/profile/{userId}/{keyName}", "put")
def set_displayname(w: World) -> httpx.Response:
    r = w.call(w.bob, "PUT", f"{V3}/profile/{w.bob.user_id}/displayname",
               json_body={"displayname": "Bob the Sweeper"})
    # Propagated to bob's membership in his rooms.
    member = w.call(w.bob, "GET", f"{V3}/rooms/{w.room}/state/m.room.member/{w.bob.user_id}")
    assert member.json()["displayname"] == "Bob the Sweeper", member.text
    return r


@case("profile.yaml", "/profile/{userId}/{keyName}", "put")
def set_avatar_url(w: World) -> httpx.Response:
    return w.call(w.bob, "PUT", f"{V3}/profile/{w.bob.user_id}/avatar_url",
                  json_body={"avatar_url": f"mxc://{SERVER_NAME}/avatar"})


@case("profile.yaml", "/profile/{userId}/{keyName}", "put")
def set_custom_profile_field(w: World) -> httpx.Response:
    return w.call(w.bob, "PUT", f"{V3}/profile/{w.bob.user_id}/m.tz",
                  json_body={"m.tz": "Europe/Paris"})


@case("profile.yaml", "/profile/{userId}", "get")
def get_profile(w: World) -> httpx.Response:
    r = w.call(None, "GET", f"{V3}/profile/{w.bob.user_id}")
    assert r.json()["avatar_url"] == f"mxc://{SERVER_NAME}/avatar"
    return r


@case("profile.yaml", "/profile/{userId}/{keyName}", "get")
def get_profile_field(w: World) -> httpx.Response:
    return w.call(w.alice, "GET", f"{V3}/profile/{w.bob.user_id}/displayname")


@case("profile.yaml", "/profile/{userId}/{keyName}", "delete")
def delete_profile_field(w: World) -> httpx.Response:
    return w.call(w.bob, "DELETE", f"{V3}/profile/{w.bob.user_id}/m.tz")


# --- creating rooms ----------------------------------------------------------------


def _create(w: World, body: dict[str, Any]) -> httpx.Response:
    return w.call(w.alice, "POST", f"{V3}/createRoom", json_body=body)


@case("create_room.yaml", "/createRoom", "post")
def create_room_with_everything(w: World) -> httpx.Response:
    r = _create(w, {
        "visibility": "public", "preset": "public_chat", "name": "Everything",
        "topic": "all options", "room_alias_name": f"every{secrets.token_hex(4)}",
        "invite": [w.carol.user_id], "is_direct": True,
        "initial_state": [{"type": "m.room.guest_access", "state_key": "",
                           "content": {"guest_access": "can_join"}}],
        "power_level_content_override": {"events_default": 10},
        "creation_content": {"m.federate": False},
    })
    room_id = r.json()["room_id"]
    state = {(e["type"], e["state_key"]): e for e in
             w.call(w.alice, "GET", f"{V3}/rooms/{room_id}/state").json()}
    assert state[("m.room.create", "")]["content"]["m.federate"] is False
    assert state[("m.room.power_levels", "")]["content"]["events_default"] == 10
    assert state[("m.room.guest_access", "")]["content"]["guest_access"] == "can_join"
    assert state[("m.room.member", w.carol.user_id)]["content"]["is_direct"] is True
    return r


@case("create_room.yaml", "/createRoom", "post")
def create_room_trusted_private_chat(w: World) -> httpx.Response:
    return _create(w, {"preset": "trusted_private_chat", "invite": [w.bob.user_id],
                       "is_direct": True})


def _create_version(version: str) -> Callable[[World], httpx.Response]:
    def create_room_version(w: World) -> httpx.Response:
        r = _create(w, {"room_version": version, "preset": "private_chat"})
        room_id = r.json()["room_id"]
        create = w.call(w.alice, "GET", f"{V3}/rooms/{room_id}/state/m.room.create")
        assert create.json()["room_version"] == version
        return r

    create_room_version.__name__ = f"create_room_version_{version}"
    return create_room_version


for _version in range(1, 13):
    case("create_room.yaml", "/createRoom", "post")(_create_version(str(_version)))


# --- membership ----------------------------------------------------------------------


@case("inviting.yaml", "/rooms/{roomId}/invite ", "post")
def invite(w: World) -> httpx.Response:
    return w.call(w.alice, "POST", f"{V3}/rooms/{w.private_room}/invite",
                  json_body={"user_id": w.carol.user_id, "reason": "come in"})


@case("joining.yaml", "/rooms/{roomId}/join", "post")
def join_by_room_id(w: World) -> httpx.Response:
    return w.call(w.carol, "POST", f"{V3}/rooms/{w.private_room}/join", json_body={})


@case("joining.yaml", "/join/{roomIdOrAlias}", "post")
def join_by_alias(w: World) -> httpx.Response:
    r = w.call(w.carol, "POST", f"{V3}/join/{w.alias}", json_body={"reason": "hello"})
    assert r.json()["room_id"] == w.room
    return r


@case("joining.yaml", "/join/{roomIdOrAlias}", "post")
def join_by_id_on_join_endpoint(w: World) -> httpx.Response:
    user = w.new_account()
    w.notes["joiner"] = user
    return w.call(user, "POST", f"{V3}/join/{w.room}")


@case("kicking.yaml", "/rooms/{roomId}/kick", "post")
def kick(w: World) -> httpx.Response:
    return w.call(w.alice, "POST", f"{V3}/rooms/{w.room}/kick",
                  json_body={"user_id": w.notes["joiner"].user_id, "reason": "sweeping"})


@case("banning.yaml", "/rooms/{roomId}/ban", "post")
def ban(w: World) -> httpx.Response:
    return w.call(w.alice, "POST", f"{V3}/rooms/{w.room}/ban",
                  json_body={"user_id": w.notes["joiner"].user_id})


@case("banning.yaml", "/rooms/{roomId}/unban", "post")
def unban(w: World) -> httpx.Response:
    return w.call(w.alice, "POST", f"{V3}/rooms/{w.room}/unban",
                  json_body={"user_id": w.notes["joiner"].user_id})


@case("knocking.yaml", "/knock/{roomIdOrAlias}", "post")
def knock(w: World) -> httpx.Response:
    r = w.call(w.bob, "POST", f"{V3}/knock/{w.knock_room}", json_body={"reason": "let me in"})
    assert r.json()["room_id"] == w.knock_room
    return r


@case("leaving.yaml", "/rooms/{roomId}/leave", "post")
def leave(w: World) -> httpx.Response:
    return w.call(w.carol, "POST", f"{V3}/rooms/{w.private_room}/leave", json_body={})


@case("leaving.yaml", "/rooms/{roomId}/forget", "post")
def forget(w: World) -> httpx.Response:
    before = w.call(w.carol, "GET", f"{V3}/rooms/{w.private_room}/messages", params={"dir": "b"})
    assert before.status_code == 200
    r = w.call(w.carol, "POST", f"{V3}/rooms/{w.private_room}/forget", json_body={})
    after = w.call(w.carol, "GET", f"{V3}/rooms/{w.private_room}/messages", params={"dir": "b"})
    assert after.status_code == 403
    return r


# --- sending and state -----------------------------------------------------------------


@case("room_send.yaml", "/rooms/{roomId}/send/{eventType}/{txnId}", "put")
def send_is_idempotent_per_transaction(w: World) -> httpx.Response:
    path = f"{V3}/rooms/{w.room}/send/m.room.message/sweep-{secrets.token_hex(4)}"
    content = {"msgtype": "m.text", "body": "once"}
    first = w.call(w.bob, "PUT", path, json_body=content)
    again = w.call(w.bob, "PUT", path, json_body=content)
    assert again.json()["event_id"] == first.json()["event_id"]
    w.notes["bob_message"] = first.json()["event_id"]
    return again


@case("room_state.yaml", "/rooms/{roomId}/state/{eventType}/{stateKey}", "put")
def put_state_with_empty_key(w: World) -> httpx.Response:
    return w.call(w.alice, "PUT", f"{V3}/rooms/{w.room}/state/m.room.topic",
                  json_body={"topic": "new topic"})


@case("room_state.yaml", "/rooms/{roomId}/state/{eventType}/{stateKey}", "put")
def put_state_with_key(w: World) -> httpx.Response:
    return w.call(w.alice, "PUT", f"{V3}/rooms/{w.room}/state/org.example.sweep/some key",
                  json_body={"value": 1})


@case("redaction.yaml", "/rooms/{roomId}/redact/{eventId}/{txnId}", "put")
def redact(w: World) -> httpx.Response:
    return w.call(w.bob, "PUT", f"{V3}/rooms/{w.room}/redact/{w.notes['bob_message']}/r1",
                  json_body={"reason": "oops"})


@case("rooms.yaml", "/rooms/{roomId}/state", "get")
def get_all_state(w: World) -> httpx.Response:
    return w.call(w.bob, "GET", f"{V3}/rooms/{w.room}/state")


@case("rooms.yaml", "/rooms/{roomId}/state/{eventType}/{stateKey}", "get")
def get_state_with_empty_key(w: World) -> httpx.Response:
    r = w.call(w.bob, "GET", f"{V3}/rooms/{w.room}/state/m.room.topic/")
    assert r.json() == {"topic": "new topic"}
    return r


# The schema is `oneOf` [any object, a state event]: a whole event matches both.
@case("rooms.yaml", "/rooms/{roomId}/state/{eventType}/{stateKey}", "get", variant=1)
def get_state_with_key_as_event(w: World) -> httpx.Response:
    r = w.call(w.bob, "GET", f"{V3}/rooms/{w.room}/state/org.example.sweep/some key",
               params={"format": "event"})
    assert r.json()["content"] == {"value": 1} and r.json()["state_key"] == "some key"
    return r


# --- reading rooms ------------------------------------------------------------------------


@case("message_pagination.yaml", "/rooms/{roomId}/messages", "get")
def messages_backwards(w: World) -> httpx.Response:
    r = w.call(w.bob, "GET", f"{V3}/rooms/{w.room}/messages", params={"dir": "b", "limit": 3})
    w.notes["end"] = r.json()["end"]
    return r


@case("message_pagination.yaml", "/rooms/{roomId}/messages", "get")
def messages_forwards_between_tokens(w: World) -> httpx.Response:
    return w.call(w.alice, "GET", f"{V3}/rooms/{w.room}/messages", params={
        "dir": "f", "from": w.since, "to": w.notes["end"], "limit": 5,
        "filter": json.dumps({"types": ["m.room.message"], "lazy_load_members": True})})


@case("event_context.yaml", "/rooms/{roomId}/context/{eventId}", "get")
def context(w: World) -> httpx.Response:
    return w.call(w.bob, "GET", f"{V3}/rooms/{w.room}/context/{w.message}",
                  params={"limit": 4, "filter": json.dumps({"lazy_load_members": True})})


@case("rooms.yaml", "/rooms/{roomId}/event/{eventId}", "get")
def single_event(w: World) -> httpx.Response:
    return w.call(w.bob, "GET", f"{V3}/rooms/{w.room}/event/{w.message}")


@case("rooms.yaml", "/rooms/{roomId}/members", "get")
def members(w: World) -> httpx.Response:
    return w.call(w.bob, "GET", f"{V3}/rooms/{w.room}/members")


@case("rooms.yaml", "/rooms/{roomId}/members", "get")
def members_at_token_with_filters(w: World) -> httpx.Response:
    r = w.call(w.bob, "GET", f"{V3}/rooms/{w.room}/members",
               params={"at": w.since, "membership": "join", "not_membership": "leave"})
    assert {e["state_key"] for e in r.json()["chunk"]} == {w.alice.user_id, w.bob.user_id}
    return r


@case("rooms.yaml", "/rooms/{roomId}/joined_members", "get")
def joined_members(w: World) -> httpx.Response:
    return w.call(w.bob, "GET", f"{V3}/rooms/{w.room}/joined_members")


@case("list_joined_rooms.yaml", "/joined_rooms", "get")
def joined_rooms(w: World) -> httpx.Response:
    r = w.call(w.bob, "GET", f"{V3}/joined_rooms")
    assert w.room in r.json()["joined_rooms"]
    return r


# --- aliases and the directory ---------------------------------------------------------------


@case("directory.yaml", "/directory/room/{roomAlias}", "put")
def create_alias(w: World) -> httpx.Response:
    w.notes["alias"] = f"#extra{secrets.token_hex(4)}:{SERVER_NAME}"
    return w.call(w.alice, "PUT", f"{V3}/directory/room/{w.notes['alias']}",
                  json_body={"room_id": w.room})


@case("directory.yaml", "/directory/room/{roomAlias}", "get")
def resolve_alias(w: World) -> httpx.Response:
    r = w.call(None, "GET", f"{V3}/directory/room/{w.notes['alias']}")
    assert r.json()["room_id"] == w.room
    return r


@case("directory.yaml", "/rooms/{roomId}/aliases", "get")
def list_aliases(w: World) -> httpx.Response:
    r = w.call(w.bob, "GET", f"{V3}/rooms/{w.room}/aliases")
    assert set(r.json()["aliases"]) == {w.alias, w.notes["alias"]}
    return r


@case("directory.yaml", "/directory/room/{roomAlias}", "delete")
def delete_alias(w: World) -> httpx.Response:
    return w.call(w.alice, "DELETE", f"{V3}/directory/room/{w.notes['alias']}")


@case("list_public_rooms.yaml", "/directory/list/room/{roomId}", "put")
def set_directory_visibility(w: World) -> httpx.Response:
    return w.call(w.alice, "PUT", f"{V3}/directory/list/room/{w.private_room}",
                  json_body={"visibility": "public"})


@case("list_public_rooms.yaml", "/directory/list/room/{roomId}", "get")
def get_directory_visibility(w: World) -> httpx.Response:
    r = w.call(None, "GET", f"{V3}/directory/list/room/{w.private_room}")
    assert r.json() == {"visibility": "public"}
    return r


@case("list_public_rooms.yaml", "/publicRooms", "get")
def public_rooms(w: World) -> httpx.Response:
    return w.call(None, "GET", f"{V3}/publicRooms", params={"limit": 5})


@case("list_public_rooms.yaml", "/publicRooms", "post")
def search_public_rooms(w: World) -> httpx.Response:
    r = w.call(w.bob, "POST", f"{V3}/publicRooms",
               json_body={"limit": 10, "filter": {"generic_search_term": "Sweep room"}})
    assert [c["room_id"] for c in r.json()["chunk"]] == [w.room]
    return r


@case("users.yaml", "/user_directory/search", "post")
def user_directory(w: World) -> httpx.Response:
    r = w.call(w.alice, "POST", f"{V3}/user_directory/search",
               json_body={"search_term": "Sweeper", "limit": 5})
    assert [u["user_id"] for u in r.json()["results"]] == [w.bob.user_id]
    return r


# --- filters and sync -------------------------------------------------------------------------


SYNC_FILTER = {"room": {"timeline": {"limit": 2}, "state": {"lazy_load_members": True},
                        "include_leave": True}}


@case("filter.yaml", "/user/{userId}/filter", "post")
def upload_filter(w: World) -> httpx.Response:
    r = w.call(w.alice, "POST", f"{V3}/user/{w.alice.user_id}/filter", json_body=SYNC_FILTER)
    w.notes["filter_id"] = r.json()["filter_id"]
    return r


@case("filter.yaml", "/user/{userId}/filter/{filterId}", "get")
def download_filter(w: World) -> httpx.Response:
    r = w.call(w.alice, "GET", f"{V3}/user/{w.alice.user_id}/filter/{w.notes['filter_id']}")
    assert r.json()["room"]["timeline"] == {"limit": 2}
    return r


@case("sync.yaml", "/sync", "get")
def initial_sync_with_uploaded_filter(w: World) -> httpx.Response:
    r = w.call(w.alice, "GET", f"{V3}/sync", params={"filter": w.notes["filter_id"]})
    timeline = r.json()["rooms"]["join"][w.room]["timeline"]
    assert len(timeline["events"]) == 2 and timeline["limited"] and timeline["prev_batch"]
    w.notes["next_batch"] = r.json()["next_batch"]
    return r


@case("sync.yaml", "/sync", "get")
def incremental_sync_long_polls(w: World) -> httpx.Response:
    r = w.call(w.alice, "GET", f"{V3}/sync",
               params={"since": w.notes["next_batch"], "timeout": 300})
    assert r.json()["rooms"]["join"] == {}
    return r


@case("sync.yaml", "/sync", "get")
def incremental_sync_full_state_inline_filter(w: World) -> httpx.Response:
    r = w.call(w.bob, "GET", f"{V3}/sync", params={
        "since": w.since, "full_state": "true", "set_presence": "online",
        "filter": json.dumps({"room": {"timeline": {"limit": 1}}})})
    room = r.json()["rooms"]["join"][w.room]
    assert ("m.room.create", "") in {(e["type"], e["state_key"]) for e in room["state"]["events"]}
    assert r.json()["rooms"]["knock"].keys() == {w.knock_room}
    return r


@case("sync.yaml", "/sync", "get")
def sync_with_state_after(w: World) -> httpx.Response:
    r = w.call(w.carol, "GET", f"{V3}/sync", params={
        "use_state_after": "true", "filter": json.dumps({"room": {"include_leave": True}})})
    assert w.private_room not in r.json()["rooms"]["leave"]  # forgotten
    assert "state_after" in r.json()["rooms"]["join"][w.room]
    return r


# --- account management (throwaway accounts) ---------------------------------------------------


@case("password_management.yaml", "/account/password", "post")
def change_password(w: World) -> httpx.Response:
    user = w.new_account()
    return _uia(w, user, "POST", f"{V3}/account/password",
                {"new_password": "another pw", "logout_devices": False})


@case("logout.yaml", "/logout", "post")
def logout(w: World) -> httpx.Response:
    user = w.new_account()
    r = w.call(user, "POST", f"{V3}/logout")
    gone = w.call(user, "GET", f"{V3}/account/whoami")
    assert gone.status_code == 401 and gone.json()["errcode"] == "M_UNKNOWN_TOKEN"
    return r


@case("logout.yaml", "/logout/all", "post")
def logout_all(w: World) -> httpx.Response:
    return w.call(w.new_account(), "POST", f"{V3}/logout/all")


@case("account_deactivation.yaml", "/account/deactivate", "post")
def deactivate(w: World) -> httpx.Response:
    user = w.new_account()
    assert w.call(user, "POST", f"{V3}/join/{w.room}").status_code == 200
    r = _uia(w, user, "POST", f"{V3}/account/deactivate", {"erase": True})
    member = w.call(w.alice, "GET", f"{V3}/rooms/{w.room}/state/m.room.member/{user.user_id}")
    assert member.json()["membership"] == "leave"
    return r


@pytest.mark.parametrize("c", CASES, ids=str)
def test_endpoint(world: World, c: Case) -> None:
    r = c.run(world)
    assert r.status_code != 500, r.text
    body = r.json()
    assert not (isinstance(body, dict) and body.get("errcode") == "M_UNRECOGNIZED"), r.text
    assert r.status_code == c.status, r.text
    if c.variant is None:
        assert_matches(c.spec_file, c.spec_path, c.method, r.status_code, body)
    else:
        schema = response_schema(c.spec_file, c.spec_path, c.method, r.status_code)
        jsonschema.validate(body, schema["oneOf"][c.variant])


def test_r0_prefix_serves_the_same_api(world: World) -> None:
    r = world.call(world.alice, "GET", "/_matrix/client/r0/account/whoami")
    assert r.status_code == 200 and r.json()["user_id"] == world.alice.user_id


def test_admin_shared_secret_registration(world: World) -> None:
    url = "/_synapse/admin/v1/register"
    nonce = world.call(None, "GET", url).json()["nonce"]
    username, secret = f"admin{secrets.token_hex(4)}", world.server.config.registration.shared_secret
    message = b"\x00".join([nonce.encode(), username.encode(), PASSWORD.encode(), b"notadmin"])
    r = world.call(None, "POST", url, json_body={
        "nonce": nonce, "username": username, "password": PASSWORD,
        "mac": hmac.new(secret.encode(), message, hashlib.sha1).hexdigest()})
    assert r.status_code == 200, r.text
    assert r.json()["user_id"] == f"@{username}:{SERVER_NAME}" and r.json()["access_token"]


# ---------------------------------------------------------------------------
# The error contract.
# ---------------------------------------------------------------------------

ERROR_SCHEMA = CLIENT_SERVER / "definitions" / "errors" / "error.yaml"


def assert_error(r: httpx.Response, status: int, errcode: str) -> dict[str, Any]:
    assert (r.status_code, r.json().get("errcode")) == (status, errcode), r.text
    jsonschema.validate(r.json(), yaml.safe_load(ERROR_SCHEMA.read_text()))
    return r.json()


def _raw(w: World, account: Account | None, method: str, path: str, content: bytes) -> httpx.Response:
    with w.http(account) as http:
        return http.request(method, path, content=content,
                            headers={"Content-Type": "application/json"})


def test_bad_json_is_m_not_json(world: World) -> None:
    for path in (f"{V3}/createRoom", f"{V3}/rooms/{world.room}/send/m.room.message/nj1"):
        method = "POST" if path.endswith("createRoom") else "PUT"
        assert_error(_raw(world, world.alice, method, path, b"{not json"), 400, "M_NOT_JSON")
    assert_error(_raw(world, None, "POST", f"{V3}/login", b'{"type": '), 400, "M_NOT_JSON")


def test_json_array_body_is_m_bad_json(world: World) -> None:
    assert_error(_raw(world, world.alice, "POST", f"{V3}/createRoom", b"[]"), 400, "M_BAD_JSON")
    path = f"{V3}/rooms/{world.room}/state/m.room.topic"
    assert_error(_raw(world, world.alice, "PUT", path, b'["topic"]'), 400, "M_BAD_JSON")


def test_oversize_event_is_m_too_large(world: World) -> None:
    before = world.call(world.alice, "GET", f"{V3}/rooms/{world.room}/messages",
                        params={"dir": "b", "limit": 1}).json()["chunk"][0]["event_id"]
    r = world.call(world.alice, "PUT", f"{V3}/rooms/{world.room}/send/m.room.message/big",
                   json_body={"msgtype": "m.text", "body": "x" * 70_000})
    assert_error(r, 413, "M_TOO_LARGE")
    r = world.call(world.alice, "PUT", f"{V3}/rooms/{world.room}/state/org.example.big/",
                   json_body={"blob": "y" * 70_000})
    assert_error(r, 413, "M_TOO_LARGE")
    after = world.call(world.alice, "GET", f"{V3}/rooms/{world.room}/messages",
                       params={"dir": "b", "limit": 1}).json()["chunk"][0]["event_id"]
    assert after == before


# Values no event may hold, each refused with a Matrix error and nothing sent.
HOSTILE = [
    ("PUT", "/rooms/{room}/send/m.room.message/{txn}", {"body": "a\u0000b"}, 400, "M_BAD_JSON"),
    ("PUT", "/rooms/{room}/send/m.room.message/{txn}", {"n": 2**53}, 400, "M_BAD_JSON"),
    ("PUT", "/rooms/{room}/send/m.room.message/{txn}", {"n": 0.5}, 400, "M_BAD_JSON"),
    ("PUT", "/rooms/{room}/send/org.a%00b/{txn}", {}, 400, "M_BAD_JSON"),
    ("PUT", "/rooms/{room}/send/" + "t" * 256 + "/{txn}", {}, 413, "M_TOO_LARGE"),
    ("PUT", "/rooms/{room}/send/m.room.message/a%00{txn}", {"body": "x"}, 400, "M_INVALID_PARAM"),
    ("PUT", "/rooms/{room}/state/m.room.topic/", {"topic": "\u0000"}, 400, "M_BAD_JSON"),
    ("PUT", "/rooms/{room}/state/org.example/a%00b", {}, 400, "M_BAD_JSON"),
    ("PUT", "/rooms/{room}/state/org.example/" + "k" * 256, {}, 413, "M_TOO_LARGE"),
    ("PUT", "/rooms/{room}/redact/%24a%00b/{txn}", {}, 404, "M_NOT_FOUND"),
    ("POST", "/createRoom", {"name": "a\u0000"}, 400, "M_BAD_JSON"),
    ("POST", "/createRoom", {"creation_content": {"n": 1.5}}, 400, "M_BAD_JSON"),
    ("POST", "/createRoom", {"initial_state": [{"type": "o.\u0000", "content": {}}]},
     400, "M_BAD_JSON"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "errcode"), HOSTILE)
def test_hostile_values_are_refused(
    world: World, method: str, path: str, body: Any, status: int, errcode: str
) -> None:
    def newest() -> str:
        return world.call(world.alice, "GET", f"{V3}/rooms/{world.room}/messages",
                          params={"dir": "b", "limit": 1}).json()["chunk"][0]["event_id"]

    before = newest()
    url = V3 + path.format(room=world.room, txn=secrets.token_hex(4))
    assert_error(world.call(world.alice, method, url, json_body=body), status, errcode)
    assert newest() == before


async def test_concurrent_writes_to_one_room_all_land(world: World) -> None:
    tag = secrets.token_hex(3)
    async with httpx.AsyncClient(base_url=world.url, headers=auth_headers(world.alice),
                                 timeout=60) as http:
        sends = [http.put(f"{V3}/rooms/{world.room}/send/m.room.message/{tag}-{i}",
                          json={"msgtype": "m.text", "body": f"{tag} {i}"}) for i in range(20)]
        sends += [http.put(f"{V3}/rooms/{world.room}/state/org.example.race/{i}", json={"i": i})
                  for i in range(5)]
        responses = await asyncio.gather(*sends)
    assert [r.status_code for r in responses] == [200] * 25, [r.text for r in responses]
    sent = {r.json()["event_id"] for r in responses}
    page = world.call(world.bob, "GET", f"{V3}/rooms/{world.room}/messages",
                      params={"dir": "b", "limit": 40}).json()["chunk"]
    assert sent <= {e["event_id"] for e in page}


@pytest.mark.parametrize(("method", "path"), [
    ("GET", f"{V3}/createRoom"),
    ("DELETE", f"{V3}/sync"),
    ("POST", f"{V3}/account/whoami"),
    ("PUT", "/_matrix/client/versions"),
])
def test_wrong_method_is_405_unrecognized(world: World, method: str, path: str) -> None:
    assert_error(world.call(world.alice, method, path), 405, "M_UNRECOGNIZED")


@pytest.mark.parametrize("path", [
    f"{V3}/no/such/endpoint", "/_matrix/client/v3", "/_matrix/client/v9/sync",
])
def test_unknown_endpoint_is_404_unrecognized(world: World, path: str) -> None:
    assert_error(world.call(world.alice, "GET", path), 404, "M_UNRECOGNIZED")


# Every endpoint with a room ID in its path, with a malformed one.
ROOM_PATHS = [
    ("POST", "/rooms/{r}/join"), ("POST", "/rooms/{r}/invite"), ("POST", "/rooms/{r}/leave"),
    ("POST", "/rooms/{r}/forget"), ("POST", "/rooms/{r}/kick"), ("POST", "/rooms/{r}/ban"),
    ("POST", "/rooms/{r}/unban"), ("GET", "/rooms/{r}/state"),
    ("GET", "/rooms/{r}/state/m.room.topic/"), ("PUT", "/rooms/{r}/state/m.room.topic/"),
    ("PUT", "/rooms/{r}/send/m.room.message/t1"), ("PUT", "/rooms/{r}/redact/$e/t1"),
    ("GET", "/rooms/{r}/messages?dir=b"), ("GET", "/rooms/{r}/context/$e"),
    ("GET", "/rooms/{r}/event/$e"), ("GET", "/rooms/{r}/members"),
    ("GET", "/rooms/{r}/joined_members"), ("GET", "/rooms/{r}/aliases"),
    ("GET", "/directory/list/room/{r}"), ("PUT", "/directory/list/room/{r}"),
]


@pytest.mark.parametrize(("method", "path"), ROOM_PATHS)
@pytest.mark.parametrize("bad_room", ["not-a-room", "!nocolon:", f"@user:{SERVER_NAME}"])
def test_malformed_room_id_in_path_is_400(
    world: World, method: str, path: str, bad_room: str
) -> None:
    body = {"user_id": world.bob.user_id, "visibility": "public", "topic": "t",
            "msgtype": "m.text", "body": "b"} if method in ("POST", "PUT") else None
    r = world.call(world.alice, method, V3 + path.format(r=bad_room), json_body=body)
    assert r.status_code == 400, r.text
    assert r.json()["errcode"] in ("M_INVALID_PARAM", "M_BAD_JSON"), r.text


def test_forbidden_actions_are_403(world: World) -> None:
    power = world.call(world.bob, "PUT", f"{V3}/rooms/{world.room}/state/m.room.power_levels/",
                       json_body={"users": {world.bob.user_id: 100}})
    assert_error(power, 403, "M_FORBIDDEN")
    outsider = world.new_account()
    for method, path in (("GET", f"/rooms/{world.knock_room}/messages?dir=b"),
                         ("GET", f"/rooms/{world.knock_room}/state"),
                         ("PUT", f"/rooms/{world.knock_room}/send/m.room.message/f1"),
                         ("POST", f"/rooms/{world.room}/kick")):
        body = {"msgtype": "m.text", "body": "no"} if method == "PUT" else None
        if path.endswith("kick"):
            body = {"user_id": world.alice.user_id}
        assert_error(world.call(outsider, method, V3 + path, json_body=body), 403, "M_FORBIDDEN")
    filters = world.call(world.bob, "POST", f"{V3}/user/{world.alice.user_id}/filter", json_body={})
    assert_error(filters, 403, "M_FORBIDDEN")


def test_bad_tokens(world: World) -> None:
    bogus = Account(world.alice.user_id, "syt_bogus_token", "X")
    body = assert_error(world.call(bogus, "GET", f"{V3}/account/whoami"), 401, "M_UNKNOWN_TOKEN")
    assert body["soft_logout"] is False
    forged = Account(world.alice.user_id, world.alice.access_token + "x", "X")
    assert_error(world.call(forged, "GET", f"{V3}/sync"), 401, "M_UNKNOWN_TOKEN")
    assert_error(world.call(None, "GET", f"{V3}/sync"), 401, "M_MISSING_TOKEN")


def test_cors_headers_on_errors_and_preflight(world: World) -> None:
    r = world.call(None, "GET", f"{V3}/no/such/endpoint")
    assert r.status_code == 404
    assert r.headers["access-control-allow-origin"] == "*"
    assert "Authorization" in r.headers["access-control-allow-headers"]
    with world.http() as http:
        pre = http.options(f"{V3}/createRoom", headers={
            "Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
    assert pre.status_code in (200, 204)
    assert "POST" in pre.headers["access-control-allow-methods"]


# ---------------------------------------------------------------------------
# Wrong types in bodies: every field of every body-taking endpoint, one at a time.
# ---------------------------------------------------------------------------

WRONG = {"str": 17, "int": "seventeen", "bool": "yes", "list": {"a": 1}, "dict": ["x"]}
BODIES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("createRoom", "POST", "/createRoom", {
        "visibility": "str", "room_alias_name": "str", "name": "str", "topic": "str",
        "invite": "list", "room_version": "str", "creation_content": "dict",
        "initial_state": "list", "preset": "str", "is_direct": "bool",
        "power_level_content_override": "dict"}),
    ("invite", "POST", "/rooms/{room}/invite", {"user_id": "str", "reason": "str"}),
    ("kick", "POST", "/rooms/{room}/kick", {"user_id": "str", "reason": "str"}),
    ("ban", "POST", "/rooms/{room}/ban", {"user_id": "str", "reason": "str"}),
    ("unban", "POST", "/rooms/{room}/unban", {"user_id": "str", "reason": "str"}),
    ("join", "POST", "/join/{room}", {"reason": "str"}),
    ("leave", "POST", "/rooms/{room}/leave", {"reason": "str"}),
    ("redact", "PUT", "/rooms/{room}/redact/{event}/{txn}", {"reason": "str"}),
    ("alias", "PUT", "/directory/room/#wrong{txn}:" + SERVER_NAME, {"room_id": "str"}),
    ("visibility", "PUT", "/directory/list/room/{room}", {"visibility": "str"}),
    ("publicRooms", "POST", "/publicRooms", {
        "limit": "int", "since": "str", "filter": "dict", "include_all_networks": "bool",
        "third_party_instance_id": "str"}),
    ("user_directory", "POST", "/user_directory/search", {"search_term": "str", "limit": "int"}),
    ("filter", "POST", "/user/{user}/filter", {
        "event_fields": "list", "event_format": "str", "presence": "dict",
        "account_data": "dict", "room": "dict"}),
    ("login", "POST", "/login", {
        "type": "str", "identifier": "dict", "password": "str", "device_id": "str",
        "initial_device_display_name": "str", "refresh_token": "bool"}),
    ("register", "POST", "/register", {
        "username": "str", "password": "str", "device_id": "str", "auth": "dict",
        "initial_device_display_name": "str", "inhibit_login": "bool", "refresh_token": "bool"}),
    ("refresh", "POST", "/refresh", {"refresh_token": "str"}),
    ("password", "POST", "/account/password", {
        "new_password": "str", "logout_devices": "bool", "auth": "dict"}),
    ("deactivate", "POST", "/account/deactivate", {"auth": "dict", "erase": "bool",
                                                   "id_server": "str"}),
    ("device", "PUT", "/devices/{device}", {"display_name": "str"}),
    ("delete_devices", "POST", "/delete_devices", {"devices": "list", "auth": "dict"}),
    ("profile", "PUT", "/profile/{user}/displayname", {"displayname": "str"}),
]
VALID = {
    "createRoom": {}, "invite": {"user_id": f"@nobody:{SERVER_NAME}"},
    "kick": {"user_id": f"@nobody:{SERVER_NAME}"}, "ban": {"user_id": f"@nobody:{SERVER_NAME}"},
    "unban": {"user_id": f"@nobody:{SERVER_NAME}"}, "join": {}, "leave": {}, "redact": {},
    "alias": {"room_id": f"!x:{SERVER_NAME}"}, "visibility": {"visibility": "public"},
    "publicRooms": {}, "user_directory": {"search_term": "x"}, "filter": {},
    "login": {"type": "m.login.password", "password": "wrong",
              "identifier": {"type": "m.id.user", "user": "nobody"}},
    "register": {"username": "wrongtypes"}, "refresh": {"refresh_token": "x"},
    "password": {"new_password": "x"}, "deactivate": {}, "device": {},
    "delete_devices": {"devices": []}, "profile": {"displayname": "x"},
}
WRONG_TYPE_CASES = [
    pytest.param(name, method, path, key, kind, id=f"{name}-{key}")
    for name, method, path, fields in BODIES for key, kind in fields.items()
]


@pytest.mark.parametrize(("name", "method", "path", "key", "kind"), WRONG_TYPE_CASES)
def test_wrong_types_are_matrix_errors(
    world: World, name: str, method: str, path: str, key: str, kind: str
) -> None:
    user = world.notes.setdefault("wrong_types_user", world.new_account("wrong"))
    room = world.notes.setdefault("wrong_types_room", Client(world.server, user).create_room())
    url = V3 + path.format(room=room, event=world.message, txn=secrets.token_hex(4),
                           user=user.user_id, device=user.device_id)
    body = {**VALID[name], key: WRONG[kind]}
    r = world.call(user, method, url, json_body=body)
    assert 400 <= r.status_code < 500, f"{r.status_code} {r.text}"
    assert r.json()["errcode"] not in ("M_UNRECOGNIZED", "M_UNKNOWN"), r.text
