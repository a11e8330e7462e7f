"""Client authentication: the access token names its user, whose accounts shard checks it."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, Request

# The token format belongs to the accounts component, which mints the tokens.
from actors.accounts.tokens import user_of_token
from ingress.services import Services, get_services
from protocol.errors import missing_token, unknown_token


@dataclass(frozen=True)
class Requester:
    user_id: str
    device_id: str
    access_token: str
    ip: str


def token_from_request(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return None
    return request.query_params.get("access_token")


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _authenticate(request: Request, services: Services, rate_limited: bool) -> Requester:
    token = token_from_request(request)
    if not token:
        raise missing_token()
    user_id = user_of_token(token)
    if user_id is None:
        raise unknown_token()
    ip = client_ip(request)
    info = await services.router.call(
        "accounts", user_id, "authenticate", token, ip, rate_limited, idempotent=True
    )
    return Requester(user_id=info["user_id"], device_id=info["device_id"], access_token=token, ip=ip)


async def require_user(request: Request, services: Services = Depends(get_services)) -> Requester:
    """FastAPI dependency: the authenticated user."""
    return await _authenticate(request, services, rate_limited=False)


async def require_user_rate_limited(
    request: Request, services: Services = Depends(get_services)
) -> Requester:
    """FastAPI dependency: the authenticated user, counted against their rate limit."""
    return await _authenticate(request, services, rate_limited=True)
