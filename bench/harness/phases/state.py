"""What the phases share: the server, the client, the scale, the users and rooms made so far."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from bench.harness.client import Account, MatrixClient
from bench.harness.measure import PhaseResult, Server
from bench.harness.phases.scale import Scale

# No presence, no account data: the timelines are what is measured.
QUIET = {"presence": {"types": []}, "account_data": {"types": []}}


@dataclass
class Workload:
    server: Server
    client: MatrixClient
    scale: Scale
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    users: list[Account] = field(default_factory=list)
    rooms: list[str] = field(default_factory=list)
    # sender index (0-based among the senders) -> the rooms that sender is in
    sender_rooms: dict[int, list[str]] = field(default_factory=dict)
    results: list[PhaseResult] = field(default_factory=list)

    @property
    def reader(self) -> Account:
        return self.users[0]

    @property
    def receiver(self) -> Account:
        return self.users[1]

    def sender(self, i: int) -> Account:
        return self.users[2 + i % self.scale.senders]
