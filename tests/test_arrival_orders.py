"""The guarantee for every arrival order: after any sequence of uploads, late files, re-uploads,
re-published keys, crashes and reruns, the table and INC history equal an in-order replay of
the files the stream accepted. A property test searches for counterexamples (real PostgreSQL,
S3 over HTTP, Prefect flows); each hole it or an operator's bad day found has a named test.

FLEETTICKETS_PROPERTY_EXAMPLES sets how many streams the property test draws (12 in
`make test`; `make test-long` draws 200).
"""

from __future__ import annotations

import os
import time
import uuid
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, event, given, note, seed
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import fleettickets.apply
import fleettickets.db
import fleettickets.storage
import tasks.ingest
from fleettickets import storage
from fleettickets.datasets import get_dataset, parse_file_ts
from fleettickets.plan import BIG_FILE_BYTES, Action, PlannedFile, next_batch
from fleettickets.quarantine import quarantine
from fleettickets.storage import ChangeFile
from fleettickets.summary import RunSummary
from flows.ingest import INGEST_FLOWS, IngestFailed
from tests.conftest import run_cli
from tests.helpers import keys, ledger, table_state, watermark
from tests.streams import StreamFile, csv_bytes, name_at, replay, replay_history, ticket_row

INC = get_dataset("inc")
CHANGES, PROCESSED, QUARANTINE = INC.changes_prefix, INC.processed_prefix, INC.quarantine_prefix
EXAMPLES = int(os.environ.get("FLEETTICKETS_PROPERTY_EXAMPLES", "12"))


# --- reading the loaded state -----------------------------------------------------------------

def loaded_history(db: psycopg.Connection) -> set[tuple]:
    rows = db.execute(
        "SELECT ticket_id, source_key, raw_status, bucket, assigned_team, owner,"
        " prev_raw_status, prev_bucket, prev_assigned_team, prev_owner FROM tickets.inc_history"
    ).fetchall()
    return {(r[0], r[1].rsplit("/", 1)[1], tuple(r[2:6]), tuple(r[6:10])) for r in rows}


def accepted_names(db: psycopg.Connection) -> list[str]:
    return [k.rsplit("/", 1)[1] for k, *_ in ledger(db, "inc")]


def assert_in_order_replay(db: psycopg.Connection, s3: Any, bucket: str, accepted: list[StreamFile]) -> None:
    """The one promise, and what it implies about the ledger, the watermark and the archive."""
    assert accepted_names(db) == sorted(f.name for f in accepted)
    assert table_state(db, "inc") == replay(accepted)
    assert loaded_history(db) == replay_history(accepted)
    if accepted:
        assert watermark(db, "inc") == CHANGES + max(f.name for f in accepted)
    for f in accepted:  # the archived original is the accepted bytes, never overwritten
        assert s3.get_object(Bucket=bucket, Key=PROCESSED + f.name)["Body"].read() == f.data


def ingest(**params: Any) -> RunSummary:
    return INGEST_FLOWS["inc"](geocode=False, **params)


def put(s3: Any, bucket: str, f: StreamFile, *, multipart: bool = False) -> None:
    """A single PUT, or the same bytes as a one-part multipart upload (its ETag ends in -1)."""
    key = CHANGES + f.name
    if not multipart:
        s3.put_object(Bucket=bucket, Key=key, Body=f.data)
        return
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)
    part = s3.upload_part(Bucket=bucket, Key=key, PartNumber=1, UploadId=upload["UploadId"], Body=f.data)
    s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )


@contextmanager
def fresh_stream(db: psycopg.Connection, s3: Any, monkeypatch: pytest.MonkeyPatch):
    """Empty tables and a bucket of its own, for one drawn example."""
    db.execute(
        "TRUNCATE tickets.inc, tickets.inc_history, tickets.inc_observations, tickets.applied_files;"
        " UPDATE tickets.import_meta SET metadata = '{}', last_run_at = NULL"
    )
    bucket = f"p-{uuid.uuid4().hex[:12]}"
    storage.ensure_bucket(s3, bucket)
    with monkeypatch.context() as m:
        m.setenv("RUSTFS_BUCKET", bucket)
        yield bucket


# --- the property test --------------------------------------------------------------------------

TICKETS = [f"INC{n:012d}" for n in range(1, 6)]
STATES = st.tuples(
    st.sampled_from(["New", "ASSIGNED", "in progress", "Resolved"]),
    st.sampled_from(["pending", "closed"]),
    st.sampled_from(["", "Team A", "Team B"]),
    st.sampled_from(["alice", "bob"]),
)


@st.composite
def streams(draw: st.DrawFn) -> list[StreamFile]:
    """A baseline, then deltas and re-published baselines: rows with full current state,
    some unchanged, some repeated within a file (the last occurrence wins)."""
    count = draw(st.integers(2, 5))
    minutes = sorted(draw(st.sets(st.integers(0, 600), min_size=count, max_size=count)))
    current: dict[str, tuple] = {}
    files = []
    for i, minute in enumerate(minutes):
        baseline = i == 0 or draw(st.integers(0, 4)) == 0  # the exporter re-publishes a baseline
        carried = TICKETS if baseline else draw(st.lists(st.sampled_from(TICKETS), min_size=1, max_size=4,
                                                         unique=True))
        rows = []
        for tid in carried:
            # carried again exactly as before, or a new state
            state = current[tid] if tid in current and draw(st.booleans()) else draw(STATES)
            if draw(st.integers(0, 5)) == 0:  # an earlier occurrence in the same file, overridden
                rows.append(ticket_row(tid, *draw(STATES), note="superseded"))
            rows.append(ticket_row(tid, *state))
            current[tid] = state
        files.append(StreamFile(name_at(minute), csv_bytes(rows)))
    return files


CRASH_POINTS = ("download", "transform", "apply-before-commit", "apply-after-commit", "archive-copied")


class SimulatedCrash(BaseException):
    """The process dies here: not an error any step handles, so nothing retries it."""


@dataclass
class Crash:
    point: str
    nth: int  # crash at the nth time the run reaches the point
    seen: int = 0
    fired: bool = False

    def reached(self, point: str) -> None:
        if point == self.point and not self.fired:
            self.seen += 1
            if self.seen == self.nth:
                self.fired = True
                raise SimulatedCrash(f"{point} #{self.nth}")


def install_crash_points(monkeypatch: pytest.MonkeyPatch, crash: Crash) -> None:
    real_download, real_transform = storage.object_blocks, fleettickets.apply._clean
    real_apply, real_apply_file, real_copy = fleettickets.apply._apply, tasks.ingest.apply_change_file, storage._copy

    def download(*args: Any, **kwargs: Any) -> Any:
        crash.reached("download")  # the object starts to stream
        return real_download(*args, **kwargs)

    def transform(*args: Any, **kwargs: Any) -> Any:
        crash.reached("transform")  # the bytes are in COPY, the rules not yet run
        return real_transform(*args, **kwargs)

    def apply_inside(*args: Any, **kwargs: Any) -> None:
        real_apply(*args, **kwargs)
        crash.reached("apply-before-commit")  # inside the file's transaction: rolled back

    def apply_file(*args: Any, **kwargs: Any) -> Any:
        result = real_apply_file(*args, **kwargs)
        crash.reached("apply-after-commit")  # committed, not archived
        return result

    def copy(*args: Any, **kwargs: Any) -> None:  # a move's copy (archive or quarantine)
        real_copy(*args, **kwargs)
        crash.reached("archive-copied")  # two copies, the delete never happened

    monkeypatch.setattr(fleettickets.storage, "object_blocks", download)
    monkeypatch.setattr(fleettickets.apply, "_clean", transform)
    monkeypatch.setattr(fleettickets.apply, "_apply", apply_inside)
    monkeypatch.setattr(tasks.ingest, "apply_change_file", apply_file)
    monkeypatch.setattr(fleettickets.storage, "_copy", copy)


@dataclass
class Upload:
    file: int  # index into the stream
    multipart: bool
    other_bytes: bool  # re-publish the key with different content (after it was applied)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[StreamFile], list[list[Upload]], Crash | None]:
    """A stream, the batches it arrives in (any order, re-uploads by single or multipart PUT,
    re-published keys), and at most one crash somewhere in the runs."""
    files = draw(streams())
    order = draw(st.permutations(range(len(files))))
    cuts = sorted(draw(st.sets(st.integers(1, len(files) - 1), max_size=len(files) - 1))) if len(files) > 1 else []
    batches, start = [], 0
    for cut in [*cuts, len(files)]:
        batches.append([Upload(i, draw(st.booleans()), False) for i in order[start:cut]])
        start = cut
    for _ in range(draw(st.integers(0, 2))):  # later re-uploads of files already sent
        batch = draw(st.integers(1, len(batches)))
        sent = [u.file for b in batches[:batch] for u in b]
        batches.insert(batch, [Upload(draw(st.sampled_from(sent)), draw(st.booleans()), draw(st.booleans()))])
    crash = draw(st.one_of(st.none(), st.builds(Crash, st.sampled_from(CRASH_POINTS), st.integers(1, 3))))
    return files, batches, crash


def republished(f: StreamFile) -> StreamFile:
    rows = [ticket_row(tid, "Closed", "closed", "Team Z", "zed") for tid in f.rows()]
    return StreamFile(f.name, csv_bytes(rows))


def run_until_settled(db: psycopg.Connection, s3: Any, bucket: str, quarantined: set[str]) -> None:
    """Run ingest as an operator would: after a crash, run again; a file the stream stops at
    (other bytes under an applied key) is quarantined, then the stream goes on."""
    for _ in range(6):
        try:
            summary = ingest()
        except SimulatedCrash:
            continue
        except IngestFailed as exc:
            assert "already applied with other bytes" in str(exc), str(exc)
            key = str(exc).split(" stopped at ", 1)[1].split(": ", 1)[0]
            with suppress(InvalidArgument):  # a note for hypothesis's report; a named test has none
                note(f"quarantine {key}")
            try:
                with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:  # as the CLI does
                    moved = quarantine(conn, s3, bucket, INC, key)
                quarantined.add(key.rsplit("/", 1)[1])
                if moved.unapplied:
                    ingest(reseed=True)
            except SimulatedCrash:  # the operator's command died too: they run ingest (and it) again
                pass
            continue
        assert summary.status == "completed"
        if not keys(s3, bucket, CHANGES):
            return
    raise AssertionError(f"the stream did not settle: {keys(s3, bucket, CHANGES)}")


@pytest.mark.timeout(120 + 30 * EXAMPLES)
@seed(20261201)
@hypothesis_settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(scenario=scenarios())
def test_any_arrival_order_equals_an_in_order_replay(db, settings, s3, monkeypatch, scenario):
    files, batches, crash = scenario
    note(f"files {[f.name for f in files]}; batches {batches}; crash {crash}")
    with fresh_stream(db, s3, monkeypatch) as bucket, monkeypatch.context() as m:
        if crash:
            install_crash_points(m, crash)
        quarantined: set[str] = set()
        sent: set[int] = set()
        for batch in batches:
            for upload in batch:
                f = files[upload.file]
                applied = f.name in accepted_names(db)
                put(s3, bucket, republished(f) if upload.other_bytes and applied else f, multipart=upload.multipart)
                sent.add(upload.file)
            run_until_settled(db, s3, bucket, quarantined)
        if crash:
            m.undo()
            run_until_settled(db, s3, bucket, quarantined)
            event(f"crashed at {crash.point}" if crash.fired else "crash point not reached")
        event(f"{len(files)} files in {len(batches)} batches")

        accepted = [f for f in files if f.name in accepted_names(db)]
        # Every file sent was accepted, except re-published bytes taken out by quarantine.
        assert {f.name for f in accepted} == {files[i].name for i in sent}
        assert_in_order_replay(db, s3, bucket, accepted)
        assert not (set(keys(s3, bucket, QUARANTINE)) and not quarantined)


# --- the holes, one named test each ----------------------------------------------------------

@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_crash_at_any_step_then_a_rerun_equals_a_clean_load(db, settings, s3, monkeypatch, point):
    files = [StreamFile(name_at(m), csv_bytes(three_tickets(s))) for m, s in ((0, "New"), (20, "ASSIGNED"))]
    for f in files:
        put(s3, settings.s3_bucket, f)
    crash = Crash(point, nth=2 if point == "download" else 1)
    with monkeypatch.context() as m:
        install_crash_points(m, crash)
        with pytest.raises(SimulatedCrash):
            ingest()
    assert crash.fired

    assert ingest().status == "completed"
    assert keys(s3, settings.s3_bucket, CHANGES) == []
    assert {r[3] for r in ledger(db, "inc")} == {0}  # nothing applied twice
    assert_in_order_replay(db, s3, settings.s3_bucket, files)


def three_tickets(status: str, team: str = "Team A") -> list[dict[str, str]]:
    return [ticket_row(tid, status, "pending", team, "alice") for tid in TICKETS[:3]]


def test_a_late_file_cannot_move_a_ticket_carried_unchanged_by_a_newer_file(db, settings, s3):
    baseline = StreamFile(name_at(0), csv_bytes(three_tickets("New")))
    newer = StreamFile(name_at(60), csv_bytes(three_tickets("New")))  # carried exactly as before
    late = StreamFile(name_at(50), csv_bytes(three_tickets("Resolved", "Team B")))
    for f in (baseline, newer):
        put(s3, settings.s3_bucket, f)
        ingest()
    put(s3, settings.s3_bucket, late)
    summary = ingest()

    assert summary.files_late == 1 and summary.totals.stale == 3
    assert {row["raw_status"] for row in table_state(db, "inc").values()} == {"NEW"}
    assert_in_order_replay(db, s3, settings.s3_bucket, [baseline, newer, late])


def test_an_older_delta_after_a_republished_baseline_changes_nothing(db, settings, s3):
    baseline = StreamFile(name_at(0), csv_bytes(three_tickets("New")))
    republished_baseline = StreamFile(name_at(120), csv_bytes(three_tickets("ASSIGNED")))
    older_delta = StreamFile(name_at(60), csv_bytes(three_tickets("Resolved")[:2]))
    for f in (baseline, republished_baseline, older_delta):
        put(s3, settings.s3_bucket, f)
        ingest()
    assert {row["raw_status"] for row in table_state(db, "inc").values()} == {"ASSIGNED"}
    # history: NEW at 06-00, RESOLVED at 07-00 (two tickets), ASSIGNED at 08-00 for all three
    assert_in_order_replay(db, s3, settings.s3_bucket, [baseline, republished_baseline, older_delta])


def test_the_same_bytes_uploaded_again_as_multipart_are_only_archived(db, settings, s3):
    f = StreamFile(name_at(0), csv_bytes(three_tickets("New")))
    put(s3, settings.s3_bucket, f)
    ingest()
    put(s3, settings.s3_bucket, f, multipart=True)
    etag = s3.head_object(Bucket=settings.s3_bucket, Key=CHANGES + f.name)["ETag"]
    assert etag.strip('"').endswith("-1")  # not the ETag the ledger holds

    summary = ingest()

    assert summary.status == "completed" and summary.files_archived_only == 1
    assert keys(s3, settings.s3_bucket, CHANGES) == []
    assert_in_order_replay(db, s3, settings.s3_bucket, [f])


def test_a_crash_inside_the_quarantine_of_a_republished_key_then_a_rerun_settles(db, settings, s3, monkeypatch):
    """Found by `make test-long` (200 streams): the quarantine of a re-published key died between
    its copy to quarantine/ and the delete. Run again, the stream stops at the key again and the
    quarantine finishes the move (the target already holds the same bytes)."""
    first, second = (StreamFile(name_at(m), csv_bytes(three_tickets(s))) for m, s in ((0, "New"), (20, "ASSIGNED")))
    for f in (first, second):
        put(s3, settings.s3_bucket, f)
    ingest()
    put(s3, settings.s3_bucket, republished(second))
    quarantined: set[str] = set()
    crash = Crash("archive-copied", nth=1)  # the first copy from here on is the quarantine's
    with monkeypatch.context() as m:
        install_crash_points(m, crash)
        run_until_settled(db, s3, settings.s3_bucket, quarantined)

    assert crash.fired and quarantined == {second.name}
    assert keys(s3, settings.s3_bucket, CHANGES) == []
    assert s3.get_object(Bucket=settings.s3_bucket, Key=QUARANTINE + second.name)["Body"].read() == (
        republished(second).data)
    assert_in_order_replay(db, s3, settings.s3_bucket, [first, second])


def test_reseed_after_a_republished_key_never_overwrites_the_archived_original(db, settings, s3):
    first, second = (StreamFile(name_at(m), csv_bytes(three_tickets(s))) for m, s in ((0, "New"), (20, "ASSIGNED")))
    for f in (first, second):
        put(s3, settings.s3_bucket, f)
    ingest()
    put(s3, settings.s3_bucket, republished(second))

    with pytest.raises(IngestFailed, match=f"{CHANGES}{second.name}: already applied with other bytes"):
        ingest(reseed=True)
    assert_in_order_replay(db, s3, settings.s3_bucket, [first, second])

    moved = run_cli("quarantine", "inc", second.name, check=True)
    assert f"{CHANGES}{second.name} -> {QUARANTINE}{second.name}" in moved.stdout
    assert ingest(reseed=True).status == "completed"
    assert_in_order_replay(db, s3, settings.s3_bucket, [first, second])
    assert s3.get_object(Bucket=settings.s3_bucket, Key=QUARANTINE + second.name)["Body"].read() == (
        republished(second).data
    )


def test_a_key_with_non_ascii_digits_is_not_a_change_file(db, settings, s3):
    real = StreamFile(name_at(0), csv_bytes(three_tickets("New")))
    wide = "２０２６-06-15T08-00-00.csv"
    s3.put_object(Bucket=settings.s3_bucket, Key=CHANGES + wide, Body=real.data)
    put(s3, settings.s3_bucket, real)

    summary = ingest()

    assert summary.keys_skipped == 1 and summary.files_applied == 1
    assert watermark(db, "inc") == CHANGES + real.name
    assert keys(s3, settings.s3_bucket, CHANGES) == [CHANGES + wide]


def test_a_file_dated_in_the_future_is_held_back_until_quarantined(db, settings, s3):
    baseline = StreamFile(name_at(0), csv_bytes(three_tickets("New")))
    future = StreamFile("2099-01-01T00-00-00.csv", csv_bytes(three_tickets("Closed")))
    later = StreamFile(name_at(30), csv_bytes(three_tickets("ASSIGNED")))
    for f in (baseline, future):
        put(s3, settings.s3_bucket, f)

    summary = ingest()

    assert summary.held_keys == [CHANGES + future.name] and summary.files_applied == 1
    put(s3, settings.s3_bucket, later)
    assert ingest().files_applied == 1  # real updates go on, the future file waits
    assert_in_order_replay(db, s3, settings.s3_bucket, [baseline, later])
    status = run_cli("status", "--json", check=True)
    assert future.name in status.stdout

    run_cli("quarantine", "inc", future.name, check=True)
    assert keys(s3, settings.s3_bucket, CHANGES) == []
    assert keys(s3, settings.s3_bucket, QUARANTINE) == [QUARANTINE + future.name]


def test_quarantine_of_an_applied_future_file_rebuilds_its_tickets(db, settings, s3, monkeypatch):
    baseline = StreamFile(name_at(0), csv_bytes(three_tickets("New") + [ticket_row(TICKETS[4], "New", "pending",
                                                                                      "", "bob")]))
    future = StreamFile("2099-01-01T00-00-00.csv", csv_bytes(three_tickets("Closed")[:2]
                                                              + [ticket_row(TICKETS[3], "New", "pending", "", "x")]))
    later = StreamFile(name_at(30), csv_bytes(three_tickets("ASSIGNED")))
    for f in (baseline, future):
        put(s3, settings.s3_bucket, f)
    with monkeypatch.context() as m:  # as a loader without the hold-back rule applied it
        m.setenv("FLEETTICKETS_FUTURE_TOLERANCE_MINUTES", str(100 * 365 * 24 * 60))
        ingest()
    put(s3, settings.s3_bucket, later)
    ingest()
    assert {r["raw_status"] for tid, r in table_state(db, "inc").items() if tid in TICKETS[:2]} == {"CLOSED"}

    moved = run_cli("quarantine", "inc", future.name, check=True)

    assert f"{PROCESSED}{future.name} -> {QUARANTINE}{future.name}" in moved.stdout
    assert_in_order_replay(db, s3, settings.s3_bucket, [baseline, later])
    assert TICKETS[3] not in table_state(db, "inc")  # only the quarantined file had it


def test_a_run_that_loses_its_writer_lock_commits_nothing_more(db, database, settings, s3):
    files = [StreamFile(name_at(m), csv_bytes(three_tickets(s))) for m, s in ((0, "New"), (20, "ASSIGNED"))]
    for f in files:
        put(s3, settings.s3_bucket, f)
    from tests.test_failures import ingest_blocked_in_apply, wait_for

    with ingest_blocked_in_apply(database, db) as proc:
        holder = db.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = %s"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (fleettickets.db.lock_key(INC.lock_name) & 0xFFFFFFFF,),
        ).fetchone()[0]
        db.execute("SELECT pg_terminate_backend(%s)", (holder,))  # the lock's session ends mid-run
        wait_for(lambda: not db.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s",
                                        (holder,)).fetchone()[0], "the lock session to end")
    out, err = proc.communicate(timeout=240)

    assert proc.returncode == 1
    assert "lost its writer lock" in err
    assert ledger(db, "inc") == [] and table_state(db, "inc") == {}


def test_a_nul_in_a_cell_is_removed_and_counted_and_long_cells_load(db, settings, s3):
    rows = three_tickets("New")
    rows[0]["summary"] = "fibre\x00cut"
    rows[1]["summary"] = "x" * 300_000  # over Python csv's default 128 KB field limit
    f = StreamFile(name_at(0), csv_bytes(rows))
    put(s3, settings.s3_bucket, f)

    summary = ingest()

    assert summary.status == "completed" and summary.files[0].transform.nul_cells == 1
    state = table_state(db, "inc")
    assert state[TICKETS[0]]["summary"] == "fibrecut"
    assert len(state[TICKETS[1]]["summary"]) == 300_000



# --- batches: consecutive small files share a `load` and an `archive` task run ---------------------

def planned(minute: int, action: Action = Action.APPLY, size: int = 1000) -> PlannedFile:
    name = name_at(minute)
    return PlannedFile(ChangeFile(CHANGES + name, name, parse_file_ts(name), "etag", size), action)


def test_a_batch_is_consecutive_small_files_to_load():
    plan = [planned(0, size=BIG_FILE_BYTES + 1), planned(20), planned(40, Action.REPLAY), planned(60),
            planned(80, Action.ARCHIVE), planned(100), planned(120, Action.VERIFY), planned(140, Action.HELD),
            planned(160), planned(180, size=BIG_FILE_BYTES + 1), planned(200)]
    batches, start = [], 0
    while start < len(plan):
        batch = next_batch(plan, start, max_files=2)
        batches.append([plan.index(p) for p in batch])
        start += len(batch)
    # a big file, a file to archive or verify, a held file: alone; the cap of files starts a new batch
    assert batches == [[0], [1, 2], [3], [4], [5], [6], [7], [8], [9], [10]]
    small = [planned(20 * i, size=3) for i in range(5)]
    assert len(next_batch(small, 0, max_bytes=7)) == 2 and len(next_batch(small, 0)) == 5


def task_runs(flow_run_id: Any, expected: int) -> dict[str, tuple[str, int]]:
    """Task run name -> (state, attempts) for a flow run's `load` and `archive` runs, once all
    `expected` of them have reached the server in a final state (states arrive as events)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    deadline = time.monotonic() + 30
    while True:
        with get_client(sync_client=True) as client:
            runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        steps = {r.name: (r.state.name, r.run_count) for r in runs if r.name.startswith(("load ", "archive "))}
        if (len(steps) == expected and all(r.state.is_final() for r in runs if r.name in steps)
                or time.monotonic() > deadline):
            return steps
        time.sleep(0.2)


@pytest.mark.parametrize("nth", [1, 2], ids=["first file of the batch", "after a commit"])
def test_a_transient_error_mid_batch_never_applies_a_committed_file_twice(db, settings, s3, monkeypatch, nth):
    statuses = ("New", "ASSIGNED", "Resolved")
    files = [StreamFile(name_at(20 * i), csv_bytes(three_tickets(s))) for i, s in enumerate(statuses)]
    for f in files:
        put(s3, settings.s3_bucket, f)
    a, b, c = (f.name for f in files)
    real_apply, applied = fleettickets.apply._apply, []

    def apply_then_lose_the_connection(cur: Any, dataset: Any, result: Any, lock: Any) -> None:
        real_apply(cur, dataset, result, lock)
        applied.append(result.source_key.rsplit("/", 1)[1])
        if len(applied) == nth:  # rows written, not committed: the server drops the connection
            with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as other:
                other.execute("SELECT pg_terminate_backend(%s)", (cur.connection.info.backend_pid,))
            cur.execute("SELECT 1")  # psycopg.OperationalError

    monkeypatch.setattr(fleettickets.apply, "_apply", apply_then_lose_the_connection)
    state = ingest(return_state=True)

    assert state.result().status == "completed" and state.result().files_applied == 3
    if nth == 1:  # nothing of the batch had committed: Prefect's retry runs the same batch again
        assert applied == [a, a, b, c]
        assert task_runs(state.state_details.flow_run_id, 2) == {
            f"load {a} .. {c} (3 files)": ("Completed", 2), f"archive {a} .. {c} (3 files)": ("Completed", 1)}
    else:  # the batch ends after its committed file; a new batch starts at the file that failed
        assert applied == [a, b, b, c]
        assert task_runs(state.state_details.flow_run_id, 4) == {
            f"load {a} .. {c} (3 files)": ("Completed", 1), f"archive {a}": ("Completed", 1),
            f"load {b} .. {c} (2 files)": ("Completed", 1), f"archive {b} .. {c} (2 files)": ("Completed", 1)}
    assert {r[3] for r in ledger(db, "inc")} == {0}  # nothing applied twice
    assert keys(s3, settings.s3_bucket, CHANGES) == []
    assert_in_order_replay(db, s3, settings.s3_bucket, files)


def test_a_bad_file_mid_batch_stops_the_stream_after_the_files_before_it_committed_and_archived(db, settings, s3):
    good = [StreamFile(name_at(m), csv_bytes(three_tickets(s))) for m, s in ((0, "New"), (40, "Resolved"))]
    drifted = StreamFile(name_at(20), csv_bytes(three_tickets("ASSIGNED")).replace(
        b'"assigned_team"', b'"assigned_group"', 1))
    for f in (*good, drifted):
        put(s3, settings.s3_bucket, f)
    a, b, c = good[0].name, drifted.name, good[1].name

    state = ingest(return_state=True)

    failed = state.result(raise_on_failure=False)
    assert isinstance(failed, IngestFailed)
    assert str(failed) == (
        f"ingest-inc stopped at {CHANGES}{b}: schema drift (missing columns: assigned_team; unknown columns:"
        f" assigned_group). Earlier files stayed committed; fix the exporter or run: fleettickets quarantine"
        f" inc <key>")
    assert failed.summary.files_applied == 1 and failed.summary.error.startswith(f"{CHANGES}{b}: schema drift")
    assert accepted_names(db) == [a] and watermark(db, "inc") == CHANGES + a
    assert keys(s3, settings.s3_bucket, CHANGES) == [CHANGES + b, CHANGES + c]
    assert keys(s3, settings.s3_bucket, PROCESSED) == [PROCESSED + a]
    assert task_runs(state.state_details.flow_run_id, 3) == {
        f"load {a} .. {c} (3 files)": ("Completed", 1), f"archive {a}": ("Completed", 1),
        f"load {b} .. {c} (2 files)": ("Failed", 1)}  # a bad file is never retried

    run_cli("quarantine", "inc", b, check=True)
    assert ingest().status == "completed"
    assert_in_order_replay(db, s3, settings.s3_bucket, good)
