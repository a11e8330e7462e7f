"""The Ray actor of the presence component: its service with Ray's options."""

from __future__ import annotations

from actors.actor_base import make_actor
from actors.presence.service import PresenceService

PresenceActor = make_actor(PresenceService, "presence")
