"""The embedded PostgreSQL: start, reuse, stop, concurrent starts, crash recovery."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import psutil
import pytest

from storage.config import DatabaseConfig
from storage.embedded import EmbeddedPostgres, EmbeddedPostgresError, open_server

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A fresh temp folder (not pytest's tmp_path, see conftest), cleaned up with any server in it."""
    root = Path(tempfile.mkdtemp(prefix="dendray-pgtest-"))
    try:
        yield root
    finally:
        for pid_file in root.rglob("postmaster.pid"):
            _kill_server(pid_file)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def servers() -> Iterator[Callable[[Path], EmbeddedPostgres]]:
    """Make EmbeddedPostgres objects that are stopped after the test, whatever happens."""
    made: list[EmbeddedPostgres] = []

    def make(data_dir: Path) -> EmbeddedPostgres:
        made.append(EmbeddedPostgres(data_dir))
        return made[-1]

    yield make
    for server in reversed(made):
        server.stop()


def _kill_server(pid_file: Path) -> None:
    # Teardown for servers a failed test left behind: SIGQUIT is immediate shutdown.
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
        psutil.Process(pid).send_signal(signal.SIGQUIT)
        psutil.Process(pid).wait(10)
    except (OSError, ValueError, psutil.Error):
        pass


def _is_running(data_dir: Path) -> bool:
    # postgres removes postmaster.pid on a clean shutdown.
    return (data_dir / "postmaster.pid").exists()


async def _server_facts(dsn: str) -> tuple[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        started = await conn.fetchval("SELECT pg_postmaster_start_time()::text")
        one = await conn.fetchval("SELECT 1")
        return started, one
    finally:
        await conn.close()


def _wait_until_dead(pid: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} did not die")


async def test_start_creates_parents_and_stop_stops(scratch: Path, servers) -> None:
    data_dir = scratch / "nested" / "deeper" / "pgdata"
    server = servers(data_dir)

    dsn = server.start()

    assert (data_dir / "PG_VERSION").exists()
    assert _is_running(data_dir)
    assert (await _server_facts(dsn))[1] == 1
    assert server.start() == dsn  # idempotent
    server.stop()
    assert not _is_running(data_dir)
    server.stop()  # idempotent too


async def test_restart_keeps_data_and_dsn(scratch: Path, servers) -> None:
    data_dir = scratch / "pgdata"
    with EmbeddedPostgres(data_dir) as server:
        first_dsn = server.dsn
        conn = await asyncpg.connect(first_dsn)
        await conn.execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)")
        await conn.close()
    assert not _is_running(data_dir)

    server = servers(data_dir)
    assert server.start() == first_dsn  # other processes may keep using the same DSN
    conn = await asyncpg.connect(first_dsn)
    assert await conn.fetchval("SELECT x FROM kept") == 7
    await conn.close()


async def test_second_handle_reuses_and_last_stop_stops(scratch: Path, servers) -> None:
    data_dir = scratch / "pgdata"
    first, second = servers(data_dir), servers(data_dir)

    assert first.start() == second.start()
    assert first.pid == second.pid

    first.stop()
    assert _is_running(data_dir)  # the second handle still holds it
    assert (await _server_facts(second.dsn))[1] == 1
    second.stop()
    assert not _is_running(data_dir)


def test_refuses_path_the_wheel_cannot_start(scratch: Path) -> None:
    data_dir = scratch / "with space" / "pgdata"
    with pytest.raises(EmbeddedPostgresError, match="may only contain"):
        EmbeddedPostgres(data_dir).start()
    assert not data_dir.parent.exists()


_CHILD = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from pathlib import Path

    import asyncpg

    from storage.embedded import EmbeddedPostgres

    data_dir, go_at, out_dir, me = sys.argv[1], float(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
    while time.time() < go_at:
        time.sleep(0.001)
    server = EmbeddedPostgres(data_dir)
    dsn = server.start()

    async def started_at():
        conn = await asyncpg.connect(dsn)
        try:
            return await conn.fetchval("SELECT pg_postmaster_start_time()::text")
        finally:
            await conn.close()

    report = {"dsn": dsn, "pid": server.pid, "started": asyncio.run(started_at())}
    (out_dir / f"{me}.json").write_text(json.dumps(report))
    # Hold on to the server until the sibling has used it as well.
    deadline = time.time() + 30
    while len(list(out_dir.glob("*.json"))) < 2 and time.time() < deadline:
        time.sleep(0.01)
    server.stop()
    """
)


async def test_two_processes_start_fresh_folder_at_once(scratch: Path, servers) -> None:
    data_dir = scratch / "fresh" / "pgdata"  # neither the folder nor its parent exists yet
    out_dir = scratch / "reports"
    out_dir.mkdir()
    go_at = time.time() + 1.5  # both interpreters are up and have imported by then
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(data_dir), str(go_at), str(out_dir), name],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name in ("a", "b")
    ]
    for child in children:
        output, _ = child.communicate(timeout=60)
        assert child.returncode == 0, output

    reports = [json.loads((out_dir / f"{name}.json").read_text()) for name in ("a", "b")]
    assert reports[0] == reports[1]  # one server: same DSN, postmaster and start time
    assert not _is_running(data_dir)  # the last of the two stopped it

    # The folder is intact: it starts again and serves queries.
    assert (await _server_facts(servers(data_dir).start()))[1] == 1


async def test_restarts_after_postmaster_is_killed(scratch: Path, servers) -> None:
    data_dir = scratch / "pgdata"
    server = servers(data_dir)
    dsn = server.start()
    old_pid = server.pid
    assert old_pid is not None

    os.kill(old_pid, signal.SIGKILL)
    _wait_until_dead(old_pid)
    assert (data_dir / "postmaster.pid").exists()  # stale

    assert server.start() == dsn
    assert server.pid != old_pid
    assert (await _server_facts(dsn))[1] == 1

    # Stopping a server that was killed (and is maybe not yet reaped) neither
    # hangs nor leaves anything running.
    new_pid = server.pid
    os.kill(new_pid, signal.SIGKILL)
    _wait_until_dead(new_pid)
    began = time.monotonic()
    server.stop()
    assert time.monotonic() - began < 20
    assert not psutil.pid_exists(new_pid)


_CRASHING_CHILD = textwrap.dedent(
    """
    import os, signal, sys

    from storage.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(sys.argv[1])
    server.start()
    print(server.pid, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # die without stop(), leaving a stale claim
    """
)


async def test_claim_of_a_crashed_process_does_not_keep_the_server_alive(
    scratch: Path, servers
) -> None:
    data_dir = scratch / "pgdata"
    child = subprocess.run(
        [sys.executable, "-c", _CRASHING_CHILD, str(data_dir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    orphan_pid = int(child.stdout.strip())

    server = servers(data_dir)
    server.start()
    assert server.pid == orphan_pid  # reused the orphaned server
    server.stop()
    assert not _is_running(data_dir)


async def test_open_server_starts_embedded_without_dsn(scratch: Path) -> None:
    data_dir = scratch / "pgdata"
    with open_server(DatabaseConfig(data_dir=data_dir)) as dsn:
        assert _is_running(data_dir)
        assert (await _server_facts(dsn))[1] == 1
    assert not _is_running(data_dir)
