"""`PUT /_matrix/federation/v1/send/{txnId}` (server-server "Transactions").

Processed on the federation-sender shard of the origin, which records the
answer per (origin, txnId): a retried transaction gets the same answer.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from ingress.federation.auth import signed_json_body, x_matrix_origin
from ingress.services import Services, get_services

router = APIRouter()


@router.put("/_matrix/federation/v1/send/{txn_id}")
async def send_transaction(
    txn_id: str,
    origin: str = Depends(x_matrix_origin),
    body: dict[str, Any] = Depends(signed_json_body),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    # Idempotent per (origin, txnId), so a call lost with a restarting actor is retried.
    return await services.router.call(
        "federation_sender", origin, "receive_transaction", origin, txn_id, body,
        idempotent=True,
    )
