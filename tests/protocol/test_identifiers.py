"""Identifier grammar from the appendices and the room versions' ID formats."""

from __future__ import annotations

import pytest

from protocol.identifiers import (
    InvalidIdentifier,
    is_compliant_user_id,
    is_ip_literal,
    is_valid_event_id,
    is_valid_key_id,
    is_valid_localpart_for_registration,
    is_valid_room_alias,
    is_valid_room_id,
    is_valid_server_name,
    is_valid_user_id,
    localpart_of,
    parse_key_id,
    parse_room_alias,
    parse_server_name,
    parse_user_id,
    server_name_of,
)
from protocol.room_versions import KNOWN_ROOM_VERSIONS

V = KNOWN_ROOM_VERSIONS
NOT_STRINGS = [None, 1, b"@a:b", ["@a:b"], {"@a": "b"}]

# --- server names -----------------------------------------------------------


@pytest.mark.parametrize(
    "name, host, port",
    [
        # The appendix's examples of valid server names.
        ("matrix.org", "matrix.org", None),
        ("matrix.org:8888", "matrix.org", 8888),
        ("1.2.3.4", "1.2.3.4", None),
        ("1.2.3.4:1234", "1.2.3.4", 1234),
        ("[1234:5678::abcd]", "[1234:5678::abcd]", None),
        ("[1234:5678::abcd]:5678", "[1234:5678::abcd]", 5678),
        # More of the grammar.
        ("localhost", "localhost", None),
        ("localhost:1", "localhost", 1),
        ("example.com:65535", "example.com", 65535),
        ("MATRIX.ORG", "MATRIX.ORG", None),  # allowed, though not recommended
        ("xn--bcher-kva.example", "xn--bcher-kva.example", None),
        ("a-b.c-d.e", "a-b.c-d.e", None),
        ("0.0.0.0", "0.0.0.0", None),
        ("255.255.255.255:80", "255.255.255.255", 80),
        ("[::1]", "[::1]", None),
        ("[::]:8448", "[::]", 8448),
        ("[2001:DB8::1]", "[2001:DB8::1]", None),
        ("[::ffff:1.2.3.4]", "[::ffff:1.2.3.4]", None),
        ("[1:2:3:4:5:6:7:8]", "[1:2:3:4:5:6:7:8]", None),
        ("a" * 255, "a" * 255, None),
        ("1.2.3.4.5", "1.2.3.4.5", None),  # not an IPv4 shape, so a DNS name
    ],
)
def test_valid_server_names(name: str, host: str, port: int | None) -> None:
    assert is_valid_server_name(name)
    assert parse_server_name(name) == (host, port)


@pytest.mark.parametrize(
    "name",
    [
        "",
        ":8448",
        "matrix.org:",
        "matrix.org:0",
        "matrix.org:65536",
        "matrix.org:123456",
        "matrix.org:-1",
        "matrix.org:80a",
        "matrix.org:8448:1",
        "matrix.org:８０",  # fullwidth digits are not DIGIT
        "exa_mple.com",
        "exa mple.com",
        "example.com/",
        "ex@mple.com",
        "bücher.example",
        "a" * 256,
        "256.1.1.1",
        "1.2.3.999",
        "1.2.3.4:0",
        "1234:5678::abcd",  # IPv6 without brackets
        "[1234:5678::abcd",
        "1234:5678::abcd]",
        "[]",
        "[:]",
        "[::1]x",
        "[::1]:",
        "[::1]:99999",
        "[1:2:3:4:5:6:7:8:9]",
        "[::g]",
        "[fe80::1%eth0]",
        "[1.2.3.4]",
        "[::1] ",
        " matrix.org",
        "matrix.org\n",
        "matrix.org\x00",
    ],
)
def test_invalid_server_names(name: str) -> None:
    assert not is_valid_server_name(name)
    with pytest.raises(InvalidIdentifier):
        parse_server_name(name)


@pytest.mark.parametrize("value", NOT_STRINGS)
def test_server_name_of_non_string(value: object) -> None:
    assert not is_valid_server_name(value)
    with pytest.raises(InvalidIdentifier):
        parse_server_name(value)


@pytest.mark.parametrize(
    "host, literal",
    [("1.2.3.4", True), ("[::1]", True), ("matrix.org", False), ("1.2.3.4.5", False)],
)
def test_is_ip_literal(host: str, literal: bool) -> None:
    assert is_ip_literal(host) is literal


# --- user IDs ---------------------------------------------------------------

# The 255-byte limit counts the sigil and the domain.
_MAX_USER = "@" + "a" * (255 - len("@:example.org")) + ":example.org"


@pytest.mark.parametrize(
    "user_id",
    [
        "@alice:example.org",
        "@john.doe:example.com",
        "@a:b",
        "@0-9._=/+az:matrix.org",
        "@alice:matrix.org:8448",
        "@alice:1.2.3.4",
        "@alice:[1234:5678::abcd]:5678",
        _MAX_USER,
    ],
)
def test_valid_user_ids_both_grammars(user_id: str) -> None:
    assert len(_MAX_USER.encode()) == 255
    assert is_valid_user_id(user_id)
    assert is_valid_user_id(user_id, historical=False)
    assert is_compliant_user_id(user_id)


@pytest.mark.parametrize(
    "user_id",
    [
        "@Alice:example.org",  # upper case
        "@alice!:example.org",
        "@alice smith:example.org",
        "@:example.org",  # empty localpart
        "@ålice:example.org",
        "@\u0001:example.org",
        "@😀:example.org",
        "@a*b:example.org",
        "@a#b:example.org",
        "@" + "é" * 121 + ":example.org",  # exactly 255 bytes
    ],
)
def test_historical_user_ids(user_id: str) -> None:
    # Accepted from federation, not valid for new users.
    assert is_valid_user_id(user_id)
    assert is_valid_user_id(user_id, historical=True)
    assert not is_valid_user_id(user_id, historical=False)


@pytest.mark.parametrize(
    "user_id, compliant",
    [
        ("@Alice:example.org", True),
        ("@a!b~c:example.org", True),
        ("@:example.org", False),
        ("@alice smith:example.org", False),
        ("@ålice:example.org", False),
        ("@\x7f:example.org", False),
    ],
)
def test_compliant_user_ids(user_id: str, compliant: bool) -> None:
    assert is_compliant_user_id(user_id) is compliant


@pytest.mark.parametrize(
    "user_id",
    [
        "",
        "@",
        "alice:example.org",  # no sigil
        "#alice:example.org",
        "@alice",  # no domain
        "@alice:",
        "@alice:exa_mple.org",
        "@alice:example.org:0",
        "@alice:example.org:99999",
        "@a\x00b:example.org",  # NUL
        "@a\ud800:example.org",  # lone surrogate
        _MAX_USER[:1] + "a" + _MAX_USER[1:],  # 256 bytes
        "@" + "é" * 122 + ":example.org",  # 135 characters, but 257 bytes
    ],
)
@pytest.mark.parametrize("historical", [True, False])
def test_invalid_user_ids(user_id: str, historical: bool) -> None:
    assert not is_valid_user_id(user_id, historical=historical)
    with pytest.raises(InvalidIdentifier):
        parse_user_id(user_id, historical=historical)


def test_user_id_with_colon_in_localpart_is_split_at_first_colon() -> None:
    # "@a:b:c" is localpart "a" on server "b:c", which is not a valid port.
    assert not is_valid_user_id("@a:b:c")
    assert parse_user_id("@a:b:8448") == ("a", "b:8448")


@pytest.mark.parametrize("value", NOT_STRINGS)
def test_user_id_non_strings(value: object) -> None:
    assert not is_valid_user_id(value)
    assert not is_compliant_user_id(value)


def test_parse_user_id_and_localpart() -> None:
    assert parse_user_id("@alice:example.org") == ("alice", "example.org")
    assert parse_user_id("@:example.org") == ("", "example.org")
    assert localpart_of("@Alice:[::1]:80") == "Alice"
    with pytest.raises(InvalidIdentifier):
        parse_user_id("@Alice:example.org", historical=False)
    with pytest.raises(InvalidIdentifier):
        localpart_of("!room:example.org")


@pytest.mark.parametrize(
    "localpart, ok",
    [
        ("alice", True),
        ("a", True),
        ("0123456789", True),
        ("a-b.c=d_e/f+g", True),
        ("", False),
        ("Alice", False),
        ("al ice", False),
        ("alice:", False),
        ("ålice", False),
        ("a*", False),
        ("a\n", False),
        (None, False),
    ],
)
def test_localpart_for_registration(localpart: object, ok: bool) -> None:
    assert is_valid_localpart_for_registration(localpart) is ok


def test_localpart_for_registration_length_with_server() -> None:
    server = "example.org"
    longest = "a" * (255 - len("@:") - len(server))
    assert is_valid_localpart_for_registration(longest, server_name=server)
    assert not is_valid_localpart_for_registration(longest + "a", server_name=server)


# --- room IDs ---------------------------------------------------------------

V12_ROOM_ID = "!Nhcu5BS-UMnFX7hBVfVSoXiD7OgH6iRT-xyIuqDnpYQ"  # pdu_v12 schema example
_MAX_ROOM = "!" + "x" * (255 - len("!:example.org")) + ":example.org"


@pytest.mark.parametrize(
    "room_id",
    [
        "!abc123:matrix.org",
        "!x:domain",
        "!r:domain",
        "!ABCdef012:example.org:8448",
        "!a b\u0001é😀!:example.org",  # any scalar value but ":" and NUL
        "!opaque:[::1]",
        _MAX_ROOM,
    ],
)
@pytest.mark.parametrize("version", [None, "1", "3", "10", "11"])
def test_valid_legacy_room_ids(room_id: str, version: str | None) -> None:
    rv = V[version] if version else None
    assert is_valid_room_id(room_id, rv)
    assert not is_valid_room_id(room_id, V["12"])


@pytest.mark.parametrize(
    "room_id",
    [
        "",
        "!",
        "!abc",
        "abc:matrix.org",
        "$abc:matrix.org",
        "!:matrix.org",
        "!abc:",
        "!abc:bad_server",
        "!a\x00b:matrix.org",
        "!a\udc00:matrix.org",
        "!" + "x" + _MAX_ROOM[1:],
        V12_ROOM_ID,  # no server name: only valid in v12
    ],
)
@pytest.mark.parametrize("version", ["1", "4", "11"])
def test_invalid_legacy_room_ids(room_id: str, version: str) -> None:
    assert not is_valid_room_id(room_id, V[version])


@pytest.mark.parametrize(
    "room_id, ok",
    [
        (V12_ROOM_ID, True),
        ("!" + "A" * 43, True),
        ("!" + "-_09azAZ" * 5 + "abc", True),
        ("!" + "A" * 42, False),
        ("!" + "A" * 44, False),
        ("!" + "A" * 42 + "+", False),  # standard alphabet, not URL-safe
        ("!" + "A" * 42 + "/", False),
        ("!" + "A" * 42 + "=", False),
        ("!" + "A" * 41 + "==", False),
        ("$" + "A" * 43, False),  # the create event's ID, not the room ID
        ("!" + "A" * 43 + ":example.org", False),
        ("!abc123:matrix.org", False),
        (None, False),
    ],
)
def test_v12_room_ids(room_id: object, ok: bool) -> None:
    assert is_valid_room_id(room_id, V["12"]) is ok
    if ok:
        assert is_valid_room_id(room_id)  # valid in *some* version


# --- event IDs --------------------------------------------------------------

V3_EVENT_IDS = [
    "$acR1l0raoZnm60CBwAVgqbZqoO/mYU81xysh1u7XcJk",  # room v3 spec examples
    "$CD66HAED5npg6074c6pDtLKalHjVfYb2q4Q3LZgrW6o",
    "$" + "+" * 43,
]
V4_EVENT_IDS = [
    "$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg",  # room v4 spec example
    "$" + "_" * 43,
]
BOTH_HASH_FORMATS = ["$" + "A" * 43, "$CD66HAED5npg6074c6pDtLKalHjVfYb2q4Q3LZgrW6o"]
V1_EVENT_IDS = [
    "$a4ecee13e2accdadf56c1025:example.com",
    "$0:domain",
    "$abc123:matrix.org:8448",
    "$" + "x" * (255 - len("$:example.org")) + ":example.org",
]


@pytest.mark.parametrize("event_id", V1_EVENT_IDS)
def test_v1_event_ids(event_id: str) -> None:
    for v in ("1", "2"):
        assert is_valid_event_id(event_id, V[v])
    for v in ("3", "4", "11", "12"):
        assert not is_valid_event_id(event_id, V[v])
    assert is_valid_event_id(event_id)


@pytest.mark.parametrize("event_id", V3_EVENT_IDS)
def test_v3_event_ids(event_id: str) -> None:
    assert is_valid_event_id(event_id, V["3"])
    assert event_id in BOTH_HASH_FORMATS or not is_valid_event_id(event_id, V["4"])
    assert not is_valid_event_id(event_id, V["1"])
    assert is_valid_event_id(event_id)


@pytest.mark.parametrize("event_id", V4_EVENT_IDS)
@pytest.mark.parametrize("version", ["4", "5", "6", "7", "8", "9", "10", "11", "12"])
def test_v4_event_ids(event_id: str, version: str) -> None:
    assert is_valid_event_id(event_id, V[version])
    assert not is_valid_event_id(event_id, V["3"])
    assert not is_valid_event_id(event_id, V["1"])


@pytest.mark.parametrize("event_id", BOTH_HASH_FORMATS)
def test_hash_ids_in_the_shared_alphabet(event_id: str) -> None:
    assert is_valid_event_id(event_id, V["3"])
    assert is_valid_event_id(event_id, V["4"])


@pytest.mark.parametrize(
    "event_id",
    [
        "",
        "$",
        "$:example.org",
        "$abc:",
        "$abc:bad_server",
        "$a\x00:example.org",
        "$" + "x" * (256 - len("$:example.org")) + ":example.org",  # 256 bytes
        "$" + "A" * 42,
        "$" + "A" * 44,
        "$" + "A" * 42 + "=",
        "$" + "A" * 42 + "*",
        "$" + "A" * 42 + "\n",
        "!" + "A" * 43,
        "A" * 44,
        "$URLsafe-base64EncodedHash",
        None,
        42,
    ],
)
@pytest.mark.parametrize("version", [None, "1", "3", "4", "12"])
def test_invalid_event_ids(event_id: object, version: str | None) -> None:
    assert not is_valid_event_id(event_id, V[version] if version else None)


# --- room aliases -----------------------------------------------------------


@pytest.mark.parametrize(
    "alias, ok",
    [
        ("#somewhere:example.org", True),
        ("#room_alias:matrix.org:8448", True),
        ("#Ünïcödé 😀 !$:example.org", True),
        ("#a:[::1]", True),
        ("#" + "a" * (255 - len("#:example.org")) + ":example.org", True),
        ("#" + "a" * (256 - len("#:example.org")) + ":example.org", False),
        ("#:example.org", False),
        ("#alias", False),
        ("#alias:", False),
        ("#alias:bad_server", False),
        ("#a\x00b:example.org", False),
        ("#a\ud800:example.org", False),
        ("@alias:example.org", False),
        ("alias:example.org", False),
        (None, False),
    ],
)
def test_room_aliases(alias: object, ok: bool) -> None:
    assert is_valid_room_alias(alias) is ok
    if ok:
        local, server = parse_room_alias(alias)
        assert f"#{local}:{server}" == alias
    else:
        with pytest.raises(InvalidIdentifier):
            parse_room_alias(alias)


# --- key IDs ----------------------------------------------------------------


@pytest.mark.parametrize(
    "key_id, parts",
    [
        ("ed25519:abc_123", ("ed25519", "abc_123")),
        ("ed25519:1", ("ed25519", "1")),
        ("ed25519:0ldK3y", ("ed25519", "0ldK3y")),
        ("ed25519:a_XJzW", ("ed25519", "a_XJzW")),
        ("curve25519:AAAA", ("curve25519", "AAAA")),
    ],
)
def test_valid_key_ids(key_id: str, parts: tuple[str, str]) -> None:
    assert is_valid_key_id(key_id)
    assert parse_key_id(key_id) == parts


@pytest.mark.parametrize(
    "key_id",
    [
        "",
        "ed25519",
        "ed25519:",
        ":abc",
        "ed25519:abc:def",
        "ed25519:ab-c",
        "ed25519:ab.c",
        "ed25519:ab/c",
        "ed25519:ab+c",
        "ed25519:ab c",
        "ed 25519:abc",
        "ed25519:abc\n",
        "ed25519:abç",
        None,
    ],
)
def test_invalid_key_ids(key_id: object) -> None:
    assert not is_valid_key_id(key_id)
    with pytest.raises(InvalidIdentifier):
        parse_key_id(key_id)


# --- server_name_of ---------------------------------------------------------


@pytest.mark.parametrize(
    "identifier, server",
    [
        ("@alice:example.org", "example.org"),
        ("@:example.org", "example.org"),
        ("@Alice:example.org:8448", "example.org:8448"),
        ("!room:[::1]:80", "[::1]:80"),
        ("#alias:1.2.3.4", "1.2.3.4"),
        ("$event:matrix.org", "matrix.org"),
    ],
)
def test_server_name_of(identifier: str, server: str) -> None:
    assert server_name_of(identifier) == server


@pytest.mark.parametrize(
    "identifier",
    [
        V12_ROOM_ID,
        V4_EVENT_IDS[0],
        V3_EVENT_IDS[0],
        "alice:example.org",
        "%alice:example.org",
        "@alice:bad_server",
        "!:example.org",
        "",
        None,
    ],
)
def test_server_name_of_rejects(identifier: object) -> None:
    with pytest.raises(InvalidIdentifier):
        server_name_of(identifier)
