"""The inbound side: PUT /send/{txnId} processing, idempotency, limits, EDU checks."""

from __future__ import annotations

import pytest

from actors.federation_sender.inbound import check_transaction
from protocol.errors import MatrixError
from tests.actors.federation_sender.conftest import SERVER, Clock, FakeClient, unique


def pdu(room_id: str, n: int) -> dict:
    # v1-style PDUs carry their ID, so they can be answered for in an unknown room.
    return {"room_id": room_id, "event_id": f"$e{n}:remote.test", "type": "m.room.message"}


@pytest.mark.parametrize("body", [
    [], {"pdus": {}}, {"edus": "x"}, {"pdus": [{}] * 51}, {"pdus": [], "edus": [{}] * 101},
])
def test_malformed_or_oversized_transactions_are_bad_json(body) -> None:
    with pytest.raises(MatrixError) as e:
        check_transaction(body)
    assert (e.value.status, e.value.errcode) == (400, "M_BAD_JSON")


async def test_pdus_go_to_their_room_and_a_retry_is_answered_from_the_record(make_sender) -> None:
    sender = await make_sender(client=FakeClient(), clock=Clock())
    router = sender.ctx.router

    def answer(component, method, origin, pdus):
        assert (component, method) == ("room_server", "receive_pdus")
        return {p["event_id"]: ({} if p["room_id"] == "!ok:remote.test" else {"error": "rejected"})
                for p in pdus}

    router.answer = answer
    origin, txn = unique("origin"), "t1"
    body = {"origin": origin, "origin_server_ts": 1,
            "pdus": [pdu("!ok:remote.test", 1), pdu("!bad:remote.test", 2),
                     pdu("!ok:remote.test", 3), {"no": "room"}]}
    first = await sender.receive_transaction(origin, txn, body)
    assert first == {"pdus": {"$e1:remote.test": {}, "$e3:remote.test": {},
                              "$e2:remote.test": {"error": "rejected"}}}
    rooms = sorted(call[3][0]["room_id"] for call in router.calls)
    assert rooms == ["!bad:remote.test", "!ok:remote.test"]
    calls = len(router.calls)
    assert await sender.receive_transaction(origin, txn, body) == first
    assert len(router.calls) == calls
    # The same txn ID from another origin is another transaction.
    await sender.receive_transaction(unique("other"), txn, body)
    assert len(router.calls) > calls


async def test_a_failing_room_server_gets_an_error_per_pdu(make_sender) -> None:
    sender = await make_sender(client=FakeClient(), clock=Clock())

    def answer(*args):
        raise MatrixError(404, "M_NOT_FOUND", "Unknown room")

    sender.ctx.router.answer = answer
    origin = unique("origin")
    result = await sender.receive_transaction(origin, "t", {
        "pdus": [pdu("!nowhere:remote.test", 1), pdu("!nowhere:remote.test", 2)]})
    assert result == {"pdus": {"$e1:remote.test": {"error": "Unknown room"},
                               "$e2:remote.test": {"error": "Unknown room"}}}


async def test_edus_are_checked_against_the_origin(make_sender) -> None:
    sender = await make_sender(client=FakeClient(), clock=Clock())
    router = sender.ctx.router
    origin = unique("origin")
    to_device = {"type": "m.room_key_request", "message_id": "m1",
                 "messages": {f"@me:{SERVER}": {"DEV": {"a": 1}},
                              "@them:elsewhere.test": {"X": {"a": 2}}}}
    await sender.receive_transaction(origin, "t", {"pdus": [], "edus": [
        {"edu_type": "m.direct_to_device", "content": {**to_device, "sender": "@x:forged.test"}},
        {"edu_type": "m.direct_to_device", "content": {**to_device, "sender": f"@x:{origin}"}},
        {"edu_type": "m.presence", "content": {"push": [
            {"user_id": "@y:forged.test", "presence": "online", "last_active_ago": 1},
            {"user_id": f"@y:{origin}", "presence": "online", "last_active_ago": 5},
            {"user_id": f"@z:{origin}", "presence": "dancing", "last_active_ago": 5}]}},
        {"edu_type": "m.device_list_update", "content": {"user_id": f"@y:{origin}"}},
        {"edu_type": "m.unknown", "content": {}},
        "not an edu",
    ]})
    assert router.calls == [
        ("accounts", "receive_remote_to_device", f"@x:{origin}", "m.room_key_request", "m1",
         {f"@me:{SERVER}": {"DEV": {"a": 1}}}),
        ("presence", "remote_presence", f"@y:{origin}", "online", None, 5),
        ("keys", "remote_device_list_changed", f"@y:{origin}"),
    ]


async def test_typing_and_receipts_only_for_joined_users(make_sender) -> None:
    sender = await make_sender(client=FakeClient(), clock=Clock())
    origin = unique("origin")
    await sender.receive_transaction(origin, "t", {"pdus": [], "edus": [
        {"edu_type": "m.typing", "content": {"room_id": "!r:x", "user_id": f"@u:{origin}",
                                             "typing": True}},
        {"edu_type": "m.receipt", "content": {"!r:x": {"m.read": {
            f"@u:{origin}": {"event_ids": ["$e"], "data": {"ts": 1}}}}}},
    ]})
    # Nobody is joined to !r:x: neither reaches its component.
    assert sender.ctx.router.calls == []
