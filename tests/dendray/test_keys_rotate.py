"""`dendray keys rotate`: a new key signs, the old one stays published and keeps verifying."""

from __future__ import annotations

from pathlib import Path

from actors.context import Context
from actors.server_keys.service import ServerKeysService
from dendray.cli import main
from dendray.config import load_config
from protocol.room_versions import KNOWN_ROOM_VERSIONS
from protocol.server_keys import parse_key_response
from protocol.signing import (
    decode_verify_key_base64,
    key_id,
    read_signing_keys,
    sign_event,
    verify_event_signature,
)
from sharding.router import Router


def _own_keys_service(config_path: Path) -> ServerKeysService:
    config = load_config(config_path)
    ctx = Context(config=config, pool=None, router=Router({}),  # type: ignore[arg-type]
                  signing_key=read_signing_keys(config.signing_key)[0])
    return ServerKeysService(ctx, 0)


async def test_rotate_twice_keeps_both_old_keys_published(tmp_path: Path) -> None:
    config_path = tmp_path / "dendray.yaml"
    assert main(["init", "--config", str(config_path), "--server-name", "rot.example"]) == 0
    first = read_signing_keys(load_config(config_path).signing_key)[0]
    room_version = KNOWN_ROOM_VERSIONS["10"]
    event = sign_event({"type": "m.room.message", "room_id": "!r:rot.example",
                        "sender": "@a:rot.example", "content": {"body": "hi"},
                        "origin_server_ts": 1, "depth": 1, "prev_events": [],
                        "auth_events": []}, room_version, "rot.example", first)

    assert main(["keys", "rotate", "--config", str(config_path)]) == 0
    assert main(["keys", "rotate", "--config", str(config_path)]) == 0

    config = load_config(config_path)
    current = read_signing_keys(config.signing_key)[0]
    old_ids = [k["key_id"] for k in config.old_signing_keys]
    assert len(old_ids) == 2 and old_ids[0] == key_id(first) and key_id(current) not in old_ids
    text = config_path.read_text()
    assert "# Former signing keys" in text and "# Room version for new rooms" in text

    answer = parse_key_response(await _own_keys_service(config_path).own_keys(), "rot.example")
    assert list(answer.verify_keys) == [key_id(current)]
    published = answer.old_verify_keys[key_id(first)]
    assert published.expired_ts > 0
    # What the first key signed still verifies with what we publish for it.
    verify_event_signature(event, room_version, "rot.example", key_id(first),
                           decode_verify_key_base64(key_id(first), published.key))


def test_rotate_without_config_fails_cleanly(tmp_path: Path) -> None:
    assert main(["keys", "rotate", "--config", str(tmp_path / "missing.yaml")]) == 2
