"""The repository stands alone: every link and path in its docs points at a file it holds.

Checked: markdown links and backticked paths in every markdown file (README.md, docs/, ...),
comments of every SQL file (fleettickets/sql/, migrations/, scripts/), and comments and
docstrings of every Python file. A reference fails when it leaves the repository (a parent
directory reference that climbs out of it, an absolute path on somebody's machine) or names a
repository file that does not exist. Applied migrations are exempt by name: a migration's
checksum is its identity, so an applied one is never edited (a new migration fixes it).
"""

from __future__ import annotations

import ast
import io
import os
import re
import tokenize
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import pytest

from tests.conftest import REPO

# Applied somewhere already (fleettickets migrate refuses an edited one): never edited, so exempt.
APPLIED_MIGRATIONS = frozenset({
    "01_extensions_and_helpers.sql", "02_ticket_tables.sql", "03_geocoding.sql", "04_reporting.sql",
    "05_roles.sql",
})
# Not part of the repository's content (build output, caches, local state; see .gitignore).
SKIP_DIRS = frozenset({".git", ".venv", "__pycache__", ".ruff_cache", ".pytest_cache", ".demo", "test-output",
                       "dist", "build", "out", "chromium-profile"})
# Keys in the bucket, not files of the repository (automations/inc/changes/<ts>.csv, processed/...).
S3_PREFIXES = frozenset({"automations", "changes", "processed", "quarantine"})
# Absolute paths that are somebody's machine, never the project's.
OUTSIDE = ("/work/", "/home/", "/root/", "/Users/", "/mnt/", "~/", "file:")
# A name with one of these endings, without a directory, must be some file of the repository.
FILE_ENDINGS = ("md", "py", "sql", "txt", "yaml", "yml", "toml", "sh")

MD_LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")
BACKTICKED = re.compile(r"`([^`\n]+)`")
# outside the backticks: relative references, absolute home paths, paths with a directory and an
# extension, and bare file names with one of FILE_ENDINGS
PROSE_PATH = re.compile(
    r"(?<![\w/.$-])("
    r"\.\.?/[\w./*-]*"
    r"|(?:/work|/home|/root|/Users|/mnt)/[\w./*-]*"
    r"|(?:[\w.-]+/)+[\w*-]+\.\w+"
    r"|[A-Za-z_][\w-]*\.(?:" + "|".join(FILE_ENDINGS) + r")"
    r")(?![\w/-])"
)


@dataclass(frozen=True)
class Problem:
    source: str
    reference: str
    why: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reference!r} {self.why}"


def repo_files(root: Path = REPO) -> list[Path]:
    files = []
    for directory, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        files.extend(Path(directory) / n for n in names)
    return sorted(files)


def python_text(source: str) -> str:
    """Comments and docstrings of a Python file (not its code: a string literal is data)."""
    parts = [tok.string for tok in tokenize.generate_tokens(io.StringIO(source).readline)
             if tok.type == tokenize.COMMENT]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            docstring = ast.get_docstring(node, clean=False)
            if docstring:
                parts.append(docstring)
    return "\n".join(parts)


def sql_text(source: str) -> str:
    """Comments of a SQL file: `-- ...` lines and `/* ... */` blocks."""
    return "\n".join(re.findall(r"--[^\n]*", source) + re.findall(r"/\*.*?\*/", source, re.S))


def documented_text(path: Path) -> tuple[str, bool] | None:
    """(the text whose references are checked, whether it is markdown), or None for other files."""
    if path.suffix == ".md":
        return path.read_text(encoding="utf-8"), True
    if path.suffix == ".py":
        return python_text(path.read_text(encoding="utf-8")), False
    if path.suffix == ".sql" and not (path.parent.name == "migrations" and path.name in APPLIED_MIGRATIONS):
        return sql_text(path.read_text(encoding="utf-8")), False
    return None


def references(text: str, markdown: bool) -> list[str]:
    """Every link target and path-like word of the text."""
    found: list[str] = []
    if markdown:
        found += MD_LINK.findall(text)
        text = MD_LINK.sub(" ", text)
    for span in BACKTICKED.findall(text):
        found += span.split()
    found += PROSE_PATH.findall(BACKTICKED.sub(" ", text))
    return found


def _clean(reference: str) -> str:
    reference = reference.strip("\"'()[]{},;!?")
    reference = reference.split("#", 1)[0].split("::", 1)[0]  # an anchor; a pytest node id
    reference = re.sub(r"\.(py|sql|md):[\w.]+$", r".\1", reference)  # flows/ingest.py:ingest_inc
    return reference.rstrip(".:")


def _glob(text: str) -> str:
    """`migrations/NN_*.sql`, `01_...sql`, `<dataset>`: placeholders become wildcards."""
    return re.sub(r"<[^>]*>|(?<![A-Za-z])NN(?![A-Za-z])|\.\.\.", "*", text)


def _exists(candidate: Path, root: Path) -> bool:
    pattern = _glob(str(candidate.relative_to(root)))
    if any(ch in pattern for ch in "*?["):
        return any(root.glob(pattern))
    return candidate.exists()


def _generated(ref: str, root: Path) -> bool:
    """Under a directory .gitignore names (bench/out/, test-output/): made by running the project."""
    ignore = root / ".gitignore"
    dirs = [line.strip().strip("/") for line in ignore.read_text().splitlines()
            if line.strip().endswith("/")] if ignore.is_file() else []
    return any(d and (ref == d or ref.startswith(d + "/")) for d in dirs)


def check_reference(reference: str, source: Path, root: Path, basenames: set[str]) -> str | None:
    """Why the reference is wrong, or None when it is fine or is no repository path."""
    ref = _clean(reference)
    if not ref or re.match(r"^[a-z][a-z0-9+.-]*://", ref) or ref.startswith(("mailto:", "$", "#")):
        return None
    if ref.startswith(OUTSIDE):
        return "points outside the repository"
    if ref.startswith("/"):
        return None  # /dev/null, /health, /api: not files of the repository
    first, _, rest = ref.partition("/")
    here = source.parent
    if first.startswith("<") or _generated(ref.rstrip("/"), root):
        return None  # `<workdir>/results.json`: a placeholder; `bench/out/`: output of a run
    if ref.startswith(("./", "../")):
        target = (here / ref).resolve()
        if not target.is_relative_to(root):
            return "points outside the repository"
        return None if _exists(target, root) else "names a file the repository does not have"
    top_level = {p.name for p in root.iterdir()}
    if rest and first in top_level:
        ok = _exists((root / ref).resolve(), root) or _exists((here / ref).resolve(), root)
        return None if ok else "names a file the repository does not have"
    if rest:
        if first in S3_PREFIXES or not re.search(r"\.\w+$", ref):
            return None  # a bucket key, or prose such as inc/crq
        return None if (here / ref).exists() else "names a file the repository does not have"
    if re.fullmatch(r"[\w.-]+\.(?:" + "|".join(FILE_ENDINGS) + ")", ref):
        ok = (here / ref).exists() or (root / ref).exists() or any(fnmatch(n, _glob(ref)) for n in basenames)
        return None if ok else "names a file the repository does not have"
    return None


def problems(root: Path = REPO) -> list[Problem]:
    files = repo_files(root)
    basenames = {p.name for p in files}
    found = []
    for path in files:
        documented = documented_text(path)
        if documented is None:
            continue
        for reference in references(*documented):
            why = check_reference(reference, path, root, basenames)
            if why:
                found.append(Problem(str(path.relative_to(root)), reference, why))
    return found


def test_every_link_and_path_stays_inside_the_repository_and_exists():
    found = problems()
    assert not found, "broken or outside references:\n" + "\n".join(map(str, found))


def test_the_check_catches_what_it_is_for(tmp_path: Path):
    """A copy of the mistakes it exists for, in a scratch repository: each one is reported."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "fleettickets").mkdir()
    (tmp_path / "migrations").mkdir()
    (tmp_path / "fleettickets" / "real.py").write_text('"""See `fleettickets/real.py` and [ok](../docs/a.md)."""\n')
    (tmp_path / "docs" / "a.md").write_text(
        "[contract](../../upstream/contract/EXPORT_FORMAT.md), [gone](b.md), [ok](../fleettickets/real.py),"
        " `fleettickets/nope.py`, `../upstream/DESIGN.md`, see DESIGN.md,"
        " `automations/inc/changes/2026-06-15T17-00-00.csv` (a bucket key), [web](https://example.org/x.md)\n"
    )
    (tmp_path / "fleettickets" / "mod.py").write_text(
        '"""Follows upstream/contract/EXPORT_FORMAT.md."""\n\nX = "../not/a/comment"  # see /work/upstream/DESIGN.md\n'
    )
    (tmp_path / "migrations" / "06_new.sql").write_text("-- Definitions: ../upstream/contract/EXPORT_FORMAT.md\n")
    (tmp_path / "migrations" / "04_reporting.sql").write_text("-- applied: exempt ../upstream/x.md\n")
    (tmp_path / "README.md").write_text("The contract is `../upstream/DESIGN.md`; see [docs](docs/a.md).\n")

    found = {(p.source, _clean(p.reference), p.why.split()[0]) for p in problems(tmp_path)}

    assert found == {
        ("docs/a.md", "../../upstream/contract/EXPORT_FORMAT.md", "points"),
        ("docs/a.md", "b.md", "names"),
        ("docs/a.md", "fleettickets/nope.py", "names"),
        ("docs/a.md", "../upstream/DESIGN.md", "names"),  # docs/../upstream: inside, but not there
        ("README.md", "../upstream/DESIGN.md", "points"),
        ("docs/a.md", "DESIGN.md", "names"),
        ("fleettickets/mod.py", "upstream/contract/EXPORT_FORMAT.md", "names"),
        ("fleettickets/mod.py", "/work/upstream/DESIGN.md", "points"),
        ("migrations/06_new.sql", "../upstream/contract/EXPORT_FORMAT.md", "names"),
    }


def test_the_contract_page_lists_exactly_the_columns_the_loader_reads():
    """One home for the columns (fleettickets/columns.txt); the contract's table must agree with it."""
    from fleettickets.datasets import CONTRACT_COLUMNS

    page = (REPO / "docs" / "contract" / "EXPORT_FORMAT.md").read_text(encoding="utf-8")
    table = page.split("## Columns", 1)[1].split("\n\n", 2)[1]
    documented = {name for line in table.splitlines()[2:] for name in re.findall(r"`(\w+)`", line.split("|")[1])}
    listed = (REPO / "fleettickets" / "columns.txt").read_text(encoding="utf-8").split()
    assert documented == set(listed) == set(CONTRACT_COLUMNS)
    assert len(listed) == 32 == len(set(listed))


@pytest.mark.parametrize("page", ["docs/design.md", "docs/contract/EXPORT_FORMAT.md"])
def test_the_design_and_the_contract_are_in_the_repository(page: str):
    assert (REPO / page).is_file()
    assert page in (REPO / "README.md").read_text(encoding="utf-8")
