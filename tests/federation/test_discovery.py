"""Server name resolution (server-server "Resolving server names"), with fake DNS and .well-known."""

from __future__ import annotations

import pytest

from federation.discovery import (
    WELL_KNOWN_DEFAULT_S,
    WELL_KNOWN_ERROR_S,
    WELL_KNOWN_MAX_S,
    DiscoveryError,
    ServerAddress,
    ServerDiscovery,
    SrvRecord,
    WellKnownResult,
    cache_time,
    order_srv,
    parse_well_known,
)


class FakeResolver:
    def __init__(self, srv: dict[str, list[SrvRecord]] | None = None) -> None:
        self.srv_records = srv or {}
        self.srv_asked: list[str] = []

    async def srv(self, name: str) -> list[SrvRecord]:
        self.srv_asked.append(name)
        return self.srv_records.get(name, [])

    async def addresses(self, host: str) -> list[str]:
        return ["203.0.113.9"]


class FakeWellKnown:
    def __init__(self, answers: dict[str, WellKnownResult | Exception]) -> None:
        self.answers = answers
        self.fetched: list[str] = []

    async def __call__(self, host: str) -> WellKnownResult:
        self.fetched.append(host)
        answer = self.answers.get(host, WellKnownResult(None, WELL_KNOWN_ERROR_S))
        if isinstance(answer, Exception):
            raise answer
        return answer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def discovery(srv: dict | None = None, well_known: dict | None = None,
              clock: Clock | None = None) -> tuple[ServerDiscovery, FakeResolver, FakeWellKnown]:
    resolver, wk = FakeResolver(srv), FakeWellKnown(well_known or {})
    return ServerDiscovery(resolver, wk, clock=clock or Clock()), resolver, wk


async def test_ip_literal_uses_the_ip_and_default_port_without_lookups() -> None:
    d, resolver, wk = discovery()
    assert await d.resolve("1.2.3.4") == [ServerAddress("1.2.3.4", 8448, "1.2.3.4", "1.2.3.4")]
    assert await d.resolve("[2001:db8::1]:8449") == [
        ServerAddress("2001:db8::1", 8449, "[2001:db8::1]:8449", "2001:db8::1")]
    assert resolver.srv_asked == [] and wk.fetched == []


async def test_explicit_port_uses_the_host_name_without_well_known() -> None:
    d, resolver, wk = discovery()
    assert await d.resolve("example.org:1234") == [
        ServerAddress("example.org", 1234, "example.org:1234", "example.org")]
    assert resolver.srv_asked == [] and wk.fetched == []


async def test_well_known_delegation_to_ip_and_to_host_with_port() -> None:
    d, _, _ = discovery(well_known={
        "a.org": WellKnownResult("10.1.2.3", 60), "b.org": WellKnownResult("fed.b.org:443", 60)})
    assert await d.resolve("a.org") == [ServerAddress("10.1.2.3", 8448, "10.1.2.3", "10.1.2.3")]
    assert await d.resolve("b.org") == [ServerAddress("fed.b.org", 443, "fed.b.org:443", "fed.b.org")]


async def test_delegated_host_without_port_uses_srv_with_delegated_name_for_tls() -> None:
    d, resolver, _ = discovery(
        well_known={"c.org": WellKnownResult("matrix.c.org", 60)},
        srv={"_matrix-fed._tcp.matrix.c.org": [SrvRecord(10, 0, 8443, "box1.c.net")]})
    assert await d.resolve("c.org") == [ServerAddress("box1.c.net", 8443, "matrix.c.org", "matrix.c.org")]
    assert resolver.srv_asked == ["_matrix-fed._tcp.matrix.c.org"]


async def test_deprecated_srv_is_the_fallback_then_port_8448() -> None:
    d, resolver, _ = discovery(srv={"_matrix._tcp.d.org": [SrvRecord(0, 0, 9000, "old.d.org")]})
    assert await d.resolve("d.org") == [ServerAddress("old.d.org", 9000, "d.org", "d.org")]
    assert resolver.srv_asked == ["_matrix-fed._tcp.d.org", "_matrix._tcp.d.org"]
    assert await d.resolve("e.org") == [ServerAddress("e.org", 8448, "e.org", "e.org")]


async def test_new_srv_wins_over_deprecated_srv() -> None:
    d, _, _ = discovery(srv={"_matrix-fed._tcp.f.org": [SrvRecord(0, 0, 1, "new.f.org")],
                             "_matrix._tcp.f.org": [SrvRecord(0, 0, 2, "old.f.org")]})
    assert (await d.resolve("f.org"))[0].connect_host == "new.f.org"


async def test_well_known_failure_falls_back_and_is_cached_for_an_hour() -> None:
    clock = Clock()
    d, _, wk = discovery(well_known={"g.org": OSError("connection refused")}, clock=clock)
    assert await d.resolve("g.org") == [ServerAddress("g.org", 8448, "g.org", "g.org")]
    clock.now += WELL_KNOWN_ERROR_S - 1
    await d.resolve("g.org")
    assert wk.fetched == ["g.org"]
    clock.now += 2
    await d.resolve("g.org")
    assert wk.fetched == ["g.org", "g.org"]


async def test_well_known_answer_is_cached_for_its_lifetime() -> None:
    clock = Clock()
    d, _, wk = discovery(well_known={"h.org": WellKnownResult("h2.org:8448", 100)}, clock=clock)
    await d.resolve("h.org")
    clock.now += 99
    assert (await d.resolve("h.org"))[0].connect_host == "h2.org"
    assert wk.fetched == ["h.org"]
    clock.now += 2
    await d.resolve("h.org")
    assert wk.fetched == ["h.org", "h.org"]


async def test_invalid_server_names_are_refused() -> None:
    d, _, _ = discovery()
    for bad in ("", "exa mple.org", "host:0", "host:99999", "[::1"):
        with pytest.raises(DiscoveryError):
            await d.resolve(bad)


def test_parse_well_known() -> None:
    assert parse_well_known(200, b'{"m.server": "x.org:443"}', None) == WellKnownResult(
        "x.org:443", WELL_KNOWN_DEFAULT_S)
    assert parse_well_known(200, b'{"m.server": "x.org"}', "public, max-age=600").cache_s == 600
    for status, body in [(404, b'{"m.server": "x.org"}'), (200, b"not json"), (200, b"[]"),
                         (200, b"{}"), (200, b'{"m.server": 5}'), (200, b'{"m.server": "a b"}')]:
        assert parse_well_known(status, body, None) == WellKnownResult(None, WELL_KNOWN_ERROR_S)


def test_cache_time_is_capped_and_honours_no_store() -> None:
    assert cache_time(None) == WELL_KNOWN_DEFAULT_S
    assert cache_time("max-age=999999999") == WELL_KNOWN_MAX_S
    assert cache_time("no-store") == 0
    assert cache_time("s-maxage=5") == WELL_KNOWN_DEFAULT_S


def test_srv_order_by_priority_and_ignores_dot_target() -> None:
    records = [SrvRecord(20, 0, 1, "late"), SrvRecord(10, 5, 2, "a"),
               SrvRecord(10, 5, 3, "b"), SrvRecord(5, 0, 4, ".")]
    ordered = [r.target for r in order_srv(records)]
    assert ordered[-1] == "late" and set(ordered[:2]) == {"a", "b"} and "." not in ordered
