"""Start and stop the servers under test, and name every process each one runs.

Each server lives in its own work folder with ports picked at random in
28000-28999 (other people's servers may run on the same machine). The
process set of a server is what its CPU and memory are summed over:

- dendray: the `dendray run` process and its descendants (the Ray GCS,
  raylet, every actor and Serve worker), the embedded PostgreSQL (found by
  its data folder, since pg_ctl detaches it) and, when it joins a Ray
  cluster the harness started, every process of that cluster;
- Synapse: its process (and children) and its own embedded PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import yaml

from bench.harness.cpu import (
    ProcKey,
    command_line,
    cpu_reading,
    process_tree,
    processes_in,
    processes_mentioning,
)
from storage.embedded import EmbeddedPostgres

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SYNAPSE_SCRIPT = Path(os.environ.get(
    "SYNAPSE_PEER_SCRIPT", REPO.parent / "shared" / "tools" / "start_synapse_peer.sh"))
SYNAPSE_VENV = Path(os.environ.get("SYNAPSE_VENV", "/tmp/synapse-fed-venv"))
SYNAPSE_PIP_SPEC = os.environ.get("SYNAPSE_PIP_SPEC", "matrix-synapse==1.163.2")


class ServerUnavailable(RuntimeError):
    """The server cannot be set up on this machine (the run skips it)."""


def free_port(taken: set[int] | None = None) -> int:
    taken = taken or set()
    for _ in range(200):
        port = random.randint(28000, 28999)
        if port in taken:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        taken.add(port)
        return port
    raise RuntimeError("no free port in 28000-28999")


def _tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def wait_answering(url: str, proc: subprocess.Popen | None, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            # The work folder is removed after the run: keep the reason in the error.
            raise RuntimeError(f"the server exited during start-up; {log} ends:\n{_tail(log)}")
        try:
            if httpx.get(f"{url}/_matrix/client/versions", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"no answer at {url} after {timeout:.0f}s; see {log}")
        time.sleep(0.5)


def _kill_leftovers(known: set[ProcKey]) -> None:
    # Processes of ours that outlived an orderly stop (a hung worker): end them by
    # PID, and only if the PID still names the same process (same start time).
    alive = set(cpu_reading(pid for pid, _ in known))
    for pid, _ in known & alive:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class DendrayServer:
    name = "dendray"

    def __init__(self, workdir: Path, *, room_shards: int | None = None,
                 ray_address: str | None = None, ray_marker: str | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.room_shards = room_shards
        self.ray_address = ray_address
        # A string in the command line of every process of a Ray cluster we started.
        self.ray_marker = ray_marker
        self.env = env or {}
        self.client_url = ""
        self._proc: subprocess.Popen | None = None
        self._known: set[ProcKey] = set()

    def start(self, timeout: float = 300.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "dendray.yaml"
        ports: set[int] = set()
        client_port = free_port(ports)
        subprocess.run(
            [BIN / "dendray", "init", "--config", config, "--client-port", str(client_port),
             "--federation-port", str(free_port(ports)), "--open-registration",
             "--no-rate-limits", "--force"],
            check=True, capture_output=True)
        if self.room_shards is not None:
            raw = yaml.safe_load(config.read_text())
            raw["shards"]["room_server"] = self.room_shards
            config.write_text(yaml.safe_dump(raw))
        log = self.workdir / "dendray.log"
        cmd = [str(BIN / "dendray"), "run", "--config", str(config)]
        if self.ray_address:
            cmd += ["--ray-address", self.ray_address]
        with log.open("ab") as out:
            self._proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, cwd=self.workdir,
                                          env={**os.environ, **self.env},
                                          start_new_session=True)
        self.client_url = f"http://127.0.0.1:{client_port}"
        try:
            wait_answering(self.client_url, self._proc, timeout, log)
        except BaseException:
            self.stop()
            raise

    def pids(self) -> set[int]:
        found = set()
        if self._proc is not None and self._proc.poll() is None:
            found |= process_tree(self._proc.pid)
        found |= processes_in(self.workdir / "postgres")
        if self.ray_marker:
            found |= processes_mentioning(self.ray_marker)
        self._known |= set(cpu_reading(found))
        return found

    def worker_pids(self, needle: str) -> list[int]:
        """PIDs of this server's Ray workers whose process title contains `needle`."""
        return sorted(p for p in self.pids() if needle in command_line(p))

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        self.pids()
        known = set(self._known)
        # `dendray run` stops Serve, the actors, its Ray and PostgreSQL on SIGTERM.
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        time.sleep(1)
        if self.ray_marker:
            # Processes of an external cluster are that cluster's, stopped with it.
            cluster = processes_mentioning(self.ray_marker)
            known = {k for k in known if k[0] not in cluster}
        _kill_leftovers(known)


class SynapseServer:
    name = "synapse"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.client_url = ""
        self._pid: int | None = None
        self._pg: EmbeddedPostgres | None = None

    @staticmethod
    def prepare() -> None:
        """Install Synapse (from PyPI) and psycopg2 into its venv if missing."""
        if not SYNAPSE_SCRIPT.exists():
            raise ServerUnavailable(f"{SYNAPSE_SCRIPT} not found (set SYNAPSE_PEER_SCRIPT)")
        py = SYNAPSE_VENV / "bin" / "python"
        try:
            if not _imports(py, "synapse"):
                subprocess.run(["python3", "-m", "venv", SYNAPSE_VENV], check=True,
                               capture_output=True)
                subprocess.run([SYNAPSE_VENV / "bin" / "pip", "install", "-q", SYNAPSE_PIP_SPEC],
                               check=True, capture_output=True)
            if not _imports(py, "psycopg2"):
                subprocess.run([SYNAPSE_VENV / "bin" / "pip", "install", "-q", "psycopg2-binary"],
                               check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError) as e:
            raise ServerUnavailable(f"cannot install {SYNAPSE_PIP_SPEC} with psycopg2: {e}") from e

    def start(self, timeout: float = 300.0) -> None:
        self.prepare()
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True)
        self._pg = EmbeddedPostgres(self.workdir / "postgres")
        dsn = self._pg.start()
        asyncio.run(_create_synapse_database(dsn))
        parts = urlsplit(dsn)
        query = parse_qs(parts.query)
        host = query.get("host", [parts.hostname or "127.0.0.1"])[0]
        port = int(query.get("port", [parts.port or 5432])[0])
        extra = self.workdir / "database.yaml"
        extra.write_text(yaml.safe_dump({"database": {"name": "psycopg2", "args": {
            "user": "postgres", "database": "synapse", "host": host, "port": port,
            "cp_min": 5, "cp_max": 10}}}))
        ports: set[int] = set()
        result = subprocess.run(
            [SYNAPSE_SCRIPT, "--addr", "127.0.0.1", "--client-port", str(free_port(ports)),
             "--fed-port", str(free_port(ports)), "--dir", self.workdir / "synapse", "--fresh",
             "--venv", SYNAPSE_VENV, "--extra-config", extra, "--timeout", str(int(timeout))],
            capture_output=True, text=True)
        fields = dict(f.split("=", 1) for f in result.stdout.split() if "=" in f)
        if "PID" in fields:
            self._pid = int(fields["PID"])
        if result.returncode != 0 or "READY" not in result.stdout:
            self.stop()
            raise RuntimeError(f"Synapse did not start: {result.stderr[-2000:]}")
        self.client_url = fields["CLIENT_URL"]

    def pids(self) -> set[int]:
        found = process_tree(self._pid) if self._pid else set()
        return found | processes_in(self.workdir / "postgres")

    def worker_pids(self, needle: str) -> list[int]:
        return [self._pid] if self._pid else []

    def stop(self) -> None:
        if self._pid is not None:
            subprocess.run([SYNAPSE_SCRIPT, "--stop", "--dir", self.workdir / "synapse"],
                           capture_output=True)
            self._pid = None
        if self._pg is not None:
            self._pg.stop()
            self._pg = None


def _imports(python: Path, module: str) -> bool:
    if not python.exists():
        return False
    return subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode == 0


async def _create_synapse_database(dsn: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        # Synapse refuses a database whose collation is not C.
        await conn.execute("CREATE DATABASE synapse ENCODING 'UTF8' LC_COLLATE 'C' "
                           "LC_CTYPE 'C' TEMPLATE template0")
    finally:
        await conn.close()
