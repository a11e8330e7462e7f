"""`dendray protocol …`: the pure protocol core as offline commands.

For diagnosing state resets and rejected events by hand: JSON in (a file or
stdin), JSON out. Bad input is a one-line error and exit status 2; a negative
answer (rejected event, bad signature) is exit status 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from typing import Any

from protocol.auth_rules import AuthError, check_auth_rules
from protocol.canonical_json import CanonicalJsonError, encode_canonical_json, parse_json
from protocol.event_ids import compute_event_id
from protocol.events import Event
from protocol.redaction import redact_pdu
from protocol.room_versions import RoomVersion, UnknownRoomVersion, room_version
from protocol.signing import (
    SignatureError,
    decode_verify_key_base64,
    read_signing_keys,
    servers_that_must_sign,
    sign_event,
    sign_json,
    verify_event_signature,
    verify_json,
)
from protocol.state_res import resolve_state


class CliError(Exception):
    """Bad input: reported as one line, exit status 2."""


def _read_input(path: str | None, rv: RoomVersion | None = None) -> Any:
    try:
        if path in (None, "-"):
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
    except OSError as e:
        raise CliError(f"cannot read {path}: {e.strerror}") from None
    try:
        return parse_json(data, strict=bool(rv and rv.strict_canonicaljson))
    except CanonicalJsonError as e:
        raise CliError(f"invalid JSON input: {e}") from None


def _version(args: argparse.Namespace) -> RoomVersion:
    try:
        return room_version(args.room_version)
    except UnknownRoomVersion as e:
        raise CliError(str(e)) from None


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CliError(f"{what} must be a JSON object")
    return value


def _to_event(pdu: Any, rv: RoomVersion) -> Event:
    """An Event from client/federation JSON; an explicit event_id is used as given."""
    pdu = _object(pdu, "an event")
    event_id = pdu.get("event_id")
    if not isinstance(event_id, str):
        try:
            event_id = compute_event_id(pdu, rv)
        except (ValueError, TypeError, KeyError) as e:
            raise CliError(f"cannot compute the event ID: {e}") from None
    return Event(pdu, rv, event_id)


def _emit(obj: Any) -> None:
    sys.stdout.write(encode_canonical_json(obj).decode() + "\n")


def cmd_canonical(args: argparse.Namespace) -> int:
    rv = _version(args) if args.room_version else None
    _emit(_read_input(args.file, rv))
    return 0


def cmd_event_id(args: argparse.Namespace) -> int:
    rv = _version(args)
    pdu = _object(_read_input(args.file, rv), "an event")
    try:
        event_id = compute_event_id(pdu, rv)
    except (ValueError, TypeError, KeyError) as e:
        raise CliError(f"cannot compute the event ID: {e}") from None
    _emit({"event_id": event_id})
    return 0


def cmd_redact(args: argparse.Namespace) -> int:
    rv = _version(args)
    _emit(redact_pdu(_object(_read_input(args.file, rv), "an event"), rv))
    return 0


def _load_signing_key(path: str) -> Any:
    try:
        with open(path) as f:
            keys = read_signing_keys(f.read())
    except OSError as e:
        raise CliError(f"cannot read key file {path}: {e.strerror}") from None
    except (ValueError, IndexError) as e:
        raise CliError(f"bad signing key file {path}: {e}") from None
    if not keys:
        raise CliError(f"no signing key in {path}")
    return keys[0]


def cmd_sign(args: argparse.Namespace) -> int:
    key = _load_signing_key(args.key)
    rv = _version(args) if args.room_version else None
    obj = _object(_read_input(args.file, rv), "the input")
    if rv is not None:
        _emit(sign_event(obj, rv, args.server_name, key))
    else:
        _emit(sign_json(obj, args.server_name, key))
    return 0


def _load_verify_keys(path: str) -> dict[str, dict[str, Any]]:
    """Keys as {server: {key_id: base64}} or a list of /_matrix/key/v2/server bodies."""
    raw = _read_input(path)
    bodies = raw if isinstance(raw, list) else [raw]
    keys: dict[str, dict[str, Any]] = {}
    for body in bodies:
        body = _object(body, "a keys entry")
        if "server_name" in body and "verify_keys" in body:
            entries = {body["server_name"]: {
                kid: k.get("key") for kid, k in body["verify_keys"].items()
                if isinstance(k, dict)
            }}
        else:
            entries = body
        for server, server_keys in entries.items():
            for kid, b64 in _object(server_keys, f"keys of {server}").items():
                try:
                    keys.setdefault(server, {})[kid] = decode_verify_key_base64(kid, b64)
                except (ValueError, TypeError) as e:
                    raise CliError(f"bad verify key {server} {kid}: {e}") from None
    return keys


def _verify_server(
    obj: dict[str, Any],
    server: str,
    keys: Mapping[str, Mapping[str, Any]],
    verify: Callable[[dict[str, Any], str, str, Any], None],
) -> str | None:
    """None if some known key of `server` signed obj, else why not."""
    sigs = obj.get("signatures", {}).get(server, {})
    known = [kid for kid in sigs if kid in keys.get(server, {})]
    if not known:
        return f"no signature from {server} by a known key"
    for kid in known:
        try:
            verify(obj, server, kid, keys[server][kid])
            return None
        except SignatureError as e:
            reason = f"{server} {kid}: {e}"
    return reason


def cmd_verify(args: argparse.Namespace) -> int:
    keys = _load_verify_keys(args.keys)
    rv = _version(args) if args.room_version else None
    obj = _object(_read_input(args.file, rv), "the input")
    if not isinstance(obj.get("signatures"), dict):
        raise CliError("the input has no signatures object")
    if rv is not None:
        servers = servers_that_must_sign(obj, rv)

        def verify(o: dict[str, Any], s: str, k: str, vk: Any) -> None:
            verify_event_signature(o, rv, s, k, vk)
    else:
        servers = set(obj["signatures"]) & set(keys) or set(obj["signatures"])
        verify = verify_json
    failures = {s: r for s in sorted(servers) if (r := _verify_server(obj, s, keys, verify))}
    _emit({"valid": not failures, "servers": sorted(servers), "failures": failures})
    return 1 if failures else 0


def cmd_check_auth(args: argparse.Namespace) -> int:
    rv = _version(args)
    data = _object(_read_input(args.file, rv), "the input")
    if not isinstance(data.get("auth_events", []), list):
        raise CliError("auth_events must be a list of events")
    event = _to_event(data.get("event"), rv)
    auth_map = {}
    for raw in data.get("auth_events", []):
        ev = _to_event(raw, rv)
        auth_map[ev.key] = ev
    try:
        check_auth_rules(event, auth_map)
    except AuthError as e:
        _emit({"allowed": False, "event_id": event.event_id, "rule": e.rule, "reason": e.reason})
        return 1
    _emit({"allowed": True, "event_id": event.event_id})
    return 0


def cmd_resolve_state(args: argparse.Namespace) -> int:
    rv = _version(args)
    data = _object(_read_input(args.file, rv), "the input")
    raw_events, raw_sets = data.get("events"), data.get("state_sets")
    if not isinstance(raw_events, list) or not isinstance(raw_sets, list):
        raise CliError('the input needs "events" and "state_sets" lists')
    events = {ev.event_id: ev for ev in (_to_event(e, rv) for e in raw_events)}
    state_sets = []
    for ids in raw_sets:
        if not isinstance(ids, list):
            raise CliError("each state set must be a list of event IDs")
        try:
            state_sets.append({events[i].key: i for i in ids})
        except (KeyError, TypeError):
            raise CliError("a state set names an event not in \"events\"") from None
    try:
        resolved = resolve_state(rv, state_sets, events.get)
    except KeyError as e:
        raise CliError(f"missing event needed for resolution: {e}") from None
    _emit({f"{t}|{sk}": eid for (t, sk), eid in sorted(resolved.items())})
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `dendray protocol …` and its commands."""
    p = sub.add_parser("protocol", help="offline tools over the pure protocol core")
    cmds = p.add_subparsers(dest="protocol_command", required=True)

    def command(name: str, func: Callable[[argparse.Namespace], int], help_: str,
                version: str | None = None) -> argparse.ArgumentParser:
        c = cmds.add_parser(name, help=help_)
        c.add_argument("file", nargs="?", help="input JSON file (default: stdin)")
        if version == "required":
            c.add_argument("--room-version", required=True)
        elif version == "optional":
            c.add_argument("--room-version")
        c.set_defaults(func=func)
        return c

    command("canonical", cmd_canonical, "print canonical JSON", "optional")
    command("event-id", cmd_event_id, "compute an event's ID", "required")
    command("redact", cmd_redact, "redact an event", "required")
    s = command("sign", cmd_sign, "sign JSON (or an event, with --room-version)", "optional")
    s.add_argument("--key", required=True, help="signing key file: 'ed25519 <version> <seed>'")
    s.add_argument("--server-name", required=True)
    v = command("verify", cmd_verify, "verify signatures (of an event, with --room-version)",
                "optional")
    v.add_argument("--keys", required=True,
                   help='{"server": {"ed25519:k": "<base64>"}} or /_matrix/key/v2/server bodies')
    command("check-auth", cmd_check_auth, "check an event against auth events", "required")
    command("resolve-state", cmd_resolve_state, "resolve state sets", "required")


def run(args: argparse.Namespace) -> int:
    try:
        return args.func(args)
    except CliError as e:
        print(f"dendray protocol {args.protocol_command}: {e}", file=sys.stderr)
        return 2

