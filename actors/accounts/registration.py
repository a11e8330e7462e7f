"""Account registration (spec: "Account registration and management").

Which user-interactive flows registration offers comes from the config:
`m.login.dummy` when registration is open, `m.login.registration_token` when
tokens are configured. Guest accounts are not supported.
"""

from __future__ import annotations

import hmac
import secrets
import string

import asyncpg

from dendray.config import RegistrationConfig
from protocol.errors import MatrixError, forbidden
from protocol.identifiers import is_valid_localpart_for_registration

DUMMY = "m.login.dummy"
REGISTRATION_TOKEN = "m.login.registration_token"

# Server-chosen localparts: 12 characters of a-z0-9 (62 bits).
_GENERATED_ALPHABET = string.ascii_lowercase + string.digits
_GENERATED_LENGTH = 12


def invalid_username(error: str = "The desired user ID is not a valid user name") -> MatrixError:
    return MatrixError(400, "M_INVALID_USERNAME", error)


def user_in_use() -> MatrixError:
    return MatrixError(400, "M_USER_IN_USE", "The desired user ID is already taken")


def guests_unsupported() -> MatrixError:
    return MatrixError(403, "M_GUEST_ACCESS_FORBIDDEN", "Guest accounts are not supported")


def registration_flows(config: RegistrationConfig) -> list[list[str]]:
    """The flows `/register` offers; 403 when registration is closed to clients."""
    flows = []
    if config.enabled and config.open:
        flows.append([DUMMY])
    if config.enabled and config.tokens:
        flows.append([REGISTRATION_TOKEN])
    if not flows:
        raise forbidden("Registration is disabled on this homeserver")
    return flows


def is_registration_token(config: RegistrationConfig, token: object) -> bool:
    """Whether `token` is one of the configured tokens (compared in constant time)."""
    if not isinstance(token, str):
        return False
    candidate = token.encode("utf-8")
    matches = [hmac.compare_digest(candidate, t.encode("utf-8")) for t in config.tokens]
    return any(matches)


def user_id_for(username: str, server_name: str) -> str:
    """The user ID for a requested username; M_INVALID_USERNAME unless it fits the grammar.

    Usernames are taken as they are: the strict localpart grammar (lower-case
    a-z, 0-9 and `-._=/+`), within the 255-byte user-ID limit.
    """
    if not is_valid_localpart_for_registration(username, server_name=server_name):
        raise invalid_username()
    return f"@{username}:{server_name}"


def generated_localpart() -> str:
    return "".join(secrets.choice(_GENERATED_ALPHABET) for _ in range(_GENERATED_LENGTH))


async def user_exists(pool: asyncpg.Pool, user_id: str) -> bool:
    return await pool.fetchval("SELECT 1 FROM users WHERE user_id = $1", user_id) is not None


async def create_user(
    conn: asyncpg.Connection, user_id: str, password_hash: str | None, now: int, *,
    is_admin: bool = False, displayname: str | None = None,
) -> None:
    """Insert the account and its (empty) profile; M_USER_IN_USE if the ID is taken."""
    inserted = await conn.fetchval(
        "INSERT INTO users (user_id, password_hash, created_ts, is_admin) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (user_id) DO NOTHING RETURNING 1",
        user_id, password_hash, now, is_admin,
    )
    if inserted is None:
        raise user_in_use()
    await conn.execute(
        "INSERT INTO profiles (user_id, displayname) VALUES ($1, $2)", user_id, displayname
    )
