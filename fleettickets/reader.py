"""Reading a change file's bytes, once, as they stream from the bucket.

Two readers feed the same COPY target (pg_temp.raw_rows); the rules that make records into
tickets run in SQL afterwards (fleettickets/rules_sql.py), so both readers load alike:

- `csv_body`: the header line is checked here, the rest goes to PostgreSQL's own CSV parser
  as it arrives (the single pass of the plain-SQL floor). A file that parser refuses, or one
  that holds `\\.` (COPY's end-of-data marker), is handed to the strict reader instead.
- `strict_records`: Python's csv module, strict RFC 4180, a chunk at a time (memory stays
  flat); it names the row that is wrong, and removes NUL characters, which PostgreSQL text
  cannot hold, noting the cells that had one ("one bad cell never blocks a file").
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterable, Iterator
from itertools import chain, islice
from typing import Any

from fleettickets.datasets import Dataset
from fleettickets.errors import SchemaDriftError, UnreadableFileError

ByteSource = Callable[[], Iterable[bytes]]  # opens the object anew at each call
BOM = b"\xef\xbb\xbf"
END_OF_DATA = b"\\."
CHUNK_ROWS = 5_000
NUL = "\x00"
# The contract sets no cell size (a long summary is still a ticket); Python's csv module
# refuses fields over 128 KB unless told otherwise.
csv.field_size_limit(2**31 - 1)


class NeedsStrictReader(Exception):
    """PostgreSQL's parser cannot take this file as it is: read it with the strict reader."""


class Hashed:
    """The bytes of a source as they pass, with their SHA-256 and size (a file's identity)."""

    def __init__(self, blocks: Iterable[bytes]) -> None:
        self._blocks = iter(blocks)
        self.digest = hashlib.sha256()
        self.size = 0

    def __iter__(self) -> Iterator[bytes]:
        for block in self._blocks:
            self.digest.update(block)
            self.size += len(block)
            yield block

    def drain(self) -> str:
        """Read what is left (so the hash covers every byte) and return the hex digest."""
        for _ in self:
            pass
        return self.digest.hexdigest()


def check_header(dataset: Dataset, key: str, columns: list[str]) -> list[str]:
    """Map by header name: any missing, unknown or repeated column is schema drift."""
    seen = [c.strip() for c in columns]
    missing = [c for c in dataset.columns if c not in seen]
    unknown = [c for c in seen if c not in dataset.columns]
    duplicated = sorted({c for c in seen if seen.count(c) > 1})
    if missing or unknown or duplicated:
        raise SchemaDriftError(key, missing, unknown + [f"{c} (repeated)" for c in duplicated])
    return seen


def _not_utf8(key: str, exc: UnicodeDecodeError, where: str) -> UnreadableFileError:
    return UnreadableFileError(key, f"not UTF-8 ({exc.reason} {where})")


def csv_body(dataset: Dataset, key: str, blocks: Iterable[bytes]) -> tuple[list[str], Iterator[bytes]]:
    """The checked header, and the bytes after it for COPY (FORMAT csv)."""
    stream = iter(blocks)
    head = b""
    while b"\n" not in head:
        block = next(stream, None)
        if block is None:
            break
        head += block
    line, _, rest = head.partition(b"\n")
    if not line.removeprefix(BOM).strip(b"\r"):
        raise UnreadableFileError(key, "empty file (no header line)")
    try:
        text = line.removeprefix(BOM).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_utf8(key, exc, f"at byte {exc.start}") from None
    if text.count('"') % 2:  # a line break inside a quoted header name
        raise NeedsStrictReader(key)
    header = check_header(dataset, key, next(csv.reader([text])))
    return header, _guarded(key, rest, stream)


def _guarded(key: str, first: bytes, stream: Iterator[bytes]) -> Iterator[bytes]:
    """The body, stopped before PostgreSQL could take a `\\.` line as the end of the data."""
    last = b""
    for piece in chain((first,), stream):
        if END_OF_DATA in piece or (last == b"\\" and piece[:1] == b"."):
            raise NeedsStrictReader(key)
        if piece:
            last = piece[-1:]
            yield piece


class _BlockReader(io.RawIOBase):
    """A binary file over an iterator of blocks (for TextIOWrapper)."""

    def __init__(self, blocks: Iterable[bytes]) -> None:
        self._blocks = iter(blocks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            self._pending = next(self._blocks, b"")
            if not self._pending:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size], self._pending = self._pending[:size], self._pending[size:]
        return size


def strict_records(dataset: Dataset, key: str, blocks: Iterable[bytes],
                   chunk_rows: int = CHUNK_ROWS) -> tuple[list[str], Iterator[list[list]]]:
    """The checked header, and chunks of records (each with its NUL cells' kept column names)."""
    text = io.TextIOWrapper(io.BufferedReader(_BlockReader(blocks), 1 << 20), encoding="utf-8-sig", newline="")
    reader = csv.reader(text, strict=True)
    try:
        header = next(reader, None)
    except UnicodeDecodeError as exc:
        raise _not_utf8(key, exc, f"at byte {exc.start}") from None
    except csv.Error as exc:
        raise UnreadableFileError(key, f"malformed CSV near line {reader.line_num}: {exc}") from None
    if not header:
        raise UnreadableFileError(key, "empty file (no header line)")
    header = check_header(dataset, key, header)
    return header, _chunks(dataset, key, header, reader, chunk_rows)


def _chunks(dataset: Dataset, key: str, header: list[str], reader: Any,
            chunk_rows: int) -> Iterator[list[list]]:
    kept = [c in dataset.kept_columns for c in header]
    first_row = 0
    try:
        while records := list(islice(reader, chunk_rows)):
            _check_widths(records, len(header), first_row, key)
            yield _without_nul(records, header, kept)
            first_row += len(records)
    except UnicodeDecodeError as exc:
        raise _not_utf8(key, exc, f"near data row {first_row + 1}") from None
    except csv.Error as exc:
        raise UnreadableFileError(key, f"malformed CSV near line {reader.line_num}: {exc}") from None


def _check_widths(rows: list[list[str]], width: int, first_row: int, key: str) -> None:
    """Every record has exactly the header's width (a short row is never padded silently)."""
    if min(map(len, rows)) == width == max(map(len, rows)):
        return
    position = next(i for i, row in enumerate(rows) if len(row) != width)
    raise UnreadableFileError(
        key, f"malformed CSV: data row {first_row + position + 1} has {len(rows[position])} of "
        f"{width} fields (truncated file or broken quoting)"
    )


def _without_nul(records: list[list[str]], header: list[str], kept: list[bool]) -> list[list]:
    """The chunk's records with NUL characters removed, each followed by the names of its kept
    columns whose cell had one (None when none did). pandas does it column by column; it is
    imported here, by the rare file that comes this way, not by every run."""
    import pandas as pd

    chunk = pd.DataFrame(records, columns=header, dtype=str)
    has_nul = chunk.apply(lambda column: column.str.contains(NUL, regex=False))
    if not has_nul.to_numpy().any():
        return [[*row, None] for row in chunk.itertuples(index=False, name=None)]
    flagged = has_nul.loc[:, kept]
    names = [[c for c, hit in zip(flagged.columns, row, strict=True) if hit] or None
             for row in flagged.itertuples(index=False, name=None)]
    cleaned = chunk.apply(lambda column: column.str.replace(NUL, "", regex=False))
    return [[*row, nul] for row, nul in zip(cleaned.itertuples(index=False, name=None), names, strict=True)]
