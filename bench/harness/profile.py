"""Profiles of the send and sync paths with py-spy (sampling, the servers keep running).

Each profiled process gets a collapsed-stack file (`*.folded`, loadable in
speedscope or flamegraph.pl) and a summary of the functions that cost most,
by own time and by time including callees.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from bench.harness.phases import delivery, send, sync
from bench.harness.phases.state import Workload
from bench.harness.servers import BIN

# Process titles of the Ray workers worth profiling (Ray names them after the actor
# class, which actors/actor_base.py names `<Service>Actor`).
DENDRAY_TARGETS = {"ingress": "ClientIngress", "room_server": "RoomServerServiceActor",
                   "sync": "SyncServiceActor", "proxy": "ProxyActor"}
_LINE = re.compile(r":\d+\)$")


def py_spy() -> str | None:
    local = BIN / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def summarise(folded: Path, top: int = 15) -> dict[str, Any]:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_LINE.sub(")", f) for f in stack.split(";")]
        own[frames[-1]] += n
        for f in set(frames):
            inclusive[f] += n

    def share(c: Counter[str]) -> list[list[Any]]:
        return [[f, round(100 * n / total, 1)] for f, n in c.most_common(top)] if total else []

    return {"samples": total, "own_pct": share(own), "inclusive_pct": share(inclusive)}


async def _recorded(server: Any, targets: dict[str, str], out: Path, path: str,
                    workload: Any) -> dict[str, Any]:
    exe = py_spy()
    procs = []
    for label, needle in targets.items():
        for pid in server.worker_pids(needle):
            f = out / f"{server.name}-{path}-{label}-{pid}.folded"
            procs.append((label, f, subprocess.Popen(
                [exe, "record", "--pid", str(pid), "--rate", "200", "--format", "raw",
                 "--nonblocking", "--output", str(f)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
    await asyncio.sleep(1.0)  # py-spy attaches
    try:
        await workload
    finally:
        for _, _, p in procs:
            p.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        for _, _, p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
    found = {}
    for label, f, _ in procs:
        if f.exists():
            found[f.name] = {"process": label, **summarise(f)}
            (f.with_suffix(".txt")).write_text(_as_text(found[f.name]))
    return found


def _as_text(summary: dict[str, Any]) -> str:
    lines = [f"{summary['process']}: {summary['samples']} samples", "", "own time %:"]
    lines += [f"  {pct:5.1f}  {f}" for f, pct in summary["own_pct"]]
    lines += ["", "including callees %:"]
    lines += [f"  {pct:5.1f}  {f}" for f, pct in summary["inclusive_pct"]]
    return "\n".join(lines) + "\n"


async def profile(server: Any, w: Workload, out: Path) -> dict[str, Any]:
    """Profile a sends phase (send path) and a delivery + initial-sync run (sync path)."""
    if py_spy() is None:
        return {"skipped": "py-spy is not installed (pip install -e '.[bench]')"}
    out.mkdir(parents=True, exist_ok=True)
    targets = DENDRAY_TARGETS if server.name == "dendray" else {server.name: ""}
    results = {"send": await _recorded(server, targets, out, "send", send.sends(w))}

    async def sync_path() -> None:
        await delivery.saturated(w)
        await sync.initial_sync(w)

    results["sync"] = await _recorded(server, targets, out, "sync", sync_path())
    return results
