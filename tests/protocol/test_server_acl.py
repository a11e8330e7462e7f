"""Server ACLs against the rules of the m.room.server_acl schema."""

from __future__ import annotations

import pytest

from protocol.server_acl import host_of, server_allowed

ACL = {"allow": ["*"], "deny": ["*.evil.com", "evil.com", "b?d.org"], "allow_ip_literals": False}


@pytest.mark.parametrize(("server", "ok"), [
    ("good.org", True),
    ("evil.com", False),
    ("evil.com:8448", False),
    ("sub.evil.com:1234", False),
    ("notevil.com", True),
    ("bad.org", False),
    ("baad.org", True),
    ("1.2.3.4", False),
    ("[::1]:8448", False),
])
def test_rules_in_order(server: str, ok: bool) -> None:
    assert server_allowed(server, ACL) is ok


def test_no_acl_allows_and_no_allow_list_denies() -> None:
    assert server_allowed("any.org", None)
    assert not server_allowed("any.org", {"deny": []})
    assert server_allowed("1.2.3.4", {"allow": ["*"]})
    assert server_allowed("1.2.3.4", {"allow": ["*"], "allow_ip_literals": "no"})


def test_port_is_not_compared() -> None:
    assert host_of("example.org:8448") == "example.org"
    assert host_of("[::1]:80") == "[::1]"
    assert server_allowed("example.org:1", {"allow": ["example.org"]})
