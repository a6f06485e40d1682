"""Issue 10's targets, in one place, and the table rows that hold a run's figures against them.

Ratios of figures measured in the same bench run: a busy machine slows both sides.
"""

from __future__ import annotations

from bench.ours import Run
from bench.report import Row, difference_row, failed_row, limit_row, ratio_row
from bench.workloads import Bench

STREAM_RATIO = 1.3  # 10x stream, ours end to end / the same-table floor
PEAK_RSS_MB = 250.0  # ours at 10x
RSS_FLAT_RATIO = 1.2  # "flat from 1x to 10x": the 10x peak within 20% of the 1x peak
BACKLOG_RATIO = 2.0  # 1x baseline + many small deltas, ours / the floor
BACKLOG_MS_PER_FILE = 40.0  # ... and per file above the floor
IDLE_EXTRA_S = 0.5  # a run with nothing to do, over a one-task flow on the same server
HISTORY_RATIO = 1.25  # the scheduled one-delta run at 10x history / at 1x


def _stream_rows(bench: Bench) -> list[Row]:
    ours, floor = bench.runs.get("10x load"), bench.floors.get("10x")
    if ours is None or not ours.ok:
        return [failed_row("10x stream, end to end", ours.error if ours else "not run", f"<= {STREAM_RATIO}x")]
    floor_s = floor.seconds if floor and floor.ok else None
    rows = [ratio_row("10x stream, end to end", ours.seconds, floor_s, "floor", STREAM_RATIO)]
    # Beside, no target: the floor that also keeps INC history (what ours must write and the floor
    # does not), against the floor and against ours.
    if (with_history := bench.floors.get("10x with history")) is not None:
        history_s = with_history.seconds if with_history.ok else None
        rows += [ratio_row("10x stream, floor with INC history (beside)", history_s, floor_s, "floor", None),
                 ratio_row("10x stream, ours vs floor with history (beside)", ours.seconds, history_s,
                           "floor+hist", None)]
    if bench.dlt is not None:
        rows.append(ratio_row("10x stream, dlt (beside)", bench.dlt.seconds if bench.dlt.ok else None,
                              floor_s, "floor", None))
        if not bench.dlt.ok:
            rows[-1].reference = f"dlt failed: {bench.dlt.error}"[:70]
    return rows


def _rss_rows(bench: Bench) -> list[Row]:
    big, small = bench.runs.get("10x load"), bench.runs.get("1x load")
    big_mb = big.peak_rss_mb if big and big.ok else None
    small_mb = small.peak_rss_mb if small and small.ok else None
    return [limit_row("peak RSS, 10x stream", big_mb, "MB", PEAK_RSS_MB),
            ratio_row("peak RSS flat, 10x vs 1x", big_mb, small_mb, "at 1x", RSS_FLAT_RATIO, unit="MB")]


def _backlog_rows(bench: Bench) -> list[Row]:
    ours, floor = bench.runs.get("backlog load"), bench.floors.get("backlog")
    if ours is None or not ours.ok:
        return [failed_row("backlog: 1x + small deltas", ours.error if ours else "not run", f"<= {BACKLOG_RATIO}x")]
    floor_s = floor.seconds if floor and floor.ok else None
    files = len(bench.loaded("backlog"))
    per_file = None if floor_s is None or ours.seconds is None else round((ours.seconds - floor_s) / files * 1000, 1)
    return [ratio_row(f"backlog: 1x + {files - 1} deltas", ours.seconds, floor_s, "floor", BACKLOG_RATIO),
            limit_row("backlog: per file above the floor", per_file, "ms", BACKLOG_MS_PER_FILE,
                      reference=f"{files} files")]


def _failure(runs: tuple[Run, ...]) -> str | None:
    return next((f"{r.label}: {r.error}" for r in runs if not r.ok), None)


def _idle_row(idle: tuple[Run, Run]) -> Row:
    if error := _failure(idle):
        return failed_row("nothing to do (10x table)", error, f"<= +{IDLE_EXTRA_S} s")
    return difference_row("nothing to do (10x table)", idle[0].seconds, idle[1].seconds, "1-task flow", IDLE_EXTRA_S)


def _scheduled_row(scheduled: tuple[Run, Run]) -> Row:
    workload = "scheduled 1-delta run + geocoding, 10x vs 1x"
    if error := _failure(scheduled):
        return failed_row(workload, error, f"<= {HISTORY_RATIO}x")
    return ratio_row(workload, scheduled[1].seconds, scheduled[0].seconds, "at 1x", HISTORY_RATIO)


def target_rows(bench: Bench, idle: tuple[Run, Run], scheduled: tuple[Run, Run]) -> list[Row]:
    """Every target of issue 10, in the order of the issue; geocoding's rows last."""
    return (_stream_rows(bench) + _rss_rows(bench) + _backlog_rows(bench)
            + [_idle_row(idle), _scheduled_row(scheduled)] + bench.geocoding)
