"""A progress artifact in the Prefect UI while a multi-file run or a reseed is going."""

from __future__ import annotations

from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.runtime import flow_run


class Progress:
    """A progress artifact while a multi-file run or a reseed is going."""

    def __init__(self, dataset: str, total: int) -> None:
        self.total = total
        self.artifact_id = (
            create_progress_artifact(0.0, key=f"{dataset}-progress",
                                     description=f"ingest-{dataset}: {total} files")
            if total > 1 and flow_run.id else None
        )

    def update(self, done: int) -> None:
        if self.artifact_id:
            update_progress_artifact(self.artifact_id, 100.0 * done / self.total)
