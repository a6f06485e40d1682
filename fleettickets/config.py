"""Settings: typed and validated (pydantic-settings), every secret a `SecretStr`.

Where a value comes from, first match wins:

1. the value given to the constructor (the Prefect layer passes what it read from blocks:
   tasks/blocks.py);
2. the process environment;
3. the env file: `.env` in the working directory, or the file FLEETTICKETS_ENV_FILE names;
4. the default below.

A bad value is one `ConfigurationError` naming the variable (`GEOCODER_GUARD_KM must be a
number, got 'abc'`); a secret's value is never part of a message, a repr or a str.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import psycopg
from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fleettickets.errors import FleetTicketsError

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/tracksolid_db"
# How often a flow run tells the Prefect server it is alive (Prefect's minimum; its default is 180
# s), wherever it runs: the command line, a worker (prefect.yaml's job variables). The zombie
# automation (deployments/bootstrap.py) marks a run Crashed after three missed heartbeats.
FLOW_HEARTBEAT_SECONDS = 30
HEARTBEAT_SETTINGS = ("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY")  # new, legacy
PROVIDERS = ("offline", "locationiq", "nominatim")


class ConfigurationError(FleetTicketsError):
    """A setting that cannot work (bad number, missing key or URL); names the variable, never a secret."""


class SourcedSecret(SecretStr):
    """A `SecretStr` that remembers where it came from, so that an error can say what to fix.

    `origin` is the environment variable by default, or e.g. "Secret block 'fleettickets-database-url'".
    """

    def __init__(self, secret_value: str, origin: str = "") -> None:
        super().__init__(secret_value)
        self.origin = origin


def secret_origin(value: Any, variable: str) -> str:
    """What an operator edits to change `value`: its block, or the variable (named the same in .env)."""
    return getattr(value, "origin", "") or variable


def _env(variable: str, default: Any, **constraints: Any) -> Any:
    return Field(default=default, validation_alias=variable, **constraints)


class Settings(BaseSettings):
    """Every setting of fleettickets; the field's alias is its environment variable."""

    model_config = SettingsConfigDict(
        frozen=True,  # hashable: one S3 client per settings (storage.make_s3_client)
        extra="ignore",  # .env files carry other tools' variables too
        env_ignore_empty=True,  # `GEOCODER_API_KEY=` in .env means "not set"
        case_sensitive=False,
    )

    database_url: SecretStr = _env("DATABASE_URL", SecretStr(DEFAULT_DATABASE_URL))
    s3_endpoint_url: str | None = _env("RUSTFS_ENDPOINT_URL", None)
    s3_bucket: str = _env("RUSTFS_BUCKET", "isptickets", min_length=1)
    s3_region: str = _env("RUSTFS_REGION", "us-east-1", min_length=1)
    s3_access_key: SecretStr | None = _env("RUSTFS_ACCESS_KEY", None)
    s3_secret_key: SecretStr | None = _env("RUSTFS_SECRET_KEY", None)
    geocoder_provider: Literal["offline", "locationiq", "nominatim"] = _env("GEOCODER_PROVIDER", "offline")
    geocoder_api_key: SecretStr | None = _env("GEOCODER_API_KEY", None)
    # LocationIQ: optional endpoint override; nominatim: required
    geocoder_url: str | None = _env("GEOCODER_URL", None)
    # requests per UTC day, all runs and both datasets together
    geocoder_daily_budget: int = _env("GEOCODER_DAILY_BUDGET", 4500, ge=0)
    # Requests one ingest run may spend: 90 scheduled runs a day spread the daily budget;
    # a backlog is caught up with `fleettickets geocode`.
    geocoder_run_budget: int = _env("GEOCODER_RUN_BUDGET", 100, ge=0)
    # widest accepted distance of a hit from its cluster's centroid
    geocoder_guard_km: float = _env("GEOCODER_GUARD_KM", 25.0, ge=0)
    # between two requests (LocationIQ free tier: 2/s)
    geocoder_min_delay_seconds: float = _env("GEOCODER_MIN_DELAY_SECONDS", 0.5, ge=0)
    geocoder_timeout_seconds: float = _env("GEOCODER_TIMEOUT_SECONDS", 10.0, gt=0)
    stale_after_minutes: int = _env("FLEETTICKETS_STALE_AFTER_MINUTES", 60, ge=0)  # 0 disables the check
    # A change file dated more than this ahead of now is held back, not applied.
    future_tolerance_minutes: int = _env("FLEETTICKETS_FUTURE_TOLERANCE_MINUTES", 60, ge=0)

    def __init__(self, **values: Any) -> None:
        # Field names (database_url=...) and variable names (DATABASE_URL=...) both work; the
        # environment source only ever reads the variable names.
        values = {VARIABLES.get(key, key): value for key, value in values.items()}
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigurationError(explain(exc)) from None

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Settings from the environment and the env file; `overrides` (e.g. from blocks) win."""
        return cls(_env_file=env_file(), **overrides)

    def replace(self, **changes: Any) -> Settings:
        """A copy with some values changed, validated like any other settings."""
        values = {name: getattr(self, name) for name in type(self).model_fields}
        return type(self)(**{**values, **changes})

    @property
    def safe_database_url(self) -> str:
        from fleettickets.db import safe_dsn

        return safe_dsn(self.database_url)

    @field_validator("geocoder_provider", mode="before")
    @classmethod
    def _provider(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("s3_endpoint_url", "geocoder_url", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        return (value.strip() or None) if isinstance(value, str) else value

    @field_validator("s3_endpoint_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is not None and not is_http_url(value):
            raise ValueError("must be an http(s) URL such as http://127.0.0.1:9000")
        return value

    @field_validator("database_url")
    @classmethod
    def _dsn(cls, value: SecretStr) -> SecretStr:
        dsn = value.get_secret_value().replace("postgresql+psycopg://", "postgresql://", 1)
        try:
            psycopg.conninfo.conninfo_to_dict(dsn)
        except psycopg.Error:
            # libpq's message quotes the whole string, password included: never shown
            raise ValueError("is not a PostgreSQL URL (postgresql://user:password@host:port/database)") from None
        return value


VARIABLES: dict[str, str] = {name: str(field.validation_alias) for name, field in Settings.model_fields.items()}
SECRET_VARIABLES = ("DATABASE_URL", "RUSTFS_ACCESS_KEY", "RUSTFS_SECRET_KEY", "GEOCODER_API_KEY")


def env_file() -> Path:
    return Path(os.environ.get("FLEETTICKETS_ENV_FILE", ".env"))


def is_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def env_origins() -> dict[str, str]:
    """Per variable: "environment", "env file <path>" or "default" (never the value)."""
    path = env_file()
    in_file = {k.upper() for k, v in dotenv_values(path).items() if v} if path.is_file() else set()
    in_env = {k.upper() for k, v in os.environ.items() if v}
    origins = {}
    for variable in VARIABLES.values():
        if variable in in_env:
            origins[variable] = "environment"
        elif variable in in_file:
            origins[variable] = f"env file {path}"
        else:
            origins[variable] = "default"
    return origins


_KIND = {int: "a whole number", float: "a number"}


def explain(exc: ValidationError) -> str:
    """One line naming each bad variable and what it must be; the input only when it is no secret."""
    problems = []
    for error in exc.errors(include_url=False):
        where = str(error["loc"][0]) if error["loc"] else "settings"
        variable = VARIABLES.get(where, where)
        field = Settings.model_fields.get(next((n for n, v in VARIABLES.items() if v == variable), ""), None)
        kind = field.annotation if field else None
        context = error.get("ctx") or {}
        kind_of = error["type"]
        if kind_of in ("int_parsing", "int_from_float", "float_parsing", "int_type", "float_type"):
            what = f"must be {_KIND.get(kind, 'a number')}"
        elif kind_of in ("greater_than_equal", "greater_than"):
            what = "must not be negative" if kind_of == "greater_than_equal" else "must be more than 0"
        elif kind_of == "literal_error":
            what = f"must be one of {', '.join(PROVIDERS)}"
        elif kind_of == "value_error":
            what = str(context.get("error", error["msg"]))
        elif kind_of == "string_too_short":
            what = "must not be empty"
        else:
            what = error["msg"].lower()
        if variable in SECRET_VARIABLES:
            problems.append(f"{variable} {what}")
        else:
            problems.append(f"{variable} {what}, got {error.get('input')!r}")
    return "; ".join(problems)
