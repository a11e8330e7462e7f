"""Password login (spec: "Login"), the identifier types that name a user, and the
`m.login.password` stage of user-interactive authentication.

Only `m.login.password` is offered. Third-party identifiers are accepted in
form but never match, because this server keeps no 3PIDs: the spec asks for
403 when the homeserver does not know the 3PID.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from actors.accounts.passwords import verify_password
from actors.accounts.requests import optional, required
from actors.accounts.uia import StageCheck
from protocol.errors import MatrixError, bad_json, forbidden

PASSWORD = "m.login.password"
LOGIN_FLOWS = [{"type": PASSWORD}]

_THIRD_PARTY = ("m.id.thirdparty", "m.id.phone")


def invalid_credentials() -> MatrixError:
    return forbidden("Invalid username or password")


def unsupported_login_type(login_type: object) -> MatrixError:
    return MatrixError(400, "M_UNKNOWN", f"Unsupported login type {login_type!r}")


def claimed_user(fields: dict[str, Any], server_name: str) -> str:
    """The user ID that a login body or an `m.login.password` auth dict names.

    Reads `identifier` (`m.id.user` with a localpart or full user ID) or the
    deprecated top-level `user`. Localparts are matched in lower case, the
    only case local user IDs are created in.
    """
    identifier = optional(fields, "identifier", dict)
    if identifier is not None:
        kind = optional(identifier, "type", str)
        if kind in _THIRD_PARTY:
            raise invalid_credentials()
        if kind != "m.id.user":
            raise bad_json(f"Unsupported identifier type {kind!r}")
        user = optional(identifier, "user", str)
    else:
        if optional(fields, "medium", str) is not None:
            raise invalid_credentials()
        user = optional(fields, "user", str)
    if not user:
        raise bad_json("The identifier must name a user")
    if user.startswith("@"):
        localpart, sep, server = user[1:].partition(":")
        if not sep or server != server_name:
            # Not one of ours: no password here can match.
            raise invalid_credentials()
    else:
        localpart = user
    return f"@{localpart.lower()}:{server_name}"


def password_stage(pool: asyncpg.Pool, server_name: str, user_id: str) -> StageCheck:
    """The UIA check of an `m.login.password` stage: `user_id` proving it is them."""

    async def check(_stage: str, auth: dict[str, Any]) -> None:
        if claimed_user(auth, server_name) != user_id:
            raise forbidden("The identifier does not name the requesting user")
        password = required(auth, "password", str)
        stored = await pool.fetchval("SELECT password_hash FROM users WHERE user_id = $1", user_id)
        if not await verify_password(password, stored):
            raise forbidden("Invalid password")

    return check
