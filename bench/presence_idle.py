"""Benchmark: CPU of the presence actors holding many idle users.

    .venv/bin/python bench/presence_idle.py [--users 10000] [--minutes 4] [--shards 1]

Starts an embedded PostgreSQL and a local Ray with the actor pools (no
HTTP), registers `--users` users (rows in `users`), and tells the presence
component that each of them is syncing and online: one `user_syncing` call
per user, with a sync lasting an hour (a client that stays connected and
does nothing). Every one of them is then held by a presence shard with a
pending deadline (idle after 5 minutes). Then, for `--minutes`, it reads the
CPU time (utime + stime from /proc/<pid>/stat) of every presence actor
process once a minute and prints the CPU seconds used in each minute, next
to those of the typing actor, an actor of the same kind holding nothing: the
baseline any idle Ray actor process costs.

With one timer heap per shard and no per-user loop, the idle minutes should
cost about nothing and stay flat; the first idle transitions (5 minutes
after the start) would show as a single burst, once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import ray

from actors.pools import remove_pools
from dendray.cli import main as cli_main
from dendray.config import load_config
from dendray.server import prepare
from sharding.names import NAMESPACE, actor_name
from storage.embedded import EmbeddedPostgres
from storage.pool import connect

CLK_TCK = os.sysconf("SC_CLK_TCK")
HOLD_MS = 3_600_000
IN_FLIGHT = 200


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command: state is field 3, utime 14 and stime 15 (1-based, see proc(5)).
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def register_users(dsn: str, count: int, server_name: str) -> list[str]:
    users = [f"@idle{i:06d}:{server_name}" for i in range(count)]
    conn = await connect(dsn)
    try:
        now = int(time.time() * 1000)
        await conn.copy_records_to_table(
            "users", records=[(u, None, now, False, False) for u in users],
            columns=["user_id", "password_hash", "created_ts", "is_admin", "deactivated"],
        )
    finally:
        await conn.close()
    return users


def mark_syncing(users: list[str], shards: int) -> None:
    from sharding.hashing import shard_of

    handles = [ray.get_actor(actor_name("presence", s), namespace=NAMESPACE) for s in range(shards)]
    until = int(time.time() * 1000) + HOLD_MS
    pending: list[Any] = []
    for user in users:
        handle = handles[shard_of(user, shards)]
        pending.append(handle.user_syncing.remote(user, "online", until))
        if len(pending) >= IN_FLIGHT:
            ray.get(pending)
            pending = []
    ray.get(pending)


def actor_pid(component: str, shard: int) -> int:
    handle = ray.get_actor(actor_name(component, shard), namespace=NAMESPACE)
    return ray.get(handle.__ray_call__.remote(lambda self: os.getpid()))


def tracked(shards: int) -> int:
    total = 0
    for s in range(shards):
        handle = ray.get_actor(actor_name("presence", s), namespace=NAMESPACE)
        total += ray.get(handle.tracked_users.remote())
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--minutes", type=int, default=4)
    parser.add_argument("--shards", type=int, default=1)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="dendray-bench-"))
    config_path = workdir / "dendray.yaml"
    assert cli_main(["init", "--config", str(config_path), "--server-name", "bench.local"]) == 0
    config = load_config(config_path)
    config.shards = {**config.shards, "presence": args.shards}
    embedded = EmbeddedPostgres(workdir / "postgres")
    config.database.dsn = embedded.start()
    ray.init(namespace=NAMESPACE, include_dashboard=False, logging_level="WARNING")
    try:
        started = time.monotonic()
        config = prepare(config)
        users = asyncio.run(register_users(config.database.dsn, args.users, config.server_name))
        mark_syncing(users, args.shards)
        print(f"{args.users} users online and idle in {time.monotonic() - started:.1f}s;"
              f" held in memory: {tracked(args.shards)}")
        pids = [actor_pid("presence", shard) for shard in range(args.shards)]
        reference = actor_pid("typing", 0)
        last = {pid: cpu_seconds(pid) for pid in [*pids, reference]}
        print("minute  presence CPU s  idle typing actor CPU s  presence RSS MB")
        for minute in range(1, args.minutes + 1):
            time.sleep(60)
            now = {pid: cpu_seconds(pid) for pid in last}
            used = sum(now[pid] - last[pid] for pid in pids)
            rss = sum(rss_mb(pid) for pid in pids)
            print(f"{minute:6d}  {used:14.2f}  {now[reference] - last[reference]:23.2f}"
                  f"  {rss:15.0f}", flush=True)
            last = now
        print(f"still held at the end: {tracked(args.shards)}")
    finally:
        remove_pools(config.to_dict())
        ray.shutdown()
        embedded.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
