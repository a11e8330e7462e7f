"""What the room server needs from other servers for membership, as effects it is given.

Joins, leaves, invites and knocks over federation need signed requests to
other servers (`federation.client.FederationClient`: `get_json`, `put_json`)
and their signing keys (`fetch_keys`, from the server-keys component). The
actor shares the client and key fetcher of its inbound effects; tests give
the service a fake remote server instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from federation.event_signatures import FetchKeys, SignatureError, check_event_signatures
from protocol.errors import MatrixError
from protocol.room_versions import RoomVersion


class FederationApi(Protocol):
    """The part of `federation.client.FederationClient` the membership code uses."""

    async def get_json(
        self, destination: str, path: str, query: Any = None
    ) -> Any: ...

    async def put_json(self, destination: str, path: str, body: Any) -> Any: ...


@dataclass
class Remote:
    client: FederationApi
    fetch_keys: FetchKeys

    async def is_signed(self, pdu: dict[str, Any], version: RoomVersion) -> bool:
        """Whether `pdu` carries every signature its room version requires, verifiably."""
        try:
            await check_event_signatures(pdu, version, self.fetch_keys)
        except SignatureError:
            return False
        return True


def remote_error(exc: Exception) -> MatrixError:
    """A failed request to another server, as the error our client gets.

    A Matrix error answer from the other server (4xx) passes through; anything
    else (unreachable, 5xx, garbage) is 502: the room may still be reachable
    through another server later.
    """
    if isinstance(exc, MatrixError):
        return exc
    status = getattr(exc, "status", None)
    body = getattr(exc, "body", None)
    if isinstance(status, int) and 400 <= status < 500 and isinstance(body, dict):
        errcode = body.get("errcode")
        error = body.get("error")
        if isinstance(errcode, str):
            return MatrixError(status, errcode, error if isinstance(error, str) else errcode)
    return MatrixError(502, "M_UNKNOWN", f"Other server failed: {exc}")
