"""Actor names: `<component>-<shard>`, in one Ray namespace, so any process finds them."""

from __future__ import annotations

NAMESPACE = "dendray"


def actor_name(component: str, shard: int) -> str:
    return f"{component}-{shard}"
