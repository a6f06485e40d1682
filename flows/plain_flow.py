"""`plain_flow`: Prefect's `@flow` for a flow whose parameters are JSON values already.

Prefect turns a flow's parameters into JSON with FastAPI's `jsonable_encoder` before it creates
the run (`Flow.serialize_parameters`); importing FastAPI for that costs about 0.23 s of every
`fleettickets ingest` run, a third of what a run with nothing to do costs over a trivial flow
(issue 10). Booleans, numbers, text and None are JSON as they are: only other values go through
Prefect's encoder. (A deployment run does not pay it either way: the server creates its run.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from prefect import Flow

P = ParamSpec("P")
R = TypeVar("R")

JSON_SCALARS = (bool, int, float, str, type(None))


class PlainParametersFlow(Flow[P, R]):
    """A flow whose JSON-scalar parameters are recorded as they are."""

    def serialize_parameters(self, parameters: dict[str, Any]) -> dict[str, Any]:
        if all(isinstance(value, JSON_SCALARS) for value in parameters.values()):
            return dict(parameters)
        return super().serialize_parameters(parameters)


def plain_flow(**options: Any) -> Callable[[Callable[P, R]], PlainParametersFlow[P, R]]:
    """`@flow(**options)`, as a PlainParametersFlow."""

    def decorate(fn: Callable[P, R]) -> PlainParametersFlow[P, R]:
        return PlainParametersFlow(fn, **options)

    return decorate
