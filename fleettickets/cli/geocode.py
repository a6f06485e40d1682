"""`geocode`: the geocoding steps on their own."""

from __future__ import annotations

import click

from fleettickets.cli import logs
from fleettickets.cli.common import domain_errors, resources


@click.command()
@click.option("--budget", type=click.IntRange(min=0), default=None,
              help="At most N provider requests in this run (the daily budget still applies).")
def geocode(budget: int | None) -> None:
    """Place every ticket: gazetteer clusters, plus codes, then addresses within the request budget.

    Runs the `geocode` Prefect flow and prints coverage by precision, requests spent and
    left, and the clusters the gazetteer does not know.
    """
    from flows.geocode import geocode as geocode_flow  # imports Prefect: only when geocoding
    from flows.temporary_server import prefect_runtime

    logs.reapply()
    with domain_errors():
        resources(strict=True)  # a bad setting or an unreachable Prefect API: one line, before any run
        with prefect_runtime(api_checked=True):
            report = geocode_flow(budget=budget)
    click.echo(report.render())
