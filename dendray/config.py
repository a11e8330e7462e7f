"""The server's configuration: one YAML file, read once and passed around as data.

`Config` is what every component receives (actors get it as a plain dict via
`to_dict`, so it crosses process and node boundaries unchanged).
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

COMPONENTS = ("room_server", "sync", "accounts", "typing", "receipts", "presence", "keys", "search",
              "federation_sender", "server_keys")


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or invalid."""


@dataclass
class ListenConfig:
    bind_address: str = "127.0.0.1"
    client_port: int = 8008
    federation_port: int = 8448


@dataclass
class DatabaseSection:
    # None: start the embedded PostgreSQL with its data under data_dir/postgres.
    dsn: str | None = None
    database: str = "dendray"
    pool_max_size: int = 10


@dataclass
class RegistrationConfig:
    enabled: bool = False
    # Single-step m.login.dummy registration (test and private servers).
    open: bool = False
    # Tokens accepted for m.login.registration_token; empty means none.
    tokens: list[str] = field(default_factory=list)
    shared_secret: str | None = None


@dataclass
class RateLimitConfig:
    enabled: bool = True
    per_second: float = 10.0
    burst: int = 50
    # Unauthenticated endpoints (register, login) per client IP.
    ip_per_second: float = 2.0
    ip_burst: int = 20


@dataclass
class LimitsConfig:
    max_event_bytes: int = 65536
    max_request_bytes: int = 1_048_576
    max_sync_timeout_ms: int = 60_000


@dataclass
class PresenceConfig:
    # Off: presence is neither tracked nor sent (PUT/GET still answer).
    enabled: bool = True
    # An online user with no activity for this long becomes unavailable.
    idle_after_ms: int = 300_000
    # A user goes offline this long after their last /sync ended.
    offline_after_ms: int = 30_000


@dataclass
class SearchConfig:
    # Snowball stemmers for the index ("running" finds "run"); any word in any
    # language is also found unstemmed, and CJK by substring. Changing this
    # list rebuilds the indexes at the next start.
    languages: list[str] = field(default_factory=lambda: ["english"])
    # New messages become searchable within about this long.
    commit_interval_ms: int = 500

    def __post_init__(self) -> None:
        from search_index.analysis import check_languages

        try:
            check_languages(self.languages)
        except ValueError as e:
            raise ConfigError(f"search.languages: {e}") from None


@dataclass
class FederationConfig:
    # Off: no outbound federation, and other servers' requests are refused.
    enabled: bool = True
    # The federation listener's certificate chain and key (PEM). Both unset:
    # no TLS listener (federation then needs a TLS proxy in front of Serve).
    tls_certificate_path: str | None = None
    tls_private_key_path: str | None = None
    # Check other servers' certificates (only a closed test network turns it off).
    verify_tls: bool = True
    # Allow destinations on loopback, private and other non-public addresses.
    allow_private_destinations: bool = False
    # Notaries for other servers' keys: [{server_name, verify_keys: {id: key}}].
    trusted_key_servers: list[dict[str, Any]] = field(default_factory=list)
    request_timeout_s: float = 30.0
    # "host[:port]" served as /.well-known/matrix/server (delegation); null: none.
    well_known_server: str | None = None


@dataclass
class Config:
    server_name: str = "localhost"
    public_baseurl: str = "http://localhost:8008/"
    data_dir: str = "./data"
    signing_key_path: str = "./data/signing.key"
    # The signing key's content; filled from signing_key_path when loaded.
    signing_key: str = ""
    # Former signing keys, still published so what they signed verifies:
    # [{key_id, key (unpadded base64 public key), expired_ts}] (`dendray keys rotate`).
    old_signing_keys: list[dict[str, Any]] = field(default_factory=list)
    listen: ListenConfig = field(default_factory=ListenConfig)
    database: DatabaseSection = field(default_factory=DatabaseSection)
    shards: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COMPONENTS, 1))
    registration: RegistrationConfig = field(default_factory=RegistrationConfig)
    rate_limits: RateLimitConfig = field(default_factory=RateLimitConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    presence: PresenceConfig = field(default_factory=PresenceConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    federation: FederationConfig = field(default_factory=FederationConfig)
    default_room_version: str = "12"
    access_token_lifetime_ms: int | None = None

    def shard_count(self, component: str) -> int:
        return max(1, int(self.shards.get(component, 1)))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Config:
        return _build(cls, raw, "")


_SECTIONS = {
    "listen": ListenConfig,
    "database": DatabaseSection,
    "registration": RegistrationConfig,
    "rate_limits": RateLimitConfig,
    "limits": LimitsConfig,
    "presence": PresenceConfig,
    "search": SearchConfig,
    "federation": FederationConfig,
}


def _build(cls: type, raw: Any, where: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where or 'config'} must be a mapping")
    known = {f.name for f in fields(cls)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"unknown setting(s) in {where or 'config'}: {', '.join(sorted(unknown))}")
    values = {}
    for name, value in raw.items():
        section = _SECTIONS.get(name) if cls is Config else None
        values[name] = _build(section, value, name) if section else value
    try:
        return cls(**values)
    except TypeError as e:
        raise ConfigError(str(e)) from None


def load_config(path: str | Path) -> Config:
    """Read the YAML file and the signing key it names; paths are relative to the file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {e}") from None
    config = Config.from_dict(raw)
    base = path.resolve().parent
    config.data_dir = str((base / config.data_dir).resolve())
    key_path = (base / config.signing_key_path).resolve()
    config.signing_key_path = str(key_path)
    try:
        config.signing_key = key_path.read_text().strip()
    except OSError as e:
        raise ConfigError(f"cannot read signing key {key_path}: {e.strerror}") from None
    fed = config.federation
    if fed.tls_certificate_path:
        fed.tls_certificate_path = str((base / fed.tls_certificate_path).resolve())
    if fed.tls_private_key_path:
        fed.tls_private_key_path = str((base / fed.tls_private_key_path).resolve())
    return config


def new_shared_secret() -> str:
    return secrets.token_urlsafe(32)
