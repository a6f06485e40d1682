"""Blocks as a Prefect shop runs them: the worker holds no secret, keys rotate in the UI, nothing leaks.

The bucket is an S3 Bucket block over a MinIO Credentials block, the DSN and the geocoder key
are Secret blocks (tasks/blocks.py); `make deploy` creates them from the environment. The S3
endpoint here checks credentials (moto with IAM on), as RustFS does.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import httpx
import pytest
from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect_aws import MinIOCredentials, S3Bucket
from sqlalchemy.engine import make_url

from fleettickets.storage import BOTOCORE_CONFIG
from tasks import blocks
from tests import oracle
from tests.conftest import TEST_DSN, run_cli
from tests.helpers import table_state, upload
from tests.locationiq_server import FakeLocationIQ
from tests.test_e2e import DEPLOYMENTS, bootstrap, bootstrapped_worker, finished, run, start, state_of

DB_PASSWORD = "Db-Password-RECOGNISABLE-41c7"
GEOCODER_KEY = "pk.Geocoder-Key-RECOGNISABLE-88d2"
WRONG_S3_SECRET = "S3-Secret-ROTATED-WRONG-RECOGNISABLE-0b5e"
# The local PostgreSQL trusts 127.0.0.1, so a DSN with a password connects: the password is
# there to be looked for in everything Prefect stores.
SECRET_DSN = make_url(TEST_DSN).set(password=DB_PASSWORD).render_as_string(hide_password=False)
NAMES = ("fleettickets-bucket", "fleettickets-s3-credentials", "fleettickets-database-url",
         "fleettickets-geocoder-api-key")


@pytest.fixture
def no_blocks(prefect_server):
    """No fleettickets block before or after the test (other tests use the environment)."""
    blocks.delete_blocks()
    yield
    blocks.delete_blocks()


def test_one_precedence_block_then_environment_then_default(no_blocks, db, settings, monkeypatch, tmp_path):
    env_file = tmp_path / "fleettickets.env"
    env_file.write_text("GEOCODER_GUARD_KM=3\nRUSTFS_BUCKET=from-the-env-file\n")
    monkeypatch.setenv("FLEETTICKETS_ENV_FILE", str(env_file))
    Secret(value=SECRET_DSN).save("fleettickets-database-url")

    found = blocks.resolve()
    assert found.settings.database_url.get_secret_value() == SECRET_DSN  # the block, not DATABASE_URL
    assert found.settings.s3_bucket == settings.s3_bucket  # the environment wins over the env file
    assert found.settings.geocoder_guard_km == 3  # the env file over the default
    assert found.origins["DATABASE_URL"] == "block fleettickets-database-url (Secret)"
    assert found.origins["RUSTFS_BUCKET"] == "environment"
    assert found.origins["GEOCODER_GUARD_KM"] == f"env file {env_file}"
    assert found.origins["GEOCODER_RUN_BUDGET"] == "default"
    assert DB_PASSWORD not in repr(found) + str(found.settings)

    # `status` says where each setting came from, never its value
    shown, listed = both_status_outputs()
    origins = json.loads(shown.stdout)["settings"]
    assert origins["DATABASE_URL"] == {"source": "block", "block": "fleettickets-database-url", "type": "Secret"}
    assert origins["RUSTFS_SECRET_KEY"] == {"source": "environment"}
    assert origins["GEOCODER_GUARD_KM"] == {"source": "env file", "path": str(env_file)}
    text = listed.stdout
    assert "DATABASE_URL: block fleettickets-database-url (Secret)" in text
    assert DB_PASSWORD not in shown.stdout + shown.stderr + text

    # a deployment can point at other blocks; a name that has no block falls back to the environment
    monkeypatch.setenv("FLEETTICKETS_BLOCK_DATABASE_URL", "fleettickets-database-url-staging")
    assert blocks.resolve().origins["DATABASE_URL"] == "environment"


def both_status_outputs() -> list[subprocess.CompletedProcess]:
    """`fleettickets status --json` and `fleettickets status`, side by side (they only read)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda args: run_cli(*args, check=True), [("status", "--json"), ("status",)]))


def test_make_deploy_creates_missing_blocks_and_keeps_edited_ones(no_blocks, settings, s3_endpoint, monkeypatch):
    monkeypatch.setenv("GEOCODER_API_KEY", GEOCODER_KEY)
    monkeypatch.setenv("DATABASE_URL", SECRET_DSN)
    first = bootstrap()
    for name in NAMES:
        assert f"block {name}: created from the environment" in first
    bucket = S3Bucket.load("fleettickets-bucket")
    assert bucket.bucket_name == settings.s3_bucket
    assert bucket.credentials._block_document_name == "fleettickets-s3-credentials"  # referenced, not copied
    params = bucket.credentials.aws_client_parameters
    assert params.endpoint_url == s3_endpoint and params.config["s3"] == {"addressing_style": "path"}
    assert params.config == BOTOCORE_CONFIG
    assert Secret.load("fleettickets-geocoder-api-key").get() == GEOCODER_KEY

    # an operator rotates the key in the UI: make deploy keeps it
    creds = MinIOCredentials.load("fleettickets-s3-credentials")
    creds.minio_root_password = "rotated-in-the-ui"
    creds.save("fleettickets-s3-credentials", overwrite=True)
    again = bootstrap()
    for name in NAMES:
        assert f"block {name}: exists (kept" in again
    assert S3Bucket.load("fleettickets-bucket").credentials.minio_root_password.get_secret_value() == (
        "rotated-in-the-ui")

    # only the explicit flag writes the environment over them
    forced = bootstrap("--overwrite-blocks")
    assert "block fleettickets-s3-credentials: overwritten from the environment" in forced
    assert S3Bucket.load("fleettickets-bucket").credentials.minio_root_password.get_secret_value() == (
        settings.s3_secret_key.get_secret_value())
    for output in (first, again, forced):
        assert DB_PASSWORD not in output and GEOCODER_KEY not in output


def _events_since(api: str, since: str) -> list[dict]:
    """Every event since `since`, page by page (the API gives at most 50 at a time)."""
    events: list[dict] = []
    page = httpx.post(f"{api}/events/filter", json={"filter": {"occurred": {"since": since}}, "limit": 50},
                      timeout=30).json()
    while True:
        events += page["events"]
        if not page.get("next_page"):
            return events
        page = httpx.get(page["next_page"], timeout=30).json()


def _stored_by_prefect(api: str, since: str) -> str:
    """Everything Prefect keeps about runs, read back through its API, as one text."""
    with get_client(sync_client=True) as client:
        parts = [r.model_dump_json() for r in client.read_flow_runs(limit=200)]
        parts += [r.model_dump_json() for r in client.read_task_runs(limit=200)]
        parts += [a.model_dump_json() for a in client.read_artifacts(limit=200)]
        parts += [d.model_dump_json() for d in client.read_deployments(limit=200)]
        offset = 0
        while logs := client.read_logs(limit=200, offset=offset):
            parts += [log.model_dump_json() for log in logs]
            offset += len(logs)
    parts += [json.dumps(e) for e in _events_since(api, since)]
    return "\n".join(parts)


def test_a_worker_without_secrets_runs_from_blocks_rotation_is_one_clear_line_and_nothing_leaks(
        no_blocks, db, settings, auth_s3, inc_files, crq_files, monkeypatch, output_dir, prefect_server):
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    s3 = boto3.client("s3", endpoint_url=auth_s3.url, region_name="us-east-1",
                      aws_access_key_id=auth_s3.access_key, aws_secret_access_key=auth_s3.secret_key)
    s3.create_bucket(Bucket=settings.s3_bucket)
    upload(s3, settings.s3_bucket, "inc", inc_files[:2])
    upload(s3, settings.s3_bucket, "crq", crq_files[:2])
    # The access key id is not among them: it names the key (prefect-aws keeps it as a plain field,
    # the UI shows it, Prefect's block-document events carry it); its secret key is the secret.
    secrets = (DB_PASSWORD, GEOCODER_KEY, auth_s3.secret_key, WRONG_S3_SECRET)

    with FakeLocationIQ(key=GEOCODER_KEY) as geocoder:
        # what `make deploy` sees: every setting in its environment
        for key, value in {"DATABASE_URL": SECRET_DSN, "RUSTFS_ENDPOINT_URL": auth_s3.url,
                           "RUSTFS_ACCESS_KEY": auth_s3.access_key, "RUSTFS_SECRET_KEY": auth_s3.secret_key,
                           "GEOCODER_API_KEY": GEOCODER_KEY}.items():
            monkeypatch.setenv(key, value)
        # the worker: no bucket, database or key in its environment, only what is no secret
        worker_env = {k: v for k, v in os.environ.items()
                      if not k.startswith("RUSTFS_") and k not in ("DATABASE_URL", "GEOCODER_API_KEY")}
        worker_env.update(GEOCODER_PROVIDER="locationiq", GEOCODER_URL=geocoder.url,
                          GEOCODER_MIN_DELAY_SECONDS="0.01", GEOCODER_RUN_BUDGET="3")
        with bootstrapped_worker(output_dir / "worker-blocks.log", env=worker_env) as (_, deployed):
            runs = finished(*map(start, DEPLOYMENTS))  # together, as their schedules start them
            completed = {name: state_of(flow_run) for name, flow_run in zip(DEPLOYMENTS, runs, strict=True)}
            assert {state for state, _ in completed.values()} == {StateType.COMPLETED}, completed
            assert table_state(db, "inc") == oracle.replay(inc_files[:2])
            assert table_state(db, "crq") == oracle.replay(crq_files[:2])
            assert geocoder.count > 0  # the key from its block was sent, and accepted

            # a wrong secret in the credentials block: the next run fails with one clear line
            creds = MinIOCredentials.load("fleettickets-s3-credentials")
            creds.minio_root_password = WRONG_S3_SECRET
            creds.save("fleettickets-s3-credentials", overwrite=True)
            upload(s3, settings.s3_bucket, "inc", inc_files[2:3])
            state, message = state_of(run("ingest-inc/scheduled"))
            assert state == StateType.FAILED
            assert "\n" not in message.strip()
            assert "MinIO Credentials block 'fleettickets-s3-credentials'" in message
            assert "(SignatureDoesNotMatch)" in message
            assert table_state(db, "inc") == oracle.replay(inc_files[:2])

            # restored: the following run completes the stream
            creds.minio_root_password = auth_s3.secret_key
            creds.save("fleettickets-s3-credentials", overwrite=True)
            assert state_of(run("ingest-inc/scheduled"))[0] == StateType.COMPLETED
            assert table_state(db, "inc") == oracle.replay(inc_files[:3])

        # the command line, with the same secrets in its environment and in the blocks
        upload(s3, settings.s3_bucket, "crq", crq_files[2:3])
        outputs = [run_cli("ingest", "crq", check=True), *both_status_outputs()]  # status after the ingest

    for name in NAMES:  # make deploy made them from its environment
        assert f"block {name}: created from the environment" in deployed
    stored = _stored_by_prefect(prefect_server, since)
    # the search looks at real text: the failure, the block loads' events, the runs' logs
    assert "(SignatureDoesNotMatch)" in stored and "prefect.block.s3-bucket.loaded" in stored
    assert "Beginning flow run" in stored
    for secret in secrets:
        assert secret not in stored, "a secret is stored by Prefect"
        assert secret not in deployed
        for proc in outputs:
            assert secret not in proc.stdout + proc.stderr
        for log in ("prefect-server.log", "worker-blocks.log"):
            assert secret not in (output_dir / log).read_text(), log


def test_each_block_spec_names_its_block_class():
    """The specs spell the block types out (a run that finds no S3 Bucket block never imports
    prefect-aws to ask it); they must stay what the classes say."""
    for spec, cls in ((blocks.BUCKET, S3Bucket), (blocks.S3_CREDENTIALS, MinIOCredentials),
                      (blocks.DATABASE_URL, Secret), (blocks.GEOCODER_API_KEY, Secret)):
        assert (spec.type_slug, spec.type_name) == (cls.get_block_type_slug(), cls.get_block_type_name())
