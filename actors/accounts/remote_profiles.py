"""Profiles of users on other servers (spec: server-server "Query", GET /query/profile).

The client API reads them on demand from the user's server. Answers are
kept for a short while (the spec invites requesting servers to cache) in
the shard's memory only: a restarted actor just asks again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actors.context import now_ms
from federation.client import FederationError, FederationUnreachable
from protocol.errors import MatrixError, forbidden, not_found
from protocol.identifiers import server_name_of

QUERY_PROFILE_PATH = "/_matrix/federation/v1/query/profile"
CACHE_TTL_MS = 60_000
MAX_CACHED = 10_000


def remote_unavailable(server: str) -> MatrixError:
    # Not a client error: the spec lists none for an unreachable server, so
    # this is the gateway answer other homeservers give too.
    return MatrixError(502, "M_UNKNOWN", f"Could not get an answer from {server}")


class RemoteProfiles:
    """Fetches and briefly caches remote profiles, whole or one field at a time."""

    def __init__(self, client: Callable[[], Any], clock: Callable[[], int] = now_ms) -> None:
        self._client = client
        self._clock = clock
        # (user ID, field or "") -> (expiry, answer); dict order is insertion order.
        self._cache: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}

    async def get(self, user_id: str, field: str | None = None) -> dict[str, Any]:
        """The profile (or `{field: value}`); 404 when the remote server has none."""
        key = (user_id, field or "")
        hit = self._cache.get(key)
        now = self._clock()
        if hit is not None and hit[0] > now:
            return dict(hit[1])
        answer = await self._fetch(user_id, field)
        self._cache.pop(key, None)
        if len(self._cache) >= MAX_CACHED:
            del self._cache[next(iter(self._cache))]
        self._cache[key] = (now + CACHE_TTL_MS, answer)
        return dict(answer)

    async def _fetch(self, user_id: str, field: str | None) -> dict[str, Any]:
        server = server_name_of(user_id)
        query = {"user_id": user_id} if field is None else {"user_id": user_id, "field": field}
        try:
            body = await self._client().get_json(server, QUERY_PROFILE_PATH, query)
        except FederationUnreachable:
            raise remote_unavailable(server) from None
        except FederationError as e:
            if e.status == 404:
                raise not_found("Profile not found") from None
            if e.status == 403:
                raise forbidden(f"{server} does not share this profile") from None
            raise remote_unavailable(server) from None
        if not isinstance(body, dict):
            raise remote_unavailable(server)
        # Unset fields may come as null (spec): the client API omits them.
        profile = {k: v for k, v in body.items() if v is not None}
        if field is None:
            return profile
        if field not in profile:
            raise not_found("Profile field not found")
        return {field: profile[field]}
