"""`sample`: deterministic, contract-true exports for the demo, tests and bench."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import click

from fleettickets import sample as sample_lib
from fleettickets import storage
from fleettickets.cli.common import domain_errors, resources
from fleettickets.datasets import DATASETS, EAT


@click.command()
@click.option("--to", "to", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write into DIR/<dataset>/.")
@click.option("--to-bucket", is_flag=True, help="Upload under automations/<dataset>/changes/.")
@click.option("--dataset", type=click.Choice(sorted(DATASETS)), default=None,
              help="One dataset (default: both).")
@click.option("--rows", type=int, default=31434, show_default=True, help="Baseline rows.")
@click.option("--deltas", type=int, default=3, show_default=True, help="Delta files after the baseline.")
@click.option("--seed", type=int, default=7, show_default=True, help="Same seed, same bytes.")
@click.option("--start", default=None,
              help="EAT time of the baseline file (ISO), or 'now' for a stream whose newest file is current."
                   " Default: 2026-06-15T06:00.")
def sample(to: Path | None, to_bucket: bool, dataset: str | None, rows: int, deltas: int,
           seed: int, start: str | None) -> None:
    """Generate a baseline plus deltas per dataset, to a folder (--to) or the bucket (--to-bucket)."""
    if (to is None) == (not to_bucket):
        raise click.UsageError("give exactly one of --to DIR or --to-bucket")
    first = sample_lib.DEFAULT_START if start is None else _parse_start(start, deltas)
    names = [dataset] if dataset else sorted(DATASETS)
    with domain_errors(), tempfile.TemporaryDirectory(prefix="fleettickets-sample-") as tmp:
        root = to or Path(tmp)
        bucket = resources().bucket if to_bucket else None
        if bucket is not None:
            with bucket.errors():
                storage.ensure_bucket(bucket.client, bucket.name)
        for name in names:
            paths = sample_lib.write_stream(name, root / name, rows=rows, deltas=deltas, seed=seed, start=first)
            if bucket is not None:
                with bucket.errors():
                    keys = storage.upload_files(bucket.client, bucket.name, DATASETS[name], paths)
                click.echo(f"{name}: uploaded {len(keys)} files to s3://{bucket.name}/"
                           f"{DATASETS[name].changes_prefix}")
            else:
                click.echo(f"{name}: wrote {len(paths)} files to {root / name}")


def _parse_start(start: str, deltas: int) -> datetime:
    if start == "now":  # newest file on the last 20-minute mark, like the exporter's cron
        now = datetime.now(EAT).replace(second=0, microsecond=0)
        return now - timedelta(minutes=now.minute % 20) - deltas * timedelta(minutes=20)
    try:
        parsed = datetime.fromisoformat(start)
    except ValueError:
        raise click.BadParameter(f"{start!r} is not an ISO time or 'now'", param_hint="--start") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=EAT)
