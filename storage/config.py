"""Where the database lives: an external server (a DSN) or the embedded one (a folder)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Relative to the working directory of `dendray run`, as `make run` expects.
DEFAULT_DATA_DIR = Path("data/postgres")
DEFAULT_DATABASE = "dendray"


@dataclass(frozen=True)
class DatabaseConfig:
    """`dsn` set: connect to that PostgreSQL server. Unset: run the embedded one in `data_dir`.

    `dsn` names a server and a maintenance database that may create databases
    (e.g. `postgresql://user:pw@db:5432/postgres`); the homeserver's tables
    live in the database called `database` on that server.
    """

    dsn: str | None = None
    data_dir: Path = DEFAULT_DATA_DIR
    database: str = DEFAULT_DATABASE

    @property
    def is_embedded(self) -> bool:
        return self.dsn is None
