"""What other components and the ingress call on the server keys component.

Every call goes to the shard owning the server name, which fetches and
caches that server's keys once for everyone.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sharding.router import Router

COMPONENT = "server_keys"


async def verify_keys(
    router: Router, server_name: str, key_ids: list[str], minimum_valid_until_ts: int
) -> dict[str, str]:
    """{key ID: unpadded base64 verify key} for those of `key_ids` we could fetch and trust.

    A key is trusted when valid until at least `minimum_valid_until_ts`
    (the current time for requests; `origin_server_ts` for events of room
    versions 5+, 0 for older ones). Missing keys are simply absent.
    """
    return await router.call(COMPONENT, server_name, "verify_keys", server_name,
                             list(key_ids), int(minimum_valid_until_ts), idempotent=True)


async def own_keys(router: Router, our_name: str) -> dict[str, Any]:
    """Our own signed `/_matrix/key/v2/server` answer."""
    return await router.call(COMPONENT, our_name, "own_keys", idempotent=True)


async def notary_query(
    router: Router, criteria: dict[str, tuple[list[str], int]]
) -> list[dict[str, Any]]:
    """The countersigned key answers for {server: (key IDs or [] for all, minimum valid until)}."""
    results = await asyncio.gather(*(
        router.call(COMPONENT, server, "notary_query", server, key_ids, minimum, idempotent=True)
        for server, (key_ids, minimum) in criteria.items()
    ))
    return [answer for answers in results for answer in answers]
