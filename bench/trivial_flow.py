"""The reference for a run with nothing to do: a one-task Prefect flow, started the way our
command is (a fresh Python process against the same Prefect server). FLEETTICKETS_BENCH_TASKS=N
runs N tasks instead (bench/overhead.py: the cost of one task run)."""

import os

from prefect import flow, task


@task(name="one task")
def one_task() -> int:
    return 1


@flow(name="bench-trivial")
def trivial() -> int:
    return sum(one_task() for _ in range(int(os.environ.get("FLEETTICKETS_BENCH_TASKS", "1"))))


if __name__ == "__main__":
    trivial()
