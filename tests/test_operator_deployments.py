"""The operators' two interventions as deployments, started through the API as the UI's Run does.

`quarantine-file/on-demand` and `geocode-catch-up/on-demand` (prefect.yaml, deployed by the
bootstrap) run on a real worker; their parameters are validated when the run is created, so a
wrong one never reaches a worker.
"""

from __future__ import annotations

import os
import typing
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.deployments import run_deployment
from prefect.exceptions import PrefectHTTPStatusError

from fleettickets.datasets import DATASETS
from flows.quarantine import DatasetName
from tests.helpers import keys, upload
from tests.locationiq_server import FakeLocationIQ
from tests.test_e2e import QUEUE, bootstrap, finished, run, running_worker, start, state_of
from tests.test_geocode_runs import add_ticket

QUARANTINE = "quarantine-file/on-demand"
CATCH_UP = "geocode-catch-up/on-demand"


@pytest.fixture
def start_worker(settings, output_dir: Path) -> Iterator:
    """Bootstrap; then `start_worker(**env)` starts a worker with these variables added to its environment."""
    bootstrap()
    with ExitStack() as stack:
        yield lambda **env: stack.enter_context(
            running_worker(output_dir / "operator-worker.log", env={**os.environ, **env}))


def refused(name: str, **parameters: object) -> str:
    """The server's answer to a run created with these parameters (as the UI's Run form posts it)."""
    with pytest.raises(PrefectHTTPStatusError) as info:
        run_deployment(name, parameters=parameters, work_queue_name=QUEUE, timeout=0)
    assert info.value.response.status_code in (409, 422), info.value
    return info.value.response.text


def test_the_operator_deployments_are_deployed_without_schedules(settings):
    bootstrap()
    with get_client(sync_client=True) as client:
        for name in (QUARANTINE, CATCH_UP):
            deployment = client.read_deployment_by_name(name)
            assert deployment.work_pool_name == "fleettickets" and deployment.schedules == []
            assert deployment.enforce_parameter_schema
            assert {"fleettickets", "operator"} <= set(deployment.tags)
        schema = client.read_deployment_by_name(QUARANTINE).parameter_openapi_schema
    assert sorted(schema["properties"]["dataset"]["enum"]) == sorted(DATASETS) == sorted(typing.get_args(DatasetName))
    assert schema["required"] == ["dataset", "key"]


def test_quarantine_file_moves_the_named_key(settings, s3, inc_files, start_worker):
    upload(s3, settings.s3_bucket, "inc", inc_files[:3])
    bad = f"automations/inc/changes/{inc_files[1].name}"
    start_worker()

    # a file name is enough; a key that is not there fails the run with a message naming it
    # (the two runs touch different datasets: they run side by side)
    moved, missing = finished(start(QUARANTINE, dataset="inc", key=bad),
                              start(QUARANTINE, dataset="crq", key=inc_files[2].name))

    assert state_of(moved)[0] == StateType.COMPLETED, state_of(moved)
    assert keys(s3, settings.s3_bucket, "automations/inc/quarantine/") == [
        f"automations/inc/quarantine/{inc_files[1].name}"]
    assert keys(s3, settings.s3_bucket, "automations/inc/changes/") == [
        f"automations/inc/changes/{p.name}" for p in (inc_files[0], inc_files[2])]

    state, message = state_of(missing)
    assert state == StateType.FAILED
    assert f"automations/crq/changes/{inc_files[2].name}: no such change file in bucket" in message
    assert len(keys(s3, settings.s3_bucket, "automations/inc/changes/")) == 2

    # refused when the run is created: an unknown dataset, an empty key, no key at all
    assert "'ABC' is not one of ['inc', 'crq']" in refused(QUARANTINE, dataset="ABC", key=bad)
    assert "dataset" in refused(QUARANTINE, dataset="ABC", key=bad)
    assert "key" in refused(QUARANTINE, dataset="inc", key="")
    assert "'key' is a required property" in refused(QUARANTINE, dataset="inc")


def test_geocode_catch_up_spends_at_most_its_budget(db, settings, start_worker):
    db.execute("TRUNCATE tickets.geo_locations, tickets.geo_clusters, tickets.geocoder_budget")
    where = {"Links Road": ("coast", "Nyali"), "Argwings Kodhek Rd": ("nairobi", "Kilimani"),
             "Kenyatta Avenue": ("rift valley", "Nakuru"), "Oginga Odinga Street": ("nyanza", "Kisumu")}
    for i, (address, (region, cluster)) in enumerate(where.items()):
        add_ticket(db, "crq", f"C{i}", region, cluster, address, clock=f"2026-06-1{i} 08:00:00")

    with FakeLocationIQ() as server:
        start_worker(GEOCODER_PROVIDER="locationiq", GEOCODER_API_KEY=server.key, GEOCODER_URL=server.url,
                     GEOCODER_MIN_DELAY_SECONDS="0.01", GEOCODER_TIMEOUT_SECONDS="3")
        caught_up = run(CATCH_UP, budget=2)
        sent = server.queries()

    assert state_of(caught_up)[0] == StateType.COMPLETED, state_of(caught_up)
    assert [q.split(",")[0] for q in sent] == ["Links Road", "Argwings Kodhek Rd"]  # most urgent first
    assert db.execute("SELECT requests FROM tickets.geocoder_budget").fetchone()[0] == 2
    placed = dict(db.execute("SELECT t.ticket_id, p.geom_precision FROM tickets.crq t"
                             " LEFT JOIN tickets.crq_placement p USING (ticket_id)"))
    assert placed == {"C0": "location", "C1": "location", "C2": "cluster", "C3": "cluster"}

    # a budget below one, or not a number, is refused when the run is created
    assert "0 is less than the minimum of 1" in refused(CATCH_UP, budget=0)
    assert "budget" in refused(CATCH_UP, budget="many")
    assert db.execute("SELECT requests FROM tickets.geocoder_budget").fetchone()[0] == 2
