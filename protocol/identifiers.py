"""Matrix identifiers: server names, user IDs, room IDs, event IDs, aliases, key IDs.

The grammar is the appendices' "Identifier Grammar" plus the room versions'
event-ID and room-ID formats. `is_valid_*` never raises: anything that is not a
well-formed identifier (including non-strings) is simply invalid. The `parse_*`
functions and `server_name_of`/`localpart_of` raise InvalidIdentifier.

What we accept from federation is deliberately wider than what we create: the
historical user-ID grammar admits any code point but `:` and NUL, because real
rooms contain such senders; new local users must use the strict grammar.
"""

from __future__ import annotations

import ipaddress
import re

from protocol.room_versions import EventFormat, RoomVersion

# User IDs, room IDs, room aliases and event IDs, counted in UTF-8 bytes with
# the sigil and any domain (appendices; client-server "Size limits").
MAX_IDENTIFIER_BYTES = 255

_PORT = re.compile(r"[0-9]{1,5}")
# IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT
_IPV4_SHAPE = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")
# A host made only of digits and dots is an attempt at an IPv4 literal when it
# has the dotted-quad shape; the appendix requires each number to be <= 255.
_IPV6_CHARS = re.compile(r"[0-9A-Fa-f:.]{2,45}")
_DNS_NAME = re.compile(r"[0-9A-Za-z.\-]{1,255}")

# user_id_char = DIGIT / a-z / "-" / "." / "=" / "_" / "/" / "+"
_STRICT_LOCALPART = re.compile(r"[a-z0-9\-.=_/+]+")
# "Compliant" localparts: non-empty, U+0021..U+007E (`:` is excluded by parsing).
_COMPLIANT_LOCALPART = re.compile(r"[\x21-\x7e]+")
# Opaque localparts (historical user IDs, room IDs, aliases, v1 event IDs) may
# hold any Unicode scalar value except `:` and NUL; surrogates are not scalars.
_FORBIDDEN_IN_OPAQUE = re.compile("[\x00\ud800-\udfff]")

# Reference hashes are SHA-256 (32 bytes), i.e. 43 unpadded base64 characters.
_V3_EVENT_ID = re.compile(r"\$[A-Za-z0-9+/]{43}")  # room version 3: standard alphabet
_V4_EVENT_ID = re.compile(r"\$[A-Za-z0-9\-_]{43}")  # room versions 4+: URL-safe alphabet
_V12_ROOM_ID = re.compile(r"![A-Za-z0-9\-_]{43}")  # the create event's ID with `!`

# Server signing key IDs: "algorithm:version"; the version must match
# [a-zA-Z0-9_] (server-server "Publishing Keys"); we hold the algorithm to the same.
_KEY_ID = re.compile(r"([A-Za-z0-9_]+):([A-Za-z0-9_]+)")


class InvalidIdentifier(ValueError):
    """A string that is not a well-formed identifier of the expected kind."""


# --- server names -----------------------------------------------------------


def parse_server_name(s: object) -> tuple[str, int | None]:
    """Split a server name into (host, port); host keeps an IPv6 literal's brackets.

    Raises InvalidIdentifier unless `s` is `hostname [":" port]` with a port in
    1..65535 and a hostname that is a dotted-quad IPv4 literal, a bracketed
    RFC 3513 IPv6 literal, or a DNS name.
    """
    if not isinstance(s, str) or not s:
        raise InvalidIdentifier(f"invalid server name {s!r}")
    host, port_text = _split_host_port(s)
    if not _is_valid_host(host):
        raise InvalidIdentifier(f"invalid server name {s!r}")
    if port_text is None:
        return host, None
    return host, _parse_port(s, port_text)


def is_valid_server_name(s: object) -> bool:
    """Whether `s` is a valid server name (see `parse_server_name`)."""
    try:
        parse_server_name(s)
    except InvalidIdentifier:
        return False
    return True


def is_ip_literal(host: str) -> bool:
    """Whether a host from `parse_server_name` is an IP literal rather than a DNS name."""
    return host.startswith("[") or _IPV4_SHAPE.fullmatch(host) is not None


def _split_host_port(s: str) -> tuple[str, str | None]:
    if s.startswith("["):
        end = s.find("]")
        if end < 0:
            raise InvalidIdentifier(f"unterminated IPv6 literal in server name {s!r}")
        host, rest = s[: end + 1], s[end + 1 :]
        if not rest:
            return host, None
        if not rest.startswith(":"):
            raise InvalidIdentifier(f"invalid server name {s!r}")
        return host, rest[1:]
    # Outside brackets a hostname has no colon, so the first one starts the port.
    host, sep, port = s.partition(":")
    return host, port if sep else None


def _parse_port(s: str, port_text: str) -> int:
    if not _PORT.fullmatch(port_text) or not 1 <= int(port_text) <= 65535:
        raise InvalidIdentifier(f"invalid port in server name {s!r}")
    return int(port_text)


def _is_valid_host(host: str) -> bool:
    if host.startswith("["):
        return _is_valid_ipv6_literal(host[1:-1])
    if _IPV4_SHAPE.fullmatch(host):
        return all(int(octet) <= 255 for octet in host.split("."))
    return _DNS_NAME.fullmatch(host) is not None


def _is_valid_ipv6_literal(inner: str) -> bool:
    # The character check comes first: it excludes zone IDs ("%eth0") and any
    # non-ASCII digits that the ipaddress module would otherwise consider.
    if not _IPV6_CHARS.fullmatch(inner):
        return False
    try:
        ipaddress.IPv6Address(inner)
    except ValueError:
        return False
    return True


# --- shared helpers ---------------------------------------------------------


def _within_limit(s: str) -> bool:
    try:
        return len(s.encode("utf-8")) <= MAX_IDENTIFIER_BYTES
    except UnicodeEncodeError:  # lone surrogate: not a Unicode string at all
        return False


def _split(s: object, sigil: str) -> tuple[str, str] | None:
    """(localpart, server) of `sigil localpart ":" server` within the byte limit, else None.

    The first colon ends the localpart: localparts never contain one, while a
    server name may (port, IPv6 literal).
    """
    if not isinstance(s, str) or not s.startswith(sigil) or not _within_limit(s):
        return None
    local, sep, server = s[1:].partition(":")
    if not sep:
        return None
    return local, server


def _is_opaque_localpart(local: str, *, allow_empty: bool) -> bool:
    if not local and not allow_empty:
        return False
    return _FORBIDDEN_IN_OPAQUE.search(local) is None


def _is_valid_namespaced(s: object, sigil: str, *, allow_empty: bool = False) -> bool:
    """`sigil opaque ":" server_name` within the byte limit."""
    parts = _split(s, sigil)
    if parts is None:
        return False
    local, server = parts
    return _is_opaque_localpart(local, allow_empty=allow_empty) and is_valid_server_name(server)


# --- user IDs ---------------------------------------------------------------


def is_valid_localpart_for_registration(
    localpart: object, *, server_name: str | None = None
) -> bool:
    """Whether a new local user may have this localpart (the strict v1.8+ grammar).

    With `server_name`, also checks the whole user ID fits in 255 bytes.
    """
    if not isinstance(localpart, str) or not _STRICT_LOCALPART.fullmatch(localpart):
        return False
    if server_name is None:
        return True
    return len(localpart) + len(server_name.encode("utf-8")) + 2 <= MAX_IDENTIFIER_BYTES


def is_valid_user_id(s: object, *, historical: bool = True) -> bool:
    """Whether `s` is `@localpart:server_name` within 255 bytes.

    `historical` (the default, for anything received over federation) admits the
    historical localpart grammar: any Unicode scalar value except `:` and NUL,
    including the empty string. Without it the localpart must match the strict
    grammar (a-z, 0-9, `-._=/+`).
    """
    parts = _split(s, "@")
    if parts is None:
        return False
    local, server = parts
    if historical:
        local_ok = _is_opaque_localpart(local, allow_empty=True)
    else:
        local_ok = _STRICT_LOCALPART.fullmatch(local) is not None
    return local_ok and is_valid_server_name(server)


def is_compliant_user_id(s: object) -> bool:
    """Whether `s` is a valid user ID whose localpart is non-empty printable ASCII.

    The spec calls other (historical) user IDs non-compliant: they are accepted in
    events but SHOULD NOT be forwarded to clients outside an event's context.
    """
    parts = _split(s, "@")
    if parts is None or not is_valid_user_id(s):
        return False
    return _COMPLIANT_LOCALPART.fullmatch(parts[0]) is not None


def parse_user_id(s: object, *, historical: bool = True) -> tuple[str, str]:
    """(localpart, server_name) of a user ID; InvalidIdentifier if it is not one."""
    parts = _split(s, "@")
    if parts is None or not is_valid_user_id(s, historical=historical):
        raise InvalidIdentifier(f"invalid user ID {s!r}")
    return parts


def localpart_of(user_id: object) -> str:
    """The localpart of a (historical-grammar) user ID; InvalidIdentifier otherwise."""
    return parse_user_id(user_id)[0]


# --- room IDs, event IDs, aliases ---------------------------------------------


def is_valid_room_id(s: object, room_version: RoomVersion | None = None) -> bool:
    """Whether `s` is a room ID of `room_version` (of any version when None).

    Versions 1-11: `!opaque:server_name` within 255 bytes. Version 12: `!` and
    the 43 URL-safe unpadded base64 characters of the create event's reference
    hash, with no server name.
    """
    if room_version is None:
        return _is_v12_room_id(s) or _is_valid_namespaced(s, "!")
    if room_version.room_id_is_create_event_id:
        return _is_v12_room_id(s)
    return _is_valid_namespaced(s, "!")


def _is_v12_room_id(s: object) -> bool:
    return isinstance(s, str) and _V12_ROOM_ID.fullmatch(s) is not None


def is_valid_event_id(s: object, room_version: RoomVersion | None = None) -> bool:
    """Whether `s` is an event ID of `room_version` (of any version when None).

    Versions 1-2: `$opaque:server_name` within 255 bytes. Version 3: `$` and 43
    standard unpadded base64 characters. Versions 4+: `$` and 43 URL-safe
    unpadded base64 characters.
    """
    if not isinstance(s, str):
        return False
    if room_version is None:
        return any(_matches_event_format(s, f) for f in EventFormat)
    return _matches_event_format(s, room_version.event_format)


def _matches_event_format(s: str, event_format: EventFormat) -> bool:
    if event_format is EventFormat.V1:
        return _is_valid_namespaced(s, "$")
    if event_format is EventFormat.V2:
        return _V3_EVENT_ID.fullmatch(s) is not None
    return _V4_EVENT_ID.fullmatch(s) is not None


def is_valid_room_alias(s: object) -> bool:
    """Whether `s` is `#alias:server_name` within 255 bytes (alias: no `:` or NUL)."""
    return _is_valid_namespaced(s, "#")


def parse_room_alias(s: object) -> tuple[str, str]:
    """(alias localpart, server_name) of a room alias; InvalidIdentifier otherwise."""
    parts = _split(s, "#")
    if parts is None or not is_valid_room_alias(s):
        raise InvalidIdentifier(f"invalid room alias {s!r}")
    return parts


def server_name_of(identifier: object) -> str:
    """The server name in a user ID, room alias, v1-11 room ID or v1-2 event ID.

    Raises InvalidIdentifier for identifiers without one (v12 room IDs, hash
    event IDs) and for anything malformed.
    """
    sigil = identifier[:1] if isinstance(identifier, str) else ""
    if sigil in _SIGILS_WITH_SERVER:
        parts = _split(identifier, sigil)
        # A user ID's localpart is the historical grammar; other sigils share
        # the opaque-localpart rule, which is what _is_valid_namespaced checks.
        if parts is not None and _is_valid_namespaced(identifier, sigil, allow_empty=sigil == "@"):
            return parts[1]
    raise InvalidIdentifier(f"{identifier!r} is not an identifier with a server name")


_SIGILS_WITH_SERVER = frozenset("@#!$")


# --- key IDs ----------------------------------------------------------------


def is_valid_key_id(s: object) -> bool:
    """Whether `s` is a server signing key ID `algorithm:version`, e.g. `ed25519:abc_123`."""
    return isinstance(s, str) and _KEY_ID.fullmatch(s) is not None


def parse_key_id(s: object) -> tuple[str, str]:
    """(algorithm, version) of a key ID; InvalidIdentifier otherwise."""
    m = _KEY_ID.fullmatch(s) if isinstance(s, str) else None
    if m is None:
        raise InvalidIdentifier(f"invalid key ID {s!r}")
    return m.group(1), m.group(2)
