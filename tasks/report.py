"""What a run leaves in the Prefect UI: keyed artifacts, so each key keeps its history."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from fleettickets.ingest import RunSummary, eat_label


@task(name="publish run artifacts", cache_policy=NO_CACHE, persist_result=False)
def publish_run_artifacts(summary: RunSummary) -> None:
    name = summary.dataset
    create_table_artifact(
        key=f"{name}-watermark",
        table=[
            {
                "watermark": summary.watermark_after or "-",
                "eat_time": eat_label(summary.watermark_after),
                "file": f.source_key,
                "etag": f.etag,
                "rows_read": f.transform.rows_read,
                "inserted": f.inserted,
                "updated": f.updated,
                "late": f.late,
            }
            for f in summary.files
        ]
        or [{"watermark": summary.watermark_after or "-", "eat_time": eat_label(summary.watermark_after),
             "file": "(no new files)", "etag": "", "rows_read": 0, "inserted": 0, "updated": 0,
             "late": False}],
        description=f"{name} watermark: {summary.watermark_after or 'none yet'}",
    )
    create_markdown_artifact(
        key=f"{name}-run-summary",
        markdown="```\n" + summary.render() + "\n```",
        description=f"ingest-{name} {summary.status}",
    )
