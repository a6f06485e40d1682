"""The gazetteer: curated Kenyan service clusters shipped as fleettickets/data/gazetteer.csv.

`load_gazetteer` puts the file into tickets.gazetteer (+ every normalised name and alias in
tickets.gazetteer_names) when its version or content differ from what the database holds,
in one transaction, then re-matches the clusters already seen (their tickets are placed
again by the next geocoding pass). `migrate` calls it, so a deployment that ships a new
file picks it up on its next `fleettickets migrate`.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources

import psycopg

from fleettickets.db import load_sql
from fleettickets.errors import FleetTicketsError
from fleettickets.geocode.normalise import in_kenya, normalise

# Bump with every change of the data file (fleettickets/data/README.md keeps the history).
GAZETTEER_VERSION = "2026.06.1"
REGIONS = ("nairobi", "central", "coast", "eastern", "north eastern", "nyanza", "rift valley", "western")
COLUMNS = ("place_id", "name", "region", "county", "kind", "latitude", "longitude", "guard_km",
           "aliases", "geonameid", "source")


class GazetteerError(FleetTicketsError):
    pass


@dataclass(frozen=True)
class Place:
    place_id: str
    name: str
    region: str
    county: str
    kind: str
    latitude: float
    longitude: float
    guard_km: float
    aliases: tuple[str, ...]
    geonameid: int | None
    source: str

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


def gazetteer_text() -> str:
    return resources.files("fleettickets").joinpath("data", "gazetteer.csv").read_text(encoding="utf-8")


@cache
def read_gazetteer(text: str | None = None) -> tuple[Place, ...]:
    """Parse and check the file: known regions, places in Kenya, names unique within a region."""
    text = gazetteer_text() if text is None else text
    reader = csv.DictReader(text.splitlines())
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise GazetteerError(f"gazetteer.csv: expected columns {', '.join(COLUMNS)}")
    places: list[Place] = []
    seen_ids: set[str] = set()
    seen_names: dict[tuple[str, str], str] = {}
    for line, row in enumerate(reader, start=2):
        try:
            place = Place(
                place_id=row["place_id"].strip(), name=row["name"].strip(), region=row["region"].strip(),
                county=row["county"].strip(), kind=row["kind"].strip(),
                latitude=float(row["latitude"]), longitude=float(row["longitude"]),
                guard_km=float(row["guard_km"]),
                aliases=tuple(a.strip() for a in row["aliases"].split("|") if a.strip()),
                geonameid=int(row["geonameid"]) if row["geonameid"].strip() else None,
                source=row["source"].strip(),
            )
        except (TypeError, ValueError) as exc:
            raise GazetteerError(f"gazetteer.csv line {line}: {exc}") from None
        problems = []
        if place.region not in REGIONS:
            problems.append(f"unknown region {place.region!r}")
        if not in_kenya(place.latitude, place.longitude):
            problems.append("centroid outside Kenya")
        if not 0 < place.guard_km <= 100:
            problems.append("guard_km must be in (0, 100]")
        if not place.source or not place.name or not place.place_id:
            problems.append("place_id, name and source are required")
        if place.place_id in seen_ids:
            problems.append(f"duplicate place_id {place.place_id}")
        for name in place.names:
            key = (place.region, normalise(name))
            if seen_names.get(key, place.place_id) != place.place_id:
                problems.append(f"name {name!r} already names {seen_names[key]} in {place.region}")
            seen_names[key] = place.place_id
        if problems:
            raise GazetteerError(f"gazetteer.csv line {line} ({place.place_id}): " + "; ".join(problems))
        seen_ids.add(place.place_id)
        places.append(place)
    return tuple(places)


def checksum(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def load_gazetteer(conn: psycopg.Connection, *, text: str | None = None,
                   version: str = GAZETTEER_VERSION) -> dict:
    """Load the file if the database holds another version or content; idempotent.

    Returns {"status": "loaded" | "unchanged" | "absent", "version", "places"}. Runs in its own
    transaction (the connection may be in autocommit mode).
    """
    if not conn.execute(load_sql("geocode_gazetteer_exists.sql")).fetchone()[0]:
        return {"status": "absent", "version": None, "places": 0}  # migrations without 03
    text = gazetteer_text() if text is None else text
    digest = checksum(text)
    places = read_gazetteer(text)
    with conn.transaction():
        conn.execute(load_sql("geocode_gazetteer_lock.sql"))
        current = conn.execute(load_sql("geocode_gazetteer_meta.sql")).fetchone()
        if current is not None and current[0] == version and current[1] == digest:
            return {"status": "unchanged", "version": version, "places": current[2]}
        conn.execute(load_sql("geocode_gazetteer_clear.sql"))
        with conn.cursor() as cur:
            cur.executemany(load_sql("geocode_gazetteer_insert.sql"), [
                {"place_id": p.place_id, "name": p.name, "region": p.region, "county": p.county or None,
                 "kind": p.kind, "aliases": list(p.aliases), "lat": p.latitude, "lon": p.longitude,
                 "guard_km": p.guard_km, "geonameid": p.geonameid, "source": p.source}
                for p in places
            ])
            cur.executemany(load_sql("geocode_gazetteer_name.sql"), [
                {"place_id": p.place_id, "region": p.region, "name": name}
                for p in places for name in p.names
            ])
        conn.execute(load_sql("geocode_gazetteer_record.sql"),
                     {"version": version, "checksum": digest, "places": len(places)})
        conn.execute(load_sql("geocode_match_clusters.sql"))
    return {"status": "loaded", "version": version, "places": len(places)}
