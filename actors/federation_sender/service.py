"""The federation sender (sharded by destination server name).

Each shard follows the room servers' event streams (`fanout.Fanout`) and
queues PDUs for the destinations it owns; other components queue EDUs
(`queue_edu`). Queues, the transaction in flight and the backoff live in
PostgreSQL (`queue`); memory holds only one task per destination that has
work. That task sends one transaction at a time: it stores the transaction
before sending, retries exactly it (same txn ID, same body) with
exponential backoff until the destination answers 200, then takes the next.
After a long outage it first trims the backlog to each room's newest PDU
(the destination fetches the gap with /get_missing_events).

The shard also receives the transactions other servers send us, for the
origins it owns (`inbound.receive_transaction`): both directions of one
server pair live on the same shard.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from actors.context import Context, now_ms
from actors.federation_sender import queue
from actors.federation_sender.backoff import Backoff
from actors.federation_sender.fanout import Fanout
from actors.federation_sender.inbound import Inbound
from actors.federation_sender.transactions import send_path
from federation.client import FederationClient

log = logging.getLogger("dendray.federation_sender")

# After an outage, a destination with more PDUs queued than this gets only
# each room's newest one.
CATCH_UP_LIMIT = 200
DEFAULT_BACKOFF = Backoff()


class TransactionClient(Protocol):
    async def put_json(self, destination: str, path: str, body: dict[str, Any]) -> Any: ...


class FederationSenderService:
    def __init__(
        self,
        ctx: Context,
        shard: int,
        *,
        client: TransactionClient | None = None,
        clock_ms: Callable[[], int] = now_ms,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        backoff: Backoff = DEFAULT_BACKOFF,
        poll_interval: float = 5.0,
    ) -> None:
        self.ctx = ctx
        self.shard = shard
        self.client = client
        self._clock_ms = clock_ms
        self._sleep = sleep
        self.backoff = backoff
        self.poll_interval = poll_interval
        self.fanout = Fanout(ctx.pool, shard=shard, server_name=ctx.server_name, owns=self._owns)
        self.inbound = Inbound(ctx)
        self._senders: dict[str, asyncio.Task[None]] = {}
        # Destinations queued to while their sender task was already running.
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._fanout_task: asyncio.Task[None] | None = None

    def _owns(self, destination: str) -> bool:
        return self.ctx.router.shard_for("federation_sender", destination) == self.shard

    async def recover(self) -> None:
        """Resume: the stream positions, and a sender for every destination with work."""
        if not self.ctx.config.federation.enabled:
            return  # no outbound federation: nothing is queued or sent
        if self.client is None:
            self.client = FederationClient(self.ctx.config)
        await self.fanout.start()
        await self.resume_queued()
        self._fanout_task = asyncio.get_running_loop().create_task(self._follow_streams())

    async def close(self) -> None:
        """Stop every task (tests; an actor is simply killed)."""
        tasks = [t for t in [self._fanout_task, *self._senders.values()] if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._senders.clear()

    # --- PDUs from the event streams -----------------------------------------

    async def on_new_event(self, writer: int, pos: int) -> None:
        """A room server committed events (a wake-up; the position is only a hint)."""
        self._wake.set()

    async def _follow_streams(self) -> None:
        while True:
            polled = False
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            except TimeoutError:
                polled = True
            self._wake.clear()
            try:
                await self.catch_up()
                if polled:
                    await self.resume_queued()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("federation sender %d: reading the event streams failed", self.shard)
                await self._sleep(1.0)
                self._wake.set()

    async def catch_up(self) -> None:
        """Queue every event committed so far for this shard's destinations."""
        for destination in await self.fanout.catch_up():
            self._kick(destination)

    async def resume_queued(self) -> None:
        """Start a sender for each owned destination with work but none running.

        Covers a lost `on_queued` wake-up after another component queued an EDU.
        """
        async with self.ctx.pool.acquire() as conn:
            pending = await queue.destinations_with_work(conn)
        for destination in pending:
            if self._owns(destination) and destination not in self._senders:
                self._kick(destination)

    # --- EDUs ---------------------------------------------------------------

    async def on_queued(self, destinations: list[str]) -> None:
        """Another component queued EDUs for these destinations in its own transaction."""
        for destination in destinations:
            if self._owns(destination):
                self._kick(destination)

    async def queue_edu(self, destinations: list[str], edu_type: str,
                        content: dict[str, Any]) -> None:
        """Queue one EDU for each destination (all owned by this shard) and send it soon."""
        mine = [d for d in dict.fromkeys(destinations) if d != self.ctx.server_name]
        if not mine or not self.ctx.config.federation.enabled:
            return
        if edu_type == "m.typing":
            # Typing is stale by the time a failing destination is back.
            mine = [d for d in mine if d in self._senders or not await self._backing_off(d)]
        async with self.ctx.pool.acquire() as conn:
            await queue.enqueue_edus(conn, mine, edu_type, content)
        for destination in mine:
            self._kick(destination)

    async def _backing_off(self, destination: str) -> bool:
        async with self.ctx.pool.acquire() as conn:
            state = await queue.destination_state(conn, destination)
        return state.failures > 0

    # --- sending --------------------------------------------------------------

    def _kick(self, destination: str) -> None:
        if self.client is None:
            return  # federation is off (see recover)
        task = self._senders.get(destination)
        if task is not None and not task.done():
            self._dirty.add(destination)
            return
        task = asyncio.get_running_loop().create_task(self._send_loop(destination))
        self._senders[destination] = task

    def sending_to(self) -> list[str]:
        return sorted(d for d, t in self._senders.items() if not t.done())

    async def _send_loop(self, destination: str) -> None:
        try:
            while True:
                self._dirty.discard(destination)
                sent = await self._send_one(destination)
                if not sent and destination not in self._dirty:
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("federation sender: sending to %s failed", destination)
        finally:
            if self._senders.get(destination) is asyncio.current_task():
                del self._senders[destination]

    async def _send_one(self, destination: str) -> bool:
        """Wait out the backoff, then send (or resend) one transaction. False: nothing queued."""
        async with self.ctx.pool.acquire() as conn:
            state = await queue.destination_state(conn, destination)
        wait_ms = state.retry_at_ms - self._clock_ms()
        if wait_ms > 0:
            await self._sleep(wait_ms / 1000)
        async with self.ctx.pool.acquire() as conn, conn.transaction():
            if state.failures > 0:
                dropped = await queue.trim_backlog(conn, destination, CATCH_UP_LIMIT)
                if dropped:
                    log.info("%s was unreachable: %d queued PDUs left to /get_missing_events",
                             destination, dropped)
            txn = await queue.in_flight(conn, destination)
            if txn is None:
                txn = await queue.build_transaction(
                    conn, destination, self.ctx.server_name, self._clock_ms())
        if txn is None:
            return False
        assert self.client is not None
        try:
            await self.client.put_json(destination, send_path(txn.txn_id), txn.body)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            # The spec asks for a 200 before any other transaction: retry this one.
            failures = state.failures + 1
            retry_at = self._clock_ms() + self.backoff.delay_ms(failures)
            log.info("transaction %s to %s failed (%s); retry #%d in %d ms", txn.txn_id,
                     destination, e, failures, retry_at - self._clock_ms())
            async with self.ctx.pool.acquire() as conn:
                await queue.record_failure(conn, destination, failures, retry_at)
            return True
        async with self.ctx.pool.acquire() as conn, conn.transaction():
            await queue.complete(conn, txn)
        return True

    # --- inbound ----------------------------------------------------------------

    async def receive_transaction(self, origin: str, txn_id: str,
                                  body: dict[str, Any]) -> dict[str, Any]:
        return await self.inbound.receive_transaction(origin, txn_id, body)
