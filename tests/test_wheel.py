"""What ships, proven without Docker: the image's commands, run from the installed wheel alone.

The Dockerfile installs the wheel with scripts/install_wheel.sh. This test runs the same script
into a fresh venv, then works from an empty directory (no checkout on the path, none as the
working directory) through the README's production path: `fleettickets migrate` on a new
database, the bootstrap (`python -m deployments.bootstrap`, deploying the prefect.yaml inside the
package), a worker with its health endpoint (`--with-healthcheck`, the image's HEALTHCHECK), and a
deployment run to Completed against the local stack of tests/conftest.py.

The slow path (about a minute on a warm uv cache): deselect with `-m "not slow"`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType

from fleettickets.migrate import discover
from tests import oracle
from tests.conftest import ADMIN_DSN, REPO, _free_port
from tests.helpers import table_state, upload
from tests.test_e2e import bootstrap, run, running_worker, state_of

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """A database nobody has migrated: the wheel's `fleettickets migrate` must build it alone."""
    name = f"fleettickets_wheel_{os.getpid()}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield ADMIN_DSN.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wait_healthy(url: str, worker: subprocess.Popen, log: Path, seconds: float = 60) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert worker.poll() is None, f"the worker exited:\n{log.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return {"status": response.status, **json.loads(response.read())}
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer in {seconds}s:\n{log.read_text()[-3000:]}")


def test_the_wheel_alone_migrates_deploys_and_runs_from_an_empty_directory(
    settings, s3, inc_files, fresh_database, output_dir, tmp_path
):
    venv, empty = tmp_path / "venv", tmp_path / "empty"
    empty.mkdir()
    installed = subprocess.run(["bash", str(REPO / "scripts" / "install_wheel.sh"), str(venv), sys.executable],
                               capture_output=True, text=True, timeout=180)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    bin_dir = venv / "bin"
    # nothing that would lead Python back to the checkout
    leads_back = {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "FLEETTICKETS_PROJECT_DIR"}
    env = {k: v for k, v in os.environ.items() if k not in leads_back}
    env |= {"PATH": f"{bin_dir}{os.pathsep}{env['PATH']}", "DATABASE_URL": fresh_database}

    def sh(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(list(args), cwd=empty, env=env, capture_output=True, text=True, timeout=120)

    # the code that runs is the wheel's: every package from the venv's site-packages, none from the checkout
    where = sh(str(bin_dir / "python"), "-c", "import deployments, fleettickets, flows, tasks, sysconfig, json;"
               " print(json.dumps([sysconfig.get_path('purelib'), fleettickets.__file__, flows.__file__,"
               " tasks.__file__, deployments.__file__]))")
    assert where.returncode == 0, where.stderr
    site, *modules = json.loads(where.stdout)
    site_packages = Path(site)
    assert site_packages.is_relative_to(venv) and all(Path(m).is_relative_to(site_packages) for m in modules)
    assert (site_packages / "deployments" / "prefect.yaml").read_bytes() == (REPO / "prefect.yaml").read_bytes()
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert sh("fleettickets", "--version").stdout.strip() == f"fleettickets {version}"

    # docker run ... fleettickets-worker fleettickets migrate: the packaged migrations, on an empty database
    migrated = sh("fleettickets", "migrate")
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    shipped = [m.name for m in discover(REPO / "migrations")]
    with psycopg.connect(fresh_database) as conn:
        applied = [r[0] for r in conn.execute("SELECT name FROM public.fleettickets_migrations ORDER BY version")]
    assert applied == shipped and len(shipped) >= 5

    # docker run ... fleettickets-worker python -m deployments.bootstrap: deploys the installed code
    assert "deployments: deployed version" in bootstrap(bin_dir=bin_dir, cwd=empty, env=env)
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("ingest-inc/scheduled")
    assert deployment.entrypoint == "flows/ingest.py:ingest_inc"
    assert deployment.pull_steps == [
        {"prefect.deployments.steps.set_working_directory": {"directory": str(site_packages)}}
    ]

    # the image's CMD: a worker with its own health endpoint (the image's HEALTHCHECK asks it)
    port = _free_port()
    log = output_dir / "wheel-worker.log"
    worker_env = env | {"PREFECT_WORKER_WEBSERVER_PORT": str(port)}
    with running_worker(log, bin_dir, cwd=empty, env=worker_env, options=["--with-healthcheck"]) as worker:
        health = wait_healthy(f"http://127.0.0.1:{port}/health", worker, log)
        assert health == {"status": 200, "message": "OK"}

        upload(s3, settings.s3_bucket, "inc", inc_files)
        flow_run = run("ingest-inc/scheduled")
        assert state_of(flow_run)[0] == StateType.COMPLETED, (state_of(flow_run), log.read_text()[-3000:])

    with psycopg.connect(fresh_database) as conn:
        assert table_state(conn, "inc") == oracle.replay(inc_files)
        placed = conn.execute("SELECT count(p.geom), count(*) FROM tickets.inc t"
                              " LEFT JOIN tickets.inc_placement p USING (ticket_id)").fetchone()
    assert placed[1] > 0 and placed[0] / placed[1] > 0.99  # the shipped gazetteer placed them
    assert not any(empty.iterdir()), "the commands wrote into their working directory"
