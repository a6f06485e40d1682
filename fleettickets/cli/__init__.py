"""`fleettickets`: the operators' command line. One module per command group.

Each command parses its arguments, calls the library function of the same name and turns
domain errors into one clean message with a non-zero exit.
"""

from __future__ import annotations

import logging
import os

import click

from fleettickets.cli.admin import migrate, status
from fleettickets.cli.geocode import geocode
from fleettickets.cli.ingest import ingest, quarantine
from fleettickets.cli.sample import sample


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fleettickets", message="%(prog)s %(version)s")  # the installed metadata
def main() -> None:
    """Keep the tickets schema in step with the ticket change stream."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # The flows a command runs (ingest, geocode) send the library's records to the run's logs in the
    # UI, as deployment runs do (prefect.yaml's job variables). Prefect reads this when it is first
    # imported, which the commands do only after this point.
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "fleettickets")
    for noisy in ("httpx", "botocore", "urllib3"):  # request lines would drown the summary
        logging.getLogger(noisy).setLevel(logging.WARNING)


for command in (migrate, status, ingest, quarantine, geocode, sample):
    main.add_command(command)
