"""`dendray search rebuild`: rebuild every search shard's index from the database.

Talks to the running server's search actors (on this machine's Ray, or the
cluster named by `--ray-address`): each empties its index under a new ID and
indexes every event again from PostgreSQL, while searches keep answering
with what is indexed so far. The command shows the progress until all
shards have caught up.

With the server stopped there is nothing to ask: delete `<data_dir>/search`
instead, and the shards rebuild at the next start.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from typing import Any, TextIO

from dendray.config import Config, ConfigError, load_config
from sharding.names import NAMESPACE
from sharding.router import Router

POLL_SECONDS = 0.5
BAR_WIDTH = 30


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="operate the full-text search index")
    actions = p.add_subparsers(dest="search_command", required=True)
    rebuild_p = actions.add_parser("rebuild", help="rebuild the index from the database")
    rebuild_p.add_argument("--config", default="data/dendray.yaml")
    rebuild_p.add_argument("--ray-address", default="auto",
                           help="the running server's Ray (default: the one on this machine)")


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as e:
        print(f"dendray search: {e}", file=sys.stderr)
        return 2
    import ray

    if not ray.is_initialized():
        try:
            ray.init(address=args.ray_address, namespace=NAMESPACE, logging_level=logging.WARNING,
                     log_to_driver=False)
        except ConnectionError as e:
            print(f"dendray search: no running server to talk to ({e}); with the server "
                  f"stopped, delete {config.data_dir}/search to rebuild at the next start",
                  file=sys.stderr)
            return 1
    try:
        asyncio.run(rebuild(config, sys.stderr))
    except ValueError as e:
        # Ray's "actor not found": the server (or its search pool) is not running.
        print(f"dendray search: {e}", file=sys.stderr)
        return 1
    return 0


async def rebuild(config: Config, out: TextIO, poll: float = POLL_SECONDS) -> list[dict[str, Any]]:
    """Rebuild every shard and wait until all have caught up; returns their final progress."""
    router = Router(config.shards)
    shards = range(router.shard_count("search"))
    await asyncio.gather(*(
        router.call_shard("search", s, "rebuild", idempotent=True) for s in shards
    ))
    bar = ProgressBar(out)
    while True:
        states = await asyncio.gather(*(
            router.call_shard("search", s, "progress", idempotent=True) for s in shards
        ))
        done = sum(s["done"] for s in states)
        total = sum(s["total"] for s in states)
        bar.show(done, total, sum(s["documents"] for s in states))
        if done >= total:
            bar.finish()
            return list(states)
        await asyncio.sleep(poll)


class ProgressBar:
    """One line, redrawn in place: how many stream positions are indexed."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.started = time.monotonic()

    def show(self, done: int, total: int, documents: int) -> None:
        fraction = 1.0 if total <= 0 else min(1.0, done / total)
        filled = int(fraction * BAR_WIDTH)
        elapsed = time.monotonic() - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        self.out.write(
            f"\rrebuilding search index [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] "
            f"{fraction:6.1%}  {done}/{total} events  {documents} documents  {rate:,.0f} events/s"
        )
        self.out.flush()

    def finish(self) -> None:
        self.out.write("\n")
        self.out.flush()
