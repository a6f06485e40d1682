"""What every command shares: settings, the dataset argument, clean errors.

A failure ends with one `Error: ...` line that says what to fix and a non-zero exit (2 for
a usage error); `fleettickets --debug ...` shows the traceback instead. No message carries a
secret: the ones known to the command (its settings, the environment's) are masked.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from fleettickets.cli import logs
from fleettickets.config import SECRET_VARIABLES, Settings
from fleettickets.datasets import DATASETS
from fleettickets.errors import ArgumentError, FleetTicketsError

if TYPE_CHECKING:
    from tasks.blocks import Resources

DATASET_ARG = click.argument("dataset", type=click.Choice(sorted(DATASETS)))

_known_secrets: set[str] = set()


def debug() -> bool:
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.find_root().params.get("debug"))


@contextmanager
def domain_errors() -> Iterator[None]:
    """Turn a domain error into one line on stderr and exit status 1 (2 for a bad argument)."""
    try:
        yield
    except FleetTicketsError as exc:
        if debug():
            raise
        raise as_click_error(exc) from None


def as_click_error(exc: BaseException) -> click.ClickException:
    message = explain(exc)
    if isinstance(exc, ArgumentError):
        return click.UsageError(message)
    return click.ClickException(message)


def explain(exc: BaseException) -> str:
    """One line for any failure: the domain message, or what kind of thing failed and how."""
    text = str(exc) if isinstance(exc, FleetTicketsError) else _explain_foreign(exc)
    return scrub(" ".join(text.split()))


def _explain_foreign(exc: BaseException) -> str:
    name = type(exc).__name__
    module = type(exc).__module__
    if module.startswith("httpx") or name.startswith("PrefectHTTP"):
        return (f"the Prefect API did not answer as expected ({name}: {exc}); check PREFECT_API_URL"
                " and the server's log")
    if module.startswith(("botocore", "boto3")):
        return f"S3 request failed ({name}: {exc}); check the RUSTFS_* settings or the bucket block"
    if module.startswith("psycopg"):
        return f"database error ({name}: {exc})"
    hint = " (`fleettickets --debug ...` shows the traceback)"
    return f"{name}: {exc}{hint}" if str(exc) else f"{name}{hint}"


def remember_secrets(settings: Settings) -> None:
    """Secrets this command holds: masked in any message it prints (defence in depth)."""
    from psycopg.conninfo import conninfo_to_dict

    for value in (settings.database_url, settings.s3_access_key, settings.s3_secret_key, settings.geocoder_api_key):
        if value is not None:
            _known_secrets.add(value.get_secret_value())
    try:
        password = conninfo_to_dict(settings.database_url.get_secret_value()).get("password")
    except Exception:  # an unparseable DSN is masked whole above
        password = None
    if password:
        _known_secrets.add(password)


def scrub(text: str) -> str:
    secrets = set(_known_secrets)
    secrets.update(v for k in SECRET_VARIABLES if (v := os.environ.get(k)))
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:  # masking "ab" everywhere would garble the message, and says nothing
            text = text.replace(secret, "***")
    return text


def resources(*, strict: bool = False) -> Resources:
    """Settings and bucket: blocks when a Prefect API is configured, else the environment."""
    from tasks.blocks import resolve  # imports Prefect: blocks live on its server

    logs.reapply()  # Prefect configured its logging on import
    found = resolve(strict=strict)
    remember_secrets(found.settings)
    return found


def settings() -> Settings:
    return resources().settings
