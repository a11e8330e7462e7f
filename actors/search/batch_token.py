"""`next_batch` tokens of `/search`: where the next page starts.

A token holds the order it was made for, the cursor (the order value and
event ID of the last hit consumed, shown or not), how many hits were
consumed so far (a hint for skipping them), the searcher generation each
shard answered from (so ranked pages keep one snapshot), and for a group's
token the group it continues. It grants nothing: whatever it says, a search
only ever covers the caller's own rooms.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from protocol.errors import invalid_param
from search_index.query import ORDERS, Cursor


@dataclass(frozen=True)
class BatchToken:
    order: str
    cursor: Cursor
    served: int
    generations: dict[int, str] = field(default_factory=dict)
    # ("room_id" | "sender", value) for a token that continues one group.
    group: tuple[str, str] | None = None

    def encode(self) -> str:
        data: dict[str, Any] = {
            "o": self.order, "v": self.cursor.value, "e": self.cursor.event_id, "n": self.served,
            "g": {str(k): v for k, v in self.generations.items()},
        }
        if self.group is not None:
            data["k"] = list(self.group)
        raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def in_group(self, key: str, value: str) -> BatchToken:
        return BatchToken(self.order, self.cursor, self.served, self.generations, (key, value))


def decode(token: str) -> BatchToken:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        order, value, event_id, served = data["o"], data["v"], data["e"], data["n"]
        generations = {int(k): v for k, v in data["g"].items()}
        group = data.get("k")
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
        raise invalid_param("Invalid next_batch token") from None
    valid = (
        order in ORDERS
        and isinstance(value, int | float) and not isinstance(value, bool)
        and isinstance(event_id, str)
        and isinstance(served, int) and not isinstance(served, bool) and served >= 0
        and all(isinstance(g, str) for g in generations.values())
        and (group is None or (
            isinstance(group, list) and len(group) == 2
            and group[0] in ("room_id", "sender") and isinstance(group[1], str)
        ))
    )
    if not valid:
        raise invalid_param("Invalid next_batch token")
    return BatchToken(order, Cursor(value, event_id), served, generations,
                      tuple(group) if group is not None else None)
