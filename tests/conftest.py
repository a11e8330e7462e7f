"""Shared pytest fixtures for the whole suite."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from dendray.cli import main as init_main
from dendray.config import load_config
from dendray.server import RunningServer, start_server
from storage.databases import drop_database, ensure_database
from storage.embedded import EmbeddedPostgres
from storage.migrations import apply_migrations
from storage.pool import connect, create_pool
from tests.e2e_server import FEDERATION_PORT, SERVER_NAME, free_port

# ---------------------------------------------------------------------------
# Database fixtures (owned by storage/).
#
# One PostgreSQL server per test session: an embedded one in a temp folder,
# or the server named by DENDRAY_TEST_DSN (a DSN allowed to CREATE DATABASE).
# Each session works in its own freshly created, migrated database, dropped
# at the end, so parallel sessions against one external server don't collide.
# ---------------------------------------------------------------------------

TEST_DSN_ENV = "DENDRAY_TEST_DSN"

DatabaseFactory = Callable[[], Awaitable[str]]


def unique_database_name(prefix: str = "dendray_test") -> str:
    return f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"


@pytest.fixture(scope="session")
def pg_server_dsn() -> Iterator[str]:
    """DSN of the session's server (its maintenance database)."""
    external = os.environ.get(TEST_DSN_ENV)
    if external:
        yield external
        return
    # Not pytest's tmp_path: pytest resets /tmp/pytest-of-<user> to 0700 at each
    # session start, and as root postgres runs as another user who must be able
    # to traverse the parent folders.
    root = Path(tempfile.mkdtemp(prefix="dendray-pg-"))
    server = EmbeddedPostgres(root / "pgdata")
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
async def pg_dsn(pg_server_dsn: str) -> AsyncIterator[str]:
    """DSN of a fresh database for this session, with every migration applied."""
    name = unique_database_name()
    dsn = await ensure_database(pg_server_dsn, name)
    try:
        conn = await connect(dsn)
        try:
            await apply_migrations(conn)
        finally:
            await conn.close()
        yield dsn
    finally:
        await drop_database(pg_server_dsn, name)


@pytest.fixture
async def db_pool(pg_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """A small pool on the session's migrated database, closed after the test."""
    pool = await create_pool(pg_dsn, min_size=1, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def empty_database(pg_server_dsn: str) -> AsyncIterator[DatabaseFactory]:
    """Factory for fresh, unmigrated databases on the session's server, dropped after the test."""
    names: list[str] = []

    async def make() -> str:
        name = unique_database_name("dendray_empty")
        names.append(name)
        return await ensure_database(pg_server_dsn, name)

    try:
        yield make
    finally:
        for name in names:
            await drop_database(pg_server_dsn, name)


# ---------------------------------------------------------------------------
# The end-to-end server: one local Ray with Serve and the whole homeserver on
# the session's database, started once per test session. Tests talk HTTP to
# `server.client_url`.
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def server(pg_server_dsn: str) -> Iterator[RunningServer]:
    """A running dendray: open registration (and a token), no rate limits, 2 shards each.

    It federates on a closed test network (`init --test-federation`): its name
    is `tests.e2e_server.SERVER_NAME`, `127.0.0.1:<federation port>`, where
    its TLS listener answers with a self-signed certificate.
    """
    config_dir = Path(tempfile.mkdtemp(prefix="dendray-e2e-"))
    config_path = config_dir / "dendray.yaml"
    port = free_port()
    assert init_main([
        "init", "--config", str(config_path), "--server-name", SERVER_NAME,
        "--client-port", str(port), "--federation-port", str(FEDERATION_PORT),
        "--test-federation", "--open-registration", "--no-rate-limits",
        "--public-baseurl", f"http://127.0.0.1:{port}/",
    ]) == 0
    config = load_config(config_path)
    config.database.dsn = pg_server_dsn
    config.database.database = unique_database_name("dendray_e2e")
    config.shards = {"room_server": 2, "sync": 2, "accounts": 2, "search": 2}
    # So registration by token (m.login.registration_token) can be tested end to end.
    config.registration.tokens = ["e2e-registration-token"]
    running = start_server(config)
    try:
        yield running
    finally:
        running.stop()
        shutil.rmtree(config_dir, ignore_errors=True)


# ---------------------------------------------------------------------------
# A real Synapse on loopback as a federation peer (shared/tools), started on
# first use by a session that needs one, on free ports in a fresh folder.
# ---------------------------------------------------------------------------

SYNAPSE_SCRIPT = Path(__file__).resolve().parents[2] / "shared" / "tools" / "start_synapse_peer.sh"


@dataclass(frozen=True)
class SynapsePeer:
    server_name: str
    client_url: str
    fed_url: str
    dir: Path


@pytest.fixture(scope="session")
def synapse_peer() -> Iterator[SynapsePeer]:
    """A running Synapse that federates with the e2e server (certificates not verified).

    Skipped when Synapse cannot be installed or started here. The first run
    installs it into /tmp/synapse-fed-venv (a minute or two).
    """
    if not SYNAPSE_SCRIPT.exists():
        pytest.skip(f"no Synapse peer script at {SYNAPSE_SCRIPT}")
    folder = Path(tempfile.mkdtemp(prefix="dendray-synapse-"))
    fed_port, client_port = free_port(), free_port()
    # Beside the folder (--fresh empties it): Synapse publishes rooms in its
    # directory and serves that to other servers only when told to. Read once, at start.
    extra = folder.parent / f"{folder.name}.yaml"
    extra.write_text("allow_public_rooms_over_federation: true\n"
                     "room_list_publication_rules: [{action: allow}]\n")
    try:
        started = subprocess.run(
            ["bash", str(SYNAPSE_SCRIPT), "--fresh", "--dir", str(folder),
             "--fed-port", str(fed_port), "--client-port", str(client_port),
             "--extra-config", str(extra)],
            capture_output=True, text=True, timeout=900,
        )
    except subprocess.TimeoutExpired:
        _stop_synapse(folder)
        pytest.skip("Synapse did not start within 15 minutes")
    finally:
        extra.unlink(missing_ok=True)
    if started.returncode != 0 or "READY" not in started.stdout:
        _stop_synapse(folder)
        pytest.skip(f"Synapse could not be started: {started.stderr.strip()[-2000:]}")
    fields = dict(part.split("=", 1) for line in started.stdout.splitlines()
                  for part in line.split() if "=" in part)
    try:
        yield SynapsePeer(fields["SERVER_NAME"], fields["CLIENT_URL"], fields["FED_URL"], folder)
    finally:
        _stop_synapse(folder)
        shutil.rmtree(folder, ignore_errors=True)


def _stop_synapse(folder: Path) -> None:
    if (folder / "homeserver.pid").exists():
        subprocess.run(["bash", str(SYNAPSE_SCRIPT), "--stop", "--dir", str(folder)],
                       capture_output=True, timeout=60)
