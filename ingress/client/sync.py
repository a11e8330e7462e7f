"""`GET /sync` (spec: Syncing): parse, authenticate, and hand over to the user's sync shard."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends

from ingress.auth import Requester, require_user
from ingress.services import Services, get_services

router = APIRouter()


@router.get("/sync")
async def sync(
    filter: str | None = None,
    since: str | None = None,
    full_state: bool = False,
    # Validated here; the sync shard hands it to the presence component.
    set_presence: Literal["offline", "online", "unavailable"] | None = None,
    timeout: int = 0,
    use_state_after: bool = False,
    requester: Requester = Depends(require_user),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    # A read: safe to retry on a restarting shard.
    return await services.router.call(
        "sync", requester.user_id, "sync", requester.user_id, requester.device_id,
        filter=filter, since=since, full_state=full_state, timeout_ms=timeout,
        use_state_after=use_state_after, set_presence=set_presence, idempotent=True,
    )
