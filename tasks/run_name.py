"""A telling flow-run name in the Prefect UI instead of a random adjective-animal one."""

from __future__ import annotations

from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.runtime import flow_run

from fleettickets.summary import Mode, RunSummary, Status


def name_flow_run(summary: RunSummary) -> None:
    """`inc: 3 files -> 2026-06-15T07-00-00` instead of a random adjective-animal name."""
    if not flow_run.id:
        return
    applied = len(summary.files)
    last = summary.files[-1].source_key.rsplit("/", 1)[-1].removesuffix(".csv") if applied else None
    name = f"{summary.dataset}: " + (
        f"{applied} file{'s' * (applied != 1)} -> {last}" if applied else "no new files"
    )
    if summary.mode is not Mode.NORMAL:
        name += f" ({summary.mode})"
    if summary.status in {Status.FAILED, Status.LOCKED}:
        name += f" [{summary.status}]"
    with get_client(sync_client=True) as client:
        client.update_flow_run(UUID(str(flow_run.id)), name=name)
