"""The command line: documented, clean errors, the docs/design.md surface."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import yaml
from click.testing import CliRunner

from deployments.bootstrap import zombie_automation
from fleettickets.cli import main
from fleettickets.config import FLOW_HEARTBEAT_SECONDS, HEARTBEAT_SETTINGS
from fleettickets.datasets import CONTRACT_COLUMNS
from tests.conftest import REPO, run_cli
from tests.helpers import keys, upload


def test_every_command_and_option_is_documented():
    readme = (REPO / "README.md").read_text()
    for name, command in main.commands.items():
        assert f"fleettickets {name}" in readme, f"README does not document `fleettickets {name}`"
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("--"):
                    assert opt in readme, f"README does not document {name} {opt}"


def test_help_lists_the_design_surface():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in ("migrate", "ingest", "quarantine", "geocode", "status", "sample"):
        assert re.search(rf"^\s+{name}\s", result.output, re.M)


def test_version_is_the_installed_package_version():
    import importlib.metadata
    import tomllib

    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    result = run_cli("--version", check=True)
    assert result.stdout.strip() == f"fleettickets {importlib.metadata.version('fleettickets')}"
    assert importlib.metadata.version("fleettickets") == declared
    assert "fleettickets --version" in (REPO / "README.md").read_text()


def test_status_json_reports_each_dataset(db, settings, s3, inc_files):
    upload(s3, settings.s3_bucket, "inc", inc_files[:2])
    run_cli("ingest", "inc", check=True)
    upload(s3, settings.s3_bucket, "inc", inc_files[2:3])

    result = run_cli("status", "--json", check=True)

    data = json.loads(result.stdout)
    assert set(data) == {"inc", "crq", "settings"}
    # where each setting came from, never its value: this test's environment, no blocks
    assert data["settings"]["RUSTFS_SECRET_KEY"] == {"source": "environment"}
    assert data["settings"]["GEOCODER_GUARD_KM"] == {"source": "default"}
    inc = data["inc"]
    assert inc["watermark"] == f"automations/inc/changes/{inc_files[1].name}"
    assert inc["pending_files"] == 1
    assert inc["rows"] == db.execute("SELECT count(*) FROM tickets.inc").fetchone()[0] > 0
    assert inc["open"] == db.execute("SELECT count(*) FROM tickets.inc WHERE bucket = 'pending'").fetchone()[0]
    assert inc["last_run_at"] is not None and inc["last_run_status"] == "completed"
    assert sum(inc["geocoded"].values()) == inc["rows"] and inc["geocoded"]["none"] == 0  # offline: clusters
    assert data["crq"]["rows"] == 0 and data["crq"]["last_run_at"] is None
    # status never starts a Prefect server and never prints a secret
    assert "Starting temporary server" not in result.stderr
    assert settings.s3_secret_key.get_secret_value() not in result.stdout + result.stderr


def test_ingest_prints_the_run_summary(db, settings, s3, inc_files):
    upload(s3, settings.s3_bucket, "inc", inc_files[:2])
    result = run_cli("ingest", "inc", "--dry-run", check=True)
    assert "ingest inc (dry-run): completed" in result.stdout
    assert "files would apply: 2" in result.stdout
    assert settings.s3_secret_key.get_secret_value() not in result.stdout + result.stderr


def test_from_key_needs_reseed():
    result = CliRunner().invoke(main, ["ingest", "inc", "--from-key", "x.csv"])
    assert result.exit_code == 2 and "--from-key goes with --reseed" in result.output


def test_sample_to_bucket_and_to_dir(settings, s3, tmp_path):
    run_cli("sample", "--to-bucket", "--dataset", "crq", "--rows", "200", "--deltas", "2", check=True)
    assert len(keys(s3, settings.s3_bucket, "automations/crq/changes/")) == 3
    assert keys(s3, settings.s3_bucket, "automations/inc/") == []

    result = CliRunner().invoke(main, ["sample", "--to", str(tmp_path), "--rows", "50", "--deltas", "1"])
    assert result.exit_code == 0, result.output
    files = sorted(tmp_path.glob("*/*.csv"))
    assert [p.parent.name for p in files] == ["crq", "crq", "inc", "inc"]
    header = files[0].read_text(encoding="utf-8-sig").splitlines()[0]
    assert sorted(h.strip('"') for h in header.split(",")) == sorted(CONTRACT_COLUMNS)


def test_sample_needs_exactly_one_target():
    result = CliRunner().invoke(main, ["sample"])
    assert result.exit_code == 2 and "exactly one of --to DIR or --to-bucket" in result.output


def test_an_ingest_run_does_not_import_fastapi(db, settings, s3, monkeypatch):
    """A CLI run's flow parameters are JSON already (flows/plain_flow.py): Prefect's encoder, and
    FastAPI with it (~0.23 s of each run, issue 10), stay out of a run with nothing to do."""
    monkeypatch.setenv("PYTHONPROFILEIMPORTTIME", "1")  # each import, on stderr
    result = run_cli("ingest", "inc", "--no-geocode", check=True)
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")}
    assert "prefect.flows" in imported  # the profile is there: the check can fail
    assert not {name for name in imported if name.split(".")[0] == "fastapi"}


HEARTBEAT_PROBE = ("from fleettickets.cli import prefect_environment; prefect_environment();"
                   " from prefect.settings import get_current_settings;"
                   " print(get_current_settings().flows.heartbeat_frequency)")


def _heartbeat_of_a_cli_run(**env: str) -> int:
    clean = {k: v for k, v in os.environ.items() if k not in HEARTBEAT_SETTINGS}
    done = subprocess.run([sys.executable, "-c", HEARTBEAT_PROBE], env={**clean, **env},
                          capture_output=True, text=True, check=True, timeout=120)
    return int(done.stdout.strip().splitlines()[-1])


def test_a_run_the_cli_starts_sends_the_heartbeats_the_zombie_automation_waits_for():
    """At Prefect's default (180 s), a healthy run started by the command line and longer than the
    automation's 90 s was marked Crashed while it ran (seen: a 130 s run went Running -> Crashed at
    92 s -> Completed; the failure automation, when set up, alerts on Crashed). A run on a worker
    gets the same heartbeat from prefect.yaml's job variables, whatever the worker's environment."""
    window = zombie_automation().trigger.within.total_seconds()
    assert _heartbeat_of_a_cli_run() == FLOW_HEARTBEAT_SECONDS
    assert window >= 3 * FLOW_HEARTBEAT_SECONDS  # three heartbeats may be missed before a crash
    job_env = yaml.safe_load((REPO / "prefect.yaml").read_text())["definitions"]["work_pool"]["job_variables"]["env"]
    assert int(job_env["PREFECT_FLOWS_HEARTBEAT_FREQUENCY"]) == FLOW_HEARTBEAT_SECONDS
    # an operator's own setting, by either of Prefect's names, is left alone
    assert _heartbeat_of_a_cli_run(PREFECT_RUNNER_HEARTBEAT_FREQUENCY="45") == 45
    assert _heartbeat_of_a_cli_run(PREFECT_FLOWS_HEARTBEAT_FREQUENCY="60") == 60
