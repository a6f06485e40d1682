"""What a bench run stands on, all of it its own: a moto S3 server, a Prefect server on its
own PostgreSQL database (as in production), and one migrated database per table state."""

from __future__ import annotations

import contextlib
import os
import subprocess
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.procs import VENV_BIN, background, free_port, log, wait_http

ADMIN_DSN = os.environ.get("FLEETTICKETS_BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
# Another bench (bench/overhead.py) beside a running one needs databases of its own.
DB_PREFIX = os.environ.get("FLEETTICKETS_BENCH_DB_PREFIX", "fleettickets_bench")
SQL_DIR = Path(__file__).resolve().parent / "sql"
S3_KEY, S3_SECRET, S3_REGION = "bench", "bench-secret", "us-east-1"


def sql(name: str) -> str:
    """A statement from bench/sql/ (SQL lives in .sql files)."""
    return (SQL_DIR / name).read_text(encoding="utf-8")


def dsn_for(database: str) -> str:
    return ADMIN_DSN.rsplit("/", 1)[0] + "/" + database


def _recreate(database: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{database}"')


def query_one(dsn: str, statement: str) -> Any:
    """The first column of the first row of `statement` (None when it returns no rows)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(statement)
        row = cur.fetchone() if cur.description else None
    return row[0] if row else None


def checkpoint(dsn: str) -> None:
    # Flush the previous loader's dirty pages so they are not written on the next one's clock.
    query_one(dsn, "CHECKPOINT")


@dataclass
class Stack:
    logs: Path
    tmp: Path
    base_env: dict[str, str]  # the Python processes' environment (bytecode cache in warm mode)
    prefect_port: int = field(default_factory=free_port)
    s3_port: int = field(default_factory=free_port)
    servers: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def prefect_api(self) -> str:
        return f"http://127.0.0.1:{self.prefect_port}/api"

    @property
    def s3_url(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def prefect_env(self) -> dict[str, str]:
        """Every Prefect client the bench runs talks to its server, never to ~/.prefect."""
        return {**self.base_env, "PREFECT_HOME": str(self.tmp / "prefect"), "PREFECT_API_URL": self.prefect_api}

    def start(self, stack: contextlib.ExitStack) -> None:
        """Both servers boot in the background (stopped when `stack` closes)."""
        prefect_db = f"{DB_PREFIX}_prefect"
        _recreate(prefect_db)
        server_env = {
            **self.prefect_env,
            "PREFECT_SERVER_DATABASE_CONNECTION_URL": "postgresql+asyncpg://" + dsn_for(prefect_db).split("://", 1)[1],
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_UI_ENABLED": "false",
        }
        cmd = [str(VENV_BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(self.prefect_port)]
        self.servers["prefect"] = stack.enter_context(background(cmd, self.logs / "prefect-server.log", server_env))
        moto = [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.s3_port)]
        self.servers["moto"] = stack.enter_context(background(moto, self.logs / "moto-server.log"))

    def wait(self) -> None:
        wait_http(self.s3_url + "/moto-api/", 60, self.servers["moto"], self.logs / "moto-server.log")
        wait_http(self.prefect_api + "/health", 180, self.servers["prefect"], self.logs / "prefect-server.log")
        log(f"moto ({self.s3_url}) and Prefect ({self.prefect_api}) servers are up")

    def dead_servers(self) -> str | None:
        """Which of our servers is gone (something else on the machine may have killed it)."""
        dead = [f"{name} server pid {p.pid} exited with {p.returncode}" for name, p in self.servers.items()
                if p.poll() is not None]
        return "; ".join(dead) or None

    def database(self, name: str) -> str:
        """A fresh migrated database `fleettickets_bench_<name>` with the floor's table
        (bench/sql/floor_table.sql); its DSN. Left in place afterwards, to inspect."""
        from fleettickets.migrate import migrate

        database = f"{DB_PREFIX}_{name}"
        _recreate(database)
        dsn = dsn_for(database)
        migrate(dsn)
        query_one(dsn, sql("floor_table.sql"))
        return dsn

    def s3_client(self) -> Any:  # a boto3 S3 client
        import boto3

        return boto3.client("s3", endpoint_url=self.s3_url, aws_access_key_id=S3_KEY,
                            aws_secret_access_key=S3_SECRET, region_name=S3_REGION)

    def make_bucket(self, bucket: str) -> None:
        client = self.s3_client()
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=bucket)

    def upload(self, bucket: str, paths: list[Path]) -> None:
        """The files under automations/inc/changes/ of `bucket`, as the exporter puts them."""
        from fleettickets.datasets import get_dataset

        client, dataset = self.s3_client(), get_dataset("inc")
        for path in paths:
            client.upload_file(str(path), bucket, dataset.changes_key(path.name))

    def ours_env(self, dsn: str, bucket: str) -> dict[str, str]:
        """The environment of one `fleettickets` command against `dsn` and `bucket`."""
        env = {
            **self.prefect_env,
            "DATABASE_URL": dsn,
            "RUSTFS_ENDPOINT_URL": self.s3_url, "RUSTFS_ACCESS_KEY": S3_KEY, "RUSTFS_SECRET_KEY": S3_SECRET,
            "RUSTFS_BUCKET": bucket, "RUSTFS_REGION": S3_REGION,
            "GEOCODER_PROVIDER": "offline",  # no network: the gazetteer and plus codes only
            "FLEETTICKETS_ENV_FILE": "/dev/null",  # never a developer's .env
            # The sample's file times are fixed dates in the past: without this a run would
            # end in "source is stale" (exit 3) after applying everything.
            "FLEETTICKETS_STALE_AFTER_MINUTES": "0",
        }
        env.pop("FLEETTICKETS_ALERT_WEBHOOK", None)  # a bench run never pages anyone
        return env


def with_password(dsn: str) -> str:
    """dlt insists on a password; with the local trust auth any value is accepted and ignored."""
    parts = urllib.parse.urlsplit(dsn)
    if parts.password is not None or not parts.username:
        return dsn
    netloc = f"{parts.username}:trust-auth-ignores-this@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
