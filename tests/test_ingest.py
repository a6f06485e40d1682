"""The change stream lands exactly once, in order, never backwards (real PostgreSQL, S3, Prefect)."""

from __future__ import annotations

import csv
import shutil

import pytest

from flows.ingest import INGEST_FLOWS, IngestFailed
from tests import oracle
from tests.helpers import (
    expected_history,
    history,
    history_keys,
    keys,
    ledger,
    row_versions,
    table_state,
    upload,
    watermark,
)


def test_baseline_and_deltas_equal_an_independent_replay(db, settings, s3, inc_files):
    upload(s3, settings.s3_bucket, "inc", inc_files)
    summary = INGEST_FLOWS["inc"]()

    assert summary.status == "completed"
    assert summary.files_applied == len(inc_files)
    assert table_state(db, "inc") == oracle.replay(inc_files)
    # every file archived after commit, nothing left behind
    assert keys(s3, settings.s3_bucket, "automations/inc/changes/") == []
    assert [k.rsplit("/", 1)[1] for k in keys(s3, settings.s3_bucket, "automations/inc/processed/")] == [
        p.name for p in inc_files
    ]
    assert watermark(db, "inc") == f"automations/inc/changes/{inc_files[-1].name}"
    assert history_keys(db) == expected_history(inc_files)
    data_rows = 0
    for path in inc_files:
        with path.open(encoding="utf-8-sig", newline="") as f:
            data_rows += sum(1 for _ in csv.DictReader(f))
    assert summary.totals.rows_read == data_rows


def test_rerun_rewrites_no_row(db, settings, s3, inc_files):
    upload(s3, settings.s3_bucket, "inc", inc_files)
    INGEST_FLOWS["inc"]()
    before, history_before = row_versions(db, "inc"), history(db)

    # the same files published again under changes/ are only archived, never applied twice
    upload(s3, settings.s3_bucket, "inc", inc_files)
    again = INGEST_FLOWS["inc"]()

    assert again.files_applied == 0
    assert again.files_archived_only == len(inc_files)
    assert row_versions(db, "inc") == before
    assert history(db) == history_before
    assert keys(s3, settings.s3_bucket, "automations/inc/changes/") == []


def test_crq_runs_on_the_same_engine_without_history(db, settings, s3, crq_files):
    upload(s3, settings.s3_bucket, "crq", crq_files)
    summary = INGEST_FLOWS["crq"]()

    assert summary.status == "completed"
    assert table_state(db, "crq") == oracle.replay(crq_files)
    assert summary.totals.history_rows == 0 and history(db) == []
    assert watermark(db, "crq") == f"automations/crq/changes/{crq_files[-1].name}"
    assert watermark(db, "inc") is None


def test_byte_identical_delta_changes_nothing(db, settings, s3, inc_files):
    upload(s3, settings.s3_bucket, "inc", inc_files)
    INGEST_FLOWS["inc"]()
    before, history_before = row_versions(db, "inc"), history(db)

    state_before = table_state(db, "inc")
    upload(s3, settings.s3_bucket, "inc", [inc_files[-1]], names=["2026-06-16T09-00-00.csv"])
    summary = INGEST_FLOWS["inc"]()

    assert summary.files_applied == 1
    assert summary.totals.inserted == summary.totals.updated == summary.totals.history_rows == 0
    assert summary.totals.unchanged == len(oracle.read_file(inc_files[-1])) > 0
    assert table_state(db, "inc") == state_before and history(db) == history_before
    # An unchanged row still records that a newer file carried it (so no file dated in
    # between can win later); the tickets the file did not carry are not touched.
    carried = set(oracle.read_file(inc_files[-1]))
    after = row_versions(db, "inc")
    assert {tid for tid, (_, key) in after.items() if key.endswith("2026-06-16T09-00-00.csv")} == carried
    assert {tid: v for tid, v in after.items() if tid not in carried} == {
        tid: v for tid, v in before.items() if tid not in carried
    }
    assert watermark(db, "inc") == "automations/inc/changes/2026-06-16T09-00-00.csv"


def test_late_files_never_regress_a_ticket(db, settings, s3, inc_files):
    baseline, *late, last = inc_files
    upload(s3, settings.s3_bucket, "inc", [baseline, last])
    INGEST_FLOWS["inc"]()
    assert watermark(db, "inc").endswith(last.name)

    upload(s3, settings.s3_bucket, "inc", late)
    summary = INGEST_FLOWS["inc"]()

    newest = oracle.read_file(last)
    expected_stale = sum(
        1 for path in late for tid, row in oracle.read_file(path).items()
        if tid in newest and newest[tid] != row
    )
    assert expected_stale > 0, "the sample stream should revisit tickets"
    assert summary.files_late == len(late) and all(f.late for f in summary.files)
    assert summary.totals.stale == expected_stale  # rows the newer file had already moved on
    assert table_state(db, "inc") == oracle.replay(inc_files)  # same as a clean, in-order load
    assert watermark(db, "inc").endswith(last.name)  # never backwards
    flags = dict(db.execute("SELECT source_key, late FROM tickets.applied_files").fetchall())
    assert {k.rsplit("/", 1)[1] for k, late in flags.items() if late} == {p.name for p in late}


def test_reseed_on_a_live_table_changes_nothing(db, settings, s3, inc_files):
    upload(s3, settings.s3_bucket, "inc", inc_files)
    INGEST_FLOWS["inc"]()
    before, history_before = row_versions(db, "inc"), history(db)

    summary = INGEST_FLOWS["inc"](reseed=True)

    assert summary.mode == "reseed" and summary.files_applied == len(inc_files)
    assert summary.totals.inserted == summary.totals.updated == summary.totals.history_rows == 0
    assert row_versions(db, "inc") == before and history(db) == history_before
    assert {r[3] for r in ledger(db, "inc")} == {1}

    partial = INGEST_FLOWS["inc"](reseed=True, from_key=f"automations/inc/processed/{inc_files[2].name}")
    assert [f.source_key.rsplit("/", 1)[1] for f in partial.files] == [p.name for p in inc_files[2:]]


def test_reseed_rebuilds_an_emptied_table(db, settings, s3, inc_files):
    upload(s3, settings.s3_bucket, "inc", inc_files)
    INGEST_FLOWS["inc"]()
    db.execute("TRUNCATE tickets.inc")

    INGEST_FLOWS["inc"](reseed=True)

    assert table_state(db, "inc") == oracle.replay(inc_files)


def test_dry_run_reports_and_writes_nothing(db, settings, s3, inc_files):
    upload(s3, settings.s3_bucket, "inc", inc_files[:2])
    listed = keys(s3, settings.s3_bucket, "automations/")

    summary = INGEST_FLOWS["inc"](dry_run=True)

    assert summary.mode == "dry-run" and summary.files_applied == 2
    first = summary.files[0]
    assert first.inserted == len(oracle.read_file(inc_files[0]))
    assert first.transform.dropped_alarm > 0
    assert table_state(db, "inc") == {} and ledger(db, "inc") == [] and watermark(db, "inc") is None
    last_run = db.execute("SELECT last_run_at FROM tickets.import_meta WHERE dataset = 'inc'").fetchone()
    assert last_run == (None,)
    assert keys(s3, settings.s3_bucket, "automations/") == listed


def test_non_change_keys_are_skipped_and_left_alone(db, settings, s3, inc_files, tmp_path):
    prefix = "automations/inc/changes/"
    junk = [prefix + name for name in
            ("upload.tmp", "manifest.json", "sub/", "2026-13-01T00-00-00.csv", "latest.csv")]
    for key in junk:
        s3.put_object(Bucket=settings.s3_bucket, Key=key, Body=b"x")
    shutil.copy(inc_files[0], tmp_path / inc_files[0].name)
    upload(s3, settings.s3_bucket, "inc", [tmp_path / inc_files[0].name])

    summary = INGEST_FLOWS["inc"]()

    assert summary.files_applied == 1
    assert summary.keys_skipped == len(junk)
    assert keys(s3, settings.s3_bucket, prefix) == sorted(junk)


def test_a_republished_key_with_other_bytes_stops_the_stream(db, settings, s3, inc_files):
    upload(s3, settings.s3_bucket, "inc", inc_files[:2])
    INGEST_FLOWS["inc"]()
    before = row_versions(db, "inc")
    processed = s3.get_object(Bucket=settings.s3_bucket, Key=f"automations/inc/processed/{inc_files[1].name}")
    original = processed["Body"].read()

    # the exporter publishes other bytes under a key that was already applied
    upload(s3, settings.s3_bucket, "inc", [inc_files[2]], names=[inc_files[1].name])
    republished = f"automations/inc/changes/{inc_files[1].name}: already applied with other bytes"
    with pytest.raises(IngestFailed, match=republished):
        INGEST_FLOWS["inc"]()

    assert row_versions(db, "inc") == before  # not applied twice, not guessed
    archived = s3.get_object(Bucket=settings.s3_bucket, Key=f"automations/inc/processed/{inc_files[1].name}")
    assert archived["Body"].read() == original  # the archived original is not overwritten
    assert keys(s3, settings.s3_bucket, "automations/inc/changes/") == [f"automations/inc/changes/{inc_files[1].name}"]
