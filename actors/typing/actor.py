"""The Ray actor of the typing component: its service with Ray's options."""

from __future__ import annotations

from actors.actor_base import make_actor
from actors.typing.service import TypingService

TypingActor = make_actor(TypingService, "typing")
