"""The Ray actor of the accounts component: its service with Ray's options."""

from __future__ import annotations

from actors.accounts.service import AccountsService
from actors.actor_base import make_actor

AccountsActor = make_actor(AccountsService, "accounts")
