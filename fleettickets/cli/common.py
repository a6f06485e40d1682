"""What every command shares: settings, the dataset argument, clean domain errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from fleettickets.config import Settings
from fleettickets.datasets import DATASETS
from fleettickets.errors import FleetTicketsError

DATASET_ARG = click.argument("dataset", type=click.Choice(sorted(DATASETS)))


@contextmanager
def domain_errors() -> Iterator[None]:
    """Turn a domain error into one line on stderr and exit status 1."""
    try:
        yield
    except FleetTicketsError as exc:
        raise click.ClickException(str(exc)) from None


def settings() -> Settings:
    return Settings.from_env()
