"""Where the time of one of our commands went, read back from the bench's Prefect server.

Every flow run (and subflow run) that started while the command ran, and their task runs,
summed per step (a task's runs, e.g. `download-0`, `download-1`, ... are one step). The
step names are whatever the engine's tasks are called, so a merged or renamed step shows up
as it is. Besides the steps: the flow run's own time outside its tasks (connection, lock,
planning, artifacts) and the command's time outside the flow run (Python start-up, imports,
exit).
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime

TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
PAGE = 200


@dataclass
class Steps:
    flow_seconds: float | None = None  # the top-level flow run, start to end (server clock)
    by_step: dict[str, tuple[int, float]] = field(default_factory=dict)  # step -> (task runs, seconds)
    flow_runs: int = 0
    note: str = ""

    @property
    def task_seconds(self) -> float:
        return round(sum(seconds for _, seconds in self.by_step.values()), 2)


def _post(api: str, path: str, body: dict) -> list[dict]:
    request = urllib.request.Request(f"{api}{path}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _seconds(run: dict) -> float:
    """A run's wall time, start to end; its total_run_time when the ends are missing."""
    if run.get("start_time") and run.get("end_time"):
        start, end = (datetime.fromisoformat(run[k].replace("Z", "+00:00")) for k in ("start_time", "end_time"))
        return (end - start).total_seconds()
    value = run.get("total_run_time") or 0
    return float(value) if not isinstance(value, str) else 0.0


def _step_name(task_run: dict) -> str:
    """`download-1a2` -> `download`: the task's name without the per-run suffix Prefect adds
    (the first characters of the run's dynamic key, or all of it)."""
    name, key = task_run.get("name") or "?", str(task_run.get("dynamic_key") or "")
    for suffix in (key[:3], key):
        if suffix and name.endswith(f"-{suffix}"):
            return name[: -len(suffix) - 1]
    return re.sub(r"-([0-9a-f]{3}|[0-9]+)$", "", name)


def _task_runs(api: str, flow_run_ids: list[str]) -> list[dict]:
    runs: list[dict] = []
    while True:
        page = _post(api, "/task_runs/filter", {"flow_runs": {"id": {"any_": flow_run_ids}},
                                                "sort": "EXPECTED_START_TIME_ASC", "limit": PAGE,
                                                "offset": len(runs)})
        runs += page
        if len(page) < PAGE:
            return runs


def _snapshot(api: str, since: datetime) -> tuple[list[dict], list[dict]]:
    flows = _post(api, "/flow_runs/filter", {"flow_runs": {"start_time": {"after_": since.isoformat()}},
                                             "limit": PAGE})
    return flows, _task_runs(api, [f["id"] for f in flows]) if flows else []


def _settled(api: str, since: datetime, wait: float) -> tuple[list[dict], list[dict]]:
    """Task run states reach the server as events, a little after the command exits: read
    until two reads agree and every run has ended (or `wait` seconds have passed)."""
    deadline = time.monotonic() + wait
    previous = None
    while True:
        flows, tasks = _snapshot(api, since)
        ended = all((r.get("state_type") or "") in TERMINAL for r in flows + tasks)
        signature = (len(flows), len(tasks), sum(_seconds(r) for r in tasks))
        if (ended and signature == previous) or time.monotonic() > deadline:
            return flows, tasks
        previous = signature
        time.sleep(0.5)


def read_steps(api: str, since: datetime, wait: float = 15.0) -> Steps:
    """The per-step figures of the flow runs that started at or after `since`."""
    try:
        flows, tasks = _settled(api, since, wait)
    except OSError as exc:
        return Steps(note=f"Prefect API not readable: {exc}")
    top = [f for f in flows if not f.get("parent_task_run_id")]
    steps = Steps(flow_seconds=round(_seconds(top[0]), 2) if top else None, flow_runs=len(flows))
    for run in tasks:
        count, seconds = steps.by_step.get(_step_name(run), (0, 0.0))
        steps.by_step[_step_name(run)] = (count + 1, round(seconds + _seconds(run), 3))
    if len(top) != 1:
        steps.note = f"{len(top)} top-level flow runs in the window"
    return steps
