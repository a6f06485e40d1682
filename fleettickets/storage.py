"""The bucket side of the stream: list, download, archive, quarantine, upload.

Only calls RustFS and MinIO support: path-style addressing, checksums only when required,
ListObjectsV2, GetObject, PutObject, CopyObject, DeleteObject.
"""

from __future__ import annotations

import copy
import hashlib
import logging
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import boto3
from botocore.config import Config
from pydantic import SecretStr

from fleettickets.config import Settings
from fleettickets.datasets import Dataset, parse_file_ts
from fleettickets.errors import ArgumentError, ChangeFileError, NotFoundError

log = logging.getLogger(__name__)
BLOCK = 1 << 20  # read size from the bucket

BOTOCORE_CONFIG = {
    "s3": {"addressing_style": "path"},
    "request_checksum_calculation": "when_required",
    "response_checksum_validation": "when_required",
    "retries": {"max_attempts": 4, "mode": "standard"},
    "connect_timeout": 10,
    "read_timeout": 60,
}


@dataclass(frozen=True)
class ChangeFile:
    key: str  # where the object is now (changes/ or processed/)
    name: str  # <ts>.csv
    ts: datetime
    etag: str
    size: int

    @property
    def in_changes(self) -> bool:
        return "/changes/" in self.key


@dataclass(frozen=True)
class Listing:
    files: list[ChangeFile]  # ascending by file-name timestamp
    skipped: list[str]  # keys under the prefix that are not change files


@cache
def make_s3_client(settings: Settings) -> Any:
    """A plain boto3 S3 client for the settings' endpoint (path-style, checksums only when required).

    One per settings per process: clients are thread-safe and costly to build. Flows that read
    an S3 Bucket block get theirs from the block's credentials instead (tasks/blocks.py).
    """
    session = boto3.session.Session()  # its own session: the default one is not thread-safe
    return session.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=_reveal(settings.s3_access_key),
        aws_secret_access_key=_reveal(settings.s3_secret_key),
        config=Config(**copy.deepcopy(BOTOCORE_CONFIG)),  # botocore rewrites the retries dict in place
    )


def _reveal(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None


def _objects(client: Any, bucket: str, prefix: str) -> Iterable[dict]:
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])


def _change_files(client: Any, bucket: str, prefix: str, skipped: list[str]) -> list[ChangeFile]:
    """The change files directly under `prefix`; every other key goes to `skipped`."""
    files = []
    for obj in _objects(client, bucket, prefix):
        key = obj["Key"]
        rest = key[len(prefix):]
        ts = parse_file_ts(key)
        if "/" in rest or ts is None:  # folder markers, .tmp, .json, nested keys
            skipped.append(key)
            continue
        files.append(ChangeFile(key, rest, ts, obj.get("ETag", "").strip('"'), obj["Size"]))
    return files


def list_change_files(client: Any, bucket: str, dataset: Dataset) -> Listing:
    """Files waiting under changes/, in file-name timestamp order (never LastModified)."""
    skipped: list[str] = []
    files = _change_files(client, bucket, dataset.changes_prefix, skipped)
    return Listing(sorted(files, key=lambda f: f.ts), skipped)


def list_replay_files(client: Any, bucket: str, dataset: Dataset, from_name: str | None) -> Listing:
    """Every file of the stream (processed/ and changes/), from `from_name` on, in order.

    A file in both places (archived copy made, delete not yet done) is listed once,
    from changes/, so the replay also finishes its archiving.
    """
    skipped: list[str] = []
    by_name: dict[str, ChangeFile] = {}
    for prefix in (dataset.processed_prefix, dataset.changes_prefix):
        for f in _change_files(client, bucket, prefix, skipped):
            by_name[f.name] = f
    if from_name:
        check_from_key(dataset, bucket, from_name, by_name)
    start = parse_file_ts(from_name) if from_name else None
    files = [f for f in by_name.values() if start is None or f.ts >= start]
    return Listing(sorted(files, key=lambda f: f.ts), skipped)


def check_from_key(dataset: Dataset, bucket: str, from_key: str, names: Iterable[str]) -> None:
    """A --from-key must name a file of the stream; otherwise the replay would silently start anywhere."""
    name = PurePosixPath(from_key).name
    in_stream = "/" not in from_key or from_key in (dataset.changes_key(name), dataset.processed_prefix + name)
    if not in_stream or name not in names:
        raise ArgumentError(
            f"--from-key {from_key!r} names no file of the {dataset.name} stream in bucket {bucket}: give the"
            f" name of a file under {dataset.processed_prefix} or {dataset.changes_prefix}"
            " (e.g. 2026-06-15T06-00-00.csv) or its key"
        )


# The archived copy carries the SHA-256 of its bytes, so "is this the same file?" never
# depends on an ETag (multipart uploads end in -N, and copies may change it).
SHA256_METADATA = "fleettickets-sha256"


def object_blocks(client: Any, bucket: str, key: str) -> Iterator[bytes]:
    """An object's bytes as they arrive (a 10x baseline never sits in memory or on disk)."""
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        yield from body.iter_chunks(chunk_size=BLOCK)
    finally:
        body.close()


def object_sha256(client: Any, bucket: str, key: str) -> str:
    """The SHA-256 of an object's bytes, read through: a file's identity is its content."""
    digest = hashlib.sha256()
    for block in object_blocks(client, bucket, key):
        digest.update(block)
    return digest.hexdigest()


def content_sha256(client: Any, bucket: str, key: str) -> str | None:
    """The SHA-256 of an object's bytes (from its metadata when we wrote it); None if absent."""
    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except client.exceptions.ClientError as exc:
        if _missing(exc):
            return None
        raise
    return head.get("Metadata", {}).get(SHA256_METADATA) or object_sha256(client, bucket, key)


def _missing(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code")
    return code in {"404", "NoSuchKey", "NotFound"}


class ArchiveConflict(ChangeFileError):
    """The target already holds other bytes under this name: it is never overwritten."""


def _conflict(source_key: str, target_key: str) -> ArchiveConflict:
    return ArchiveConflict(
        source_key, f"{target_key} already holds other bytes under this name and is never"
        " overwritten; quarantine this key to take it out of the stream",
    )


def _copy(client: Any, bucket: str, source_key: str, target_key: str, sha256: str) -> None:
    """The server-side copy of a move, with the SHA-256 of its bytes as metadata."""
    client.copy_object(
        Bucket=bucket, Key=target_key, CopySource={"Bucket": bucket, "Key": source_key},
        Metadata={SHA256_METADATA: sha256}, MetadataDirective="REPLACE",
    )


def _finish_move(client: Any, bucket: str, source_key: str, target_key: str, sha256: str, held: str | None) -> None:
    """Copy, then delete: a crash in between leaves two copies, never none. `held` is the
    SHA-256 of the target's bytes (None: no target): the same bytes only need the source deleted."""
    if held is None:
        _copy(client, bucket, source_key, target_key, sha256)
    elif held != sha256:
        raise _conflict(source_key, target_key)
    client.delete_object(Bucket=bucket, Key=source_key)


def _move(client: Any, bucket: str, source_key: str, target_key: str, sha256: str) -> None:
    """Move one object, never over other bytes."""
    _finish_move(client, bucket, source_key, target_key, sha256, content_sha256(client, bucket, target_key))


# Moves of a batch run side by side: each is 2 requests that wait on the server, not on us
# (botocore's pool holds 10 connections; clients are thread-safe).
ARCHIVE_WORKERS = 4


def archive(client: Any, bucket: str, dataset: Dataset, files: Sequence[tuple[str, str]]) -> list[str]:
    """Move changes/<name> to processed/<name> for each (name, SHA-256) of files that committed
    (only ever after); returns the targets. `_move` per file, in fewer requests: one LIST of the
    batch's range of processed/ instead of a HEAD per file (a HEAD only for a target that exists,
    for its hash), and the copies and deletes side by side. A target with other bytes raises
    ArchiveConflict once the files before it are moved (those after it stay where they are)."""
    targets = [dataset.processed_prefix + name for name, _ in files]
    # One lookup either way for a single file: a HEAD (content_sha256: None when absent) is the cheaper.
    present = set(targets) if len(targets) == 1 else _present_keys(client, bucket, dataset.processed_prefix, targets)
    moves: list[tuple[str, str, str, str | None]] = []  # source, target, sha256, held
    conflict = None
    for (name, sha256), target in zip(files, targets, strict=True):
        held = content_sha256(client, bucket, target) if target in present else None
        if held is not None and held != sha256:
            conflict = _conflict(dataset.changes_key(name), target)
            break
        moves.append((dataset.changes_key(name), target, sha256, held))
    _finish_moves(client, bucket, moves)
    if conflict is not None:
        raise conflict
    return targets


def _finish_moves(client: Any, bucket: str, moves: Sequence[tuple[str, str, str, str | None]]) -> None:
    """`_finish_move` for each (source, target, sha256, held), side by side. After an error no
    more moves start (those under way end); the first error in file order is raised."""
    if len(moves) <= 1:
        for move in moves:
            _finish_move(client, bucket, *move)
        return
    with ThreadPoolExecutor(min(ARCHIVE_WORKERS, len(moves)), thread_name_prefix="archive") as pool:
        futures = [pool.submit(_finish_move, client, bucket, *move) for move in moves]
        wait(futures, return_when=FIRST_EXCEPTION)
        for future in futures:
            future.cancel()  # only those not started: after an error, or a no-op
    for future in futures:
        if not future.cancelled():
            future.result()


def _present_keys(client: Any, bucket: str, prefix: str, keys: Sequence[str]) -> set[str]:
    """Which of `keys` (under `prefix`) exist: one bounded LIST, not a HEAD per key. It starts
    just before the first key (a key's prefix sorts before it) and stops after the last."""
    if not keys:
        return set()
    wanted, first, last = set(keys), min(keys), max(keys)
    found: set[str] = set()
    # A page the size of the batch: in the usual range, its keys and nothing else.
    kwargs = {"Bucket": bucket, "Prefix": prefix, "StartAfter": first[:-1], "MaxKeys": len(wanted) + 1}
    while True:
        page = client.list_objects_v2(**kwargs)
        for obj in page.get("Contents", []):
            if obj["Key"] > last:
                return found
            if obj["Key"] in wanted:
                found.add(obj["Key"])
        if not page.get("IsTruncated"):
            return found
        kwargs["ContinuationToken"] = page["NextContinuationToken"]


def find_stream_file(client: Any, bucket: str, dataset: Dataset, key_or_name: str) -> str:
    """Where a change file of the stream is now: changes/ first, then processed/."""
    name = PurePosixPath(key_or_name).name
    for key in (dataset.changes_key(name), dataset.processed_prefix + name):
        try:
            client.head_object(Bucket=bucket, Key=key)
            return key
        except client.exceptions.ClientError as exc:
            if not _missing(exc):
                raise
    raise NotFoundError(
        f"{dataset.changes_key(name)}: no such change file in bucket {bucket} (looked under changes/ and processed/)"
    )


def stream_file_sha256(client: Any, bucket: str, dataset: Dataset, key_or_name: str) -> str:
    """The SHA-256 of a change file of the stream wherever it is now (find_stream_file: changes/,
    else processed/, where a retried archive finds a file it moved); NotFoundError in neither."""
    key = find_stream_file(client, bucket, dataset, key_or_name)
    sha256 = content_sha256(client, bucket, key)
    if sha256 is None:  # gone between the two requests
        raise NotFoundError(f"{key}: no such change file in bucket {bucket}")
    return sha256


def quarantine(client: Any, bucket: str, dataset: Dataset, source: str) -> str:
    """Move a file of the stream (from changes/ or processed/) into quarantine/; returns the
    new key. A different file quarantined earlier under the same name is kept: this copy gets
    its hash in the name."""
    name = PurePosixPath(source).name
    sha256 = content_sha256(client, bucket, source)
    if sha256 is None:
        raise NotFoundError(f"{source}: no such change file in bucket {bucket}")
    target = dataset.quarantine_prefix + name
    held = content_sha256(client, bucket, target)
    if held is not None and held != sha256:
        target = f"{dataset.quarantine_prefix}{name.removesuffix('.csv')}.{sha256[:12]}.csv"
    _move(client, bucket, source, target, sha256)
    return target


def ensure_bucket(client: Any, bucket: str) -> None:
    try:
        client.head_bucket(Bucket=bucket)
    except client.exceptions.ClientError:
        client.create_bucket(Bucket=bucket)


def upload_files(client: Any, bucket: str, dataset: Dataset, paths: Iterable[Path]) -> list[str]:
    """Put local change files under the dataset's changes/ prefix (sample and tests)."""
    keys = []
    for path in paths:
        key = dataset.changes_key(path.name)
        with path.open("rb") as body:
            client.put_object(Bucket=bucket, Key=key, Body=body)
        keys.append(key)
    return keys
