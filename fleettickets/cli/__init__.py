"""`fleettickets`: the operators' command line. One module per command group.

Each command parses its arguments, calls the library function of the same name and turns
errors into one clean `Error: ...` line with a non-zero exit (fleettickets/cli/common.py);
`fleettickets --debug ...` shows tracebacks instead.
"""

from __future__ import annotations

import logging
import os

import click

from fleettickets.cli.admin import migrate, status
from fleettickets.cli.common import as_click_error
from fleettickets.cli.geocode import geocode
from fleettickets.cli.ingest import ingest, quarantine
from fleettickets.cli.sample import sample
from fleettickets.config import FLOW_HEARTBEAT_SECONDS, HEARTBEAT_SETTINGS


class Main(click.Group):
    """The group: any failure a command did not turn into a clean error becomes one here."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            raise as_click_error(exc) from None


@click.group(cls=Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fleettickets", message="%(prog)s %(version)s")  # the installed metadata
@click.option("--debug", is_flag=True, help="Show tracebacks (and debug logs) instead of one-line errors.")
def main(debug: bool) -> None:
    """Keep the tickets schema in step with the ticket change stream."""
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    prefect_environment()
    for noisy in ("httpx", "httpcore", "botocore", "boto3", "urllib3", "s3transfer"):
        # request lines would drown the summary (and could name an endpoint's user)
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not debug:
        from fleettickets.cli.logs import without_tracebacks

        without_tracebacks()


def prefect_environment() -> None:
    """What the flows a command runs (ingest, geocode) need of Prefect, as deployment runs get it
    from prefect.yaml's job variables. Prefect reads these when it is first imported, which the
    commands do only after this point; a value the environment sets wins."""
    # The library's records go to the run's logs in the UI.
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "fleettickets")
    # Heartbeats as the zombie automation expects them: at Prefect's default (180 s) a healthy
    # run over 90 s long was marked Crashed while it ran (which the failure automation alerts on).
    if not any(os.environ.get(name) for name in HEARTBEAT_SETTINGS):
        os.environ[HEARTBEAT_SETTINGS[0]] = str(FLOW_HEARTBEAT_SECONDS)


for command in (migrate, status, ingest, quarantine, geocode, sample):
    main.add_command(command)
