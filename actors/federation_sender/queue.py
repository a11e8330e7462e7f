"""The per-destination queues in PostgreSQL: what waits, what is in flight, the backoff.

The queues live only in the database, so a destination that is down for a
long time costs rows, never actor memory. A transaction, once built, is
stored with its txn ID and body (`federation_outgoing_txns`) before it is
sent: every retry, even after a restart, sends the same content under the
same ID, and its queue rows go only when the destination accepted it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from actors.federation_sender.transactions import MAX_EDUS, MAX_PDUS, new_txn_id, transaction_body
from protocol.redaction import redact_pdu
from protocol.room_versions import room_version

# EDUs that describe a moment: after an outage only newer ones matter.
EPHEMERAL_EDUS = ("m.typing", "m.presence")


@dataclass(frozen=True)
class OutgoingTxn:
    destination: str
    txn_id: str
    pdu_ids: list[int]
    edu_ids: list[int]
    body: dict[str, Any]


@dataclass(frozen=True)
class DestinationState:
    failures: int
    retry_at_ms: int


async def enqueue_pdus(conn: Any, rows: Iterable[tuple[str, str, str]]) -> None:
    """Queue (destination, event_id, room_id) rows; an event already queued is not queued twice."""
    await conn.executemany(
        "INSERT INTO federation_pdu_queue (destination, event_id, room_id) VALUES ($1, $2, $3)"
        " ON CONFLICT (destination, event_id) DO NOTHING",
        list(rows),
    )


async def enqueue_edus(conn: Any, destinations: Iterable[str], edu_type: str,
                       content: dict[str, Any]) -> None:
    await conn.executemany(
        "INSERT INTO federation_edu_queue (destination, edu_type, content) VALUES ($1, $2, $3)",
        [(d, edu_type, content) for d in destinations],
    )


async def destination_state(conn: Any, destination: str) -> DestinationState:
    row = await conn.fetchrow(
        "SELECT failures, retry_at_ms FROM federation_destinations WHERE destination = $1",
        destination,
    )
    return DestinationState(row["failures"], row["retry_at_ms"]) if row else DestinationState(0, 0)


async def record_failure(conn: Any, destination: str, failures: int, retry_at_ms: int) -> None:
    await conn.execute(
        "INSERT INTO federation_destinations (destination, failures, retry_at_ms)"
        " VALUES ($1, $2, $3) ON CONFLICT (destination) DO UPDATE"
        " SET failures = EXCLUDED.failures, retry_at_ms = EXCLUDED.retry_at_ms",
        destination, failures, retry_at_ms,
    )


async def destinations_with_work(conn: Any) -> list[str]:
    """Every destination with something queued or in flight (to restart their senders)."""
    rows = await conn.fetch(
        "SELECT destination FROM federation_pdu_queue UNION SELECT destination FROM"
        " federation_edu_queue UNION SELECT destination FROM federation_outgoing_txns"
    )
    return [r["destination"] for r in rows]


async def in_flight(conn: Any, destination: str) -> OutgoingTxn | None:
    row = await conn.fetchrow(
        "SELECT txn_id, pdu_ids, edu_ids, body FROM federation_outgoing_txns"
        " WHERE destination = $1", destination,
    )
    if row is None:
        return None
    return OutgoingTxn(destination, row["txn_id"], list(row["pdu_ids"]), list(row["edu_ids"]),
                       row["body"])


async def trim_backlog(conn: Any, destination: str, keep_pdus: int) -> int:
    """After a long outage, keep only each room's newest queued PDU (and drop stale EDUs).

    The destination fetches the events in between itself with
    /get_missing_events, from the prev_events of what we send. Rows of the
    transaction in flight stay. Returns how many PDUs were dropped.
    """
    backlog = await conn.fetchval(
        "SELECT count(*) FROM federation_pdu_queue WHERE destination = $1", destination
    )
    held = await in_flight(conn, destination)
    pdu_ids = held.pdu_ids if held else []
    edu_ids = held.edu_ids if held else []
    await conn.execute(
        "DELETE FROM federation_edu_queue WHERE destination = $1 AND edu_type = ANY($2::text[])"
        " AND NOT (id = ANY($3::bigint[])) AND id NOT IN (SELECT max(id) FROM federation_edu_queue"
        "   WHERE destination = $1 GROUP BY edu_type, content->>'room_id')",
        destination, list(EPHEMERAL_EDUS), edu_ids,
    )
    if backlog <= keep_pdus:
        return 0
    status = await conn.execute(
        "DELETE FROM federation_pdu_queue WHERE destination = $1 AND NOT (id = ANY($2::bigint[]))"
        " AND id NOT IN (SELECT max(id) FROM federation_pdu_queue WHERE destination = $1"
        "   GROUP BY room_id)",
        destination, pdu_ids,
    )
    return int(status.split()[-1])


async def build_transaction(
    conn: Any, destination: str, origin: str, now_ms: int
) -> OutgoingTxn | None:
    """Take the oldest queued PDUs and EDUs into a new stored transaction (None: nothing queued).

    Runs in the caller's transaction, so the transaction row and its content agree.
    """
    pdu_rows = await conn.fetch(
        "SELECT q.id, e.pdu, e.redacted_by, r.room_version FROM federation_pdu_queue q"
        " LEFT JOIN events e ON e.event_id = q.event_id"
        " LEFT JOIN rooms r ON r.room_id = q.room_id"
        " WHERE q.destination = $1 ORDER BY q.id LIMIT $2",
        destination, MAX_PDUS,
    )
    edu_rows = await conn.fetch(
        "SELECT id, edu_type, content FROM federation_edu_queue WHERE destination = $1"
        " ORDER BY id LIMIT $2",
        destination, MAX_EDUS,
    )
    if not pdu_rows and not edu_rows:
        return None
    pdus = []
    for row in pdu_rows:
        if row["pdu"] is None:
            continue  # the event is gone (purged): nothing to send
        pdu = row["pdu"]
        if row["redacted_by"] is not None and row["room_version"] is not None:
            # Never hand out content that was redacted while the event waited.
            pdu = redact_pdu(pdu, room_version(row["room_version"]))
        pdus.append(pdu)
    edus = [{"edu_type": r["edu_type"], "content": r["content"]} for r in edu_rows]
    txn = OutgoingTxn(
        destination, new_txn_id(now_ms), [r["id"] for r in pdu_rows], [r["id"] for r in edu_rows],
        transaction_body(origin, now_ms, pdus, edus),
    )
    await conn.execute(
        "INSERT INTO federation_outgoing_txns (destination, txn_id, pdu_ids, edu_ids, body)"
        " VALUES ($1, $2, $3, $4, $5)",
        destination, txn.txn_id, txn.pdu_ids, txn.edu_ids, txn.body,
    )
    return txn


async def complete(conn: Any, txn: OutgoingTxn) -> None:
    """The destination accepted `txn`: drop it, its queue rows and the failure count."""
    await conn.execute(
        "DELETE FROM federation_pdu_queue WHERE destination = $1 AND id = ANY($2::bigint[])",
        txn.destination, txn.pdu_ids,
    )
    await conn.execute(
        "DELETE FROM federation_edu_queue WHERE destination = $1 AND id = ANY($2::bigint[])",
        txn.destination, txn.edu_ids,
    )
    await conn.execute(
        "DELETE FROM federation_outgoing_txns WHERE destination = $1 AND txn_id = $2",
        txn.destination, txn.txn_id,
    )
    await conn.execute(
        "DELETE FROM federation_destinations WHERE destination = $1", txn.destination
    )

