"""The Ray actor of the federation sender: its service with Ray's options."""

from __future__ import annotations

from actors.actor_base import make_actor
from actors.federation_sender.service import FederationSenderService

FederationSenderActor = make_actor(FederationSenderService, "federation_sender")
