"""A tiny run of the benchmark harness against the session's server, so it doesn't rot.

Not a benchmark: the numbers are not checked, only that every phase ran
without errors, that server CPU was measured, and that the report renders.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from bench.harness import report
from bench.harness.cpu import cpu_between, cpu_reading, process_tree, rss_bytes
from bench.harness.phases.scale import SCALES
from bench.harness.workload import run_all

TINY = dataclasses.replace(
    SCALES["small"], users=10, logins=3, register_concurrency=4, rooms=3, senders=3,
    rooms_per_sender=2, sends=12, send_concurrency=3, delivery_saturated=9, paced_rate=10,
    paced_seconds=1, initial_syncs=2, fanout_members=6, fanout_messages=1,
    fanout_settle_s=0.5, idle_settle_s=0.0)


class SessionServer:
    """The `server` fixture seen as a harness server: its processes are this test
    process's descendants (the local Ray it started)."""

    name = "dendray"

    def __init__(self, client_url: str) -> None:
        self.client_url = client_url

    def pids(self) -> set[int]:
        return process_tree(os.getpid())


def test_cpu_readings_of_this_process() -> None:
    before = cpu_reading({os.getpid()})
    sum(i * i for i in range(300_000))
    assert cpu_between(before, cpu_reading({os.getpid()})) > 0
    assert rss_bytes({os.getpid()}) > 10 * 2**20


async def test_tiny_run_has_every_phase(server: Any) -> None:
    summary, w = await run_all(SessionServer(server.client_url), TINY)
    await w.client.close()
    phases = summary["phases"]
    assert list(phases) == [
        "register", "login", "createRoom", "join", "send", "send→sync, saturated",
        "send→sync, paced 10/s", "initial /sync (3 rooms)", "join (one room, 6 members)",
        "/sync fan-out to 6 members"]
    for name, p in phases.items():
        assert p["errors"] == 0, (name, p["first_error"], p["note"])
        assert p["ops"] > 0 and p["p99_ms"] is not None, name
    assert phases["send"]["ops"] == 12 and phases["/sync fan-out to 6 members"]["ops"] == 6
    assert sum(p["cpu_s"] for p in phases.values()) > 0
    send = phases["send"]
    assert abs(sum(send["cpu_s_by_role"].values()) - send["cpu_s"]) < 0.01
    assert summary["rss_mb"]["peak"] >= summary["rss_mb"]["idle"] > 0
    table = report.side_by_side({"dendray": summary})
    assert "| send | " in table and "RSS peak (MB)" in table
