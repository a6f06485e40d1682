"""Text keys for matching and caching, and the text of a geocoder query.

`normalise` has a twin in SQL, `tickets.norm_key(text)` (migrations/03_geocoding.sql):
both lowercase, fold the common Latin accents, drop apostrophes (so `Lang'ata`,
`Lang’ata` and `Langata` are one key) and turn every other run of non-alphanumerics
into one space. tests/test_geocode_offline.py holds them to the same answers.
"""

from __future__ import annotations

import math
import re

_ACCENTED = "àáâãäåāèéêëēìíîïīòóôõöøōùúûüūýÿçñ"
_PLAIN = "aaaaaaaeeeeeiiiiiooooooouuuuuyycn"
_FOLD = str.maketrans(_ACCENTED, _PLAIN, "'‘’`´")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")

# Location texts that say nothing about a place (compared after normalising).
_EMPTY_LOCATIONS = frozenset({
    "", "n a", "na", "none", "null", "nil", "tbc", "tba", "unknown", "not available", "no address",
    "kenya", "0",
})
EARTH_RADIUS_KM = 6371.0088


def normalise(text: str | None) -> str:
    """'  Lang’ata  Rd., NAIROBI ' -> 'langata rd nairobi'; None -> ''."""
    if not text:
        return ""
    return _NON_ALNUM.sub(" ", text.lower().translate(_FOLD)).strip()


def is_geocodable(location: str | None, cluster: str | None = None) -> bool:
    """Whether a location text is worth a request: not empty, not N/A, not just the cluster's name."""
    key = normalise(location)
    if key in _EMPTY_LOCATIONS or len(key) < 3 or not re.search(r"[a-z]", key):
        return False
    return key != normalise(cluster)


def query_text(location: str, cluster: str | None) -> str:
    """The free-form query for an address: its text on one line, then the cluster, then Kenya."""
    text = re.sub(r"\s*[\r\n]+\s*", ", ", location.strip())
    text = re.sub(r'["“”]', "", text)
    text = re.sub(r"\s{2,}", " ", text).strip(" ,")
    parts = [text]
    if cluster and normalise(cluster) not in normalise(text):
        parts.append(cluster.strip())
    parts.append("Kenya")
    return ", ".join(parts)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine, mean Earth radius): plenty for a guard radius."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


# Kenya's extent with a margin: nothing outside it is a Kenyan customer's address.
KENYA_BOUNDS = (-4.9, 33.8, 5.2, 42.1)  # south, west, north, east


def in_kenya(lat: float, lon: float) -> bool:
    south, west, north, east = KENYA_BOUNDS
    return south <= lat <= north and west <= lon <= east
