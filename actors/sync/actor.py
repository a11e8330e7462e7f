"""The Ray actor of the sync component: its service with Ray's options."""

from __future__ import annotations

from actors.actor_base import make_actor
from actors.sync.service import SyncService

SyncActor = make_actor(SyncService, "sync")
