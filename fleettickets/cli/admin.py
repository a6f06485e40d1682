"""`migrate` and `status`."""

from __future__ import annotations

import json

import click

from fleettickets import migrate as migrations
from fleettickets import status as status_lib
from fleettickets.cli.common import domain_errors, settings
from fleettickets.db import safe_dsn


@click.command()
def migrate() -> None:
    """Apply pending numbered SQL migrations from migrations/ (each once, in order)."""
    with domain_errors():
        dsn = settings().database_url
        applied = migrations.migrate(dsn)
    click.echo(f"applied {len(applied)} migration(s) to {safe_dsn(dsn)}"
               + (": " + ", ".join(applied) if applied else ""))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def status(as_json: bool) -> None:
    """Per dataset: watermark, pending files, rows, open tickets, last run, geocoding.

    Reads the database and lists the bucket; never starts a Prefect server.
    """
    with domain_errors():
        data = status_lib.status(settings())
    click.echo(json.dumps(data, indent=2) if as_json else status_lib.render_status(data))
