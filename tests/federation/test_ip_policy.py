"""Which destinations federation may connect to."""

from __future__ import annotations

import pytest

from federation.ip_policy import is_allowed_address

REFUSED = [
    "127.0.0.1", "127.1.2.3", "::1", "10.0.0.1", "172.16.5.4", "192.168.1.1",
    "169.254.169.254", "100.64.0.1", "0.0.0.0", "::", "224.0.0.1", "255.255.255.255",
    "fe80::1", "fc00::1", "fd12:3456::1", "192.0.2.1", "198.51.100.7", "2001:db8::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "2002:7f00:1::", "ff02::1", "not-an-ip", "",
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", REFUSED)
def test_special_ranges_are_refused_by_default(address: str) -> None:
    assert not is_allowed_address(address, allow_private=False)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_allowed_address(address, allow_private=False)
    assert is_allowed_address(address, allow_private=True)


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.0.0.1", "192.168.1.1", "fe80::1"])
def test_private_addresses_are_allowed_on_a_test_network(address: str) -> None:
    assert is_allowed_address(address, allow_private=True)


@pytest.mark.parametrize("address", ["0.0.0.0", "224.0.0.1", "not-an-ip"])
def test_never_a_server_even_on_a_test_network(address: str) -> None:
    assert not is_allowed_address(address, allow_private=True)
