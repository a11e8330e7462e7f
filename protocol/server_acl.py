"""Server ACLs (`m.room.server_acl`): may a server take part in a room?

Spec: the `m.room.server_acl` event schema (the five ordered rules) and the
appendices' glob-style matching (`*` any run of characters, `?` exactly one).
The port is never part of the comparison.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any


def host_of(server_name: str) -> str:
    """The server name without its port (an IPv6 literal keeps its brackets)."""
    if server_name.startswith("["):
        return server_name[: server_name.find("]") + 1] if "]" in server_name else server_name
    return server_name.rpartition(":")[0] if ":" in server_name else server_name


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@lru_cache(maxsize=1024)
def _glob(pattern: str) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


def _matches(host: str, patterns: Any) -> bool:
    if not isinstance(patterns, list):
        return False
    return any(isinstance(p, str) and _glob(p).fullmatch(host) for p in patterns)


def server_allowed(server_name: str, acl_content: Mapping[str, Any] | None) -> bool:
    """Whether `server_name` passes the ACL (`None`: the room has no ACL event)."""
    if acl_content is None:
        return True
    host = host_of(server_name)
    allow_ip = acl_content.get("allow_ip_literals")
    if allow_ip is False and _is_ip_literal(host):
        return False
    if _matches(host, acl_content.get("deny")):
        return False
    return _matches(host, acl_content.get("allow"))
