"""A dataset's declared load semantics (fleettickets/datasets.py) composed into the SQL that
loads a file: the raw table's columns, each kept cell's normalisation, the stored object.

Identifiers come from the declaration (never from a file: a header is checked against the
contract before its names are used), literals are parameters; the statements' text lives
in fleettickets/sql/.
"""

from __future__ import annotations

from functools import cache

from psycopg import sql

from fleettickets.datasets import WHITESPACE, Dataset, Rule
from fleettickets.db import load_sql

_WS = sql.Literal(WHITESPACE)


def _trimmed(column: str) -> sql.Composable:
    return sql.SQL("btrim(coalesce(r.{}, ''), {})").format(sql.Identifier(column), _WS)


def _cell(dataset: Dataset, column: str) -> sql.Composable:
    """The kept cell as stored: normalised by its rule, or verbatim; the empty string is null."""
    rule = dataset.rule(column)
    value: sql.Composable = sql.SQL("r.{}").format(sql.Identifier(column)) if rule is None else _trimmed(column)
    if rule is Rule.LOWER:
        value = sql.SQL("lower({})").format(value)
    elif rule is Rule.UPPER:
        value = sql.SQL("upper({})").format(value)
    return sql.SQL("nullif({}, '') AS {}").format(value, sql.Identifier(column))


@cache
def raw_rows(dataset: Dataset) -> sql.Composed:
    columns = sql.SQL(",\n    ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in dataset.columns)
    return sql.SQL(load_sql("raw_rows.sql")).format(columns=columns)


@cache
def cleaned(dataset: Dataset) -> sql.Composed:
    """cleaned_rows.sql for this dataset (a subquery; parameter `sentinel`)."""
    return sql.SQL(load_sql("cleaned_rows.sql").strip().rstrip(";")).format(
        key=_trimmed(dataset.key),
        flag=sql.SQL("lower({})").format(_trimmed(dataset.skip_flag)),
        cells=sql.SQL(", ").join(_cell(dataset, c) for c in dataset.kept_columns),
    )


def stored_object(dataset: Dataset) -> sql.Composed:
    """The jsonb a ticket's row stores: every kept column by name."""
    pairs = (sql.SQL("{}, c.{}").format(sql.Literal(c), sql.Identifier(c)) for c in dataset.kept_columns)
    return sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(pairs))


@cache
def over_cleaned(name: str, dataset: Dataset) -> sql.Composed:
    """A statement of fleettickets/sql/ that reads `{cleaned}` (and maybe `{object}`)."""
    return sql.SQL(load_sql(name)).format(cleaned=cleaned(dataset), object=stored_object(dataset))


def copy_raw(columns: list[str], *, csv: bool) -> sql.Composed:
    """COPY into raw_rows in the file's own column order (names checked against the contract)."""
    return sql.SQL(load_sql("copy_raw_rows.sql")).format(
        columns=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        options=sql.SQL("(FORMAT csv)" if csv else ""),
    )
