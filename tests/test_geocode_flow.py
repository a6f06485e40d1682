"""The geocode flow and command on generated exports (real PostgreSQL, S3, Prefect; offline provider)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from fleettickets.cli import main
from flows.geocode import geocode as geocode_flow
from flows.ingest import INGEST_FLOWS
from tests.helpers import row_versions, upload
from tests.locationiq_server import FakeLocationIQ
from tests.test_geocode_runs import add_ticket


def test_generated_exports_are_all_placed_offline(db, settings, s3, inc_files, crq_files):
    db.execute("TRUNCATE tickets.geo_locations, tickets.geo_clusters, tickets.geocoder_budget")
    upload(s3, settings.s3_bucket, "inc", inc_files)
    upload(s3, settings.s3_bucket, "crq", crq_files)
    assert INGEST_FLOWS["inc"]().status == "completed"
    assert INGEST_FLOWS["crq"]().status == "completed"

    report = geocode_flow().as_dict()

    assert settings.geocoder_provider == "offline"
    assert report["requests"]["this_run"] == 0 and report["clusters"]["unmatched"] == []
    for dataset in ("inc", "crq", "all"):
        cov = report["coverage"][dataset]
        assert cov["total"] > 0
        assert (cov["total"] - cov["none"]) / cov["total"] >= 0.999, (dataset, cov)
        assert cov["location"] == 0  # no provider, no address precision
    assert report["coverage"]["all"]["plus_code"] > 0  # the sample writes plus codes into ~3% of locations
    counts = dict(db.execute("SELECT coalesce(p.geom_precision, 'none'), count(*) FROM tickets.all_tickets t"
                             " LEFT JOIN tickets.all_placements p USING (dataset, ticket_id) GROUP BY 1"))
    assert counts == {p: n for p, n in report["coverage"]["all"].items() if p in counts}
    odd = db.execute("SELECT count(*) FROM tickets.all_placements WHERE geom IS NOT NULL AND"
                     " (ST_SRID(geom) <> 4326 OR geom_precision IS NULL OR geocoded_at IS NULL)").fetchone()
    assert odd[0] == 0

    # again: nothing to do, no row rewritten
    before = row_versions(db, "inc"), row_versions(db, "crq")
    again = geocode_flow().as_dict()
    assert again["resolved"] == {"inc": 0, "crq": 0}
    assert (row_versions(db, "inc"), row_versions(db, "crq")) == before


def test_geocode_command_and_status_show_coverage(db, settings, s3, crq_files):
    """In-process CliRunner: test_geocode_runs.py runs the command as a subprocess already."""
    db.execute("TRUNCATE tickets.geo_locations, tickets.geo_clusters, tickets.geocoder_budget")
    upload(s3, settings.s3_bucket, "crq", crq_files[:1])
    assert INGEST_FLOWS["crq"]().status == "completed"
    runner = CliRunner()

    result = runner.invoke(main, ["geocode", "--budget", "0"])

    assert result.exit_code == 0, result.output
    assert "geocoding (offline)" in result.output
    assert "by precision: plus_code" in result.output and "requests: 0 this run" in result.output
    data = json.loads(runner.invoke(main, ["status", "--json"]).output)
    crq = data["crq"]
    assert crq["placed_pct"] >= 99.9 and crq["unmatched_clusters"] == []
    assert crq["geocoder"]["provider"] == "offline"
    assert f"(placed {crq['placed_pct']}%)" in runner.invoke(main, ["status"]).output
    assert runner.invoke(main, ["geocode", "--budget", "-1"]).exit_code == 2


def test_a_rejected_key_fails_the_command_cleanly(db, settings, monkeypatch):
    db.execute("TRUNCATE tickets.geo_locations, tickets.geo_clusters, tickets.geocoder_budget")
    add_ticket(db, "inc", "T1", "nairobi", "Kilimani", "Argwings Kodhek Rd")
    with FakeLocationIQ() as fake:
        secret = "pk.not-the-right-key-SECRET"
        for key, value in {"GEOCODER_PROVIDER": "locationiq", "GEOCODER_API_KEY": secret,
                           "GEOCODER_URL": fake.url, "GEOCODER_TIMEOUT_SECONDS": "2"}.items():
            monkeypatch.setenv(key, value)
        result = CliRunner().invoke(main, ["geocode"])
    assert result.exit_code == 1
    assert "rejected the API key (HTTP 401): check GEOCODER_API_KEY" in result.output
    assert secret not in result.output
    assert db.execute("SELECT count(*) FROM tickets.geo_locations").fetchone()[0] == 0
