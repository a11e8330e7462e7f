"""Starting and stopping a whole server: database, Ray, actor pools, Serve.

`dendray run` and the test suite both go through `start_server`; `serve
deploy` goes through `prepare` (via `ingress.app.build_app`). One code path
for a laptop and a cluster: only where PostgreSQL comes from differs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import ray
from ray import serve

from actors.federation_listener.control import (
    ensure_federation_listener,
    remove_federation_listener,
)
from actors.pools import ensure_pools, remove_pools
from dendray.config import Config, load_config
from sharding.names import NAMESPACE
from storage.databases import ensure_database
from storage.embedded import EmbeddedPostgres
from storage.migrations import apply_migrations
from storage.pool import connect

log = logging.getLogger("dendray")

APP_NAME = "dendray"


async def _prepare_database(server_dsn: str, database: str) -> str:
    dsn = await ensure_database(server_dsn, database)
    conn = await connect(dsn)
    try:
        await apply_migrations(conn)
    finally:
        await conn.close()
    return dsn


def prepare(config: Config | str | Path, *, dsn: str | None = None) -> Config:
    """Resolve the database (create, migrate) and make sure the actor pools exist.

    `dsn` names a PostgreSQL server; without one the config's DSN is used.
    The returned config carries the application database's DSN for the actors.
    """
    if not isinstance(config, Config):
        config = load_config(config)
    server_dsn = dsn or config.database.dsn
    if not server_dsn:
        raise RuntimeError("no database: set database.dsn, or start the embedded one first")
    config.database.dsn = asyncio.run(_prepare_database(server_dsn, config.database.database))
    ensure_pools(config.to_dict())
    ensure_federation_listener(config.to_dict())
    return config


@dataclass
class RunningServer:
    config: Config
    client_url: str
    embedded: EmbeddedPostgres | None = None
    owns_ray: bool = False
    _stopped: bool = field(default=False, repr=False)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        try:
            self._stop_serve_and_actors()
        finally:
            try:
                if self.owns_ray:
                    ray.shutdown()
            finally:
                if self.embedded is not None:
                    self.embedded.stop()

    def restart(self, while_stopped: Callable[[], None] | None = None) -> None:
        """Stop Serve and every actor, then start them again on the same database.

        Ray itself stays up: a driver cannot re-join a Ray it shut down in the
        same process. All actor memory is still lost, which is what matters.
        `while_stopped` runs in between (e.g. to lose a search index folder).
        """
        self._stop_serve_and_actors()
        if while_stopped is not None:
            while_stopped()
        fresh = start_server(self.config, ready_timeout=120.0)
        self.client_url = fresh.client_url

    def _stop_serve_and_actors(self) -> None:
        try:
            serve.delete(APP_NAME)
            serve.shutdown()
        finally:
            try:
                remove_federation_listener()
            finally:
                remove_pools(self.config.to_dict())


def start_server(
    config: Config, *, ray_address: str | None = None, ready_timeout: float = 120.0
) -> RunningServer:
    """Start everything and return once the client API answers."""
    from ingress.app import bind_ingress

    embedded = None
    if not config.database.dsn:
        embedded = EmbeddedPostgres(Path(config.data_dir) / "postgres")
        config.database.dsn = embedded.start()
    owns_ray = not ray.is_initialized()
    if owns_ray:
        ray.init(address=ray_address, namespace=NAMESPACE, include_dashboard=False,
                 logging_level=logging.WARNING)
    running = RunningServer(config, "", embedded=embedded, owns_ray=owns_ray)
    try:
        prepare(config)
        listen = config.listen
        serve.start(http_options={
            "host": listen.bind_address, "port": listen.client_port,
            "request_timeout_s": config.limits.max_sync_timeout_ms / 1000 + 60,
        })
        serve.run(bind_ingress(config), name=APP_NAME, route_prefix="/")
        host = "127.0.0.1" if listen.bind_address in ("0.0.0.0", "::") else listen.bind_address
        running.client_url = f"http://{host}:{listen.client_port}"
        _wait_until_answering(running.client_url, ready_timeout)
    except BaseException:
        running.stop()
        raise
    return running


def _wait_until_answering(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/_matrix/client/versions", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not answer at {url} within {timeout:.0f}s")
        time.sleep(0.5)
