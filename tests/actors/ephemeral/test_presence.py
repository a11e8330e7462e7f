"""Presence: the pure rules, and the service's timers with an injected clock."""

from __future__ import annotations

import asyncio

import pytest

from actors.presence.rules import (
    OFFLINE,
    ONLINE,
    UNAVAILABLE,
    PresenceRecord,
    currently_active,
    effective_state,
    next_deadline,
)
from actors.presence.service import PresenceService
from dendray.config import PresenceConfig
from protocol.errors import MatrixError
from tests.actors.ephemeral.conftest import join, new_room, new_user

CFG = PresenceConfig(enabled=True, idle_after_ms=300_000, offline_after_ms=30_000)
IDLE, GRACE = CFG.idle_after_ms, CFG.offline_after_ms


def test_rules_online_goes_idle_then_offline() -> None:
    t = 1_000_000
    rec = PresenceRecord("@a:x", ONLINE, None, last_active_ts=t, sync_until_ts=t + IDLE * 2)
    assert effective_state(rec, t + IDLE - 1, CFG) == ONLINE
    assert effective_state(rec, t + IDLE, CFG) == UNAVAILABLE
    assert effective_state(rec, t + IDLE * 2 + GRACE, CFG) == OFFLINE
    assert next_deadline(rec, CFG) == t + IDLE
    assert currently_active(rec, t + 59_999, CFG) and not currently_active(rec, t + 60_000, CFG)


def test_rules_without_syncing_offline_after_the_grace() -> None:
    t = 1_000_000
    rec = PresenceRecord("@a:x", UNAVAILABLE, "away", last_active_ts=t)
    assert effective_state(rec, t + GRACE - 1, CFG) == UNAVAILABLE
    assert effective_state(rec, t + GRACE, CFG) == OFFLINE
    assert next_deadline(rec, CFG) == t + GRACE
    assert next_deadline(PresenceRecord("@a:x", OFFLINE, None, t), CFG) is None


async def stored(svc: PresenceService, user: str) -> tuple[str, int] | None:
    row = await svc.ctx.pool.fetchrow(
        "SELECT state, stream_pos FROM presence WHERE user_id = $1", user)
    return None if row is None else (row["state"], row["stream_pos"])


async def test_timers_write_idle_and_offline_and_wake_room_mates(make_ctx, clock, router) -> None:
    svc = PresenceService(make_ctx(), 0, clock=clock)
    await svc.recover()
    alice, bob, carol = new_user("alice"), new_user("bob"), new_user("carol")
    await join(svc.ctx.pool, new_room(), alice, bob)
    await svc.set_presence(alice, alice, {"presence": "online", "status_msg": "hi"})
    first = await stored(svc, alice)
    assert first is not None and first[0] == ONLINE
    # A sync that may last 10 minutes keeps her from going offline.
    await svc.user_syncing(alice, "online", clock() + 600_000)
    clock.advance(IDLE - 1)
    await svc.expire_due()
    assert (await stored(svc, alice))[0] == ONLINE
    clock.advance(1)
    await svc.expire_due()
    idle = await stored(svc, alice)
    assert idle[0] == UNAVAILABLE and idle[1] > first[1]
    await asyncio.sleep(0.05)
    woken = router.woken("presence")
    assert woken[alice] == woken[bob] == idle[1] and carol not in woken
    # The sync ends; the grace passes; she is offline and no longer held in memory.
    clock.advance(600_000 - IDLE + GRACE)
    await svc.expire_due()
    assert (await stored(svc, alice))[0] == OFFLINE
    assert svc.tracked_users() == 0
    content = await svc.get_presence(bob, alice)
    assert content["presence"] == OFFLINE and content["status_msg"] == "hi"
    svc._timers.stop()


async def test_a_restart_reloads_and_writes_what_fell_due_meanwhile(make_ctx, clock) -> None:
    ctx = make_ctx()
    svc = PresenceService(ctx, 0, clock=clock)
    await svc.recover()
    user = new_user()
    await svc.set_presence(user, user, {"presence": "online"})
    svc._timers.stop()
    clock.advance(GRACE + 1)
    restarted = PresenceService(ctx, 0, clock=clock)
    await restarted.recover()
    # Read lazily, it is already offline; the timer writes it as soon as it runs.
    assert (await restarted.get_presence(user, user))["presence"] == OFFLINE
    await restarted.expire_due()
    assert (await stored(restarted, user))[0] == OFFLINE
    restarted._timers.stop()


async def test_sync_presence_rules(make_ctx, clock) -> None:
    svc = PresenceService(make_ctx(), 0, clock=clock)
    await svc.recover()
    quiet, away, back = new_user(), new_user(), new_user()
    await svc.user_syncing(quiet, "offline", clock() + 30_000)
    assert await stored(svc, quiet) is None
    await svc.user_syncing(away, "unavailable", clock() + 30_000)
    assert (await stored(svc, away))[0] == UNAVAILABLE
    await svc.user_syncing(back, "online", clock() + 30_000)
    online = await stored(svc, back)
    assert online[0] == ONLINE
    # Another sync changes nothing visible: no new stream position.
    clock.advance(1000)
    await svc.user_syncing(back, "online", clock() + 30_000)
    assert await stored(svc, back) == online
    svc._timers.stop()


async def test_client_errors_and_the_switch(make_ctx, clock) -> None:
    svc = PresenceService(make_ctx(), 0, clock=clock)
    alice, stranger = new_user(), new_user()
    for requester, body, code in [
        (stranger, {"presence": "online"}, "M_FORBIDDEN"),
        (alice, {"presence": "busy"}, "M_BAD_JSON"),
        (alice, {}, "M_BAD_JSON"),
        (alice, {"presence": "online", "status_msg": 3}, "M_BAD_JSON"),
    ]:
        with pytest.raises(MatrixError) as e:
            await svc.set_presence(requester, alice, body)
        assert e.value.errcode == code
    with pytest.raises(MatrixError) as e:
        await svc.get_presence(alice, alice)
    assert e.value.errcode == "M_NOT_FOUND"
    await svc.set_presence(alice, alice, {"presence": "online"})
    with pytest.raises(MatrixError) as e:
        await svc.get_presence(stranger, alice)
    assert e.value.errcode == "M_FORBIDDEN"
    svc._timers.stop()

    off = PresenceService(make_ctx(enabled=False), 0, clock=clock)
    bob = new_user()
    await off.set_presence(bob, bob, {"presence": "online"})
    assert await stored(off, bob) is None
    assert await off.get_presence(bob, bob) == {"presence": OFFLINE}
