"""The Ray actor of the server keys component: its service with Ray's options."""

from __future__ import annotations

from actors.actor_base import make_actor
from actors.server_keys.service import ServerKeysService

ServerKeysActor = make_actor(ServerKeysService, "server_keys")
