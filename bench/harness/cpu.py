"""CPU-seconds and resident memory of a set of processes, read from /proc.

A server is many processes (Ray workers, raylet, GCS, PostgreSQL backends);
its cost is the sum over all of them. Each reading keys a process by
(pid, start time) so a recycled PID is never taken for the same process.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")

ProcKey = tuple[int, int]  # (pid, start time in ticks since boot)


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    return text[text.rindex(")") + 2:].split()


def cpu_reading(pids: Iterable[int]) -> dict[ProcKey, float]:
    """utime + stime in seconds of each live process, keyed by (pid, start time)."""
    out: dict[ProcKey, float] = {}
    for pid in pids:
        f = _stat_fields(pid)
        if f is None:
            continue
        # After the name: state=0, ppid=1, ..., utime=11, stime=12, starttime=19.
        out[(pid, int(f[19]))] = (int(f[11]) + int(f[12])) / _TICKS
    return out


def cpu_between(before: dict[ProcKey, float], after: dict[ProcKey, float]) -> float:
    """CPU-seconds spent between two readings; a process born in between counts whole."""
    return sum(cpu - before.get(key, 0.0) for key, cpu in after.items())


# Which part of a server a process is, from its command line (Ray titles workers
# `ray::<actor class>`; dendray's actor classes are `<Service>Actor`).
ROLES = (("ClientIngress", "ingress"), ("ProxyActor", "serve proxy"),
         ("RoomServerServiceActor", "room_server"), ("SyncServiceActor", "sync"),
         ("AccountsServiceActor", "accounts"), ("postgres", "postgres"),
         ("synapse.app", "synapse"), ("ray::", "other actors"))


def role_of(pid: int) -> str:
    cmdline = command_line(pid)
    return next((role for needle, role in ROLES if needle in cmdline), "ray system")


def cpu_by_role(before: dict[ProcKey, float], after: dict[ProcKey, float]) -> dict[str, float]:
    """`cpu_between`, split by the role of each process."""
    out: dict[str, float] = {}
    for key, cpu in after.items():
        role = role_of(key[0])
        out[role] = out.get(role, 0.0) + cpu - before.get(key, 0.0)
    return {role: round(v, 3) for role, v in sorted(out.items(), key=lambda kv: -kv[1])}


def rss_bytes(pids: Iterable[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


def _parents() -> dict[int, int]:
    parents = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            f = _stat_fields(int(entry.name))
            if f is not None:
                parents[int(entry.name)] = int(f[1])
    return parents


def process_tree(root: int) -> set[int]:
    """`root` and all its live descendants."""
    children: dict[int, list[int]] = {}
    for pid, ppid in _parents().items():
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid in found or not Path(f"/proc/{pid}").exists():
            continue
        found.add(pid)
        todo.extend(children.get(pid, ()))
    return found


def processes_in(folder: Path) -> set[int]:
    """Processes whose working directory is `folder` (PostgreSQL runs inside its data folder)."""
    want = str(folder.resolve())
    found = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if os.readlink(f"/proc/{entry.name}/cwd") == want:
                    found.add(int(entry.name))
            except OSError:
                continue
    return found


def processes_mentioning(fragment: str) -> set[int]:
    """Processes whose command line contains `fragment` (e.g. a Ray temp folder)."""
    found = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                cmdline = Path(f"/proc/{entry.name}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if fragment.encode() in cmdline:
                found.add(int(entry.name))
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class RssSampler:
    """Samples the total RSS of a server's processes in a thread and keeps the peak."""

    def __init__(self, pids: Callable[[], set[int]], interval: float = 0.5) -> None:
        self._pids = pids
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peak = 0

    def _run(self) -> None:
        pids = self._pids()
        refreshed = time.monotonic()
        while not self._stop.is_set():
            # Listing /proc is costlier than reading statm: refresh the set every few seconds.
            if time.monotonic() - refreshed > 5:
                pids, refreshed = self._pids(), time.monotonic()
            self.peak = max(self.peak, rss_bytes(pids))
            self._stop.wait(self._interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
