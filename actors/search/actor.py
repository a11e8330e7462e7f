"""The Ray actor of the search component: its service with Ray's options."""

from __future__ import annotations

from actors.actor_base import make_actor
from actors.search.service import SearchService

SearchActor = make_actor(SearchService, "search")
