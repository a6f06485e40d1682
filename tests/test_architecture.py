"""Dependencies point one way: library <- tasks <- flows <- command line (docs/architecture.md).

The imports are read from the code (every `import`, at any depth), not from a list kept by hand.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PREFECT = ("prefect", "prefect_aws")

# layer -> (how to find its modules, what they must never import)
RULES: dict[str, tuple[str, tuple[str, ...]]] = {
    "library": ("fleettickets", (*PREFECT, "flows", "tasks", "deployments", "fleettickets.cli")),
    "tasks": ("tasks", ("flows", "deployments", "fleettickets.cli")),
    "flows": ("flows", ("deployments", "fleettickets.cli")),
}


def modules(package: str) -> list[Path]:
    paths = sorted((REPO / package).rglob("*.py"))
    if package == "fleettickets":  # the command line sits on top of everything
        paths = [p for p in paths if "cli" not in p.relative_to(REPO / package).parts]
    return paths


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def violates(name: str, forbidden: tuple[str, ...]) -> bool:
    return any(name == f or name.startswith(f + ".") for f in forbidden)


@pytest.mark.parametrize("layer", sorted(RULES))
def test_imports_point_one_way(layer: str) -> None:
    package, forbidden = RULES[layer]
    found = {
        f"{path.relative_to(REPO)} imports {name}"
        for path in modules(package)
        for name in imported(path)
        if violates(name, forbidden)
    }
    assert not found, f"{layer} must not import {', '.join(forbidden)}:\n" + "\n".join(sorted(found))


def test_the_rule_reads_real_imports() -> None:
    """The reader sees imports inside functions too (a lazy import is still a dependency)."""
    cli = imported(REPO / "fleettickets" / "cli" / "ingest.py")
    assert any(name.startswith("flows") for name in cli)
    assert len(modules("fleettickets")) > 10


def test_a_run_starts_without_the_imports_it_does_not_need() -> None:
    """A scheduled run pays its start-up every 20 minutes (issue 10: a run with nothing to do
    costs <= 0.5 s more than a trivial flow): prefect-aws (~0.2 s) is imported only when an S3
    Bucket block exists, SQLAlchemy (~0.2 s) only by `migrate`'s DSN print, pandas never."""
    code = ("import sys, fleettickets.cli, flows.ingest, flows.temporary_server, tasks.blocks;"
            " print(','.join(m for m in ('prefect_aws', 'sqlalchemy', 'pandas') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.stdout.strip() == "", f"imported at start-up: {done.stdout.strip()}"
