"""`dendray init`: write a commented YAML config and generate a signing key."""

from __future__ import annotations

import argparse
import secrets
import string
import sys
from pathlib import Path

from dendray.config import new_shared_secret
from federation.self_signed import write_self_signed_certificate
from protocol.signing import generate_signing_key, write_signing_keys

TEMPLATE = """\
# dendray configuration. Paths are relative to this file.

# The Matrix server name: the part after ':' in user IDs. It can never change
# once users exist.
server_name: {server_name}
# Where clients reach the client-server API (used in /.well-known).
public_baseurl: {public_baseurl}

# Data folder: the embedded PostgreSQL lives in <data_dir>/postgres.
data_dir: {data_dir}
# This server's ed25519 signing key ('ed25519 <version> <seed>').
signing_key_path: {signing_key_path}

listen:
  bind_address: 127.0.0.1
  # Plain-HTTP client-server API (served by the Ray Serve proxy).
  client_port: {client_port}
  # Federation listener (TLS).
  federation_port: {federation_port}

database:
  # null: start the embedded PostgreSQL. Otherwise any PostgreSQL, e.g.
  # postgresql://user:pass@db-host:5432/dendray
  dsn: null
  database: dendray
  pool_max_size: 10

# Actors per component; each is a process (~60-100 MB). On one machine keep
# these small; on a cluster raise them. Changing a count moves rooms/users
# between shards: stop the server first.
shards:
  room_server: 2
  sync: 1
  accounts: 1
  typing: 1
  receipts: 1
  presence: 1
  keys: 1
  search: 1
  server_keys: 1

registration:
  enabled: {registration_enabled}
  # Single-step registration with m.login.dummy (test and private servers).
  open: {registration_open}
  # Registration tokens accepted by m.login.registration_token.
  tokens: []
  # For the admin shared-secret registration API (/_synapse/admin/v1/register).
  shared_secret: {shared_secret}

rate_limits:
  enabled: {rate_limits}
  per_second: 10.0
  burst: 50
  ip_per_second: 2.0
  ip_burst: 20

limits:
  max_event_bytes: 65536
  max_request_bytes: 1048576
  max_sync_timeout_ms: 60000

presence:
  # false: presence is neither tracked nor sent to anyone.
  enabled: true
  # An online user with no activity for this long becomes unavailable.
  idle_after_ms: 300000
  # A user goes offline this long after their last /sync ended.
  offline_after_ms: 30000

search:
  # Stemming languages of the message index ("running" finds "run"): any of
  # arabic danish dutch english finnish french german greek hungarian italian
  # norwegian portuguese romanian russian spanish swedish tamil turkish.
  # Words of every language are found unstemmed, and Chinese, Japanese and
  # Korean by substring. Changing the list rebuilds the index at the next start.
  languages: [english]
  # New messages become searchable within about this long.
  commit_interval_ms: 500

federation:
  # false: no federation at all (outbound requests and the federation API).
  enabled: true
  # The TLS certificate chain and private key (PEM) of the federation listener.
{tls_lines}
  # Check other servers' TLS certificates. Only a closed test network turns
  # this off.
  verify_tls: {verify_tls}
  # Allow federation with loopback, private and link-local addresses.
  allow_private_destinations: {allow_private}
  # Notaries asked for other servers' keys when a server cannot be reached
  # directly; their own keys are pinned here, e.g.
  #   - server_name: matrix.org
  #     verify_keys: {{"ed25519:auto": "Noi6WqcDj0QmPxCNQqgezwTlBKrfqehY1u2FyWP9uYw"}}
  trusted_key_servers: []
  request_timeout_s: 30
  # Delegation: "host[:port]" to answer at /.well-known/matrix/server, when
  # federation for this server name is served elsewhere.
  well_known_server: null

# Former signing keys (`dendray keys rotate` adds them): still published so
# that what they signed keeps verifying.
old_signing_keys: []

# Room version for new rooms when the client does not ask for one.
default_room_version: "12"
# Access token lifetime with refresh tokens (null: tokens do not expire).
access_token_lifetime_ms: null
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="write a config file and a signing key")
    p.add_argument("--config", default="data/dendray.yaml", help="config file to write")
    p.add_argument("--server-name", default="localhost")
    p.add_argument("--data-dir", default=None, help="data folder (default: the config's folder)")
    p.add_argument("--client-port", type=int, default=8008)
    p.add_argument("--federation-port", type=int, default=8448)
    p.add_argument("--public-baseurl", default=None)
    p.add_argument("--open-registration", action="store_true",
                   help="single-step m.login.dummy registration, for test and private servers")
    p.add_argument("--no-rate-limits", action="store_true")
    p.add_argument("--force", action="store_true", help="overwrite an existing config")
    p.add_argument("--test-federation", action="store_true",
                   help="closed test network: self-signed certificate, peers' certificates "
                        "not verified, private destinations allowed")


def run(args: argparse.Namespace) -> int:
    config_path = Path(args.config)
    if config_path.exists() and not args.force:
        print(f"dendray init: {config_path} exists (use --force to overwrite)", file=sys.stderr)
        return 2
    config_path.parent.mkdir(parents=True, exist_ok=True)
    base = config_path.resolve().parent
    data_dir = Path(args.data_dir).resolve() if args.data_dir else base
    data_dir.mkdir(parents=True, exist_ok=True)
    key_path = data_dir / "signing.key"
    if not key_path.exists():
        key_path.write_text(write_signing_keys([generate_signing_key("a_" + _key_suffix())]))
        key_path.chmod(0o600)
    if args.test_federation:
        cert, key = write_self_signed_certificate(data_dir, args.server_name)
        tls_lines = (f"  tls_certificate_path: {_rel(cert, base)}\n"
                     f"  tls_private_key_path: {_rel(key, base)}")
    else:
        tls_lines = ("  # tls_certificate_path: /etc/letsencrypt/live/example.org/fullchain.pem\n"
                     "  # tls_private_key_path: /etc/letsencrypt/live/example.org/privkey.pem")
    text = TEMPLATE.format(
        tls_lines=tls_lines,
        verify_tls="false" if args.test_federation else "true",
        allow_private="true" if args.test_federation else "false",
        server_name=args.server_name,
        public_baseurl=args.public_baseurl or f"http://localhost:{args.client_port}/",
        data_dir=_rel(data_dir, base),
        signing_key_path=_rel(key_path, base),
        client_port=args.client_port,
        federation_port=args.federation_port,
        registration_enabled="true" if args.open_registration else "false",
        registration_open="true" if args.open_registration else "false",
        shared_secret=new_shared_secret(),
        rate_limits="false" if args.no_rate_limits else "true",
    )
    config_path.write_text(text)
    print(f"wrote {config_path} and {key_path}")
    return 0


def _key_suffix() -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(4))


def _rel(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base)) or "."
    except ValueError:
        return str(path)
