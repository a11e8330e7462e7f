"""Services of the ephemeral components on the test database, with a recording router and a fake clock."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import pytest

from actors.context import Context
from dendray.config import Config
from protocol.signing import generate_signing_key
from sharding.hashing import shard_of


class RecordingRouter:
    """Records fire-and-forget notifications; answers nothing else."""

    def __init__(self, shards: int = 1) -> None:
        self.shards = shards
        self.notified: list[tuple[str, int, str, tuple[Any, ...]]] = []

    def shard_count(self, component: str) -> int:
        return self.shards

    def shard_for(self, component: str, key: str) -> int:
        return shard_of(key, self.shards)

    def notify(self, component: str, shard: int, method: str, *args: Any) -> None:
        self.notified.append((component, shard, method, args))

    def woken(self, stream: str) -> dict[str, int]:
        """user -> highest position of `stream` notifications they got."""
        out: dict[str, int] = {}
        for component, _, method, args in self.notified:
            if component == "sync" and method == "on_stream" and args[0] == stream:
                for user in args[2]:
                    out[user] = max(out.get(user, 0), args[1])
        return out

    async def call(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"unexpected call {args}")


class FakeClock:
    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self.ms = start_ms

    def __call__(self) -> int:
        return self.ms

    def us(self) -> int:
        return self.ms * 1000

    def advance(self, ms: int) -> None:
        self.ms += ms


@pytest.fixture
def router() -> RecordingRouter:
    return RecordingRouter()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_ctx(db_pool, router) -> Callable[..., Context]:
    def make(**presence: Any) -> Context:
        config = Config(server_name="test.local")
        for key, value in presence.items():
            setattr(config.presence, key, value)
        return Context(config=config, pool=db_pool, router=router,  # type: ignore[arg-type]
                       signing_key=generate_signing_key("t1"))

    return make


def new_user(name: str = "u") -> str:
    return f"@{name}{secrets.token_hex(4)}:test.local"


async def join(pool: Any, room_id: str, *users: str) -> None:
    """Make users joined members of a room in current_state (what the room server would write)."""
    for user in users:
        await pool.execute(
            "INSERT INTO current_state (room_id, type, state_key, event_id, membership)"
            " VALUES ($1, 'm.room.member', $2, $3, 'join')",
            room_id, user, f"${secrets.token_hex(8)}",
        )


def new_room() -> str:
    return f"!{secrets.token_hex(6)}:test.local"
