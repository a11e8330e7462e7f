"""`dendray protocol …`: files and stdin in, JSON out, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dendray.cli import main
from tests.protocol.dag import ALICE, BOB, EVE, Room

SEED_KEY = "ed25519 a_test YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"
VERIFY_KEYS = {"domain": {"ed25519:a_test": "XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI"}}


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, name: str, obj: object) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(obj) if not isinstance(obj, str) else obj)
    return str(path)


def test_canonical_from_stdin_via_console_script() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dendray.cli", "protocol", "canonical"],
        input=b'{"b": 2, "a": "\\u00e9"}', capture_output=True, check=False,
    )
    assert proc.returncode == 0
    assert proc.stdout == '{"a":"é","b":2}\n'.encode()


def test_canonical_strict_version_rejects_floats(capsys, tmp_path: Path) -> None:
    path = write(tmp_path, "f.json", '{"a": 1.5}')
    assert run(capsys, "protocol", "canonical", path)[0] == 0
    code, out, err = run(capsys, "protocol", "canonical", "--room-version", "10", path)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "1.5" in err


@pytest.mark.parametrize("argv", [
    ("protocol", "canonical", "/nonexistent.json"),
    ("protocol", "event-id", "--room-version", "99", "/dev/null"),
    ("protocol", "redact", "--room-version", "11", "/dev/null"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv: tuple[str, ...]) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err


def test_event_id_and_redact(capsys, tmp_path: Path) -> None:
    room = Room.standard("11")
    pdu = room.events["$pl0"].pdu
    path = write(tmp_path, "pl.json", pdu)
    code, out, _ = run(capsys, "protocol", "event-id", "--room-version", "11", path)
    assert code == 0 and json.loads(out)["event_id"].startswith("$")
    code, out, _ = run(capsys, "protocol", "redact", "--room-version", "11", path)
    redacted = json.loads(out)
    assert code == 0 and redacted["content"] == {"users": pdu["content"]["users"],
                                                 "users_default": 0}


def test_sign_matches_spec_vector_and_verifies(capsys, tmp_path: Path) -> None:
    key = write(tmp_path, "k.key", SEED_KEY)
    obj = write(tmp_path, "o.json", {"one": 1, "two": "Two"})
    code, out, _ = run(capsys, "protocol", "sign", "--key", key, "--server-name", "domain", obj)
    signed = json.loads(out)
    # appendices.md, "Signing JSON": the simple object's signature.
    assert signed["signatures"]["domain"]["ed25519:a_test"] == (
        "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"
    )
    keys = write(tmp_path, "keys.json", VERIFY_KEYS)
    good = write(tmp_path, "s.json", signed)
    assert run(capsys, "protocol", "verify", "--keys", keys, good)[0] == 0
    signed["two"] = "Three"
    bad = write(tmp_path, "bad.json", signed)
    code, out, _ = run(capsys, "protocol", "verify", "--keys", keys, bad)
    assert code == 1 and json.loads(out)["valid"] is False


def test_sign_and_verify_event(capsys, tmp_path: Path) -> None:
    key = write(tmp_path, "k.key", SEED_KEY)
    pdu = {"type": "m.room.message", "room_id": "!r:domain", "sender": "@a:domain",
           "content": {"body": "hi"}, "depth": 3, "origin_server_ts": 5,
           "prev_events": [], "auth_events": []}
    code, out, _ = run(capsys, "protocol", "sign", "--key", key, "--server-name", "domain",
                       "--room-version", "11", write(tmp_path, "e.json", pdu))
    signed = json.loads(out)
    assert code == 0 and "sha256" in signed["hashes"]
    keys = write(tmp_path, "keys.json", VERIFY_KEYS)
    path = write(tmp_path, "se.json", signed)
    assert run(capsys, "protocol", "verify", "--keys", keys, "--room-version", "11", path)[0] == 0


def test_check_auth_allows_and_names_the_rule(capsys, tmp_path: Path) -> None:
    room = Room.standard("10")
    auth = [room.events[e].pdu for e in ("$create", "$pl0", "$jr0", "$eve_join")]
    topic = {**room.events["$jr0"].pdu, "type": "m.room.topic", "event_id": "$t",
             "sender": EVE, "content": {"topic": "x"}}
    code, out, _ = run(capsys, "protocol", "check-auth", "--room-version", "10",
                       write(tmp_path, "a.json", {"event": topic, "auth_events": auth}))
    result = json.loads(out)
    assert code == 1 and result["allowed"] is False and result["rule"]
    ok = {**topic, "type": "m.room.message"}
    ok.pop("state_key")
    code, out, _ = run(capsys, "protocol", "check-auth", "--room-version", "10",
                       write(tmp_path, "b.json", {"event": ok, "auth_events": auth}))
    assert code == 0 and json.loads(out) == {"allowed": True, "event_id": "$t"}


def test_resolve_state_ban_racing_power_change(capsys, tmp_path: Path) -> None:
    room = Room.standard("11")
    room.ban("$ban", ALICE, EVE)
    room.fork_at("$eve_join")
    room.power_levels("$pl_eve", ALICE, {ALICE: 100, BOB: 50, EVE: 100})
    events = [dict(e.pdu, event_id=e.event_id) for e in room.events.values()]
    data = {"events": events,
            "state_sets": [list(room.state("$ban").values()),
                           list(room.state("$pl_eve").values())]}
    code, out, _ = run(capsys, "protocol", "resolve-state", "--room-version", "11",
                       write(tmp_path, "s.json", data))
    resolved = json.loads(out)
    assert code == 0
    # The promotion sorts first (higher-power sender), after which Alice may no
    # longer ban her equal: the ban is dropped.
    assert resolved["m.room.power_levels|"] == "$pl_eve"
    assert resolved[f"m.room.member|{EVE}"] == "$eve_join"
    assert resolved[f"m.room.member|{BOB}"] == "$bob_join"


def test_resolve_state_unknown_event(capsys, tmp_path: Path) -> None:
    data = {"events": [], "state_sets": [["$nope"]]}
    code, _, err = run(capsys, "protocol", "resolve-state", "--room-version", "11",
                       write(tmp_path, "s.json", data))
    assert code == 2 and err.count("\n") == 1
