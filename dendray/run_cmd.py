"""`dendray run`: start the whole server in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from dendray.config import ConfigError, load_config
from dendray.server import start_server


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="start the homeserver (embedded PostgreSQL unless a DSN is set)")
    p.add_argument("--config", default="data/dendray.yaml")
    p.add_argument("--ray-address", default=None,
                   help="join a running Ray cluster (default: start a local Ray)")


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as e:
        print(f"dendray run: {e} (create one with `dendray init`)", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server = start_server(config, ray_address=args.ray_address)
    try:
        print(f"dendray is serving {config.server_name} at {server.client_url}", flush=True)
        stop.wait()
        print("stopping…", flush=True)
    finally:
        server.stop()
    return 0
