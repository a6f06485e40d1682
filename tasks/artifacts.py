"""What a run leaves in the Prefect UI: keyed artifacts (each key keeps its history) for the
watermark, the run summary, data quality and the SLA."""

from __future__ import annotations

from datetime import datetime

import psycopg
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from fleettickets.datasets import eat_label, parse_file_ts
from fleettickets.freshness import Freshness
from fleettickets.quality import quality_rows
from fleettickets.sla import SlaReport, load_sla_report
from fleettickets.summary import RunSummary
from tasks.blocks import run_settings
from tasks.common import TASK_DEFAULTS


@task(name="publish run artifacts", **TASK_DEFAULTS)
def publish_run_artifacts(summary: RunSummary, freshness: Freshness, sla: SlaReport | None) -> None:
    """The run's keyed artifacts; `sla` (from read_sla, None: nothing to publish) as `<ds>-sla`."""
    name = summary.dataset
    files = summary.files
    watermark = {"watermark": summary.watermark_after or "-", "eat_time": eat_label(summary.watermark_after),
                 "lag_behind_newest_file": _lag(summary.watermark_after, freshness.newest_file_ts)}
    create_table_artifact(
        key=f"{name}-watermark",
        table=[
            {**watermark, "file": f.source_key, "etag": f.etag, "rows_read": f.transform.rows_read,
             "inserted": f.inserted, "updated": f.updated, "late": f.late}
            for f in files
        ] or [{**watermark, "file": "(no new files)"}],
        description=f"**{name} watermark**: `{summary.watermark_after or 'none yet'}`"
                    f" ({eat_label(summary.watermark_after)}). Freshness: {freshness.message}."
                    + "".join(f" **Held back** (dated ahead of now, not applied): `{key}`."
                              for key in summary.held_keys),
    )
    create_markdown_artifact(
        key=f"{name}-run-summary",
        markdown="```\n" + summary.render() + "\n```\n\nFreshness: " + freshness.message,
        description=f"ingest-{name} {summary.status}",
    )
    rows = quality_rows(files)
    if rows:
        drift = sum(r.flag == "DRIFT" for r in rows)
        create_table_artifact(
            key=f"{name}-data-quality",
            table=[r.as_dict() for r in rows],
            description=f"{name} data quality: {drift} check(s) drifting from the contract's proportions",
        )
    if sla is not None:
        create_table_artifact(key=f"{name}-sla", table=sla.table(), description=sla.description())


# Its own step, so that the flow reads the report while geocoding runs (another connection: the
# report reads no placement). Reading it costs the open tickets (0.4 s on the bench's 10x table):
# a run that applied nothing reads none, and the last `<ds>-sla` stands.
@task(name="read SLA report", **TASK_DEFAULTS)
def read_sla(dataset: str) -> SlaReport | None:
    """`<ds>-sla`'s report: this week's compliance by the 48 h rule and by the source, and how
    often the two verdicts disagree. A report the database cannot give is logged, not a failed run:
    the files are committed either way (None)."""
    try:
        return load_sla_report(run_settings().database_url, dataset)
    except psycopg.Error as exc:  # the class and SQLSTATE only: a message may quote connection details
        hint = "; run `fleettickets migrate` (migration 07)" if exc.sqlstate == "42883" else ""
        get_run_logger().warning("%s-sla artifact not published: %s (SQLSTATE %s)%s", dataset,
                                 type(exc).__name__, exc.sqlstate or "-", hint)
        return None


def _lag(watermark: str | None, newest_file_ts: datetime | None) -> str:
    """How far the watermark trails the newest file seen in the bucket (0 after a clean run)."""
    mark = parse_file_ts(watermark or "")
    if newest_file_ts is None:
        return "-"
    if mark is None:
        return "nothing applied yet"
    minutes = max(0, int((newest_file_ts - mark).total_seconds() // 60))
    return f"{minutes} min"
