"""Real parts for every test: PostgreSQL + PostGIS, moto's S3 server over HTTP, a Prefect server.

The Prefect API URL is fixed before anything imports Prefect, so in-process flows and the
`fleettickets` subprocesses all report to the same server started here.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
ADMIN_DSN = os.environ.get("FLEETTICKETS_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
TEST_DB = f"fleettickets_test_{os.getpid()}"
TEST_DSN = ADMIN_DSN.rsplit("/", 1)[0] + "/" + TEST_DB
PREFECT_PORT = _free_port()
_PREFECT_HOME = tempfile.mkdtemp(prefix="fleettickets-prefect-")
os.environ.update(
    PREFECT_API_URL=f"http://127.0.0.1:{PREFECT_PORT}/api",
    PREFECT_HOME=_PREFECT_HOME,
    PREFECT_SERVER_ANALYTICS_ENABLED="false",
    PREFECT_SERVER_UI_ENABLED="true",
    PREFECT_LOGGING_TO_API_BATCH_INTERVAL="0.3",
    FLEETTICKETS_ENV_FILE="/dev/null",  # never pick up a developer's .env
    DATABASE_URL=TEST_DSN,
    GEOCODER_PROVIDER="offline",
    FLEETTICKETS_STALE_AFTER_MINUTES="0",  # generated files are dated 2026-06-15; freshness has its own tests
)

import psycopg  # noqa: E402

from fleettickets.config import Settings  # noqa: E402
from fleettickets.migrate import migrate  # noqa: E402


def _wait_http(url: str, seconds: float, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} not up after {seconds}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def output_dir() -> Path:
    # one folder per pytest-xdist worker: each worker has its own servers and their logs
    path = REPO / "test-output" / os.environ.get("PYTEST_XDIST_WORKER", "")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def inc_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from fleettickets.sample import write_stream

    return write_stream("inc", tmp_path_factory.mktemp("inc"), rows=1500, deltas=4, delta_rows=150, seed=11)


@pytest.fixture(scope="session")
def crq_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from fleettickets.sample import write_stream

    return write_stream("crq", tmp_path_factory.mktemp("crq"), rows=900, deltas=3, seed=12)


@pytest.fixture(scope="session")
def prefect_server(output_dir: Path) -> Iterator[str]:
    """A Prefect server on its own PostgreSQL database, as in production."""
    prefect_db = f"prefect_test_{os.getpid()}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{prefect_db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{prefect_db}"')
    server_env = {
        **os.environ,
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": "postgresql+asyncpg://"
        + ADMIN_DSN.split("://", 1)[1].rsplit("/", 1)[0] + "/" + prefect_db,
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "5",
    }
    log = output_dir / "prefect-server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(VENV_BIN / "prefect"), "server", "start", "--host", "127.0.0.1",
             "--port", str(PREFECT_PORT)],
            stdout=out, stderr=subprocess.STDOUT, env=server_env,
        )
    try:
        _wait_http(f"{os.environ['PREFECT_API_URL']}/health", 90, proc, log)
        yield os.environ["PREFECT_API_URL"]
    finally:
        for handler in logging.getLogger("prefect").handlers:
            handler.flush()  # deliver buffered run logs before the server goes away
        proc.terminate()
        proc.wait(20)
        shutil.rmtree(_PREFECT_HOME, ignore_errors=True)
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{prefect_db}" WITH (FORCE)')


@pytest.fixture(scope="session")
def s3_endpoint(output_dir: Path) -> Iterator[str]:
    port = _free_port()
    log = output_dir / "moto-server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(url + "/moto-api/", 30, proc, log)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@dataclass(frozen=True)
class AuthS3:
    """An S3 endpoint that checks credentials (moto with IAM on): a wrong key is refused, as RustFS does."""

    url: str
    access_key: str
    secret_key: str  # generated by the endpoint: recognisable in any output
    denied_access_key: str  # a real user without any permission (AccessDenied)
    denied_secret_key: str


@pytest.fixture(scope="session")
def auth_s3(output_dir: Path) -> Iterator[AuthS3]:
    import json

    import boto3

    port = _free_port()
    log = output_dir / "moto-auth-server.log"
    with log.open("w") as out:
        proc = subprocess.Popen([str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(url + "/moto-api/", 30, proc, log)
        iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1",
                           aws_access_key_id="setup", aws_secret_access_key="setup")
        keys = {}
        for user in ("fleettickets", "nobody"):
            iam.create_user(UserName=user)
            keys[user] = iam.create_access_key(UserName=user)["AccessKey"]
        iam.put_user_policy(UserName="fleettickets", PolicyName="all", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        # from now on every request is authenticated and authorised
        request = urllib.request.Request(url + "/moto-api/reset-auth", data=b"0", method="POST",
                                         headers={"Content-Type": "text/plain"})
        urllib.request.urlopen(request, timeout=10).close()
        yield AuthS3(url, keys["fleettickets"]["AccessKeyId"], keys["fleettickets"]["SecretAccessKey"],
                     keys["nobody"]["AccessKeyId"], keys["nobody"]["SecretAccessKey"])
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="session")
def database() -> Iterator[str]:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEST_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{TEST_DB}"')
    migrate(TEST_DSN)
    yield TEST_DSN
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEST_DB}" WITH (FORCE)')


@pytest.fixture
def db(database: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to a test database with empty ticket tables."""
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE tickets.inc, tickets.crq, tickets.inc_history, tickets.inc_observations, tickets.applied_files;"
            " UPDATE tickets.import_meta SET metadata = '{}', last_run_at = NULL"
        )
        yield conn


@pytest.fixture
def settings(
    db: psycopg.Connection, s3_endpoint: str, prefect_server: str, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """Settings for one test: its own bucket, exported to the environment for flows and the CLI."""
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    env = {
        "DATABASE_URL": TEST_DSN,
        "RUSTFS_ENDPOINT_URL": s3_endpoint,
        "RUSTFS_ACCESS_KEY": "test-access",
        "RUSTFS_SECRET_KEY": "test-secret-never-logged",
        "RUSTFS_BUCKET": bucket,
        "RUSTFS_REGION": "us-east-1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    config = Settings.from_env()
    from fleettickets import storage

    storage.ensure_bucket(storage.make_s3_client(config), bucket)
    return config


@pytest.fixture
def s3(settings: Settings):
    from fleettickets import storage

    return storage.make_s3_client(settings)


def run_cli(*args: str, timeout: float = 240, check: bool = False) -> subprocess.CompletedProcess:
    """Run the installed `fleettickets` command in a subprocess with the test environment."""
    proc = subprocess.run(
        [str(VENV_BIN / "fleettickets"), *args],
        capture_output=True, text=True, timeout=timeout, env=os.environ.copy(), cwd=REPO,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"fleettickets {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


@pytest.fixture(autouse=True)
def _no_blocks_outlive_a_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that bootstraps creates fleettickets' blocks from its own environment (its bucket);
    blocks left behind would send the next test's runs to this test's bucket."""
    yield
    if "prefect_server" in request.fixturenames:
        from prefect.client.orchestration import get_client

        from tasks.blocks import delete_blocks

        with get_client(sync_client=True) as client:
            any_block = bool(client.read_block_documents(limit=1))  # one request; most tests make none
        if any_block:
            delete_blocks()
