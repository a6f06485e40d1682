"""Every failure ends in one `Error: ...` line that says what to fix, and never shows a secret.

Each case runs the CLI in a subprocess, as an operator or a scheduler does, with a
recognisable password in DATABASE_URL; `--debug` brings the traceback back. Errors that
waiting cannot fix are not retried. A killed command leaves no process behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.engine import make_url

from fleettickets.errors import StorageError
from flows.ingest import INGEST_FLOWS
from tests.conftest import ADMIN_DSN, REPO, TEST_DSN, VENV_BIN, _free_port
from tests.helpers import ledger, upload
from tests.pg_auth_server import PasswordRefusingServer
from tests.test_failures import loader_waiting_on_lock, wait_for

PASSWORD = "Pw-RECOGNISABLE-5e7b"
_ADMIN = conninfo_to_dict(ADMIN_DSN)
PG = f"{_ADMIN.get('host', '127.0.0.1')}:{_ADMIN.get('port', '5432')}"
# The test database with a password in its URL: the local PostgreSQL trusts 127.0.0.1 and
# ignores it, so runs work and the password can be looked for in everything they print.
TEST_DSN_WITH_PASSWORD = make_url(TEST_DSN).set(password=PASSWORD).render_as_string(hide_password=False)


def cli_env(env: dict[str, str | None] | None = None) -> dict[str, str]:
    """The test environment, changed by `env` (None removes a variable)."""
    full = {**os.environ, "DATABASE_URL": TEST_DSN_WITH_PASSWORD}
    for key, value in (env or {}).items():
        if value is None:
            full.pop(key, None)
        else:
            full[key] = value
    return full


def cli(*args: str, env: dict[str, str | None] | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    """`fleettickets ARGS` with the test environment, changed by `env` (None removes a variable)."""
    return run_with(args, cli_env(env), timeout)


def run_with(args: tuple[str, ...], full_env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([str(VENV_BIN / "fleettickets"), *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env, cwd=REPO)


@contextmanager
def cli_in_background(*args: str, env: dict[str, str | None] | None = None) -> Iterator[Future]:
    """`cli(...)` started now in a thread (its environment read now), waited for when the block ends."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool.submit(run_with, args, cli_env(env))


def one_clean_error(proc: subprocess.CompletedProcess, *fragments: str, code: int = 1,
                    secrets: tuple[str, ...] = (PASSWORD,)) -> str:
    """The command failed with `code`, its last line is its only `Error:` line, no traceback, no secret."""
    output = proc.stdout + proc.stderr
    assert proc.returncode == code, output
    errors = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, output
    assert proc.stderr.rstrip().splitlines()[-1] == errors[0], output
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    assert "Traceback" not in output
    for secret in secrets:
        assert secret not in output
    return errors[0]


@pytest.fixture(scope="module")
def refusing_pg():
    with PasswordRefusingServer() as server:
        yield server


def wrong_database(case: str, refusing_pg: PasswordRefusingServer) -> tuple[str, str]:
    """(DATABASE_URL, what the error line says) for each way a database can be wrong."""
    user = _ADMIN.get("user", "postgres")
    return {
        "connection refused": (f"postgresql://{user}:{PASSWORD}@127.0.0.1:{_free_port()}/x",
                               "(connection refused): start PostgreSQL or fix the host and port in DATABASE_URL"),
        "unknown database": (f"postgresql://{user}:{PASSWORD}@{PG}/fleettickets_no_such_database",
                             "database fleettickets_no_such_database does not exist on PostgreSQL at"),
        "bad password": (f"postgresql://{user}:{PASSWORD}@127.0.0.1:{refusing_pg.port}/db",
                         f"refused the password of user {user}: fix the password in DATABASE_URL"),
        # not a URI: libpq parses it as key=value and quotes it whole in its message
        "malformed URL": (f"postgresq://{user}:{PASSWORD}@{PG}/db",
                          "DATABASE_URL is not a PostgreSQL URL (postgresql://user:password@host:port/database)"),
    }[case]


WRONG_DATABASES = ["connection refused", "unknown database", "bad password", "malformed URL"]
BAD_SETTINGS = [
    (["status"], {"GEOCODER_GUARD_KM": "abc"}, "Error: GEOCODER_GUARD_KM must be a number, got 'abc'"),
    (["migrate"], {"GEOCODER_DAILY_BUDGET": "-5"}, "Error: GEOCODER_DAILY_BUDGET must not be negative, got '-5'"),
    (["ingest", "inc"], {"GEOCODER_PROVIDER": "google"},
     "Error: GEOCODER_PROVIDER must be one of offline, locationiq, nominatim, got 'google'"),
    (["ingest", "inc"], {"RUSTFS_ENDPOINT_URL": "not a url"},
     "Error: RUSTFS_ENDPOINT_URL must be an http(s) URL such as http://127.0.0.1:9000, got 'not a url'"),
    (["quarantine", "inc", "x.csv"], {"RUSTFS_ENDPOINT_URL": "not a url"},
     "Error: RUSTFS_ENDPOINT_URL must be an http(s) URL such as http://127.0.0.1:9000, got 'not a url'"),
]


def settings_only_key(name: str, params: dict) -> tuple | None:
    """The key of a test case whose command needs nothing but the settings it names (or None)."""
    if name == "test_a_wrong_database_is_one_line_without_the_password":
        return ("wrong database", params["command"], params["case"])
    if name == "test_debug_shows_the_traceback":
        return ("debug",)
    if name == "test_a_bad_setting_names_the_variable":
        return ("bad setting", *params["command"], *params["env"])
    return None


def settings_only_commands(refusing_pg: PasswordRefusingServer) -> dict[tuple, tuple[tuple[str, ...], dict]]:
    """key -> (arguments, environment changes) of every such case."""
    def url(case: str) -> dict[str, str]:
        return {"DATABASE_URL": wrong_database(case, refusing_pg)[0]}

    commands = {("debug",): (("--debug", "migrate"), url("malformed URL"))}
    for command in ("migrate", "status"):
        for case in WRONG_DATABASES:
            commands[("wrong database", command, case)] = ((command,), url(case))
    for command, env, _ in BAD_SETTINGS:
        commands[("bad setting", *command, *env)] = (
            tuple(command), {"DATABASE_URL": f"postgresql://postgres:{PASSWORD}@{PG}/x", **env})
    return commands


@pytest.fixture(scope="module")
def settings_only_runs(request, prefect_server, refusing_pg) -> Iterator[dict[tuple, Future]]:
    """The commands of the cases collected here that need nothing but their settings, started a few
    at a time in the order the cases run; each case waits for its own.

    Each is the same `fleettickets` subprocess, with the same arguments and environment (read
    now), as when run alone; most of each one's time is Python importing Prefect on one CPU, so
    they share the machine's CPUs. These cases are next to each other in this file, so none
    overlaps another test.
    """
    commands = settings_only_commands(refusing_pg)
    keys = [settings_only_key(item.originalname, item.callspec.params if hasattr(item, "callspec") else {})
            for item in request.session.items if item.module is request.module]
    with ThreadPoolExecutor(max_workers=3) as pool:
        yield {key: pool.submit(run_with, commands[key][0], cli_env(commands[key][1]))
               for key in dict.fromkeys(keys) if key is not None}
        # leaving the block waits for any command whose case did not run (-x, a failure)


@pytest.mark.parametrize("command", ["migrate", "status"])
@pytest.mark.parametrize("case", WRONG_DATABASES)
def test_a_wrong_database_is_one_line_without_the_password(settings_only_runs, refusing_pg, command, case):
    _, says = wrong_database(case, refusing_pg)
    proc = settings_only_runs[("wrong database", command, case)].result()  # `fleettickets COMMAND`, a wrong URL
    one_clean_error(proc, says)
    if case == "bad password":
        assert PASSWORD in refusing_pg.passwords  # the password was really sent, and refused


def test_debug_shows_the_traceback(settings_only_runs):
    proc = settings_only_runs[("debug",)].result()  # `fleettickets --debug migrate`, a malformed DATABASE_URL
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr and "ConfigurationError" in proc.stderr
    assert PASSWORD not in proc.stdout + proc.stderr


@pytest.mark.parametrize(("command", "env", "last_line"), BAD_SETTINGS)
def test_a_bad_setting_names_the_variable(settings_only_runs, command, env, last_line):
    proc = settings_only_runs[("bad setting", *command, *env)].result()  # `fleettickets COMMAND` with `env`
    assert one_clean_error(proc) == last_line


def test_a_database_refused_inside_a_run_keeps_the_password_out_of_prefect(
        database, settings, refusing_pg, prefect_server, output_dir):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    dsn, says = wrong_database("bad password", refusing_pg)
    one_clean_error(cli("ingest", "inc", env={"DATABASE_URL": dsn}), says)

    with get_client(sync_client=True) as client:
        # the run this command started: the newest failed one (scheduled runs of deployments that
        # other tests created start later, so the newest by start time may be one of those)
        run = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.FAILED]))),
            sort=FlowRunSort.START_TIME_DESC, limit=1)[0]
        assert run.state.is_failed() and says in run.state.message
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))
        stored = " ".join([run.state.message, str(run.parameters), *(log.message for log in logs)])
    assert logs and PASSWORD not in stored
    assert any("Traceback" in log.message for log in logs)  # the run's logs keep the detail the CLI hides
    assert PASSWORD not in (output_dir / "prefect-server.log").read_text()


def test_an_unreachable_prefect_api_is_one_line(database, settings):
    down = f"http://127.0.0.1:{_free_port()}/api"
    with cli_in_background("ingest", "inc", env={"PREFECT_API_URL": down}) as ingest:  # the two do not interact
        # status still shows the database and the bucket, and says why no block was read
        shown = cli("status", env={"PREFECT_API_URL": down})
    one_clean_error(ingest.result(), f"cannot reach the Prefect API at {down} (PREFECT_API_URL")
    assert shown.returncode == 0, shown.stderr
    assert f"blocks not read: cannot reach the Prefect API at {down}" in shown.stdout
    assert "Traceback" not in shown.stdout + shown.stderr and PASSWORD not in shown.stdout + shown.stderr


def _task_runs(flow_run_id) -> dict[str, tuple[str, int]]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return {run.name.rsplit("-", 1)[0]: (run.state.name, run.run_count) for run in runs}


def failed_once(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> StorageError:
    """Run ingest-inc in-process with `env`; the list step failed on its first and only try."""
    for key, value in {"DATABASE_URL": TEST_DSN_WITH_PASSWORD, **env}.items():
        monkeypatch.setenv(key, value)
    started = time.monotonic()
    state = INGEST_FLOWS["inc"](return_state=True)
    assert state.is_failed()
    assert time.monotonic() - started < 20  # retries would wait 2 + 5 + 15 s
    assert _task_runs(state.state_details.flow_run_id)["list changes"] == ("Failed", 1)  # never retried
    error = state.result(raise_on_failure=False)
    assert isinstance(error, StorageError) and not error.retryable
    return error


def test_a_missing_bucket_fails_at_once(db, settings, s3_endpoint, monkeypatch):
    env = {"RUSTFS_BUCKET": "fleettickets-no-such-bucket"}
    says = f"bucket fleettickets-no-such-bucket does not exist at {s3_endpoint}: create it, or fix RUSTFS_BUCKET"
    with cli_in_background("ingest", "inc", env=env) as command:  # its own run, while the in-process one fails
        assert str(failed_once(monkeypatch, env)) == says
    one_clean_error(command.result(), says)


@pytest.mark.parametrize("case", ["wrong secret key", "unknown access key", "no permission"])
def test_refused_credentials_fail_at_once_and_name_the_setting(db, settings, auth_s3, monkeypatch, case):
    import boto3

    good = boto3.client("s3", endpoint_url=auth_s3.url, region_name="us-east-1",
                        aws_access_key_id=auth_s3.access_key, aws_secret_access_key=auth_s3.secret_key)
    good.create_bucket(Bucket=settings.s3_bucket)
    wrong_secret = "S3-Secret-WRONG-RECOGNISABLE-9c1d"
    access, secret, code = {
        "wrong secret key": (auth_s3.access_key, wrong_secret, "SignatureDoesNotMatch"),
        "unknown access key": ("AKIAFLEETTICKETS0000", wrong_secret, "InvalidAccessKeyId"),
        "no permission": (auth_s3.denied_access_key, auth_s3.denied_secret_key, "AccessDenied"),
    }[case]
    env = {"RUSTFS_ENDPOINT_URL": auth_s3.url, "RUSTFS_ACCESS_KEY": access, "RUSTFS_SECRET_KEY": secret}
    with cli_in_background("ingest", "inc", env=env) as command:  # its own run, while the in-process one fails
        error = failed_once(monkeypatch, env)
    assert f"({code})" in str(error) and "RUSTFS_ACCESS_KEY and RUSTFS_SECRET_KEY" in str(error)
    one_clean_error(command.result(), f"({code})", "RUSTFS_ACCESS_KEY and RUSTFS_SECRET_KEY",
                    secrets=(secret, auth_s3.secret_key, PASSWORD))


def test_a_from_key_that_names_no_file_is_a_usage_error(db, settings, s3, inc_files):
    upload(s3, settings.s3_bucket, "inc", inc_files[:2])
    for key in ("2030-01-01T00-00-00.csv", f"automations/crq/changes/{inc_files[0].name}", "no-such-file"):
        proc = cli("ingest", "inc", "--reseed", "--from-key", key, "--no-geocode")
        one_clean_error(proc, f"--from-key {key!r} names no file of the inc stream in bucket {settings.s3_bucket}",
                        code=2)
    assert ledger(db, "inc") == []  # nothing replayed
    named = cli("ingest", "inc", "--reseed", "--from-key", inc_files[1].name, "--no-geocode")
    assert named.returncode == 0, named.stderr


# --- no process outlives the command --------------------------------------------------------

@pytest.fixture(scope="module")
def no_server_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """PREFECT_HOME of the runs without a server: the temporary server's database is made once."""
    return tmp_path_factory.mktemp("prefect-home-no-server")


def processes_of(home: Path) -> list[int]:
    """Live processes whose environment has this PREFECT_HOME (the command and what it started)."""
    marker = f"PREFECT_HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue
            if marker in environ.split(b"\0"):
                found.append(int(entry.name))
    return found


def no_server_env(home: Path) -> dict[str, str | None]:
    # as on an operator's machine: no API URL, and Prefect's telemetry setting left alone
    return {"PREFECT_API_URL": None, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": None}


def test_a_run_without_a_server_completes_and_logs_no_error(db, settings, s3, inc_files, no_server_home):
    upload(s3, settings.s3_bucket, "inc", inc_files[:2])
    proc = cli("ingest", "inc", env=no_server_env(no_server_home))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("Starting temporary server") == 1  # none started again while exiting
    assert [line for line in proc.stderr.splitlines() if "ERROR" in line] == []  # no telemetry error
    assert "telemetry" not in proc.stderr.lower()
    assert PASSWORD not in proc.stdout + proc.stderr
    assert processes_of(no_server_home) == []


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_killed_ingest_leaves_no_server_and_closes_its_output(db, database, settings, s3, inc_files,
                                                                no_server_home, how):
    upload(s3, settings.s3_bucket, "inc", inc_files[:2])
    env = {k: v for k, v in {**os.environ, "DATABASE_URL": TEST_DSN_WITH_PASSWORD,
                             **no_server_env(no_server_home)}.items() if v is not None}
    blocker = psycopg.connect(database)
    blocker.execute("SELECT 1 FROM tickets.import_meta WHERE dataset = 'inc' FOR UPDATE")
    try:
        # stdout and stderr are pipes, as in `fleettickets ingest inc | logger`
        proc = subprocess.Popen([str(VENV_BIN / "fleettickets"), "ingest", "inc", "--no-geocode"], cwd=REPO,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: loader_waiting_on_lock(db), "the run to be inside its first file", seconds=180)
        started = [pid for pid in processes_of(no_server_home) if pid != proc.pid]
        assert started, "the temporary server is not running"
        os.kill(proc.pid, how)  # the command only, as a scheduler or an OOM killer does
        out, err = proc.communicate(timeout=30)  # both pipes reach EOF: nothing else holds them open
    finally:
        blocker.rollback()
        blocker.close()
    wait_for(lambda: processes_of(no_server_home) == [], "the temporary server to be gone", seconds=15)
    assert proc.returncode == (-signal.SIGKILL if how == signal.SIGKILL else 128 + signal.SIGTERM)
    assert PASSWORD not in out + err
