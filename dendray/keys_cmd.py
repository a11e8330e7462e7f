"""`dendray keys rotate`: a new signing key; the old one stays published as an old key.

The new key signs everything from the next start on. The old key's public
half goes to `old_signing_keys` in the config with `expired_ts` = now, so
`/_matrix/key/v2/server` keeps listing it under `old_verify_keys` and events
it signed keep verifying everywhere.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from dendray.config import ConfigError, load_config
from dendray.init_cmd import _key_suffix
from protocol.signing import (
    generate_signing_key,
    key_id,
    read_signing_keys,
    verify_key_base64,
    write_signing_keys,
)

_SECTION = "old_signing_keys:"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("keys", help="manage this server's signing keys")
    keys_sub = p.add_subparsers(dest="keys_command", required=True)
    rotate = keys_sub.add_parser("rotate", help="make a new signing key, keep the old one as old")
    rotate.add_argument("--config", default="data/dendray.yaml")


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
        current = read_signing_keys(config.signing_key)[0]
    except (ConfigError, ValueError, IndexError) as e:
        print(f"dendray keys rotate: {e or 'no signing key'}", file=sys.stderr)
        return 2
    new = generate_signing_key("a_" + _key_suffix())
    old = [*config.old_signing_keys, {"key_id": key_id(current), "key": verify_key_base64(current),
                                      "expired_ts": int(time.time() * 1000)}]
    config_path = Path(args.config)
    # The config first: if the key file write fails, the old key is merely listed twice.
    _write_atomically(config_path, replace_old_keys(config_path.read_text(), old))
    key_path = Path(config.signing_key_path)
    _write_atomically(key_path, write_signing_keys([new]), mode=0o600)
    print(f"new signing key {key_id(new)}; {key_id(current)} is now an old key. "
          "Restart the server to use it.")
    return 0


def replace_old_keys(text: str, old: list[dict[str, Any]]) -> str:
    """The config text with its top-level `old_signing_keys` replaced; comments elsewhere kept."""
    block = _SECTION + "\n" + "".join(
        "  - " + yaml.safe_dump(entry, default_flow_style=True, width=1000).strip() + "\n"
        for entry in old)
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith(_SECTION)), None)
    if start is None:
        return text + ("" if text.endswith("\n") else "\n") + block
    end = start + 1
    # The section goes on while lines are indented, list items or blank.
    while end < len(lines) and (lines[end][:1] in (" ", "\t", "-") or not lines[end].strip()):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    return "".join(lines[:start]) + block + "".join(lines[end:])


def _write_atomically(path: Path, text: str, mode: int | None = None) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    if mode is not None:
        tmp.chmod(mode)
    os.replace(tmp, path)
