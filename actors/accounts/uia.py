"""User-interactive authentication (spec: "User-Interactive Authentication API").

Sessions live in `uia_sessions`, so whichever shard or replica gets the next
request of a flow sees the stages already completed. A session is tied to the
operation it was started for and, on authenticated endpoints, to the user: a
session completed to delete one device cannot delete another. It is consumed
when its flow completes.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from actors.context import now_ms
from protocol.errors import MatrixError, bad_json, invalid_param

# How long a client has to finish a flow.
SESSION_LIFETIME_MS = 30 * 60 * 1000
# How often expired sessions are swept away (on the next session created).
PURGE_INTERVAL_MS = 5 * 60 * 1000

StageCheck = Callable[[str, dict[str, Any]], Awaitable[None]]


class AuthRequired(MatrixError):
    """401 with the flows, the session and the completed stages (spec: the UIA response).

    With `failure`, the stage just attempted failed and its errcode and error
    are added to the body; otherwise the body has no errcode at all.
    """

    def __init__(
        self, session: str, flows: list[list[str]], completed: list[str],
        failure: MatrixError | None = None,
    ) -> None:
        super().__init__(
            401, failure.errcode if failure else "M_UNAUTHORIZED",
            failure.error if failure else "Additional authentication is required",
        )
        self.session = session
        self.flows = flows
        self.completed = completed
        self.failure = failure

    def __reduce__(self) -> tuple[Any, ...]:
        return (AuthRequired, (self.session, self.flows, self.completed, self.failure))

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "flows": [{"stages": list(stages)} for stages in self.flows],
            "params": {},
            "session": self.session,
            "completed": list(self.completed),
        }
        if self.failure is not None:
            out["errcode"] = self.failure.errcode
            out["error"] = self.failure.error
        return out


def unknown_session() -> MatrixError:
    return invalid_param("Unknown or expired user-interactive authentication session")


class UserInteractiveAuth:
    def __init__(self, pool: asyncpg.Pool, clock: Callable[[], int] = now_ms) -> None:
        self._pool = pool
        self._clock = clock
        self._last_purge = 0

    async def require(
        self, auth: Any, *, operation: str, user_id: str | None,
        flows: list[list[str]], check: StageCheck,
    ) -> None:
        """Return once `auth` completes one of `flows`; raise AuthRequired until then.

        `check(stage, auth)` verifies one stage and raises a MatrixError when
        the attempt fails; the failure is reported inside the 401.
        """
        if auth is None:
            session = await self._create(operation, user_id, [])
            raise AuthRequired(session, flows, [])
        if not isinstance(auth, dict):
            raise bad_json("auth must be an object")
        session = auth.get("session")
        stored = session is not None
        if stored:
            completed = await self._load(session, operation, user_id)
        else:
            # A first attempt may carry a stage without a session; it gets one
            # if the flow does not complete at once.
            session = secrets.token_urlsafe(24)
            completed = []

        stage = auth.get("type")
        if stage is not None and stage not in completed:
            failure = self._stage_error(stage, flows, completed)
            if failure is None:
                try:
                    await check(stage, auth)
                except MatrixError as e:
                    failure = e
            if failure is not None:
                if not stored:
                    await self._create(operation, user_id, completed, session)
                raise AuthRequired(session, flows, completed, failure)
            completed = [*completed, stage]

        if completed in flows:
            if stored and not await self._consume(session):
                # Another request finished this session first.
                raise unknown_session()
            return
        if stored:
            await self._pool.execute(
                "UPDATE uia_sessions SET completed = $2 WHERE session_id = $1", session, completed
            )
        else:
            await self._create(operation, user_id, completed, session)
        raise AuthRequired(session, flows, completed)

    @staticmethod
    def _stage_error(stage: Any, flows: list[list[str]], completed: list[str]) -> MatrixError | None:
        if not isinstance(stage, str) or not any(stage in flow for flow in flows):
            return MatrixError(401, "M_UNRECOGNIZED", f"Unsupported authentication type {stage!r}")
        n = len(completed)
        if not any(flow[:n] == completed and flow[n:n + 1] == [stage] for flow in flows):
            return MatrixError(401, "M_FORBIDDEN", f"{stage} is not the next stage of any flow")
        return None

    async def _create(
        self, operation: str, user_id: str | None, completed: list[str], session: str | None = None
    ) -> str:
        now = self._clock()
        if now - self._last_purge >= PURGE_INTERVAL_MS:
            await self.purge_expired()
        session = session or secrets.token_urlsafe(24)
        await self._pool.execute(
            "INSERT INTO uia_sessions (session_id, created_ts, user_id, completed, operation)"
            " VALUES ($1, $2, $3, $4, $5)",
            session, now, user_id, completed, operation,
        )
        return session

    async def _load(self, session: Any, operation: str, user_id: str | None) -> list[str]:
        if not isinstance(session, str):
            raise bad_json("auth.session must be a string")
        if "\x00" in session:
            raise unknown_session()
        row = await self._pool.fetchrow(
            "SELECT completed, operation, user_id FROM uia_sessions"
            " WHERE session_id = $1 AND created_ts > $2",
            session, self._clock() - SESSION_LIFETIME_MS,
        )
        if row is None or row["operation"] != operation or row["user_id"] != user_id:
            raise unknown_session()
        return list(row["completed"])

    async def _consume(self, session: str) -> bool:
        deleted = await self._pool.fetchval(
            "DELETE FROM uia_sessions WHERE session_id = $1 RETURNING 1", session
        )
        return deleted is not None

    async def purge_expired(self) -> None:
        self._last_purge = self._clock()
        await self._pool.execute(
            "DELETE FROM uia_sessions WHERE created_ts <= $1",
            self._last_purge - SESSION_LIFETIME_MS,
        )
