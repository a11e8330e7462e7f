"""`python -m bench.harness`: the whole benchmark in one command (what `make bench` runs).

    BENCH_SCALE=small|full   size of the workload (default full)
    --servers dendray,synapse   which servers (Synapse is skipped, with the reason, if it
                                cannot be installed)
    --no-scaling / --no-profile   leave out the scale-out runs / the py-spy profiles
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.harness import profile, report, scaling
from bench.harness.phases.scale import SCALES
from bench.harness.servers import REPO, DendrayServer, ServerUnavailable, SynapseServer
from bench.harness.workload import run_all


def log(msg: str) -> None:
    print(f"[bench {datetime.datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                .splitlines() if line.startswith("model name")), platform.processor())
    mem = int(Path("/proc/meminfo").read_text().split()[1]) // 2**20
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                            text=True).stdout.strip()
    return {"cpus": os.cpu_count(), "cpu": cpu, "memory_gb": mem, "python": platform.python_version(),
            "commit": commit, "date": datetime.datetime.now().isoformat(timespec="seconds")}


def load() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


async def bench_server(server: Any, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    log(f"{server.name}: starting")
    try:
        server.start()
    except RuntimeError as e:
        # A start-up can time out on an overloaded machine (Ray's raylet); once more.
        log(f"{server.name}: start failed, trying once more: {e}")
        server.start()
    try:
        log(f"{server.name}: serving at {server.client_url}; running the workload")
        summary, w = await run_all(server, SCALES[args.scale])
        try:
            if args.profile:
                log(f"{server.name}: profiling the send and sync paths")
                summary["profiles"] = await profile.profile(server, w, out / "profiles")
        finally:
            await w.client.close()
        return summary
    finally:
        log(f"{server.name}: stopping")
        server.stop()


async def main_async(args: argparse.Namespace) -> int:
    out = Path(args.out)
    work = Path(tempfile.mkdtemp(prefix="dendray-bench-", dir=args.workdir))
    run: dict[str, Any] = {"machine": machine(), "scale": args.scale,
                           "command": " ".join(sys.argv), "load_before": load(),
                           "servers": {}, "skipped": {}}
    try:
        for name in filter(None, args.servers.split(",")):
            if name == "dendray":
                server: Any = DendrayServer(work / "dendray")
            elif name == "synapse":
                server = SynapseServer(work / "synapse")
                try:
                    server.prepare()
                except ServerUnavailable as e:
                    log(f"Synapse skipped: {e}")
                    run["skipped"]["synapse"] = str(e)
                    continue
            else:
                raise SystemExit(f"unknown server {name!r} (dendray, synapse)")
            run["servers"][name] = await bench_server(server, args, out)
        if args.scaling:
            run["scaling"] = await scaling.run(SCALES[args.scale], work / "scaling", log)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    run["load_after"] = load()
    table = report.side_by_side(run["servers"])
    run["table_markdown"] = table
    print(table)
    if run.get("scaling"):
        run["scaling_markdown"] = report.scaling_table(run["scaling"])
        print()
        print(run["scaling_markdown"])
    path = out / f"{args.name or args.scale}.json"
    report.write(path, run)
    log(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.harness")
    p.add_argument("--scale", choices=sorted(SCALES), default=os.environ.get("BENCH_SCALE", "full"))
    p.add_argument("--servers", default=os.environ.get("BENCH_SERVERS", "dendray,synapse"))
    p.add_argument("--out", default=str(REPO / "bench" / "results"))
    p.add_argument("--workdir", default=None, help="where the servers' data goes (default /tmp)")
    p.add_argument("--name", default=None, help="JSON file name in --out (default: the scale)")
    p.add_argument("--no-scaling", dest="scaling", action="store_false")
    p.add_argument("--no-profile", dest="profile", action="store_false")
    return asyncio.run(main_async(p.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
