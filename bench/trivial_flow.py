"""The reference for a run with nothing to do: a one-task Prefect flow, started the way our
command is (a fresh Python process against the same Prefect server)."""

from prefect import flow, task


@task(name="one task")
def one_task() -> int:
    return 1


@flow(name="bench-trivial")
def trivial() -> int:
    return one_task()


if __name__ == "__main__":
    trivial()
