"""Profiles across servers: reading remote users' through /query/profile, serving ours."""

from __future__ import annotations

import pytest

from actors.accounts.remote_profiles import CACHE_TTL_MS, QUERY_PROFILE_PATH, RemoteProfiles
from federation.client import FederationError
from protocol.errors import MatrixError
from tests.actors.accounts.helpers import register
from tests.actors.fake_federation import FakeFederation
from tests.openapi import SERVER_SERVER, assert_matches

REMOTE = "remote.example"
BOB = f"@bob:{REMOTE}"


async def status_of(coro) -> tuple[int, str]:
    with pytest.raises(MatrixError) as e:
        await coro
    return e.value.status, e.value.errcode


def remote_answering(answer) -> FakeFederation:
    fake = FakeFederation()
    fake.answer("GET", REMOTE, QUERY_PROFILE_PATH, answer)
    return fake


async def test_remote_profile_is_fetched_then_cached(accounts) -> None:
    fake = remote_answering({"displayname": "Bob", "avatar_url": None, "m.tz": "UTC"})
    accounts.shard_of(BOB).federation = fake
    assert await accounts.call(BOB, "get_profile", BOB) == {"displayname": "Bob", "m.tz": "UTC"}
    assert await accounts.call(BOB, "get_profile", BOB) == {"displayname": "Bob", "m.tz": "UTC"}
    assert [(r.destination, r.query) for r in fake.requests] == [(REMOTE, {"user_id": BOB})]


async def test_remote_field_asks_for_that_field() -> None:
    fake = remote_answering(lambda r: {"displayname": "Bob", "avatar_url": "mxc://x/y"})
    now = [0]
    remote = RemoteProfiles(lambda: fake, clock=lambda: now[0])
    assert await remote.get(BOB, "displayname") == {"displayname": "Bob"}
    assert fake.requests[-1].query == {"user_id": BOB, "field": "displayname"}
    # An answer is kept for a while, then asked again.
    now[0] = CACHE_TTL_MS - 1
    await remote.get(BOB, "displayname")
    assert len(fake.requests) == 1
    now[0] = CACHE_TTL_MS + 1
    await remote.get(BOB, "displayname")
    assert len(fake.requests) == 2


@pytest.mark.parametrize(("answer", "field", "expected"), [
    (FederationError(404, "M_NOT_FOUND", {}), None, (404, "M_NOT_FOUND")),
    (FederationError(403, "M_FORBIDDEN", {}), None, (403, "M_FORBIDDEN")),
    (FederationError(500, None, "oops"), None, (502, "M_UNKNOWN")),
    (["not", "an", "object"], None, (502, "M_UNKNOWN")),
    ({"avatar_url": "mxc://x/y"}, "displayname", (404, "M_NOT_FOUND")),
    ({"displayname": None}, "displayname", (404, "M_NOT_FOUND")),
])
async def test_remote_errors(accounts, answer, field, expected) -> None:
    accounts.shard_of(BOB).federation = remote_answering(answer)
    call = (accounts.call(BOB, "get_profile", BOB) if field is None
            else accounts.call(BOB, "get_profile_field", BOB, field))
    assert await status_of(call) == expected


async def test_unreachable_server_is_a_gateway_error(accounts) -> None:
    assert await status_of(accounts.call(BOB, "get_profile", BOB)) == (502, "M_UNKNOWN")


async def test_federation_query_serves_local_profiles(accounts) -> None:
    alice = (await register(accounts))["user_id"]
    await accounts.call(alice, "set_profile_field", alice, alice, "displayname",
                        {"displayname": "Alice"})
    whole = await accounts.call(alice, "federation_query_profile", alice, None)
    assert whole == {"displayname": "Alice"}
    assert_matches("query.yaml", "/query/profile", "get", 200, whole, api=SERVER_SERVER)
    assert await accounts.call(alice, "federation_query_profile", alice, "displayname") == {
        "displayname": "Alice"}
    for user, field in ((alice, "avatar_url"), (alice, "org.example.x"),
                        ("@nobody:test.local", None), (BOB, None)):
        got = await status_of(accounts.call(user, "federation_query_profile", user, field))
        assert got == (404, "M_NOT_FOUND"), (user, field)
    assert await status_of(accounts.call("x", "federation_query_profile", "x", None)) == (
        400, "M_INVALID_PARAM")
