"""Settings from the environment (and a local `.env`), with secrets kept out of reprs."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleettickets.errors import FleetTicketsError

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/tracksolid_db"


def load_dotenv(path: Path = Path(".env")) -> None:
    """Fill unset variables from a KEY=VALUE file; the real environment always wins."""
    if not path.is_file():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        os.environ.setdefault(key.strip(), value.strip().strip("'\""))


class ConfigurationError(FleetTicketsError):
    """A setting that cannot work (bad number, missing key or URL); names the variable, never a secret."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    s3_endpoint_url: str | None
    s3_bucket: str
    s3_region: str
    s3_access_key: str | None = field(default=None, repr=False)
    s3_secret_key: str | None = field(default=None, repr=False)
    geocoder_provider: str = "offline"  # offline | locationiq | nominatim
    stale_after_minutes: int = 60  # 0 disables the freshness check
    # A change file dated more than this ahead of now is held back, not applied.
    future_tolerance_minutes: int = 60
    geocoder_api_key: str | None = field(default=None, repr=False)
    geocoder_url: str | None = None  # LocationIQ: optional endpoint override; nominatim: required
    geocoder_daily_budget: int = 4500  # requests per UTC day, all runs and both datasets together
    geocoder_guard_km: float = 25.0  # widest accepted distance of a hit from its cluster's centroid
    geocoder_min_delay_seconds: float = 0.5  # between two requests (LocationIQ free tier: 2/s)
    geocoder_timeout_seconds: float = 10.0
    # Requests one ingest run may spend: 90 scheduled runs a day spread the daily budget;
    # a backlog is caught up with `fleettickets geocode`.
    geocoder_run_budget: int = 100

    @classmethod
    def from_env(cls) -> Settings:
        load_dotenv(Path(os.environ.get("FLEETTICKETS_ENV_FILE", ".env")))
        env = os.environ.get
        return cls(
            database_url=env("DATABASE_URL") or DEFAULT_DATABASE_URL,
            s3_endpoint_url=env("RUSTFS_ENDPOINT_URL") or None,
            s3_bucket=env("RUSTFS_BUCKET") or "isptickets",
            s3_region=env("RUSTFS_REGION") or "us-east-1",
            s3_access_key=env("RUSTFS_ACCESS_KEY") or None,
            s3_secret_key=env("RUSTFS_SECRET_KEY") or None,
            geocoder_provider=(env("GEOCODER_PROVIDER") or "offline").strip().lower(),
            stale_after_minutes=_number(env, "FLEETTICKETS_STALE_AFTER_MINUTES", int, 60),
            future_tolerance_minutes=_number(env, "FLEETTICKETS_FUTURE_TOLERANCE_MINUTES", int, 60),
            geocoder_api_key=env("GEOCODER_API_KEY") or None,
            geocoder_url=env("GEOCODER_URL") or None,
            geocoder_daily_budget=_number(env, "GEOCODER_DAILY_BUDGET", int, 4500),
            geocoder_guard_km=_number(env, "GEOCODER_GUARD_KM", float, 25.0),
            geocoder_min_delay_seconds=_number(env, "GEOCODER_MIN_DELAY_SECONDS", float, 0.5),
            geocoder_timeout_seconds=_number(env, "GEOCODER_TIMEOUT_SECONDS", float, 10.0),
            geocoder_run_budget=_number(env, "GEOCODER_RUN_BUDGET", int, 100),
        )


def _number(env: Any, name: str, kind: type, default: float) -> Any:
    """A numeric setting: unset or empty gives the default, anything else unusable is a clean error."""
    text = (env(name) or "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ConfigurationError(f"{name} must be {what}, got {text!r}") from None
    if value < 0:
        raise ConfigurationError(f"{name} must not be negative, got {text!r}")
    return value
