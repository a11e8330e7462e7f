"""The Ray actor of the receipts component: its service with Ray's options."""

from __future__ import annotations

from actors.actor_base import make_actor
from actors.receipts.service import ReceiptsService

ReceiptsActor = make_actor(ReceiptsService, "receipts")
