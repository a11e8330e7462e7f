"""The Ray actor of the room_server component: its service with Ray's options."""

from __future__ import annotations

from actors.actor_base import make_actor
from actors.room_server.service import RoomServerService

RoomServerActor = make_actor(RoomServerService, "room_server")
