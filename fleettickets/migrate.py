"""Numbered SQL migrations, each applied once, in order, recorded with its checksum.

An applied file whose checksum changed is an error (fix forward with a new file).
Concurrent `migrate` calls serialise on an advisory lock.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from fleettickets.db import advisory_lock, connect, load_sql
from fleettickets.errors import MigrationError
from fleettickets.geocode.gazetteer import load_gazetteer

# A checkout keeps them at the top level; an installed wheel carries them in the package.
_CHECKOUT_DIR = Path(__file__).resolve().parent.parent / "migrations"
MIGRATIONS_DIR = _CHECKOUT_DIR if _CHECKOUT_DIR.is_dir() else Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d+)_[\w-]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NN_description.sql")
        found.append(Migration(int(match.group(1)), path.name, path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration numbers in {directory}")
    return sorted(found, key=lambda m: m.version)


def migrate(dsn: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations; return the names applied now."""
    migrations = discover(directory)
    applied_now: list[str] = []
    with connect(dsn, autocommit=True) as conn, advisory_lock(conn, "fleettickets.migrate", wait=True):
        conn.execute(load_sql("migrations_table.sql"))
        done = {version: (name, checksum)
                for version, name, checksum in conn.execute(load_sql("migrations_applied.sql"))}
        for migration in migrations:
            if migration.version in done:
                name, checksum = done[migration.version]
                if checksum != migration.checksum:
                    raise MigrationError(
                        f"{migration.name}: applied as {name} with a different checksum; "
                        "applied migrations must not be edited (add a new one)"
                    )
                continue
            with conn.transaction():
                conn.execute(migration.sql)
                conn.execute(load_sql("migrations_record.sql"), {
                    "version": migration.version, "name": migration.name, "checksum": migration.checksum})
            applied_now.append(migration.name)
        load_gazetteer(conn)  # the shipped cluster gazetteer, when its version or content changed
    return applied_now
