"""Sync and pagination tokens: opaque, URL-safe strings for positions in the streams.

A **sync token** (`next_batch`, `since`, `prev_batch`, `/messages` `from`/`to`)
is a vector of per-writer event positions plus named positions of the other
streams. "New since T" means `stream_pos > T[writer]` for an event's writer;
a writer missing from the token is at 0, and positions of writers that no
longer exist are kept but never match anything. Because each writer commits
its positions in order (actors/README.md), a token never lets a reader skip
an event committed later at a lower position.

    s<pos of writer 0>.<pos of writer 1>...[_<stream code><pos>]...

for example `s12.7` or `s12.7_ad3_rc9`. Stream codes are lower-case letters;
codes this server does not know are carried along unchanged, so a token from
a newer server still parses (and its known positions are honoured).

A **room token** `t<room_seq>` is a position in one room's own order (between
the event with that `room_seq` and the next one). `/messages` and `/context`
hand them out as `start`/`end`; every endpoint that takes a pagination token
accepts both kinds, turning a sync token into a room position per room.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from protocol.errors import MatrixError, invalid_param

# Named streams besides room events, and their codes in the token. Later
# issues fill them (account data, receipts, typing, presence, to-device,
# device lists); the token format is ready for them now.
STREAM_CODES: dict[str, str] = {
    "account_data": "ad",
    "receipts": "rc",
    "typing": "ty",
    "presence": "pr",
    "to_device": "td",
    "device_lists": "dl",
}
_CODE_TO_STREAM = {code: name for name, code in STREAM_CODES.items()}

# A token is read from a query string: bound its size so parsing stays cheap.
MAX_TOKEN_LENGTH = 2048
_WRITERS = re.compile(r"s(\d{1,19}(?:\.\d{1,19})*)?")
_STREAM = re.compile(r"([a-z]{1,8})(\d{1,19})")
_ROOM = re.compile(r"t(-?\d{1,19})")
_MAX_POS = 2**63 - 1


@dataclass(frozen=True)
class SyncToken:
    """Positions per writer (index = writer) and per named stream."""

    writers: tuple[int, ...] = ()
    streams: Mapping[str, int] = field(default_factory=dict)

    def writer_pos(self, writer: int) -> int:
        return self.writers[writer] if 0 <= writer < len(self.writers) else 0

    def stream_pos(self, name: str) -> int:
        return self.streams.get(name, 0)

    def covers(self, writer: int, pos: int) -> bool:
        """Whether the event at `pos` of `writer` is at or before this token."""
        return pos <= self.writer_pos(writer)

    def max_with(self, other: SyncToken) -> SyncToken:
        """The position-wise maximum: a token that never moves backwards."""
        n = max(len(self.writers), len(other.writers))
        writers = tuple(max(self.writer_pos(w), other.writer_pos(w)) for w in range(n))
        streams = dict(self.streams)
        for name, pos in other.streams.items():
            streams[name] = max(pos, streams.get(name, 0))
        return SyncToken(writers, streams)

    def with_writer(self, writer: int, pos: int) -> SyncToken:
        """This token with one writer's position replaced."""
        writers = list(self.writers) + [0] * max(0, writer + 1 - len(self.writers))
        writers[writer] = pos
        return SyncToken(tuple(writers), self.streams)

    def writer_array(self, count: int) -> list[int]:
        """Positions of writers 0..count-1, for SQL (`($n::bigint[])[writer + 1]`)."""
        return [self.writer_pos(w) for w in range(count)]

    def encode(self) -> str:
        out = "s" + ".".join(str(p) for p in self.writers)
        for name in sorted(self.streams):
            code = STREAM_CODES.get(name, name)
            out += f"_{code}{self.streams[name]}"
        return out

    def __str__(self) -> str:
        return self.encode()


@dataclass(frozen=True)
class RoomToken:
    """A position in one room's order: after the event with this `room_seq`."""

    room_seq: int

    def encode(self) -> str:
        return f"t{self.room_seq}"

    def __str__(self) -> str:
        return self.encode()


PaginationToken = SyncToken | RoomToken


def _bad(name: str) -> MatrixError:
    return invalid_param(f"Invalid {name} token")


def _check_pos(value: str, name: str) -> int:
    pos = int(value)
    if not -_MAX_POS <= pos <= _MAX_POS:
        raise _bad(name)
    return pos


def parse_sync_token(raw: str, name: str = "since") -> SyncToken:
    """Parse a sync token; anything malformed is 400 M_INVALID_PARAM."""
    if not isinstance(raw, str) or len(raw) > MAX_TOKEN_LENGTH:
        raise _bad(name)
    head, *rest = raw.split("_")
    m = _WRITERS.fullmatch(head)
    if m is None:
        raise _bad(name)
    writers = tuple(_check_pos(p, name) for p in m.group(1).split(".")) if m.group(1) else ()
    streams: dict[str, int] = {}
    for part in rest:
        sm = _STREAM.fullmatch(part)
        if sm is None:
            raise _bad(name)
        stream = _CODE_TO_STREAM.get(sm.group(1), sm.group(1))
        if stream in streams:
            raise _bad(name)
        streams[stream] = _check_pos(sm.group(2), name)
    return SyncToken(writers, streams)


def parse_pagination_token(raw: str, name: str = "from") -> PaginationToken:
    """Parse a `/messages`-style token: a room token or a sync token."""
    if isinstance(raw, str) and raw.startswith("t"):
        m = _ROOM.fullmatch(raw)
        if m is None:
            raise _bad(name)
        return RoomToken(_check_pos(m.group(1), name))
    return parse_sync_token(raw, name)
