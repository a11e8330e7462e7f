"""The server keys component: our own signing keys, other servers' keys, and the notary.

Sharded by server name: one shard fetches and caches a given server's keys,
so concurrent requests needing them share one fetch.

- **Our keys.** `own_keys` is our `/_matrix/key/v2/server` answer: the
  current signing key, and former ones (`old_signing_keys`, kept by
  `dendray keys rotate`) with their `expired_ts`.
- **Remote keys.** `verify_keys` answers from memory, then PostgreSQL, then
  fetches: from the server itself, then from each `trusted_key_servers`
  notary (whose countersignature is checked against its pinned keys; the
  origin's own signature is always checked too). A current key is trusted
  until its answer's `valid_until_ts`, at most 7 days after we fetched it;
  an old key until its `expired_ts`. Callers pass the time the key must be
  valid at (now for requests, `origin_server_ts` for v5+ events).
- **Notary.** `notary_query` serves the stored answers of a server
  (fetching fresh ones when none is valid long enough), countersigned.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from actors.context import Context, now_ms
from federation.client import FederationClient, FederationError, FederationUnreachable
from protocol.server_keys import (
    KeyResponse,
    KeyResponseError,
    OldKey,
    build_key_response,
    check_notary_signature,
    countersign,
    parse_key_response,
    trusted_until,
)
from protocol.signing import key_id, verify_key_base64

log = logging.getLogger("dendray.server_keys")

# Our answer's validity: long enough that servers do not ask every hour,
# short enough that a rotation spreads within a day.
OWN_VALIDITY_MS = 24 * 3600 * 1000
# A server is not asked again for keys sooner than this after the last
# attempt (a forged key ID in every request must not make us hammer it).
REFETCH_INTERVAL_MS = 10_000


class ServerKeysService:
    def __init__(
        self, ctx: Context, shard: int, *,
        client: FederationClient | None = None, clock_ms: Callable[[], int] = now_ms,
    ) -> None:
        self.ctx = ctx
        self.shard = shard
        self._client = client
        self._clock = clock_ms
        self._old_keys = [OldKey(k["key_id"], k["key"], int(k["expired_ts"]))
                          for k in ctx.config.old_signing_keys]
        # (server, key ID) -> (unpadded base64 key, trusted until ms)
        self._cache: dict[tuple[str, str], tuple[str, int]] = {}
        self._last_fetch: dict[str, int] = {}
        self._fetching: dict[str, asyncio.Task[None]] = {}

    async def recover(self) -> None:
        """Nothing to rebuild: remote keys are read from PostgreSQL on first use."""

    @property
    def client(self) -> FederationClient:
        if self._client is None:
            self._client = FederationClient(self.ctx.config)
        return self._client

    # ------------------------------------------------------------ our keys

    async def own_keys(self) -> dict[str, Any]:
        return build_key_response(self.ctx.server_name, self.ctx.signing_key, self._old_keys,
                                  self._clock() + OWN_VALIDITY_MS)

    def _own_verify_keys(self, key_ids: list[str], minimum: int) -> dict[str, str]:
        current = self.ctx.signing_key
        known = {key_id(current): verify_key_base64(current)}
        known.update({k.key_id: k.key for k in self._old_keys if k.expired_ts >= minimum})
        return {kid: known[kid] for kid in key_ids if kid in known}

    # --------------------------------------------------------- remote keys

    async def verify_keys(
        self, server_name: str, key_ids: list[str], minimum_valid_until_ts: int
    ) -> dict[str, str]:
        """{key ID: unpadded base64 key} for the asked keys trusted until at least the minimum."""
        if server_name == self.ctx.server_name:
            return self._own_verify_keys(key_ids, minimum_valid_until_ts)
        found = await self._known(server_name, key_ids, minimum_valid_until_ts)
        if len(found) < len(set(key_ids)) and self._may_fetch(server_name):
            await self._fetch_once(server_name, key_ids, minimum_valid_until_ts)
            found = await self._known(server_name, key_ids, minimum_valid_until_ts)
        return found

    async def _known(self, server: str, key_ids: list[str], minimum: int) -> dict[str, str]:
        found: dict[str, str] = {}
        missing = []
        for kid in key_ids:
            cached = self._cache.get((server, kid))
            if cached is not None and cached[1] >= minimum:
                found[kid] = cached[0]
            else:
                missing.append(kid)
        if missing:
            rows = await self.ctx.pool.fetch(
                "SELECT key_id, verify_key, valid_until_ts, expired, fetched_ts FROM server_keys"
                " WHERE server_name = $1 AND key_id = ANY($2::text[])", server, missing)
            for row in rows:
                until = (row["valid_until_ts"] if row["expired"]
                         else trusted_until(row["valid_until_ts"], row["fetched_ts"]))
                self._cache[(server, row["key_id"])] = (row["verify_key"], until)
                if until >= minimum:
                    found[row["key_id"]] = row["verify_key"]
        return found

    def _may_fetch(self, server: str) -> bool:
        last = self._last_fetch.get(server)
        return last is None or self._clock() - last >= REFETCH_INTERVAL_MS or server in self._fetching

    async def _fetch_once(self, server: str, key_ids: list[str], minimum: int) -> None:
        """One fetch per server at a time; concurrent askers wait for the same one."""
        task = self._fetching.get(server)
        if task is None:
            task = asyncio.create_task(self._fetch(server, key_ids, minimum))
            self._fetching[server] = task
            task.add_done_callback(lambda _: self._fetching.pop(server, None))
        await asyncio.shield(task)

    async def _fetch(self, server: str, key_ids: list[str], minimum: int) -> None:
        self._last_fetch[server] = self._clock()
        try:
            await self._fetch_direct(server)
        except (FederationError, FederationUnreachable, KeyResponseError) as e:
            log.info("keys of %s: direct fetch failed: %s", server, e)
        if len(await self._known(server, key_ids, minimum)) == len(set(key_ids)):
            return
        for notary in self.ctx.config.federation.trusted_key_servers:
            try:
                await self._fetch_from_notary(notary, server, key_ids, minimum)
            except (FederationError, FederationUnreachable, KeyResponseError,
                    KeyError, TypeError, ValueError) as e:
                log.info("keys of %s via %s failed: %s", server, notary.get("server_name"), e)
                continue
            if len(await self._known(server, key_ids, minimum)) == len(set(key_ids)):
                return

    async def _fetch_direct(self, server: str) -> None:
        answer = await self.client.get_json(server, "/_matrix/key/v2/server")
        await self._store(parse_key_response(answer, server), answer)

    async def _fetch_from_notary(
        self, notary: dict[str, Any], server: str, key_ids: list[str], minimum: int
    ) -> None:
        notary_name = notary["server_name"]
        criteria = {kid: {"minimum_valid_until_ts": minimum} for kid in key_ids}
        answer = await self.client.post_json(notary_name, "/_matrix/key/v2/query",
                                             {"server_keys": {server: criteria}})
        responses = answer.get("server_keys") if isinstance(answer, dict) else None
        if not isinstance(responses, list):
            raise KeyResponseError(f"notary {notary_name} answered without server_keys")
        for response in responses:
            if not isinstance(response, dict) or response.get("server_name") != server:
                continue
            check_notary_signature(response, notary_name, notary["verify_keys"])
            await self._store(parse_key_response(response, server), response)

    async def _store(self, keys: KeyResponse, answer: dict[str, Any]) -> None:
        fetched = self._clock()
        # The notary serves exactly what the server signed, without other signatures.
        own = {**answer, "signatures": {keys.server_name: answer["signatures"][keys.server_name]}}
        rows = [(kid, key, keys.valid_until_ts, False) for kid, key in keys.verify_keys.items()]
        rows += [(k.key_id, k.key, k.expired_ts, True) for k in keys.old_verify_keys.values()]
        async with self.ctx.pool.acquire() as conn, conn.transaction():
            for kid, key, until, expired in rows:
                await conn.execute(
                    "INSERT INTO server_keys (server_name, key_id, verify_key, valid_until_ts,"
                    " expired, fetched_ts, key_response) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                    " ON CONFLICT (server_name, key_id) DO UPDATE SET verify_key = EXCLUDED.verify_key,"
                    " valid_until_ts = EXCLUDED.valid_until_ts, expired = EXCLUDED.expired,"
                    " fetched_ts = EXCLUDED.fetched_ts, key_response = EXCLUDED.key_response",
                    keys.server_name, kid, key, until, expired, fetched, own)
        for kid, key, until, expired in rows:
            self._cache[(keys.server_name, kid)] = (
                key, until if expired else trusted_until(until, fetched))

    # -------------------------------------------------------------- notary

    async def notary_query(
        self, server_name: str, key_ids: list[str], minimum_valid_until_ts: int
    ) -> list[dict[str, Any]]:
        """The server's key answers we hold (fresh ones fetched if needed), countersigned.

        Empty key IDs mean all keys. An unreachable server still gets its
        cached answers, so that signatures on old events can be checked.
        """
        if server_name == self.ctx.server_name:
            return [await self.own_keys()]
        answers = await self._stored_answers(server_name)
        if not _satisfies(answers, key_ids, minimum_valid_until_ts) and self._may_fetch(server_name):
            self._last_fetch[server_name] = self._clock()
            try:
                await self._fetch_direct(server_name)
            except (FederationError, FederationUnreachable, KeyResponseError) as e:
                log.info("notary: keys of %s: %s", server_name, e)
            answers = await self._stored_answers(server_name)
        return [countersign(a, self.ctx.server_name, self.ctx.signing_key) for a in answers]

    async def _stored_answers(self, server: str) -> list[dict[str, Any]]:
        rows = await self.ctx.pool.fetch(
            "SELECT DISTINCT key_response FROM server_keys WHERE server_name = $1", server)
        return [r["key_response"] for r in rows]


def _satisfies(answers: list[dict[str, Any]], key_ids: list[str], minimum: int) -> bool:
    fresh = [a for a in answers if a.get("valid_until_ts", 0) >= minimum]
    if not key_ids:
        return bool(fresh)
    have = {kid for a in fresh for kid in (*a.get("verify_keys", {}), *a.get("old_verify_keys", {}))}
    return set(key_ids) <= have
