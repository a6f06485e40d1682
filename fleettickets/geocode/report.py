"""What a geocoding run reports: typed, rendered for people, and as JSON for the UI and flows.

`GeocodingReport.as_dict()` is the JSON shape (an ingest run summary embeds it; the flows
return it to Prefect) and `GeocodingReport.from_dict()` reads it back, so a report can
travel as JSON and still be rendered by `render()`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any


class Precision(StrEnum):
    """How well a ticket is placed, best first (the ladder of docs/design.md); NONE: not on the map."""

    PLUS_CODE = "plus_code"
    LOCATION = "location"
    CLUSTER = "cluster"
    NONE = "none"


class Answer(StrEnum):
    """A provider's (or the plus-code decoder's) genuine answer; the only ones ever cached."""

    OK = "ok"
    MISS = "miss"
    GUARD_REJECTED = "guard_rejected"  # everything found lies outside the cluster's guard radius


@dataclass(frozen=True)
class Counts:
    """Tickets by precision."""

    plus_code: int = 0
    location: int = 0
    cluster: int = 0
    none: int = 0

    def __getitem__(self, precision: Precision) -> int:
        return int(getattr(self, precision.value))

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(self[p] + other[p] for p in Precision))

    @property
    def total(self) -> int:
        return sum(self[p] for p in Precision)

    @property
    def placed_pct(self) -> float | None:
        return round(100.0 * (self.total - self.none) / self.total, 3) if self.total else None

    def as_dict(self) -> dict[str, Any]:
        return {p.value: self[p] for p in Precision} | {"total": self.total, "placed_pct": self.placed_pct}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Counts:
        return cls(*(int(d.get(p.value, 0)) for p in Precision))


@dataclass(frozen=True)
class ScopeCoverage:
    """One dataset (or both): every ticket, and the open ones (bucket 'pending')."""

    tickets: Counts = Counts()
    open: Counts = Counts()

    def __add__(self, other: ScopeCoverage) -> ScopeCoverage:
        return ScopeCoverage(self.tickets + other.tickets, self.open + other.open)

    def as_dict(self) -> dict[str, Any]:
        return self.tickets.as_dict() | {"open": self.open.as_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScopeCoverage:
        return cls(Counts.from_dict(d), Counts.from_dict(d.get("open", {})))


@dataclass(frozen=True)
class Coverage:
    inc: ScopeCoverage = ScopeCoverage()
    crq: ScopeCoverage = ScopeCoverage()

    @property
    def all(self) -> ScopeCoverage:
        return self.inc + self.crq

    def scopes(self) -> dict[str, ScopeCoverage]:
        return {"inc": self.inc, "crq": self.crq, "all": self.all}

    def as_dict(self) -> dict[str, Any]:
        return {name: scope.as_dict() for name, scope in self.scopes().items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Coverage:
        return cls(ScopeCoverage.from_dict(d["inc"]), ScopeCoverage.from_dict(d["crq"]))


@dataclass(frozen=True)
class Placed:
    """Ticket placements (point or precision) written, per dataset."""

    inc: int = 0
    crq: int = 0

    def __add__(self, other: Placed) -> Placed:
        return Placed(self.inc + other.inc, self.crq + other.crq)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class StepReport:
    """What one geocoding step asked the provider and how it ended."""

    provider: str
    asked: int = 0
    ok: int = 0
    miss: int = 0
    requests: int = 0
    stopped: str | None = None
    skipped: str | None = None
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, answer: Answer) -> None:
        """One more answer of this kind."""
        if answer is Answer.OK:
            self.ok += 1
        elif answer is Answer.MISS:
            self.miss += 1
        else:
            raise ValueError(f"{type(self).__name__} has no {answer} answers")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StepReport:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class ClusterStep(StepReport):
    placed: Placed = Placed()  # by the pass that took in the changed tickets first
    known: int = 0
    gazetteer: int = 0
    provider_placed: int = 0

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClusterStep:
        step = super().from_dict(d)
        step.placed = Placed(**d.get("placed", {}))
        return step


@dataclass
class LocationStep(StepReport):
    plus_codes: int = 0
    plus_codes_rejected: int = 0
    candidates: int = 0
    guard_rejected: int = 0
    waiting: int = 0  # candidates left for a later run (budget, stop, outage)

    def count(self, answer: Answer) -> None:
        if answer is Answer.GUARD_REJECTED:
            self.guard_rejected += 1
        else:
            super().count(answer)


@dataclass(frozen=True)
class ResolveStep:
    placed: Placed = Placed()
    seconds: float = 0.0


@dataclass(frozen=True)
class UnmatchedCluster:
    """A cluster on tickets that the gazetteer does not know (cluster None: tickets without one)."""

    region: str | None
    cluster: str | None
    tickets: int
    open: int
    placed_by: str | None  # the provider that placed it, if one did

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Requests:
    this_run: int
    run_budget: int | None
    today: int
    daily_budget: int
    left: int
    stopped: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GeocodingReport:
    provider: str
    at: str  # ISO 8601, UTC
    seconds: float | None
    coverage: Coverage
    requests: Requests
    clusters: ClusterStep
    locations: LocationStep
    unmatched: tuple[UnmatchedCluster, ...]
    resolved: Placed  # placements written by the run (both passes)

    @property
    def did_work(self) -> bool:
        """Whether this run placed, decoded or asked anything."""
        return bool(self.resolved.inc or self.resolved.crq or self.requests.this_run or self.clusters.asked
                    or self.locations.asked or self.locations.plus_codes or self.locations.plus_codes_rejected)

    def as_dict(self) -> dict[str, Any]:
        """JSON: the unmatched clusters travel inside "clusters", as they always have."""
        return {
            "provider": self.provider,
            "at": self.at,
            "seconds": self.seconds,
            "coverage": self.coverage.as_dict(),
            "requests": self.requests.as_dict(),
            "clusters": self.clusters.as_dict() | {"unmatched": [u.as_dict() for u in self.unmatched]},
            "locations": self.locations.as_dict(),
            "resolved": self.resolved.as_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GeocodingReport:
        return cls(
            provider=d["provider"], at=d["at"], seconds=d.get("seconds"),
            coverage=Coverage.from_dict(d["coverage"]),
            requests=Requests(**d["requests"]),
            clusters=ClusterStep.from_dict(d["clusters"]),
            locations=LocationStep.from_dict(d["locations"]),
            unmatched=tuple(UnmatchedCluster(**u) for u in d["clusters"].get("unmatched", [])),
            resolved=Placed(**d["resolved"]),
        )

    def render(self) -> str:
        """The one-screen summary: coverage by precision, requests, locations, clusters, errors."""
        cov = self.coverage.all
        lines = [
            f"geocoding ({self.provider}): {cov.tickets.total} tickets, placed"
            f" {_pct(cov.tickets.total - cov.tickets.none, cov.tickets.total)}",
            "  by precision: " + "  ".join(f"{p} {cov.tickets[p]} ({_pct(cov.tickets[p], cov.tickets.total)})"
                                           for p in Precision),
            "  open tickets: " + "  ".join(f"{p} {cov.open[p]}" for p in Precision),
        ]
        for name in ("inc", "crq"):
            counts = self.coverage.scopes()[name].tickets
            lines.append(f"    {name}: " + "  ".join(f"{p} {counts[p]}" for p in Precision))
        lines.append(self._requests_line())
        loc = self.locations
        lines.append(
            f"  locations: {loc.plus_codes} plus codes decoded (free), {loc.asked} asked: {loc.ok} ok,"
            f" {loc.miss} miss, {loc.guard_rejected} guard rejected; {loc.waiting} waiting"
            + (f" ({loc.skipped})" if loc.skipped else "")
        )
        lines.extend(self._cluster_lines())
        errors = loc.errors + self.clusters.errors
        if errors:
            lines.append(f"  provider errors (not cached): {len(errors)}, last: {errors[-1]}")
        return "\n".join(lines)

    def _requests_line(self) -> str:
        req = self.requests
        budget = f" of {req.daily_budget} ({req.left} left)" if self.provider != "offline" else ""
        return (f"  requests: {req.this_run} this run, {req.today} today (UTC){budget}"
                + (f"; stopped: {req.stopped}" if req.stopped else ""))

    def _cluster_lines(self) -> list[str]:
        cl = self.clusters
        lines = [f"  clusters: {cl.known} known, {cl.gazetteer} from the gazetteer,"
                 f" {cl.provider_placed} placed by the provider, {len(self.unmatched)} unmatched"]
        for u in self.unmatched[:10]:
            placed = f", placed by {u.placed_by}" if u.placed_by else ""
            lines.append(f"    unmatched: {u.cluster or '(no cluster)'} ({u.region or '-'}):"
                         f" {u.tickets} tickets, {u.open} open{placed}")
        if len(self.unmatched) > 10:
            lines.append(f"    ... and {len(self.unmatched) - 10} more")
        return lines


def _pct(part: int, total: int) -> str:
    return f"{100.0 * part / total:.1f}%" if total else "-"
