"""The Ray actor of the keys component: its service with Ray's options."""

from __future__ import annotations

from actors.actor_base import make_actor
from actors.keys.service import KeysService

KeysActor = make_actor(KeysService, "keys")
