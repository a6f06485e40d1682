"""Records of the library's own loggers (fleettickets.*) reach the flow run's logs in the UI.

The example is the loader's warning for a row without a ticket_id (fleettickets/apply.py),
read back through the API, for a deployment run on a worker (prefect.yaml's job variables set
PREFECT_LOGGING_EXTRA_LOGGERS) and for a run of the command line (which sets it for its flows).
"""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterDeploymentId,
    FlowRunFilterStartTime,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import FlowRunSort

from tests.conftest import run_cli
from tests.helpers import upload
from tests.test_e2e import bootstrapped_worker, run, state_of

DROPPED = "has no ticket_id; dropped"


def without_an_id(source: Path, target: Path) -> tuple[Path, str]:
    """A copy of a change file in which one real ticket's row has lost its id."""
    with source.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    column = rows[0].index("ticket_id")
    row = next(r for r in rows[1:] if r[column].startswith("INC"))
    lost, row[column] = row[column], ""
    with target.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(rows)
    return target, lost


def library_records(flow_run_id, seconds: float = 30) -> list[tuple[str, str]]:
    """(logger, message) of the run's logs from fleettickets.* loggers; waits for late batches."""
    deadline = time.monotonic() + seconds
    while True:
        with get_client(sync_client=True) as client:
            logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
        found = [(log.name, log.message) for log in logs if log.name.startswith("fleettickets")]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


@pytest.fixture
def broken_baseline(inc_files, tmp_path: Path) -> Path:
    return without_an_id(inc_files[0], tmp_path / inc_files[0].name)[0]


def test_a_deployment_runs_library_warnings_are_in_its_logs(settings, s3, broken_baseline, output_dir):
    upload(s3, settings.s3_bucket, "inc", [broken_baseline])
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_LOGGING_EXTRA_LOGGERS"}  # from prefect.yaml alone
    with bootstrapped_worker(output_dir / "logs-worker.log", env=env):
        flow_run = run("ingest-inc/scheduled", geocode=False)
    assert state_of(flow_run)[0] == StateType.COMPLETED, state_of(flow_run)

    records = library_records(flow_run.id)
    key = f"automations/inc/changes/{broken_baseline.name}"
    assert any(name == "fleettickets.apply" and msg.startswith(key) and DROPPED in msg
               for name, msg in records), records


def test_a_command_line_runs_library_warnings_are_in_its_logs(settings, s3, broken_baseline, monkeypatch):
    monkeypatch.delenv("PREFECT_LOGGING_EXTRA_LOGGERS", raising=False)
    upload(s3, settings.s3_bucket, "inc", [broken_baseline])

    result = run_cli("ingest", "inc", "--no-geocode", check=True)

    assert DROPPED in result.stderr  # on the console, as before
    with get_client(sync_client=True) as client:  # the command's run: started, and from no deployment
        latest = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["ingest-inc"])),
            flow_run_filter=FlowRunFilter(deployment_id=FlowRunFilterDeploymentId(is_null_=True),
                                          start_time=FlowRunFilterStartTime(is_null_=False)),
            sort=FlowRunSort.START_TIME_DESC, limit=1)[0]
    records = library_records(latest.id)
    assert any(name == "fleettickets.apply" and DROPPED in msg for name, msg in records), records
