"""Send-to-device on the accounts service: fan-out, idempotency, acknowledgement, device deletion."""

from __future__ import annotations

from typing import Any

import pytest

from actors.accounts.devices import delete_devices
from actors.accounts.service import AccountsService
from protocol.errors import MatrixError
from tests.actors.ephemeral.conftest import new_user


async def add_devices(pool: Any, user_id: str, *device_ids: str) -> None:
    for device_id in device_ids:
        await pool.execute(
            "INSERT INTO devices (user_id, device_id, created_ts) VALUES ($1, $2, 0)",
            user_id, device_id,
        )


async def inbox(pool: Any, user_id: str) -> list[tuple[str, Any]]:
    rows = await pool.fetch(
        "SELECT device_id, content FROM to_device_inbox WHERE user_id = $1 ORDER BY stream_pos",
        user_id,
    )
    return [(r["device_id"], r["content"]) for r in rows]


async def test_fan_out_idempotency_and_cleanup(make_ctx, router) -> None:
    svc = AccountsService(make_ctx(), 0)
    pool = svc.ctx.pool
    alice, bob = new_user("alice"), new_user("bob")
    await add_devices(pool, bob, "PHONE", "LAPTOP")
    messages = {bob: {"*": {"all": 1}, "PHONE": {"phone": 1}, "GONE": {"x": 1}},
                "@remote:elsewhere.example": {"D": {"r": 1}}}
    for _ in range(2):  # the same transaction twice
        await svc.send_to_device(alice, "ADEV", "m.test", "txn1", {"messages": messages})
    assert sorted(map(str, await inbox(pool, bob))) == sorted(map(str, [
        ("PHONE", {"phone": 1}), ("LAPTOP", {"all": 1}),
    ]))
    woken = router.woken("to_device")
    assert bob in woken and alice not in woken

    # Acknowledged up to the phone's message: only it goes.
    phone_pos = await pool.fetchval(
        "SELECT stream_pos FROM to_device_inbox WHERE user_id = $1 AND device_id = 'PHONE'", bob)
    await svc.ack_to_device(bob, "PHONE", phone_pos)
    assert await inbox(pool, bob) == [("LAPTOP", {"all": 1})]
    # A deleted device's inbox goes with it.
    async with pool.acquire() as conn:
        await delete_devices(conn, bob, ["LAPTOP"])
    assert await inbox(pool, bob) == []


async def test_bad_bodies_write_nothing(make_ctx) -> None:
    svc = AccountsService(make_ctx(), 0)
    alice, bob = new_user("alice"), new_user("bob")
    await add_devices(svc.ctx.pool, bob, "PHONE")
    for body, code in [
        ({}, "M_MISSING_PARAM"),
        ({"messages": []}, "M_BAD_JSON"),
        ({"messages": {"bob": {"PHONE": {}}}}, "M_BAD_JSON"),
        ({"messages": {bob: {"PHONE": "text"}}}, "M_BAD_JSON"),
        ({"messages": {bob: {"PHONE": {"a": "\x00"}}}}, "M_BAD_JSON"),
    ]:
        with pytest.raises(MatrixError) as e:
            await svc.send_to_device(alice, "ADEV", "m.test", "t", body)
        assert e.value.errcode == code
    assert await inbox(svc.ctx.pool, bob) == []
    # The failed attempts did not use up the transaction ID.
    await svc.send_to_device(alice, "ADEV", "m.test", "t", {"messages": {bob: {"PHONE": {}}}})
    assert await inbox(svc.ctx.pool, bob) == [("PHONE", {})]
