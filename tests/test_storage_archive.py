"""Archiving a batch of committed files (storage.archive) against moto's S3 server over HTTP:
one bounded LIST instead of a HEAD per file, the moves side by side, and still never over other
bytes in processed/, and again after a crash part way."""

from __future__ import annotations

import copy
import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from fleettickets import storage
from fleettickets.datasets import get_dataset
from fleettickets.errors import NotFoundError
from fleettickets.storage import ArchiveConflict
from tests.helpers import keys
from tests.streams import name_at

INC = get_dataset("inc")
CHANGES, PROCESSED = INC.changes_prefix, INC.processed_prefix


@pytest.fixture
def bucket(s3_endpoint: str) -> Iterator[tuple[Any, str]]:
    client = boto3.session.Session().client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="test",
        aws_secret_access_key="test", config=Config(**copy.deepcopy(storage.BOTOCORE_CONFIG)),
    )
    name = f"a-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    yield client, name


def data(i: int) -> bytes:
    return f"ticket_id,status\nINC{i:06d},New\n".encode()


def sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def committed(client: Any, bucket: str, minutes: list[int]) -> list[tuple[str, str]]:
    """Files under changes/, as a batch to archive: (name, SHA-256)."""
    files = []
    for i in minutes:
        client.put_object(Bucket=bucket, Key=CHANGES + name_at(i), Body=data(i))
        files.append((name_at(i), sha(data(i))))
    return files


def body(client: Any, bucket: str, key: str) -> bytes:
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()


def test_a_batch_is_moved_with_its_hashes_and_the_rest_of_processed_untouched(bucket):
    client, name = bucket
    # older and newer archived files, and keys that sort inside the batch's range
    others = [PROCESSED + name_at(-20), PROCESSED + name_at(500), PROCESSED + name_at(10) + ".tmp",
              PROCESSED + name_at(0)[:-1], PROCESSED + "notes.txt"]
    for key in others:
        client.put_object(Bucket=name, Key=key, Body=b"other")
    files = committed(client, name, [0, 10, 20, 30, 40])

    moved = storage.archive(client, name, INC, files)

    assert moved == [PROCESSED + n for n, _ in files]
    assert keys(client, name, CHANGES) == []
    for (n, digest), i in zip(files, [0, 10, 20, 30, 40], strict=True):
        assert body(client, name, PROCESSED + n) == data(i)
        assert storage.content_sha256(client, name, PROCESSED + n) == digest
        head = client.head_object(Bucket=name, Key=PROCESSED + n)
        assert head["Metadata"][storage.SHA256_METADATA] == digest
    assert all(body(client, name, key) == b"other" for key in others)
    assert storage.archive(client, name, INC, []) == []


def test_a_conflict_mid_batch_names_its_key_after_the_files_before_it_are_archived(bucket):
    client, name = bucket
    files = committed(client, name, [0, 10, 20, 30, 40])
    # 10: copied before a crash, not deleted (the same bytes, no hash metadata: read through);
    # 30: other bytes archived under its name
    client.put_object(Bucket=name, Key=PROCESSED + name_at(10), Body=data(10))
    client.put_object(Bucket=name, Key=PROCESSED + name_at(30), Body=b"other bytes")

    with pytest.raises(ArchiveConflict) as raised:
        storage.archive(client, name, INC, files)

    assert raised.value.key == CHANGES + name_at(30)
    assert str(raised.value) == (
        f"{CHANGES}{name_at(30)}: {PROCESSED}{name_at(30)} already holds other bytes under this name and is"
        " never overwritten; quarantine this key to take it out of the stream")
    assert keys(client, name, CHANGES) == [CHANGES + name_at(30), CHANGES + name_at(40)]
    assert keys(client, name, PROCESSED) == [PROCESSED + name_at(i) for i in (0, 10, 20, 30)]
    assert body(client, name, PROCESSED + name_at(30)) == b"other bytes"  # never overwritten
    assert body(client, name, PROCESSED + name_at(10)) == data(10)
    head = client.head_object(Bucket=name, Key=PROCESSED + name_at(10))
    assert storage.SHA256_METADATA not in head.get("Metadata", {})  # the same bytes: not copied again


def test_archiving_again_after_a_crash_part_way_only_finishes_the_moves(bucket):
    client, name = bucket
    files = committed(client, name, list(range(0, 120, 10)))
    storage.archive(client, name, INC, files[:5])  # moved
    storage._copy(client, name, CHANGES + files[5][0], PROCESSED + files[5][0], files[5][1])  # copied only
    before = {key: client.head_object(Bucket=name, Key=key)["ETag"] for key in keys(client, name, PROCESSED)}

    moved = storage.archive(client, name, INC, files)  # the retry: the whole batch again

    assert moved == [PROCESSED + n for n, _ in files]
    assert keys(client, name, CHANGES) == []
    assert keys(client, name, PROCESSED) == moved
    assert {key: client.head_object(Bucket=name, Key=key)["ETag"] for key in before} == before
    assert all(storage.content_sha256(client, name, PROCESSED + n) == digest for n, digest in files)


def test_a_conflict_past_many_listed_keys_is_found(bucket):
    """The LIST of the batch's range takes pages as small as the batch: a target after a page's
    end is still seen."""
    client, name = bucket
    for i in range(1, 30):  # other archived files between the batch's first and last
        client.put_object(Bucket=name, Key=PROCESSED + name_at(i), Body=b"x")
    files = committed(client, name, [0, 30])
    client.put_object(Bucket=name, Key=PROCESSED + name_at(30), Body=b"other bytes")

    with pytest.raises(ArchiveConflict, match=f"{CHANGES}{name_at(30)}: {PROCESSED}{name_at(30)} already holds"):
        storage.archive(client, name, INC, files)

    assert keys(client, name, CHANGES) == [CHANGES + name_at(30)]
    assert body(client, name, PROCESSED + name_at(0)) == data(0)


def test_quarantine_still_moves_one_file_never_over_another(bucket):
    client, name = bucket
    (file,) = committed(client, name, [0])
    client.put_object(Bucket=name, Key=INC.quarantine_prefix + file[0], Body=b"quarantined earlier")

    target = storage.quarantine(client, name, INC, CHANGES + file[0])

    assert target == f"{INC.quarantine_prefix}{file[0].removesuffix('.csv')}.{file[1][:12]}.csv"
    assert body(client, name, target) == data(0)
    assert body(client, name, INC.quarantine_prefix + file[0]) == b"quarantined earlier"
    assert keys(client, name, CHANGES) == []


def test_a_batch_of_one_takes_the_same_care(bucket):
    """One file: a HEAD, not a LIST; still never over other bytes, and the same bytes only lose their source."""
    client, name = bucket
    same, other = committed(client, name, [0, 10])
    client.put_object(Bucket=name, Key=PROCESSED + same[0], Body=data(0))
    client.put_object(Bucket=name, Key=PROCESSED + other[0], Body=b"other bytes")

    assert storage.archive(client, name, INC, [same]) == [PROCESSED + same[0]]
    with pytest.raises(ArchiveConflict, match=f"{CHANGES}{other[0]}: {PROCESSED}{other[0]} already holds"):
        storage.archive(client, name, INC, [other])

    assert keys(client, name, CHANGES) == [CHANGES + other[0]]
    assert body(client, name, PROCESSED + other[0]) == b"other bytes"


def test_a_file_without_a_hash_is_hashed_wherever_the_stream_has_it(bucket):
    """A file committed before the ledger kept hashes is hashed at archive time: from changes/,
    or, when a retried archive finds it moved, from its archived copy; in neither, an error that
    names it (storage.stream_file_sha256, the archive task's fallback)."""
    client, name = bucket
    (waiting, waiting_sha), (moved, moved_sha) = committed(client, name, [0, 20])
    storage.archive(client, name, INC, [(moved, moved_sha)])

    assert storage.stream_file_sha256(client, name, INC, waiting) == waiting_sha
    assert storage.stream_file_sha256(client, name, INC, moved) == moved_sha
    with pytest.raises(NotFoundError, match=rf"{CHANGES}{name_at(40)}: no such change file"):
        storage.stream_file_sha256(client, name, INC, name_at(40))
