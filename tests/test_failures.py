"""Nothing lost, nothing doubled: kills, S3 and database faults, concurrent runs, bad files.

Each test ends by proving the final state equals a clean, in-order load (the oracle).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from fleettickets.db import lock_key
from flows.ingest import INGEST_FLOWS, IngestFailed
from tests import oracle
from tests.conftest import REPO, VENV_BIN, run_cli
from tests.helpers import expected_history, history_keys, keys, ledger, table_state, upload, watermark
from tests.s3_proxy import FaultProxy, Rule

CHANGES = "automations/inc/changes/"


def start_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [str(VENV_BIN / "fleettickets"), *args], cwd=REPO, env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def kill(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)


def wait_for(predicate, what: str, seconds: float = 150) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def loader_waiting_on_lock(db: psycopg.Connection) -> int | None:
    row = db.execute(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'fleettickets'"
        " AND wait_event_type = 'Lock' AND datname = current_database()"
    ).fetchone()
    return row[0] if row else None


def no_loader_sessions(db: psycopg.Connection) -> bool:
    return db.execute(
        "SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'fleettickets'"
        " AND datname = current_database()"
    ).fetchone()[0]


def assert_clean_load(db: psycopg.Connection, files: list[Path]) -> None:
    assert table_state(db, "inc") == oracle.replay(files)
    assert history_keys(db) == expected_history(files)
    assert [k.rsplit("/", 1)[1] for k, *_ in ledger(db, "inc")] == [p.name for p in files]
    assert watermark(db, "inc") == CHANGES + files[-1].name


@contextmanager
def ingest_blocked_in_apply(database: str, db: psycopg.Connection) -> Iterator[subprocess.Popen]:
    """`fleettickets ingest inc`, yielded while its first file's transaction waits at the watermark.

    A lock on the inc import_meta row blocks the apply at its last step, rows already upserted;
    the lock is released when the block ends.
    """
    blocker = psycopg.connect(database)
    blocker.execute("SELECT 1 FROM tickets.import_meta WHERE dataset = 'inc' FOR UPDATE")
    try:
        proc = start_cli("ingest", "inc")
        wait_for(lambda: loader_waiting_on_lock(db), "the apply transaction to reach the watermark")
        yield proc
    finally:
        blocker.rollback()
        blocker.close()


def test_killed_mid_apply_leaves_nothing_and_the_rerun_is_clean(db, database, settings, s3, inc_files):
    upload(s3, settings.s3_bucket, "inc", inc_files)
    with ingest_blocked_in_apply(database, db) as proc:
        kill(proc)  # a real process kill, in the middle of the file's transaction
    wait_for(lambda: no_loader_sessions(db), "the killed sessions to end")

    assert table_state(db, "inc") == {} and ledger(db, "inc") == [] and watermark(db, "inc") is None
    assert len(keys(s3, settings.s3_bucket, CHANGES)) == len(inc_files)

    INGEST_FLOWS["inc"]()
    assert_clean_load(db, inc_files)


def test_killed_between_commit_and_archive_only_archives_on_rerun(db, settings, s3, s3_endpoint, inc_files):
    upload(s3, settings.s3_bucket, "inc", inc_files)
    stall_copy = Rule("PUT", lambda path, headers: "x-amz-copy-source" in headers, stall=True)
    with FaultProxy(s3_endpoint) as proxy:
        proxy.rules.append(stall_copy)
        proc = start_cli("ingest", "inc", env={"RUSTFS_ENDPOINT_URL": proxy.url})
        try:
            assert stall_copy.seen.wait(150), "the run never reached the archive step"
            kill(proc)  # the first batch of files is committed; its archive's first copy never happened
        finally:
            stall_copy.release.set()
    wait_for(lambda: no_loader_sessions(db), "the killed sessions to end")
    committed = [k.rsplit("/", 1)[1] for k, *_ in ledger(db, "inc")]
    assert committed and committed == [p.name for p in inc_files[:len(committed)]]
    assert len(keys(s3, settings.s3_bucket, CHANGES)) == len(inc_files)

    summary = INGEST_FLOWS["inc"]()

    assert summary.files_archived_only == len(committed)
    assert summary.files_applied == len(inc_files) - len(committed)
    assert_clean_load(db, inc_files)
    assert {r[3] for r in ledger(db, "inc")} == {0}  # nothing applied twice
    assert keys(s3, settings.s3_bucket, CHANGES) == []


def test_s3_errors_mid_stream_are_retried(db, settings, s3, s3_endpoint, inc_files, monkeypatch):
    upload(s3, settings.s3_bucket, "inc", inc_files)
    second = CHANGES + inc_files[1].name
    flaky_get = Rule("GET", lambda path, headers: path.endswith(second), fail_times=5)
    with FaultProxy(s3_endpoint) as proxy:
        proxy.rules.append(flaky_get)
        monkeypatch.setenv("RUSTFS_ENDPOINT_URL", proxy.url)
        summary = INGEST_FLOWS["inc"]()
    assert flaky_get.hits >= 6  # five injected failures, then the real answer
    assert summary.status == "completed"
    assert_clean_load(db, inc_files)


def test_database_connection_lost_mid_file_is_retried(db, database, settings, s3, inc_files):
    upload(s3, settings.s3_bucket, "inc", inc_files)
    with ingest_blocked_in_apply(database, db) as proc:
        pid = loader_waiting_on_lock(db)
        db.execute("SELECT pg_terminate_backend(%s)", (pid,))  # the server drops the connection
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    assert "Retrying" in err or "retry" in err.lower()
    assert_clean_load(db, inc_files)


def test_a_second_run_exits_cleanly_while_one_holds_the_lock(db, database, settings, s3, inc_files):
    upload(s3, settings.s3_bucket, "inc", inc_files)
    with psycopg.connect(database, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (lock_key("fleettickets.ingest.inc"),))
        proc = run_cli("ingest", "inc")
        waiting = start_cli("ingest", "inc", "--wait")
        time.sleep(3)
        assert waiting.poll() is None  # --wait queues behind the writer
    assert proc.returncode == 0
    assert "another ingest of inc is running" in proc.stdout
    out, err = waiting.communicate(timeout=240)
    assert waiting.returncode == 0, err
    assert_clean_load(db, inc_files)


def test_two_runs_at_once_apply_each_file_once(db, settings, s3, inc_files):
    upload(s3, settings.s3_bucket, "inc", inc_files)
    runs = [start_cli("ingest", "inc"), start_cli("ingest", "inc")]
    results = [run.communicate(timeout=240) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], results
    assert_clean_load(db, inc_files)
    assert {r[3] for r in ledger(db, "inc")} == {0}


def test_drifted_file_stops_the_stream_until_quarantined(db, settings, s3, inc_files, tmp_path):
    baseline, drifted_source, *rest = inc_files
    drifted = tmp_path / drifted_source.name
    text = drifted_source.read_text(encoding="utf-8-sig")
    drifted.write_text(text.replace('"assigned_team"', '"assigned_group"', 1), encoding="utf-8")
    upload(s3, settings.s3_bucket, "inc", [baseline, drifted, *rest])

    failed = run_cli("ingest", "inc")

    key = CHANGES + drifted.name
    assert failed.returncode == 1
    assert f"{key}: schema drift (missing columns: assigned_team; unknown columns: assigned_group)" in (
        failed.stderr
    )
    assert [k.rsplit("/", 1)[1] for k, *_ in ledger(db, "inc")] == [baseline.name]  # earlier file stays
    assert watermark(db, "inc") == CHANGES + baseline.name

    moved = run_cli("quarantine", "inc", key, check=True)
    assert "automations/inc/quarantine/" + drifted.name in moved.stdout
    assert keys(s3, settings.s3_bucket, "automations/inc/quarantine/") == [
        "automations/inc/quarantine/" + drifted.name
    ]
    INGEST_FLOWS["inc"]()
    assert_clean_load(db, [baseline, *rest])


def test_unreadable_file_fails_the_flow_with_the_key(db, settings, s3, inc_files, tmp_path):
    broken = tmp_path / "2026-06-15T06-20-00.csv"
    broken.write_bytes(inc_files[1].read_bytes()[:-200] + b'"unterminated\n')
    upload(s3, settings.s3_bucket, "inc", [inc_files[0], broken])
    with pytest.raises(IngestFailed, match=f"{CHANGES}2026-06-15T06-20-00.csv: malformed CSV"):
        INGEST_FLOWS["inc"]()
    assert [k.rsplit("/", 1)[1] for k, *_ in ledger(db, "inc")] == [inc_files[0].name]


def test_quarantine_of_a_missing_file_is_a_clean_error(settings):
    result = run_cli("quarantine", "inc", "2030-01-01T00-00-00.csv")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: {CHANGES}2030-01-01T00-00-00.csv: no such change file in bucket {settings.s3_bucket}"
        " (looked under changes/ and processed/)"
    )
