"""Deterministic generator of contract-true ticket change streams (INC, CRQ).

`write_stream` writes a full baseline file, then N delta files, into a folder, named
like the exporter's keys under `automations/<dataset>/changes/`. The files follow the
export contract (docs/), quirks included: a UTF-8 BOM, the sentinel row, both line
endings, a shuffled column order, duplicate ticket ids within a delta, free-text
locations with commas, quotes, line breaks and plus codes, and the odd unparseable
timestamp. Same arguments, byte-identical files.

Rows are streamed to disk. The state kept for the deltas is a few compact arrays per
ticket; the static text of a ticket (location, summary, ...) is regenerated from a
per-ticket seed whenever the ticket appears again.

The columns, the time zone and the file names come from where the contract is declared
(fleettickets.datasets); plus codes from `openlocationcode`.

Modules, in the order a row is made: vocabulary (the words), text (random draws and
texts), tickets (static columns), state (per-ticket state and moves), rows (one row),
files (per-file quirks and the writer), baseline and delta (one file each), stream
(write_stream).
"""

from __future__ import annotations

from fleettickets.sample.stream import DEFAULT_START, write_stream
from fleettickets.sample.text import plus_code
from fleettickets.sample.vocabulary import CLUSTER_DATA, CLUSTERS

# The names tests/test_geocode_offline.py has always imported.
_CLUSTER_DATA = CLUSTER_DATA
_plus_code = plus_code

__all__ = ["CLUSTERS", "CLUSTER_DATA", "DEFAULT_START", "plus_code", "write_stream"]
