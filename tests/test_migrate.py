"""Migrations: each once, in order, checksummed, safe when two `migrate` calls race."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from fleettickets.errors import MigrationError
from fleettickets.migrate import MIGRATIONS_DIR, discover, migrate
from tests.conftest import ADMIN_DSN


@pytest.fixture
def scratch_db():
    name = "fleettickets_migrate_scratch"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield ADMIN_DSN.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_racing_migrations_apply_each_file_once(scratch_db):
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: migrate(scratch_db), range(2)))
    names = [m.name for m in discover()]
    assert sorted(results, key=len) == [[], names]
    with psycopg.connect(scratch_db) as conn:
        recorded = [r[0] for r in conn.execute("SELECT name FROM fleettickets_migrations ORDER BY version")]
        assert recorded == names
        assert conn.execute("SELECT postgis_version()").fetchone()[0].startswith("3.")
    assert migrate(scratch_db) == []


def test_an_edited_applied_migration_is_an_error(scratch_db, tmp_path):
    copy = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, copy)
    migrate(scratch_db, copy)
    first = sorted(copy.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited after it was applied\n")
    with pytest.raises(MigrationError, match=f"{first.name}: applied as {first.name} with a different checksum"):
        migrate(scratch_db, copy)


def test_a_new_migration_is_applied_after_the_others(scratch_db, tmp_path):
    copy = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, copy)
    migrate(scratch_db, copy)
    (copy / "99_probe.sql").write_text("CREATE TABLE tickets.probe (id int);")
    assert migrate(scratch_db, copy) == ["99_probe.sql"]
