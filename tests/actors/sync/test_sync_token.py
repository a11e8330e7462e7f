"""Sync and pagination tokens: format, tolerance, and the never-skip arithmetic."""

from __future__ import annotations

import pytest

from actors.sync.sync_token import (
    RoomToken,
    SyncToken,
    parse_pagination_token,
    parse_sync_token,
)
from protocol.errors import MatrixError


def test_round_trip_with_named_streams() -> None:
    token = SyncToken((12, 7), {"account_data": 3, "receipts": 9})
    text = token.encode()
    assert text == "s12.7_ad3_rc9"
    assert parse_sync_token(text) == token


def test_empty_vector_and_url_safety() -> None:
    assert SyncToken().encode() == "s"
    assert parse_sync_token("s") == SyncToken()
    text = SyncToken((1, 2, 3), {"to_device": 4}).encode()
    assert all(c.isalnum() or c in "._-~" for c in text)


def test_unknown_stream_codes_are_carried_along() -> None:
    token = parse_sync_token("s5_zz7")
    assert token.stream_pos("zz") == 7
    assert parse_sync_token(token.encode()) == token


@pytest.mark.parametrize("bad", [
    "", "x1", "s1..2", "s1.", "s-1", "s1_", "s1_ad", "s1_AD3", "s1_ad3_ad4", "t5",
    "s" + "9" * 20, "s1 2", "s" + ".1" * 3000,
])
def test_malformed_sync_tokens_are_invalid_param(bad: str) -> None:
    with pytest.raises(MatrixError) as e:
        parse_sync_token(bad)
    assert (e.value.status, e.value.errcode) == (400, "M_INVALID_PARAM")


def test_missing_writers_are_zero_and_extra_writers_kept() -> None:
    short = parse_sync_token("s4")
    assert short.writer_pos(0) == 4 and short.writer_pos(3) == 0
    long = parse_sync_token("s1.2.3.4")
    assert long.writer_array(2) == [1, 2]
    assert long.max_with(short).writers == (4, 2, 3, 4)


def test_covers() -> None:
    token = SyncToken((5, 2))
    assert token.covers(0, 5) and not token.covers(0, 6)
    assert not token.covers(2, 1)


def test_with_writer_extends_the_vector() -> None:
    assert SyncToken((1,)).with_writer(2, 9).writers == (1, 0, 9)


def test_max_with_never_moves_back() -> None:
    a = SyncToken((3, 9), {"presence": 2})
    b = SyncToken((4, 1), {"presence": 1, "typing": 5})
    assert a.max_with(b) == SyncToken((4, 9), {"presence": 2, "typing": 5})


def test_pagination_tokens_accept_both_kinds() -> None:
    assert parse_pagination_token("t42") == RoomToken(42)
    assert parse_pagination_token("t-3") == RoomToken(-3)
    assert parse_pagination_token("s1.2") == SyncToken((1, 2))
    assert RoomToken(7).encode() == "t7"
    for bad in ("t", "tx", "t1.2", "q1"):
        with pytest.raises(MatrixError):
            parse_pagination_token(bad, "from")
