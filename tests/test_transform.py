"""The loader's reading and rules against the contract's quirks, file by file (no Prefect; each
file is read into PostgreSQL in a rolled-back transaction, by both readers)."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleettickets.apply import preview_file
from fleettickets.datasets import CONTRACT_COLUMNS, get_dataset
from fleettickets.errors import SchemaDriftError, UnreadableFileError

INC = get_dataset("inc")
KEPT_COLUMNS = INC.kept_columns


def make_csv(rows: list[dict[str, str]], columns: tuple[str, ...] = CONTRACT_COLUMNS, *, bom: bool = False,
             newline: str = "\n") -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), quoting=csv.QUOTE_ALL, lineterminator=newline,
                            extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in columns})
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode()


@pytest.fixture(params=["postgres-parser", "strict-reader"])
def strict(request) -> bool:
    return request.param == "strict-reader"


def run(db, strict: bool, data: bytes, key: str = "automations/inc/changes/2026-06-15T06-00-00.csv"):
    # 7-byte blocks: the header, `\.` and block edges are found across blocks
    return preview_file(db, INC, key, lambda: (data[i:i + 7] for i in range(0, len(data), 7)), strict=strict)


def ticket(n: int, **values: str) -> dict[str, str]:
    return {"ticket_id": f"INC{n:012d}", "is_alarm": "false", "is_actionable": "true", "bucket": "pending",
            "raw_status": "Assigned", "region": "Nairobi", "cluster": "Kilimani", **values}


def test_contract_rules(db, strict):
    rows = [
        {"ticket_id": "EXPORT STOPPED DUE TO EXCESSIVE SIZE - narrow the filter"},
        ticket(1, region=" NAIROBI ", raw_status="in progress", is_actionable="TRUE", assigned_team=""),
        ticket(2, is_alarm="TRUE", is_actionable="false"),
        ticket(3, is_alarm="True"),
        ticket(4, summary='Fibre cut, "urgent"\nnear gate', location="N/A", mttr="17.25"),
        {**ticket(5), "ticket_id": "  INC000000000005 "},
        {"ticket_id": "   ", "region": "Coast"},
    ]
    stats, staged = run(db, strict, make_csv(rows, bom=True, newline="\r\n"))

    assert stats.as_dict() == {"rows_read": 7, "dropped_sentinel": 1, "dropped_alarm": 2,
                               "dropped_invalid": 1, "rows_staged": 3, "nul_cells": 0}
    by_id = {r["ticket_id"]: r for r in staged}
    assert set(by_id) == {"INC000000000001", "INC000000000004", "INC000000000005"}
    first = by_id["INC000000000001"]
    assert set(first) == set(KEPT_COLUMNS)  # dropped columns gone, is_alarm included
    assert first["region"] == "nairobi" and first["raw_status"] == "IN PROGRESS"
    assert first["is_actionable"] == "true"
    assert first["assigned_team"] is None and first["latitude"] is None  # empty means null
    fourth = by_id["INC000000000004"]
    assert fourth["summary"] == 'Fibre cut, "urgent"\nnear gate'  # commas, quotes, line breaks survive
    assert fourth["location"] == "N/A" and fourth["mttr"] == "17.25"


def test_columns_map_by_header_name_in_any_order(db, strict):
    shuffled = tuple(reversed(CONTRACT_COLUMNS))
    _, staged = run(db, strict, make_csv([ticket(7, cluster="Nyali", region="Coast")], shuffled))
    assert staged[0]["cluster"] == "Nyali" and staged[0]["region"] == "coast"


def test_duplicates_are_kept_in_file_order_for_last_wins(db, strict):
    _, staged = run(db, strict, make_csv([ticket(1, raw_status="New"), ticket(1, raw_status="Assigned")]))
    assert [r["raw_status"] for r in staged] == ["NEW", "ASSIGNED"]


def test_backslashes_survive_copy_escaping(db, strict):
    _, staged = run(db, strict, make_csv([ticket(1, location=r"Plot 12\B, Ngong Rd")]))
    assert staged[0]["location"] == r"Plot 12\B, Ngong Rd"


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (tuple(c for c in CONTRACT_COLUMNS if c != "cluster"), "missing columns: cluster"),
        ((*CONTRACT_COLUMNS, "region_code"), "unknown columns: region_code"),
        (tuple(c if c != "owner" else "Owner" for c in CONTRACT_COLUMNS),
         "missing columns: owner; unknown columns: Owner"),
    ],
)
def test_schema_drift_names_the_file_and_the_columns(db, strict, columns, message):
    key = "automations/inc/changes/2026-06-15T06-20-00.csv"
    with pytest.raises(SchemaDriftError) as err:
        run(db, strict, make_csv([ticket(1)], columns), key)
    assert str(err.value) == f"{key}: schema drift ({message})"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file (no header line)"),
        ("ticket_id\n".encode("utf-16"), "not UTF-8"),
        (make_csv([ticket(1)]) + b'"INC000000000009","unterminated\n', "malformed CSV"),
        (make_csv([ticket(1)]) + ",".join(['"x"'] * 33).encode() + b"\n", "malformed CSV"),
        (make_csv([ticket(1)]) + b'"INC000000000002","false"\n',
         "malformed CSV: data row 2 has 2 of 32 fields"),
        (make_csv([ticket(1)]) + b'"INC000000000002","caf\xe9"\n', "not UTF-8"),
    ],
    ids=["empty", "utf16", "unterminated-quote", "extra-field", "short-row", "latin1-row"],
)
def test_unreadable_files_name_the_file_and_the_reason(db, strict, data, reason):
    key = "automations/inc/changes/2026-06-15T06-40-00.csv"
    with pytest.raises(UnreadableFileError) as err:
        run(db, strict, data, key)
    assert str(err.value).startswith(f"{key}: {reason}")


def test_an_end_of_data_marker_line_never_ends_the_file_early(db):
    """`\\.` alone on a line ends COPY's data: such a file goes to the strict reader, which names the row."""
    data = make_csv([ticket(1)]) + b"\\.\n" + make_csv([ticket(2)]).split(b"\n", 1)[1]
    with pytest.raises(UnreadableFileError, match="data row 2 has 1 of 32 fields"):
        run(db, False, data)
    _, staged = run(db, False, make_csv([ticket(1, summary="a\n\\.\nb"), ticket(2)]))  # inside quotes: a value
    assert [r["summary"] for r in staged] == ["a\n\\.\nb", None]


def test_a_nul_is_removed_and_counted_by_the_strict_reader(db):
    stats, staged = run(db, False, make_csv([ticket(1, summary="fibre\x00cut", source_type="x\x00"), ticket(2)]))
    assert stats.nul_cells == 1  # a dropped column's cell does not count
    assert staged[0]["summary"] == "fibrecut"


CELL = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.fixed_dictionaries({"ticket_id": st.sampled_from(["INC1", " INC2 ", "", "INC3"]),
                                             "is_alarm": st.sampled_from(["false", "TRUE", ""]),
                                             "region": CELL, "raw_status": CELL, "summary": CELL,
                                             "location": CELL}), max_size=6),
       crlf=st.booleans(), bom=st.booleans())
def test_both_readers_load_a_contract_file_alike(db, rows, crlf, bom):
    """PostgreSQL's parser and the strict reader agree on every RFC 4180 file (quotes, commas,
    line breaks, backslashes, any Unicode): the same counts, the same rows."""
    data = make_csv(rows, bom=bom, newline="\r\n" if crlf else "\n")
    assert run(db, False, data) == run(db, True, data)
