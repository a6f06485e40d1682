"""The bench's output: one table of workloads against their targets, the per-step figures of
our runs, the correctness checks, and the same as JSON (results.json)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.ours import Run


@dataclass
class Row:
    """One line of the table. `met` is None when there is no target or nothing was measured."""

    workload: str
    ours: str = "-"
    reference: str = "-"
    ratio: str = "-"
    target: str = "-"
    met: bool | None = None
    values: dict[str, Any] = field(default_factory=dict)  # the numbers, for results.json

    @property
    def verdict(self) -> str:
        return "-" if self.met is None else "met" if self.met else "NOT MET"


def _fmt(value: float | None, unit: str) -> str:
    """Seconds and ratios with two decimals, MB and ms with one; a ratio's x sticks to it."""
    if value is None:
        return "-"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:.1f} {unit}" if unit in {"MB", "ms"} else f"{value:.2f} {unit}".rstrip()


def ratio_row(workload: str, ours: float | None, reference: float | None, reference_name: str,
              limit: float | None, unit: str = "s") -> Row:
    """ours / reference, against `limit` (None: shown beside, no target)."""
    ratio = round(ours / reference, 2) if ours is not None and reference else None
    met = None if limit is None or ratio is None else ratio <= limit
    return Row(workload, _fmt(ours, unit), f"{_fmt(reference, unit)} {reference_name}".strip(),
               _fmt(ratio, "x"), "-" if limit is None else f"<= {limit}x", met,
               {"ours": ours, "reference": reference, "ratio": ratio, "limit": limit})


def difference_row(workload: str, ours: float | None, reference: float | None, reference_name: str,
                   limit: float) -> Row:
    """ours - reference (seconds), against `limit`."""
    diff = round(ours - reference, 2) if ours is not None and reference is not None else None
    return Row(workload, _fmt(ours, "s"), f"{_fmt(reference, 's')} {reference_name}",
               "-" if diff is None else f"{diff:+.2f} s", f"<= +{limit} s", None if diff is None else diff <= limit,
               {"ours": ours, "reference": reference, "difference": diff, "limit": limit})


def limit_row(workload: str, value: float | None, unit: str, limit: float, reference: str = "-") -> Row:
    """A figure against an absolute limit (MB, ms, s)."""
    return Row(workload, _fmt(value, unit), reference, "-", f"<= {limit:g} {unit}",
               None if value is None else value <= limit, {"ours": value, "limit": limit})


def failed_row(workload: str, error: str, target: str = "-") -> Row:
    """A workload whose run failed: the table says so (the error is in full in results.json)."""
    return Row(workload, "FAILED", error[:70], "-", target, False, {"error": error})


def pending_row(workload: str, target: str, why: str) -> Row:
    return Row(workload, "pending", why, "-", target, None)


def render_table(rows: list[Row]) -> str:
    header = ("workload", "ours", "reference", "ratio", "target", "")
    cells = [header] + [(r.workload, r.ours, r.reference, r.ratio, r.target, r.verdict) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    lines = ["  ".join(c[i].ljust(widths[i]) if i == 0 else c[i].rjust(widths[i]) if i < 5 else c[i]
                       for i in range(len(header))).rstrip() for c in cells]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def _step_cell(steps: dict[str, tuple[int, float]], name: str) -> str:
    if name not in steps:
        return ""
    count, seconds = steps[name]
    return f"{seconds:.2f}" + (f" ({count})" if count > 1 else "")


def render_steps(runs: list[Run]) -> str:
    """Seconds per step (task runs in brackets) per run; then the time outside the tasks."""
    names: list[str] = []
    for run in runs:
        names += [n for n in run.steps.by_step if n not in names]
    table = [["step", *[r.label for r in runs]]]
    table += [[name, *[_step_cell(r.steps.by_step, name) for r in runs]] for name in names]
    table.append(["all tasks", *[f"{r.steps.task_seconds:.2f}" for r in runs]])
    table.append(["task runs", *[str(sum(n for n, _ in r.steps.by_step.values())) for r in runs]])
    table.append(["flow run, outside tasks", *[
        "" if r.steps.flow_seconds is None else f"{r.steps.flow_seconds - r.steps.task_seconds:.2f}" for r in runs]])
    table.append(["command, outside flow run", *[
        "" if r.steps.flow_seconds is None or r.seconds is None else f"{r.seconds - r.steps.flow_seconds:.2f}"
        for r in runs]])
    table.append(["command wall", *[_fmt(r.seconds, "") for r in runs]])
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return "\n".join("  ".join(cell.ljust(widths[0]) if i == 0 else cell.rjust(widths[i])
                               for i, cell in enumerate(row)).rstrip() for row in table)


def write_results(path: Path, params: dict[str, Any], rows: list[Row], runs: list[Run], extra: dict[str, Any]) -> None:
    path.write_text(json.dumps({
        "params": params,
        "targets": [{**asdict(r), "verdict": r.verdict} for r in rows],
        "runs": {r.label: asdict(r) for r in runs},
        **extra,
    }, indent=2, default=str) + "\n")
