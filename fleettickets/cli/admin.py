"""`migrate` and `status`."""

from __future__ import annotations

import json

import click

from fleettickets import migrate as migrations
from fleettickets import status as status_lib
from fleettickets.cli.common import domain_errors, resources, settings


@click.command()
def migrate() -> None:
    """Apply pending numbered SQL migrations from migrations/ (each once, in order)."""
    with domain_errors():
        config = settings()
        applied = migrations.migrate(config.database_url)
    click.echo(f"applied {len(applied)} migration(s) to {config.safe_database_url}"
               + (": " + ", ".join(applied) if applied else ""))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def status(as_json: bool) -> None:
    """Per dataset: watermark, pending files, rows, open tickets, last run, geocoding; and where
    each setting comes from (block, environment, env file, default), never its value.

    Reads the database and lists the bucket; never starts a Prefect server.
    """
    with domain_errors():
        found = resources()
        data = status_lib.status(found.settings, s3_client=found.bucket.client)
    origins = found.report()
    if as_json:
        click.echo(json.dumps({**data, "settings": origins}, indent=2))
        return
    click.echo(status_lib.render_status(data))
    click.echo("settings (where each comes from; values are never shown):")
    for variable, origin in origins.items():
        shown = origin["source"] + (f" {origin['block']} ({origin['type']})" if "block" in origin else "")
        shown += f" {origin['path']}" if "path" in origin else ""
        click.echo(f"  {variable}: {shown}")
    if found.note:
        click.echo(f"  ({found.note})")
