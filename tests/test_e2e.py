"""End to end as operators run it: bootstrap, a real worker, deployment runs, the UI.

Triggered runs go to the work queue `e2e`, which only this test's worker polls, so the
schedules' own runs (queue `default`) never execute during the test.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import ArtifactSort
from prefect.deployments import run_deployment

from deployments.bootstrap import ensure_work_pool
from fleettickets.datasets import EAT
from tasks.blocks import delete_blocks
from tests import oracle
from tests.conftest import REPO, VENV_BIN, run_cli
from tests.helpers import ledger, row_versions, table_state, upload

QUEUE = "e2e"
DEPLOYMENTS = ("ingest-inc/scheduled", "ingest-crq/scheduled")


def bootstrap(*args: str, bin_dir: Path = VENV_BIN, cwd: Path = REPO, env: dict[str, str] | None = None) -> str:
    """`make deploy`'s bootstrap, as a subprocess against the test server (the checkout's by default;
    tests/test_wheel.py runs an installed wheel's)."""
    proc = subprocess.run([str(bin_dir / "python"), "-m", "deployments.bootstrap", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=180, env=env or os.environ.copy())
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@contextmanager
def running_worker(log: Path, bin_dir: Path = VENV_BIN, cwd: Path = REPO, env: dict[str, str] | None = None,
                   options: Sequence[str] = ()) -> Iterator[subprocess.Popen]:
    """`prefect worker start --pool fleettickets` polling only the test's queue, until the block ends."""
    with get_client(sync_client=True) as client:
        if QUEUE not in {q.name for q in client.read_work_queues(work_pool_name="fleettickets")}:
            client.create_work_queue(name=QUEUE, work_pool_name="fleettickets")
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(bin_dir / "prefect"), "worker", "start", "--pool", "fleettickets", "--work-queue", QUEUE, *options],
            # polls its queue every second (Prefect's default is 10 s): the same pick-up, sooner
            cwd=cwd, env={**(env or os.environ), "PREFECT_RUNNER_HEARTBEAT_FREQUENCY": "30",
                          "PREFECT_WORKER_QUERY_SECONDS": "1"},
            stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(30)


@contextmanager
def bootstrapped_worker(log: Path, env: dict[str, str] | None = None) -> Iterator[tuple[subprocess.Popen, str]]:
    """`running_worker` started beside the bootstrap (each is mostly Python importing Prefect), so the
    worker is up sooner; yields the worker and what the bootstrap printed, once the bootstrap is done."""
    ensure_work_pool()  # the bootstrap's first step, first: the worker starts on the pool
    with running_worker(log, env=env) as proc:
        yield proc, bootstrap()


def prefect_state() -> dict:
    """What a bootstrap may create: deployments with their schedules, pools, automations, scheduled runs."""
    with get_client(sync_client=True) as client:
        state = {"pools": sorted(p.name for p in client.read_work_pools()),
                 "automations": sorted(a.name for a in client.read_automations())}
        for name in DEPLOYMENTS:
            dep = client.read_deployment_by_name(name)
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[dep.id])),
                flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
                    type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))),
                limit=200,
            )
            state[name] = {
                "id": dep.id,
                "schedules": sorted((str(s.id), s.slug, s.schedule.cron, s.schedule.timezone, s.active)
                                    for s in dep.schedules),
                "parameters": dep.parameters,
                "pool": dep.work_pool_name,
                "concurrency": (dep.global_concurrency_limit.limit, dep.concurrency_options.collision_strategy),
                "pull_steps": dep.pull_steps,
                "scheduled_runs": sorted((str(r.id), r.expected_start_time) for r in runs
                                         if r.work_queue_name != QUEUE),
            }
    return state


def wait_scheduled_runs(minimum: int = 3, seconds: float = 60) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        state = prefect_state()
        counts = [len(state[name]["scheduled_runs"]) for name in DEPLOYMENTS]
        if min(counts) >= minimum or time.monotonic() > deadline:
            time.sleep(6)  # one more scheduler loop: the set must be complete, not half-written
            return prefect_state()
        time.sleep(1)


def run(name: str, **parameters) -> object:
    # polled every half second (Prefect's default is 5 s): returns soon after the run ends
    return run_deployment(name, parameters=parameters, work_queue_name=QUEUE, timeout=300, poll_interval=0.5)


def start(name: str, **parameters) -> object:
    """A run of the deployment, created now and not waited for."""
    return run_deployment(name, parameters=parameters, work_queue_name=QUEUE, timeout=0)


def finished(*flow_runs) -> list:
    """The runs, each read again once it has ended (or after 300 s): runs started together run side by side."""
    deadline = time.monotonic() + 300
    done = []
    with get_client(sync_client=True) as client:
        for flow_run in flow_runs:
            while not (flow_run.state and flow_run.state.is_final()) and time.monotonic() < deadline:
                time.sleep(0.5)
                flow_run = client.read_flow_run(flow_run.id)
            done.append(flow_run)
    return done


def latest_artifact(key: str):
    with get_client(sync_client=True) as client:
        return client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                                     sort=ArtifactSort.CREATED_DESC, limit=1)[0]


@pytest.fixture
def worker(settings, output_dir: Path):
    # The bootstrap creates the blocks from this test's environment (its own bucket); none may
    # outlive the test, or the next test's runs would read this one's bucket from them.
    delete_blocks()
    try:
        with bootstrapped_worker(output_dir / "worker.log") as (proc, _):
            yield proc
    finally:
        delete_blocks()


def state_of(flow_run) -> tuple[StateType, str]:
    with get_client(sync_client=True) as client:
        fresh = client.read_flow_run(flow_run.id)
    return fresh.state.type, fresh.state.message or ""


def test_deployments_run_through_the_worker(db, database, settings, s3, worker, inc_files, crq_files, output_dir):
    upload(s3, settings.s3_bucket, "inc", inc_files)
    upload(s3, settings.s3_bucket, "crq", crq_files)

    # both deployments run through the worker to Completed, with telling names
    runs = dict(zip(DEPLOYMENTS, finished(*map(start, DEPLOYMENTS)), strict=True))  # as their schedules start them
    for name, flow_run in runs.items():
        assert state_of(flow_run)[0] == StateType.COMPLETED, (name, state_of(flow_run))
    assert table_state(db, "inc") == oracle.replay(inc_files)
    assert table_state(db, "crq") == oracle.replay(crq_files)
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(runs["ingest-inc/scheduled"].id).name == (
            f"inc: {len(inc_files)} files -> {inc_files[-1].stem}"
        )

    # the watermark artifacts carry the last keys, read back through the API
    for dataset, files in (("inc", inc_files), ("crq", crq_files)):
        artifact = latest_artifact(f"{dataset}-watermark")
        assert f"automations/{dataset}/changes/{files[-1].name}" in str(artifact.data)
        assert "lag_behind_newest_file" in str(artifact.data) and "0 min" in str(artifact.data)
        assert str(artifact.flow_run_id) == str(runs[f"ingest-{dataset}/scheduled"].id)

    # a reseed run (as `prefect deployment run ... --param reseed=true`) completes and changes nothing
    before = row_versions(db, "inc")
    reseed = run("ingest-inc/scheduled", reseed=True)
    assert state_of(reseed)[0] == StateType.COMPLETED
    assert row_versions(db, "inc") == before

    # the UI shows the watermark: headless Chromium renders the artifact page
    check_artifact_page_in_chromium(output_dir, f"automations/inc/changes/{inc_files[-1].name}")


def test_second_bootstrap_changes_nothing_and_schedules_stay_in_the_window(settings, worker):
    first = wait_scheduled_runs()
    assert "deployments: up to date" in bootstrap()
    second = wait_scheduled_runs()
    for key, value in first.items():
        if key in DEPLOYMENTS:
            for field, before in value.items():
                assert second[key][field] == before, (key, field)
        else:
            assert second[key] == value, key
    assert first["pools"] == ["fleettickets"]
    assert "fleettickets: mark zombie runs crashed" in first["automations"]
    for name in DEPLOYMENTS:
        dep = first[name]
        assert [s[1:] for s in dep["schedules"]] == [
            (f"{name[7:10]}-every-20-minutes", "*/20 6-20 * * *", "Africa/Nairobi", True)
        ]
        assert dep["concurrency"] == (1, "CANCEL_NEW")
        assert set(dep["parameters"]) >= {"reseed", "from_key", "dry_run", "geocode"}
        starts = sorted(t.astimezone(EAT) for _, t in dep["scheduled_runs"])
        assert len(starts) >= 3
        for start in starts:
            assert 6 <= start.hour <= 20 and start.minute in (0, 20, 40) and start.second == 0, start
        same_day = [b - a for a, b in zip(starts, starts[1:], strict=False) if a.date() == b.date()]
        assert all(gap == timedelta(minutes=20) for gap in same_day)


def test_overlapping_run_is_cancelled_not_run(db, database, settings, s3, worker, inc_files):
    upload(s3, settings.s3_bucket, "inc", inc_files[:2])
    blocker = psycopg.connect(database)
    blocker.execute("SELECT 1 FROM tickets.import_meta WHERE dataset = 'inc' FOR UPDATE")
    try:
        first = run_deployment("ingest-inc/scheduled", work_queue_name=QUEUE, timeout=0)
        deadline = time.monotonic() + 120
        while state_of(first)[0] != StateType.RUNNING and time.monotonic() < deadline:
            time.sleep(0.5)
        assert state_of(first)[0] == StateType.RUNNING
        second = run("ingest-inc/scheduled")
        assert state_of(second)[0] == StateType.CANCELLED
    finally:
        blocker.rollback()
        blocker.close()
    deadline = time.monotonic() + 120
    while state_of(first)[0] == StateType.RUNNING and time.monotonic() < deadline:
        time.sleep(0.5)
    assert state_of(first)[0] == StateType.COMPLETED
    assert table_state(db, "inc") == oracle.replay(inc_files[:2])


def test_ui_retry_after_quarantine_completes_the_stream(db, settings, s3, worker, inc_files, tmp_path):
    baseline, drifted_source, *rest = inc_files
    drifted = tmp_path / drifted_source.name
    drifted.write_text(drifted_source.read_text(encoding="utf-8-sig").replace('"owner"', '"owner_name"', 1))
    upload(s3, settings.s3_bucket, "inc", [baseline, drifted, *rest])

    failed = run("ingest-inc/scheduled")
    state, message = state_of(failed)
    key = f"automations/inc/changes/{drifted.name}"
    assert state == StateType.FAILED
    assert key in message and "schema drift (missing columns: owner; unknown columns: owner_name)" in message

    run_cli("quarantine", "inc", key, check=True)
    retry = subprocess.run([str(VENV_BIN / "prefect"), "flow-run", "retry", str(failed.id)],
                           capture_output=True, text=True, timeout=60, env=os.environ.copy())
    assert retry.returncode == 0, retry.stdout + retry.stderr
    deadline = time.monotonic() + 180
    while state_of(failed)[0] != StateType.COMPLETED and time.monotonic() < deadline:
        time.sleep(0.2)
    assert state_of(failed)[0] == StateType.COMPLETED  # the same flow run, retried
    assert table_state(db, "inc") == oracle.replay([baseline, *rest])
    assert [r[0].rsplit("/", 1)[1] for r in ledger(db, "inc")] == [p.name for p in [baseline, *rest]]
    assert {r[3] for r in ledger(db, "inc")} == {0}


def check_artifact_page_in_chromium(output_dir: Path, watermark_key: str) -> None:
    url = os.environ["PREFECT_API_URL"].removesuffix("/api") + "/artifacts/key/inc-watermark"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--window-size=1400,1000", "--virtual-time-budget=20000",
             f"--user-data-dir={output_dir / 'chromium-profile'}"]
    screenshot = output_dir / "ui-inc-watermark.png"
    subprocess.run(["chromium", *flags, f"--screenshot={screenshot}", url], capture_output=True, timeout=120,
                   check=True)
    assert screenshot.stat().st_size > 10_000
    dom = subprocess.run(["chromium", *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120,
                         check=True).stdout
    assert watermark_key in dom, "the artifact page does not show the watermark key"
