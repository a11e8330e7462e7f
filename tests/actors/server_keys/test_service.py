"""The server keys service: our key answer, remote key fetching and caching, the notary."""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg

from actors.context import Context
from actors.server_keys.service import REFETCH_INTERVAL_MS, ServerKeysService
from dendray.config import Config
from protocol.server_keys import OldKey, build_key_response, countersign, parse_key_response
from protocol.signing import (
    generate_signing_key,
    get_verify_key,
    key_id,
    verify_json,
    verify_key_base64,
)
from sharding.router import Router
from tests.actors.fake_federation import FakeFederation

DAY = 24 * 3600 * 1000
NOW = 1_700_000_000_000
KEYS_PATH = "/_matrix/key/v2/server"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> int:
        return self.now


def remote_name() -> str:
    # Each test has its own remote server: the database is shared by the session.
    return f"remote-{secrets.token_hex(4)}.example"


def make_service(pool: asyncpg.Pool, fed: FakeFederation, clock: Clock,
                 **config: Any) -> ServerKeysService:
    cfg = Config(server_name="us.example", **config)
    ctx = Context(config=cfg, pool=pool, router=Router({}), signing_key=generate_signing_key("cur"))
    return ServerKeysService(ctx, 0, client=fed, clock_ms=clock)  # type: ignore[arg-type]


def b64(key: Any) -> str:
    return verify_key_base64(key)


async def test_own_keys_publish_current_and_old_keys_signed(db_pool: asyncpg.Pool) -> None:
    old = generate_signing_key("old")
    svc = make_service(db_pool, FakeFederation(), Clock(), old_signing_keys=[
        {"key_id": "ed25519:old", "key": b64(old), "expired_ts": NOW - DAY}])
    answer = await svc.own_keys()
    keys = parse_key_response(answer, "us.example")
    assert keys.verify_keys == {key_id(svc.ctx.signing_key): b64(svc.ctx.signing_key)}
    assert keys.old_verify_keys == {"ed25519:old": OldKey("ed25519:old", b64(old), NOW - DAY)}
    assert answer["valid_until_ts"] == NOW + DAY
    # Our own keys are answered without any request; old ones only if valid at the time asked.
    assert await svc.verify_keys("us.example", ["ed25519:cur", "ed25519:old"], NOW) == {
        "ed25519:cur": b64(svc.ctx.signing_key)}
    assert await svc.verify_keys("us.example", ["ed25519:old"], NOW - 2 * DAY) == {
        "ed25519:old": b64(old)}


async def test_remote_keys_are_fetched_once_stored_and_trusted_at_most_7_days(
    db_pool: asyncpg.Pool,
) -> None:
    remote, key = remote_name(), generate_signing_key("r1")
    fed, clock = FakeFederation(), Clock()
    fed.answer("GET", remote, KEYS_PATH, build_key_response(remote, key, [], NOW + 30 * DAY))
    svc = make_service(db_pool, fed, clock)
    assert await svc.verify_keys(remote, ["ed25519:r1"], NOW) == {"ed25519:r1": b64(key)}
    assert await svc.verify_keys(remote, ["ed25519:r1"], NOW + 6 * DAY) == {"ed25519:r1": b64(key)}
    assert len(fed.requests) == 1
    # A fresh shard (restart) reads the database, no new request.
    again = make_service(db_pool, fed, clock)
    assert await again.verify_keys(remote, ["ed25519:r1"], NOW) == {"ed25519:r1": b64(key)}
    assert len(fed.requests) == 1
    # Beyond 7 days after fetching, the answer's 30 days are not trusted.
    assert await svc.verify_keys(remote, ["ed25519:r1"], NOW + 8 * DAY) == {}


async def test_unknown_key_refetches_but_not_more_than_every_interval(db_pool: asyncpg.Pool) -> None:
    remote, key = remote_name(), generate_signing_key("r1")
    fed, clock = FakeFederation(), Clock()
    fed.answer("GET", remote, KEYS_PATH, build_key_response(remote, key, [], NOW + DAY))
    svc = make_service(db_pool, fed, clock)
    assert await svc.verify_keys(remote, ["ed25519:forged"], NOW) == {}
    assert await svc.verify_keys(remote, ["ed25519:forged"], NOW) == {}
    assert len(fed.requests) == 1
    clock.now += REFETCH_INTERVAL_MS
    # Meanwhile the server rotated: the new key is found at the next allowed fetch.
    new = generate_signing_key("r2")
    fed.answer("GET", remote, KEYS_PATH, build_key_response(
        remote, new, [OldKey("ed25519:r1", b64(key), clock.now)], clock.now + DAY))
    assert await svc.verify_keys(remote, ["ed25519:r2", "ed25519:r1"], clock.now - 1) == {
        "ed25519:r2": b64(new), "ed25519:r1": b64(key)}
    assert len(fed.requests) == 2


async def test_bad_answers_are_not_stored(db_pool: asyncpg.Pool) -> None:
    remote, key, other = remote_name(), generate_signing_key("r1"), generate_signing_key("r1")
    fed, clock = FakeFederation(), Clock()
    forged = build_key_response(remote, key, [], NOW + DAY)
    forged["verify_keys"]["ed25519:r1"]["key"] = b64(other)  # the signature no longer matches
    fed.answer("GET", remote, KEYS_PATH, forged)
    svc = make_service(db_pool, fed, clock)
    assert await svc.verify_keys(remote, ["ed25519:r1"], NOW) == {}
    wrong_name = remote_name()
    fed.answer("GET", wrong_name, KEYS_PATH, build_key_response(remote, key, [], NOW + DAY))
    assert await svc.verify_keys(wrong_name, ["ed25519:r1"], NOW) == {}
    assert await db_pool.fetchval(
        "SELECT count(*) FROM server_keys WHERE server_name = ANY($1::text[])",
        [remote, wrong_name]) == 0


async def test_notary_is_asked_when_the_server_is_unreachable(db_pool: asyncpg.Pool) -> None:
    remote, key = remote_name(), generate_signing_key("r1")
    notary_key = generate_signing_key("n")
    fed, clock = FakeFederation(), Clock()
    answer = build_key_response(remote, key, [], NOW + DAY)
    fed.answer("POST", "notary.example", "/_matrix/key/v2/query",
               {"server_keys": [countersign(answer, "notary.example", notary_key)]})
    trusted = [{"server_name": "notary.example",
                "verify_keys": {"ed25519:n": b64(notary_key)}}]
    svc = make_service(db_pool, fed, clock)
    svc.ctx.config.federation.trusted_key_servers = trusted
    assert await svc.verify_keys(remote, ["ed25519:r1"], NOW) == {"ed25519:r1": b64(key)}
    assert [r.method for r in fed.requests] == ["GET", "POST"]
    assert fed.requests[1].body == {"server_keys": {remote: {
        "ed25519:r1": {"minimum_valid_until_ts": NOW}}}}


async def test_notary_answer_without_its_pinned_signature_is_refused(db_pool: asyncpg.Pool) -> None:
    remote, key = remote_name(), generate_signing_key("r1")
    fed, clock = FakeFederation(), Clock()
    answer = build_key_response(remote, key, [], NOW + DAY)
    fed.answer("POST", "notary.example", "/_matrix/key/v2/query", {"server_keys": [
        countersign(answer, "notary.example", generate_signing_key("n"))]})
    svc = make_service(db_pool, fed, clock)
    svc.ctx.config.federation.trusted_key_servers = [{
        "server_name": "notary.example",
        "verify_keys": {"ed25519:n": b64(generate_signing_key("n"))}}]
    assert await svc.verify_keys(remote, ["ed25519:r1"], NOW) == {}


async def test_notary_query_serves_stored_answers_countersigned(db_pool: asyncpg.Pool) -> None:
    remote, key = remote_name(), generate_signing_key("r1")
    fed, clock = FakeFederation(), Clock()
    fed.answer("GET", remote, KEYS_PATH, build_key_response(remote, key, [], NOW + DAY))
    svc = make_service(db_pool, fed, clock)
    [served] = await svc.notary_query(remote, [], NOW)
    parse_key_response(served, remote)
    us = svc.ctx.signing_key
    verify_json(served, "us.example", key_id(us), get_verify_key(us))
    # Cached: the server going away does not matter, and nothing is refetched.
    fed.answers.clear()
    clock.now += REFETCH_INTERVAL_MS
    assert len(await svc.notary_query(remote, ["ed25519:r1"], NOW)) == 1
    assert len(fed.requests) == 1
    # An unknown, unreachable server: no answers.
    assert await svc.notary_query(remote_name(), [], NOW) == []
    # Our own keys.
    [own] = await svc.notary_query("us.example", [], NOW)
    assert parse_key_response(own, "us.example").verify_keys
