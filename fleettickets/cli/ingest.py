"""`ingest` and `quarantine`: moving the change stream forward."""

from __future__ import annotations

import click
import psycopg
from botocore.exceptions import BotoCoreError, ClientError

from fleettickets import quarantine as quarantine_lib
from fleettickets.cli import logs
from fleettickets.cli.common import DATASET_ARG, debug, domain_errors, explain, resources
from fleettickets.datasets import get_dataset
from fleettickets.db import connect
from fleettickets.summary import Status

EXIT_STALE = 3  # files applied fine, but the exporter is late: a different page for the operator


@click.command()
@DATASET_ARG
@click.option("--dry-run", is_flag=True, help="Report per file what would change; write nothing.")
@click.option("--reseed", is_flag=True, help="Replay processed/ and changes/ in order (safe live).")
@click.option("--from-key", default=None, help="With --reseed: start at this file (key or file name).")
@click.option("--no-geocode", "no_geocode", is_flag=True, help="Skip geocoding after the files are applied.")
@click.option("--wait", is_flag=True, help="Wait for a running ingest of the dataset instead of exiting.")
def ingest(dataset: str, dry_run: bool, reseed: bool, from_key: str | None, no_geocode: bool, wait: bool) -> None:
    """Apply DATASET's pending change files through the ingest-<dataset> Prefect flow."""
    if from_key and not reseed:
        raise click.UsageError("--from-key goes with --reseed")
    from flows.ingest import INGEST_FLOWS, IngestFailed, SourceStale  # imports Prefect: only when ingesting
    from flows.temporary_server import prefect_runtime
    from tasks.blocks import hand_to_next_run

    logs.reapply()
    try:
        with domain_errors():
            hand_to_next_run(resources(strict=True))  # a bad setting or an unreachable API: one line, before any run
            with prefect_runtime(api_checked=True):
                result = INGEST_FLOWS[dataset](reseed=reseed, from_key=from_key, dry_run=dry_run,
                                               geocode=not no_geocode, wait=wait)
    except IngestFailed as exc:
        click.echo(exc.summary.render())
        error = click.ClickException(explain(exc))
        error.exit_code = EXIT_STALE if isinstance(exc, SourceStale) else 1
        raise error from None
    except (OSError, psycopg.Error, BotoCoreError, ClientError) as exc:  # the bucket or the database
        if debug():
            raise
        raise click.ClickException(
            f"ingest-{dataset} failed: {explain(exc)} (the flow run's logs have the details)"
        ) from None
    click.echo(result.render())
    if result.status is Status.LOCKED:
        click.echo(f"another ingest of {dataset} is running; this run exited without changes")


@click.command()
@DATASET_ARG
@click.argument("key")
def quarantine(dataset: str, key: str) -> None:
    """Move file KEY of DATASET (under changes/ or processed/) to quarantine/ so the stream goes
    on without it. An applied file is taken out of the accepted stream and the dataset is
    replayed without it (its tickets are rebuilt from the remaining files)."""
    with domain_errors():
        found = resources()
        bucket = found.bucket
        with bucket.errors(), connect(found.settings.database_url, autocommit=True) as conn:
            moved = quarantine_lib.quarantine(conn, bucket.client, bucket.name, get_dataset(dataset), key)
    click.echo(f"quarantined: {moved.source} -> {moved.target}")
    if moved.unapplied:
        click.echo(f"it had been applied: {moved.tickets_removed} tickets are rebuilt by a replay of the"
                   f" remaining {dataset} files, now")
        from flows.ingest import INGEST_FLOWS  # imports Prefect: only when replaying
        from flows.temporary_server import prefect_runtime

        with domain_errors(), prefect_runtime():
            click.echo(INGEST_FLOWS[dataset](reseed=True, geocode=False).render())
