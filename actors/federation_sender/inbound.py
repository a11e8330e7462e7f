"""Receiving `PUT /_matrix/federation/v1/send/{txnId}` from another server.

A transaction is processed once per (origin, txn ID): the answer is stored
and a retry gets it back unchanged. Transactions of one origin run one at
a time (the sender waits for our answer anyway). PDUs are grouped by room
and handed to the room-server shard owning each room (`receive_pdus`),
rooms concurrently; a room whose shard fails gets an error for each of its
PDUs, never a failed transaction. EDUs go to their owning components
(`edus_in`); a bad EDU is dropped, as EDUs need no answer.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from actors.context import Context, now_ms
from actors.federation_sender.edus_in import dispatch_edu
from actors.federation_sender.transactions import MAX_EDUS, MAX_PDUS
from actors.keyed_lock import KeyedLock
from protocol.errors import bad_json
from protocol.event_ids import compute_event_id
from protocol.room_versions import room_version

log = logging.getLogger("dendray.federation_sender")


def check_transaction(body: Any) -> tuple[list[Any], list[Any]]:
    """The PDUs and EDUs of a transaction body, or M_BAD_JSON for a malformed one."""
    if not isinstance(body, dict):
        raise bad_json("The transaction must be a JSON object")
    pdus = body.get("pdus", [])
    edus = body.get("edus", [])
    if not isinstance(pdus, list) or not isinstance(edus, list):
        raise bad_json("'pdus' and 'edus' must be arrays")
    if len(pdus) > MAX_PDUS:
        raise bad_json(f"A transaction holds at most {MAX_PDUS} PDUs")
    if len(edus) > MAX_EDUS:
        raise bad_json(f"A transaction holds at most {MAX_EDUS} EDUs")
    return pdus, edus


class Inbound:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._locks = KeyedLock()

    async def receive_transaction(
        self, origin: str, txn_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        pdus, edus = check_transaction(body)
        async with self._locks.hold(origin):
            async with self.ctx.pool.acquire() as conn:
                done = await conn.fetchval(
                    "SELECT response FROM federation_incoming_txns WHERE origin = $1"
                    " AND txn_id = $2", origin, txn_id,
                )
            if done is not None:
                return done
            results = await self._receive_pdus(origin, pdus)
            for edu in edus:
                try:
                    await dispatch_edu(self.ctx, origin, edu)
                except Exception:
                    log.exception("EDU from %s could not be applied", origin)
            response = {"pdus": results}
            async with self.ctx.pool.acquire() as conn:
                await conn.execute(
                    "INSERT INTO federation_incoming_txns (origin, txn_id, response, created_ts)"
                    " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    origin, txn_id, response, now_ms(),
                )
            return response

    async def _receive_pdus(self, origin: str, pdus: list[Any]) -> dict[str, dict[str, str]]:
        by_room: dict[str, list[dict[str, Any]]] = {}
        for pdu in pdus:
            if isinstance(pdu, dict) and isinstance(pdu.get("room_id"), str):
                by_room.setdefault(pdu["room_id"], []).append(pdu)
            # A PDU without a room is not a valid event: dropped (it has no ID to answer for).
        answers = await asyncio.gather(*(
            self._room(origin, room_id, room_pdus) for room_id, room_pdus in by_room.items()
        ))
        results: dict[str, dict[str, str]] = {}
        for answer in answers:
            results.update(answer)
        return results

    async def _room(
        self, origin: str, room_id: str, pdus: list[dict[str, Any]]
    ) -> dict[str, dict[str, str]]:
        try:
            outcome = await self.ctx.router.call(
                "room_server", room_id, "receive_pdus", origin, pdus)
        except Exception as e:
            log.warning("room server could not take PDUs of %s from %s: %s", room_id, origin, e)
            error = getattr(e, "error", None) or "The room could not process this event"
            return {event_id: {"error": error}
                    for event_id in await self._event_ids(room_id, pdus)}
        # The room server answers each event with {} or {"error": ...}, as /send does.
        return dict(outcome)

    async def _event_ids(self, room_id: str, pdus: list[dict[str, Any]]) -> list[str]:
        """The IDs of PDUs the room server did not process, to answer for them.

        An ID depends on the room version; a PDU of a room we do not know
        has one only if it carries it (v1/v2), else it cannot be answered for.
        """
        async with self.ctx.pool.acquire() as conn:
            version_id = await conn.fetchval(
                "SELECT room_version FROM rooms WHERE room_id = $1", room_id)
        out = []
        for pdu in pdus:
            if version_id is not None:
                try:
                    out.append(compute_event_id(pdu, room_version(version_id)))
                    continue
                except Exception:
                    pass  # malformed beyond hashing: fall back to a claimed ID
            if isinstance(pdu.get("event_id"), str):
                out.append(pdu["event_id"])
        return out
