"""The UIA state machine with several stages, and password hashing."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from actors.accounts.passwords import hash_password, verify_password
from actors.accounts.uia import SESSION_LIFETIME_MS, AuthRequired, UserInteractiveAuth
from actors.context import now_ms
from protocol.errors import MatrixError, forbidden
from tests.actors.accounts.helpers import unique

FLOWS = [["x.a", "x.b"], ["x.a", "x.c"]]


async def check(stage: str, auth: dict[str, Any]) -> None:
    if auth.get("secret") != stage:
        raise forbidden(f"bad secret for {stage}")


async def attempt(uia: UserInteractiveAuth, auth: Any, operation: str = "op") -> dict[str, Any]:
    with pytest.raises(AuthRequired) as e:
        await uia.require(auth, operation=operation, user_id="@u:test.local", flows=FLOWS,
                          check=check)
    return e.value.body()


async def test_stages_complete_in_order(db_pool) -> None:
    uia = UserInteractiveAuth(db_pool)
    first = await attempt(uia, None)
    session = first["session"]
    assert first["flows"] == [{"stages": ["x.a", "x.b"]}, {"stages": ["x.a", "x.c"]}]
    out_of_order = await attempt(uia, {"type": "x.b", "secret": "x.b", "session": session})
    assert out_of_order["errcode"] == "M_FORBIDDEN" and out_of_order["completed"] == []
    wrong = await attempt(uia, {"type": "x.a", "secret": "nope", "session": session})
    assert wrong["errcode"] == "M_FORBIDDEN" and wrong["error"] == "bad secret for x.a"
    step = await attempt(uia, {"type": "x.a", "secret": "x.a", "session": session})
    assert step["completed"] == ["x.a"] and "errcode" not in step
    # A completed stage is not checked again.
    again = await attempt(uia, {"type": "x.a", "secret": "whatever", "session": session})
    assert again["completed"] == ["x.a"]
    # Resubmitting only the session reports progress.
    assert (await attempt(uia, {"session": session}))["completed"] == ["x.a"]
    await uia.require({"type": "x.c", "secret": "x.c", "session": session}, operation="op",
                      user_id="@u:test.local", flows=FLOWS, check=check)
    with pytest.raises(MatrixError) as e:
        await uia.require({"session": session}, operation="op", user_id="@u:test.local",
                          flows=FLOWS, check=check)
    assert e.value.errcode == "M_INVALID_PARAM"


async def test_sessions_are_bound_and_expire(db_pool) -> None:
    uia = UserInteractiveAuth(db_pool)
    session = (await attempt(uia, {"type": "x.a", "secret": "x.a"}))["session"]
    for operation, user in (("other", "@u:test.local"), ("op", "@v:test.local")):
        with pytest.raises(MatrixError) as e:
            await uia.require({"session": session}, operation=operation, user_id=user,
                              flows=FLOWS, check=check)
        assert e.value.errcode == "M_INVALID_PARAM"
    later = UserInteractiveAuth(db_pool, clock=lambda: now_ms() + SESSION_LIFETIME_MS + 1)
    with pytest.raises(MatrixError) as e:
        await later.require({"session": session}, operation="op", user_id="@u:test.local",
                            flows=FLOWS, check=check)
    assert e.value.errcode == "M_INVALID_PARAM"
    await later.purge_expired()
    assert await db_pool.fetchval(
        "SELECT count(*) FROM uia_sessions WHERE session_id = $1", session) == 0


async def test_malformed_auth(db_pool) -> None:
    uia = UserInteractiveAuth(db_pool)
    for auth, errcode in (("x", "M_BAD_JSON"), ({"session": 5}, "M_BAD_JSON"),
                          ({"session": unique()}, "M_INVALID_PARAM")):
        with pytest.raises(MatrixError) as e:
            await uia.require(auth, operation="op", user_id=None, flows=FLOWS, check=check)
        assert not isinstance(e.value, AuthRequired) and e.value.errcode == errcode
    unknown = await attempt(uia, {"type": "x.z"})
    assert unknown["errcode"] == "M_UNRECOGNIZED" and unknown["session"]


def test_auth_required_survives_pickling() -> None:
    error = AuthRequired("s", [["x.a"]], [], forbidden("no"))
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy, AuthRequired) and copy.status == 401
    assert copy.body() == error.body() == {
        "flows": [{"stages": ["x.a"]}], "params": {}, "session": "s", "completed": [],
        "errcode": "M_FORBIDDEN", "error": "no"}


async def test_passwords() -> None:
    stored = await hash_password("correct horse")
    assert stored.startswith("scrypt$") and "correct" not in stored
    assert await verify_password("correct horse", stored)
    assert not await verify_password("wrong", stored)
    assert not await verify_password("correct horse", None)
    assert not await verify_password("x", "garbage")
    assert await hash_password("same") != await hash_password("same")
