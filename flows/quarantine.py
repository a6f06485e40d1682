"""Flow `quarantine-file`: take a file out of a dataset's stream, from the UI.

The same as `fleettickets quarantine DATASET KEY` (deployment `quarantine-file/on-demand`,
no schedule: an operator starts it). The next ingest run goes on without the file, and a failed
ingest run retried from the UI completes with the remaining files.
"""

from __future__ import annotations

from typing import Annotated, Literal

from prefect import get_run_logger
from pydantic import Field

from fleettickets.datasets import get_dataset
from flows.ingest import INGEST_FLOWS
from flows.plain_flow import plain_flow
from tasks.operations import quarantine

# The keys of fleettickets.datasets.DATASETS, spelled out so the UI offers a choice and the server
# refuses anything else when the run is created (tests/test_operator_deployments.py keeps them equal).
DatasetName = Literal["inc", "crq"]


@plain_flow(name="quarantine-file")
def quarantine_file(
    dataset: Annotated[DatasetName, Field(description="The dataset whose stream the file stops.")],
    key: Annotated[str, Field(min_length=1, description="The change file: its key or its file name.")],
) -> str:
    """Move file KEY of DATASET (under changes/ or processed/) to quarantine/ so the stream goes on
    without it; an applied file is taken out of the accepted stream and the dataset replayed."""
    moved = quarantine(get_dataset(dataset), key)                              # the move (and un-apply)
    get_run_logger().info("quarantined %s -> %s: the next ingest-%s run goes on without it",
                          moved.source, moved.target, dataset)
    if moved.unapplied:                                                          # rebuild its tickets
        INGEST_FLOWS[dataset](reseed=True, geocode=False)
    return moved.target
