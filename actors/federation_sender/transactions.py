"""The shape of a federation transaction (server-server API, "Transactions").

A transaction carries at most 50 PDUs and 100 EDUs; the same limits are
what a receiver enforces.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote

MAX_PDUS = 50
MAX_EDUS = 100


def new_txn_id(now_ms: int) -> str:
    # Unique per destination without a counter to persist: time plus randomness.
    return f"{now_ms}.{secrets.token_hex(4)}"


def transaction_body(
    origin: str, now_ms: int, pdus: list[dict[str, Any]], edus: list[dict[str, Any]]
) -> dict[str, Any]:
    if len(pdus) > MAX_PDUS or len(edus) > MAX_EDUS:
        raise ValueError("a transaction holds at most 50 PDUs and 100 EDUs")
    body: dict[str, Any] = {"origin": origin, "origin_server_ts": now_ms, "pdus": pdus}
    if edus:
        body["edus"] = edus
    return body


def send_path(txn_id: str) -> str:
    return f"/_matrix/federation/v1/send/{quote(txn_id, safe='')}"
