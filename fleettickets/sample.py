"""Deterministic generator of contract-true ticket change streams (INC, CRQ).

`write_stream` writes a full baseline file, then N delta files, into a folder, named
like the exporter's keys under `automations/<dataset>/changes/`. The files follow
docs/contract/EXPORT_FORMAT.md, quirks included: a UTF-8 BOM, the sentinel row,
both line endings, a shuffled column order, duplicate ticket ids within a delta,
free-text locations with commas, quotes, line breaks and plus codes, and the odd
unparseable timestamp. Same arguments, byte-identical files.

Rows are streamed to disk. The state kept for the deltas is a few compact arrays per
ticket; the static text of a ticket (location, summary, ...) is regenerated from a
per-ticket seed whenever the ticket appears again.
"""

from __future__ import annotations

import csv
import random
import sys
from array import array
from bisect import bisect
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import NamedTuple, TypeVar

EAT = timezone(timedelta(hours=3))
DEFAULT_START = datetime(2026, 6, 15, 6, 0, tzinfo=EAT)

COLUMNS: tuple[str, ...] = (
    "ticket_id", "source_type", "department", "service_type", "is_alarm", "is_actionable",
    "bucket", "raw_status", "region", "cluster", "location", "customer_id", "summary",
    "category", "priority", "assigned_team", "owner", "created_at_service", "closed_at",
    "sla_status", "mttr", "created_at", "updated_at", "first_seen_at", "last_seen_at",
    "latitude", "longitude", "week_start", "week_end", "source_s3_bucket", "source_s3_key",
    "source_snapshot_id",
)
SENTINEL = "EXPORT STOPPED DUE TO EXCESSIVE SIZE - please narrow the filter"
S3_BUCKET = "isptickets"

# (cluster, region, latitude, longitude, relative weight within the region)
_CLUSTER_DATA: tuple[tuple[str, str, float, float, int], ...] = (
    ("Kilimani", "Nairobi", -1.2906, 36.7856, 4),
    ("Westlands", "Nairobi", -1.2676, 36.8108, 4),
    ("Lang'ata", "Nairobi", -1.3390, 36.7430, 2),
    ("Langata", "Nairobi", -1.3385, 36.7450, 2),
    ("Karen", "Nairobi", -1.3194, 36.7073, 2),
    ("Embakasi", "Nairobi", -1.3197, 36.8940, 3),
    ("Kasarani", "Nairobi", -1.2210, 36.8980, 3),
    ("Rongai", "Nairobi", -1.3960, 36.7440, 2),
    ("Parklands", "Nairobi", -1.2620, 36.8170, 2),
    ("Lavington", "Nairobi", -1.2800, 36.7700, 2),
    ("Kileleshwa", "Nairobi", -1.2810, 36.7830, 2),
    ("South B", "Nairobi", -1.3100, 36.8380, 2),
    ("South C", "Nairobi", -1.3190, 36.8250, 2),
    ("Eastleigh", "Nairobi", -1.2750, 36.8500, 1),
    ("Donholm", "Nairobi", -1.2960, 36.8900, 2),
    ("Utawala", "Nairobi", -1.2880, 36.9600, 2),
    ("Roysambu", "Nairobi", -1.2180, 36.8870, 2),
    ("Kahawa", "Nairobi", -1.1840, 36.9280, 1),
    ("Upper Hill", "Nairobi", -1.2990, 36.8160, 1),
    ("Nairobi CBD", "Nairobi", -1.2864, 36.8232, 1),
    ("Runda", "Nairobi", -1.2180, 36.8090, 1),
    ("Gigiri", "Nairobi", -1.2330, 36.8030, 1),
    ("Kitengela", "Nairobi", -1.4760, 36.9610, 2),
    ("Syokimau", "Nairobi", -1.3630, 36.9330, 2),
    ("Mombasa Nyali", "Coast", -4.0320, 39.7100, 3),
    ("Nyali", "Coast", -4.0420, 39.7050, 2),
    ("Bamburi", "Coast", -3.9970, 39.7250, 2),
    ("Likoni", "Coast", -4.0880, 39.6610, 2),
    ("Mombasa CBD", "Coast", -4.0630, 39.6650, 2),
    ("Mtwapa", "Coast", -3.9470, 39.7450, 1),
    ("Kilifi", "Coast", -3.6300, 39.8490, 1),
    ("Malindi", "Coast", -3.2190, 40.1170, 1),
    ("Diani", "Coast", -4.2800, 39.5850, 1),
    ("Ukunda", "Coast", -4.2870, 39.5660, 1),
    ("Nakuru", "Rift Valley", -0.3031, 36.0800, 4),
    ("Naivasha", "Rift Valley", -0.7170, 36.4310, 2),
    ("Eldoret", "Rift Valley", 0.5143, 35.2698, 3),
    ("Rongai", "Rift Valley", -0.1730, 35.8630, 1),
    ("Kericho", "Rift Valley", -0.3690, 35.2860, 1),
    ("Kitale", "Rift Valley", 1.0150, 35.0060, 1),
    ("Narok", "Rift Valley", -1.0800, 35.8710, 1),
    ("Nanyuki", "Rift Valley", 0.0070, 37.0740, 1),
    ("Thika", "Central", -1.0333, 37.0693, 3),
    ("Ruiru", "Central", -1.1460, 36.9610, 3),
    ("Kiambu", "Central", -1.1714, 36.8356, 2),
    ("Ruaka", "Central", -1.2060, 36.7790, 2),
    ("Juja", "Central", -1.1020, 37.0140, 1),
    ("Limuru", "Central", -1.1140, 36.6420, 1),
    ("Kikuyu", "Central", -1.2460, 36.6630, 1),
    ("Nyeri", "Central", -0.4201, 36.9476, 1),
    ("Murang'a", "Central", -0.7210, 37.1520, 1),
    ("Kisumu", "Nyanza", -0.0917, 34.7680, 3),
    ("Kisumu Milimani", "Nyanza", -0.1000, 34.7540, 2),
    ("Kisii", "Nyanza", -0.6817, 34.7667, 1),
    ("Homa Bay", "Nyanza", -0.5273, 34.4571, 1),
    ("Migori", "Nyanza", -1.0634, 34.4731, 1),
    ("Kakamega", "Western", 0.2827, 34.7519, 2),
    ("Bungoma", "Western", 0.5635, 34.5606, 1),
    ("Busia", "Western", 0.4608, 34.1115, 1),
    ("Mumias", "Western", 0.3360, 34.4890, 1),
    ("Machakos", "Eastern", -1.5177, 37.2634, 2),
    ("Athi River", "Eastern", -1.4560, 36.9780, 2),
    ("Meru", "Eastern", 0.0463, 37.6559, 2),
    ("Embu", "Eastern", -0.5390, 37.4570, 1),
    ("Kitui", "Eastern", -1.3670, 38.0100, 1),
    ("Isiolo", "Eastern", 0.3546, 37.5822, 1),
    ("Garissa", "North Eastern", -0.4532, 39.6461, 3),
    ("Wajir", "North Eastern", 1.7471, 40.0573, 1),
    ("Mandera", "North Eastern", 3.9366, 41.8670, 1),
)
CLUSTERS: tuple[tuple[str, str], ...] = tuple((c, r) for c, r, _, _, _ in _CLUSTER_DATA)

_REGION_WEIGHT = {
    "Nairobi": 0.46, "Central": 0.13, "Coast": 0.13, "Rift Valley": 0.12,
    "Nyanza": 0.07, "Western": 0.04, "Eastern": 0.04, "North Eastern": 0.01,
}


def _cluster_cum_weights() -> tuple[float, ...]:
    per_region: dict[str, int] = {}
    for _, region, _, _, w in _CLUSTER_DATA:
        per_region[region] = per_region.get(region, 0) + w
    total, cum = 0.0, []
    for _, region, _, _, w in _CLUSTER_DATA:
        total += _REGION_WEIGHT[region] * w / per_region[region]
        cum.append(total)
    return tuple(c / total for c in cum)


_CLUSTER_CUM = _cluster_cum_weights()

_ROADS: dict[str, tuple[str, ...]] = {
    "Nairobi": (
        "Ngong Rd", "Argwings Kodhek Rd", "Waiyaki Way", "Langata Rd", "Mombasa Rd",
        "Thika Rd", "Jogoo Rd", "Outer Ring Rd", "Kiambu Rd", "Limuru Rd", "Dennis Pritt Rd",
        "Lenana Rd", "Magadi Rd", "Kangundo Rd", "Riverside Dr", "James Gichuru Rd",
        "Kindaruma Rd", "Wood Ave", "Rhapta Rd", "Muthithi Rd", "Ole Sangale Rd",
        "Lower Kabete Rd", "Kabarnet Rd", "Namanga Rd", "Kenyatta Ave",
    ),
    "Coast": (
        "Links Rd", "Moi Ave", "Nyali Rd", "Malindi Rd", "Digo Rd", "Likoni Rd",
        "Mama Ngina Dr", "Nyerere Ave", "Diani Beach Rd", "Mombasa-Malindi Hwy", "Ferry Rd",
    ),
    "Rift Valley": (
        "Kenyatta Ave", "Oloo Rd", "Uganda Rd", "Moi Rd", "Nakuru-Eldoret Hwy",
        "Moi South Lake Rd", "Oginga Odinga Rd", "Kericho-Kisumu Rd", "Nakuru-Nyahururu Rd",
    ),
    "Central": (
        "Thika Superhighway", "Kenyatta Hwy", "Garissa Rd", "Kiambu Rd", "Eastern Bypass",
        "Kimathi Way", "Northern Bypass", "Kamiti Rd", "Limuru Rd",
    ),
    "Nyanza": (
        "Oginga Odinga St", "Jomo Kenyatta Hwy", "Kisumu-Kakamega Rd", "Achieng Oneko Rd",
        "Nairobi Rd", "Kisii-Migori Rd", "Ring Rd Milimani",
    ),
    "Western": (
        "Kakamega-Webuye Rd", "Canon Awori St", "Mumias Rd", "Kanduyi Rd", "Busia-Malaba Rd",
    ),
    "Eastern": (
        "Machakos-Kitui Rd", "Meru-Nanyuki Rd", "Embu-Meru Rd", "Mwatu wa Ngoma Rd",
        "Syokimau Rd", "Old Namanga Rd",
    ),
    "North Eastern": ("Kismayu Rd", "Garissa-Mwingi Rd", "Lamu Rd", "Wajir-Garissa Rd"),
}
_MALLS: dict[str, tuple[str, ...]] = {
    "Nairobi": (
        "Green House", "Yaya Centre", "The Junction", "Sarit Centre", "Westgate",
        "Garden City", "Two Rivers", "Thika Road Mall", "Galleria", "Prestige Plaza",
        "T-Mall", "The Hub", "Capital Centre",
    ),
    "Coast": ("City Mall", "Nyali Centre", "Diani Beach Shopping Centre", "Mtwapa Mall"),
    "Rift Valley": ("Westside Mall", "Rupa's Mall", "Zion Mall", "Buffalo Mall"),
    "Central": ("Thika Greens", "Ananas Mall", "Juja City Mall", "Kiambu Mall"),
    "Nyanza": ("Mega Plaza", "United Mall", "West End Mall", "Kisii Mall"),
    "Western": ("Kakamega Mall", "Bungoma Mall"),
    "Eastern": ("Gateway Mall", "Machakos Mall", "Meru Greens"),
    "North Eastern": ("Garissa Mall", "Hidaya Plaza"),
}
_BUILDINGS = (
    "Jacaranda Court", "Riverside Gardens", "Sunrise Apartments", "Mvule Gardens",
    "Baraka Court", "Amani Heights", "Tulivu Apartments", "Fedha Estate", "Greenspan Estate",
    "Nyayo Estate", "Savannah Court", "Milimani Villas", "Palm Grove", "Kijani Ridge",
    "Jamhuri Estate", "Shalom Court", "Rosslyn Ridge", "Mwangaza Flats", "Zawadi Apartments",
    "Imani Towers",
)
_LANDMARKS = (
    "near Total petrol station", "near Shell petrol station", "opp. Naivas supermarket",
    "behind Quickmart", "next to Equity Bank", "near KCB branch", "opp. Carrefour",
    "near the Catholic church", "next to Chandarana Foodplus", "near Rubis petrol station",
    "behind the police station", "near the matatu stage", "next to Kenol petrol station",
    "near Co-op Bank ATM", "opp. the county offices", "near Java House",
    "next to the primary school", "opposite the mosque", "near the chief's camp",
    "past the second speed bump",
)
_OLC = "23456789CFGHJMPQRVWX"

_INC_SUMMARIES: tuple[tuple[str, str], ...] = (
    ("No internet since morning", "No Service"),
    ("No internet, red LOS light on router", "No Service"),
    ("Internet down after KPLC blackout", "No Service"),
    ('ONT showing "LOS" in red', "No Service"),
    ("Slow speeds, customer gets 2 Mbps on a 20 Mbps plan", "Slow Speed"),
    ('Customer says "internet ni slow sana"', "Slow Speed"),
    ("Latency high on video calls, packet loss", "Slow Speed"),
    ("Intermittent connection, drops every evening", "Intermittent"),
    ("Frequent disconnections after power outage", "Intermittent"),
    ("Port flapping, lights blinking on ONT", "Intermittent"),
    ("Router not powering on", "Hardware"),
    ("Router reset to factory, needs reconfiguration", "Hardware"),
    ("Fibre cable cut by road works", "Fibre Cut"),
    ("Drop cable hanging low, cut by a lorry", "Fibre Cut"),
    ("Fibre termination box broken, cable exposed", "Fibre Cut"),
    ("WiFi not reaching bedrooms, requests booster", "WiFi"),
    ("Cannot browse, DNS errors", "WiFi"),
    ("No IPTV signal, internet OK", "Other"),
    ("VoIP line no dial tone", "Voice"),
)
_CRQ_SUMMARIES: tuple[tuple[str, str], ...] = (
    ("New installation: Home Fibre 20 Mbps", "New Installation"),
    ("New installation: Home Fibre 50 Mbps, customer prefers Saturday", "New Installation"),
    ("New installation for SME, 2 static IPs", "New Installation"),
    ('Customer requests "mesh" WiFi with the installation', "New Installation"),
    ("Installation pending wayleave from landlord", "New Installation"),
    ("Relocation to new house, same estate", "Relocation"),
    ("Move router to another room, extend cabling", "Relocation"),
    ("Upgrade to 100 Mbps, ONT swap needed", "Upgrade"),
    ("Site survey required, building not yet cabled", "Site Survey"),
    ("Reconnection after disconnection for non-payment", "Reconnection"),
)
_ADDENDA = (
    ", customer available after 5pm", ", call before visit", ". Escalated by customer care",
    "\nCustomer called twice, no answer on callback", "\nPlease carry a spare ONT",
    ", caretaker has the keys", " - previous ticket closed without fix",
    ', access via back gate "B"', ", customer is a \"VIP\" account",
)
_ALARMS: tuple[tuple[str, str], ...] = (  # {ont}, {olt}, {port}, {dbm} are filled in
    ("LOS on ONT {ont} at {olt} PON {port}", "Optical Alarm"),
    ("Dying gasp from ONT {ont}, {olt} PON {port}", "Power Alarm"),
    ("ONT {ont} offline at {olt} PON {port}", "Network Alarm"),
    ("PON port {port} down on {olt}", "Network Alarm"),
    ("Cabinet mains failure, {olt} running on batteries", "Power Alarm"),
    ("High optical attenuation -{dbm} dBm, ONT {ont} at {olt}", "Optical Alarm"),
)
_PEOPLE = (
    "Brian Otieno", "Faith Wanjiku", "Kevin Mwangi", "Mercy Achieng", "Dennis Kiprotich",
    "Grace Njeri", "Peter Kamau", "Esther Mutua", "John Ochieng", "Mary Wambui",
    "Samuel Kipchoge", "Joyce Chebet", "Ali Hassan", "Fatuma Abdi", "Collins Omondi",
    "Naomi Atieno", "Victor Kiptoo", "Ann Nduta", "James Mutiso", "Lucy Wairimu",
    "Hassan Omar", "Mohamed Abdullahi", "Cynthia Akinyi", "George Wafula", "Beatrice Nafula",
    "Kelvin Barasa", "Purity Mukami", "Eric Kibet", "Sharon Jepkosgei", "Daniel Kariuki",
    "Lilian Moraa", "Stephen Nyamweya", "Caroline Muthoni", "Joseph Wekesa", "Halima Said",
    "Omar Salim", "Winnie Chepngetich", "Patrick Mbugua", "Agnes Kemunto", "Felix Odhiambo",
)
_QUEUES = ("Service Desk", "NOC Queue", "Dispatch", "Customer Care L1")
_OWNERS = _PEOPLE + _QUEUES
_N_PEOPLE = len(_PEOPLE)

_REGION_TEAMS: dict[str, tuple[str, ...]] = {
    "Nairobi": ("FS Nairobi West", "FS Nairobi East", "FS Nairobi North", "FS Nairobi South"),
    "Coast": ("FS Coast Mombasa", "FS Coast North", "FS Coast South"),
    "Rift Valley": ("FS Nakuru", "FS Eldoret", "FS Naivasha"),
    "Central": ("FS Thika", "FS Kiambu", "FS Nyeri"),
    "Nyanza": ("FS Kisumu", "FS Kisii"),
    "Western": ("FS Kakamega", "FS Bungoma"),
    "Eastern": ("FS Machakos", "FS Meru"),
    "North Eastern": ("FS Garissa",),
}
_SHARED_TEAMS = ("OSP Fibre Crew", "Installations", "Customer Care L2")
_NOC_TEAMS = ("NOC L1", "NOC L2", "Transmission NOC")
_TEAMS: tuple[str, ...] = (
    tuple(t for ts in _REGION_TEAMS.values() for t in ts) + _SHARED_TEAMS + _NOC_TEAMS
)
_TEAM_INDEX = {t: i for i, t in enumerate(_TEAMS)}
_REGION_TEAM_IDX = {r: tuple(_TEAM_INDEX[t] for t in ts) for r, ts in _REGION_TEAMS.items()}
_SHARED_TEAM_IDX = tuple(_TEAM_INDEX[t] for t in _SHARED_TEAMS)
_NOC_TEAM_IDX = tuple(_TEAM_INDEX[t] for t in _NOC_TEAMS)


def _variants(
    word: str, upper: int = 2, lower: int = 1, extra: tuple[str, ...] = ()
) -> tuple[str, ...]:
    """A weighted pool of case variants of `word` (canonical ~3/4 of the time)."""
    return (word,) * 9 + (word.upper(),) * upper + (word.lower(),) * lower + extra


_TRUE = _variants("true", upper=2, lower=0, extra=("True", "True"))
_FALSE = _variants("false", upper=2, lower=0, extra=("False", "False"))
_STATUS = tuple(_variants(s) for s in ("New", "Assigned", "In Progress", "Pending"))
_CLOSED_STATUS = _variants("Resolved") + _variants("Closed")
_WITHIN = ("Within SLA",) * 16 + ("Within SLA ", "Within SLA ", "WITHIN SLA", "within sla")
_BREACHED = ("Breached",) * 16 + ("BREACHED", "Breached ", "breached")
_PRIORITY = ("P1",) + ("P2",) * 4 + ("P3",) * 9 + ("P4",) * 6
_ALARM_PRIORITY = ("P1",) * 3 + ("P2",) * 9 + ("P3",) * 6 + ("P4",) * 2
_BAD_TIMES = ("not a date", "2026-02-30 10:00:00", "31/06/2026 14:00", "TBC")

_DAY = 86_400
_HOUR = 3_600
_LAG = 2 * _DAY  # content lags the export (a daily spreadsheet)
_SPAN = 8 * _DAY  # creation times of a baseline: ~10..2 days before the file time
_EPOCH = datetime(1970, 1, 1)
_DATES: dict[int, str] = {}  # day number -> ISO date, a cache for _ts
T = TypeVar("T")
_UNBORN, _CLOSED = -1, 4  # stages: -1 planned, 0..3 open (New..Pending), 4 closed
_ALARM_BIT, _NO_CAS_BIT = 1, 2


class _Spec(NamedTuple):
    prefix: str
    first_number: int
    salt: int
    constants: tuple[str, str, str]  # source_type, department, service_type
    summaries: tuple[tuple[str, str], ...]


_DATASETS: dict[str, _Spec] = {
    "inc": _Spec(
        "INC", 31_200_000, 1, ("daily_sheet", "Field Operations", "Home Fibre"), _INC_SUMMARIES
    ),
    "crq": _Spec(
        "CRQ", 1_200_000, 2, ("daily_sheet", "Installations", "Home Fibre"), _CRQ_SUMMARIES
    ),
}


def change_file_name(ts: datetime) -> str:
    """'2026-06-15T06-00-00.csv' from an EAT datetime."""
    ts = ts.replace(tzinfo=EAT) if ts.tzinfo is None else ts.astimezone(EAT)
    return ts.strftime("%Y-%m-%dT%H-%M-%S.csv")


def _pick(r: random.Random, seq: Sequence[T]) -> T:
    """r.choice, faster (one C call)."""
    return seq[int(r.random() * len(seq))]


def _below(r: random.Random, n: int) -> int:
    """r.randrange(n), faster (one C call)."""
    return int(r.random() * n)


def _ts(s: int) -> str:
    """Naive EAT 'YYYY-MM-DD HH:MM:SS' from seconds since the naive epoch."""
    day, second = divmod(s, _DAY)
    date = _DATES.get(day)
    if date is None:
        date = _DATES[day] = (_EPOCH + timedelta(days=day)).date().isoformat()
    hour, second = divmod(second, _HOUR)
    minute, second = divmod(second, 60)
    return f"{date} {hour:02d}:{minute:02d}:{second:02d}"


def _source_ts(r: random.Random, s: int) -> str:
    """A source timestamp: mostly plain, some ISO 'T', some fractional, a tiny few garbage."""
    x = r.random()
    if x < 0.88:
        return _ts(s)
    if x < 0.94:
        text = _ts(s)
        return f"{text[:10]}T{text[11:]}"
    if x < 0.975:
        return f"{_ts(s)}.{_below(r, 1_000_000):06d}"
    if x < 0.997:
        text = _ts(s)
        return f"{text[:10]}T{text[11:]}.{_below(r, 1000):03d}"
    return _pick(r, _BAD_TIMES)


def _plus_code(lat: float, lng: float) -> str:
    """A 10-digit Open Location Code (e.g. '6GCRPR6C+24')."""
    la, lo = int((lat + 90) * 8000), int((lng + 180) * 8000)
    digits = []
    for _ in range(5):
        digits.append(_OLC[lo % 20])
        digits.append(_OLC[la % 20])
        la //= 20
        lo //= 20
    code = "".join(reversed(digits))
    return f"{code[:8]}+{code[8:]}"


def _location(r: random.Random, cluster: str, region: str, lat: float, lng: float) -> str:
    x = r.random()
    if x < 0.015:
        return "N/A"
    if x < 0.03:
        return ""
    if x < 0.06:
        code = _plus_code(lat + r.uniform(-0.015, 0.015), lng + r.uniform(-0.015, 0.015))
        y = r.random()
        if y < 0.4:
            return code
        if y < 0.8:
            return f"{code[4:]} {cluster}"
        return f"{_pick(r, _BUILDINGS)}, {code[4:]} {cluster}"
    road = _pick(r, _ROADS[region])
    t = _below(r, 9)
    if t == 0:
        parts = [_pick(r, _BUILDINGS), road]
    elif t == 1:
        parts = [f"{_pick(r, _BUILDINGS)} Hse No. {1 + _below(r, 120)}", _pick(r, _LANDMARKS)]
    elif t == 2:
        parts = [road, _pick(r, _LANDMARKS)]
    elif t == 3:
        parts = [f'Opp. "{_pick(r, _MALLS[region])}" mall', road]
    elif t == 4:
        parts = [cluster, road, f"Block {_pick(r, 'ABCDEFG')} Apt {1 + _below(r, 40)}"]
    elif t == 5:
        parts = [f"Plot {100 + _below(r, 9900)}/{1 + _below(r, 300)} off {road}"]
    elif t == 6:
        landmark = _pick(r, _LANDMARKS)
        parts = [landmark[0].upper() + landmark[1:], cluster]
    elif t == 7:
        parts = [f"House {1 + _below(r, 80)} {_pick(r, _BUILDINGS)}"]
    else:
        apt = f"{_pick(r, _BUILDINGS)} Apt {_pick(r, 'ABCD')}{1 + _below(r, 24)}"
        parts = [apt, road, _pick(r, _LANDMARKS)]
    if len(parts) > 1 and r.random() < 0.07:
        return "\n".join(parts)
    return ", ".join(parts)


def _alarm_summary(r: random.Random, cluster: str) -> tuple[str, str]:
    template, category = _pick(r, _ALARMS)
    site = cluster.replace(" ", "").replace("'", "")[:3].upper()
    summary = template.format(
        ont=f"HWTC{r.getrandbits(32):08X}",
        olt=f"OLT-{site}-{1 + _below(r, 12):02d}",
        port=f"{_below(r, 2)}/{1 + _below(r, 16)}/{_below(r, 16)}",
        dbm=f"{r.uniform(27.0, 34.0):.1f}",
    )
    return summary, category


# A ticket's static columns, in row order, then its canonical region:
# (is_alarm, is_actionable, region, cluster, location, customer_id, summary, category,
#  priority, created_at_service, canonical region)
_Static = tuple[str, str, str, str, str, str, str, str, str, str, str]


def _static(r: random.Random, spec: _Spec, flags: int, tc: int) -> _Static:
    """The columns that never change for a ticket; `r` is seeded per ticket."""
    cluster, region, lat, lng, _ = _CLUSTER_DATA[bisect(_CLUSTER_CUM, r.random())]
    x = r.random()
    region_text = region if x < 0.8 else region.upper() if x < 0.9 else region.lower()
    if flags & _ALARM_BIT:
        is_alarm, is_actionable = _pick(r, _TRUE), _pick(r, _FALSE)
        summary, category = _alarm_summary(r, cluster)
        priority = _pick(r, _ALARM_PRIORITY)
    else:
        is_alarm = _pick(r, _FALSE)
        is_actionable = _pick(r, _TRUE if r.random() < 0.9 else _FALSE)
        summary, category = _pick(r, spec.summaries)
        if r.random() < 0.3:
            summary += _pick(r, _ADDENDA)
        priority = _pick(r, _PRIORITY)
    location = _location(r, cluster, region, lat, lng)
    customer_id = "" if r.random() < 0.02 else str(10_000_000 + _below(r, 90_000_000))
    cas = "" if flags & _NO_CAS_BIT else _source_ts(r, tc)
    return (
        is_alarm, is_actionable, region_text, cluster, location, customer_id, summary,
        category, priority, cas, region,
    )


_Emit = Callable[[list[str]], object]


class _FilePlan(NamedTuple):
    bom: bool
    sentinel: bool
    lineterminator: str
    order: tuple[int, ...] | None  # column permutation, None = contract order
    duplicates: bool


def _plan_files(q: random.Random, deltas: int) -> list[_FilePlan]:
    """Per-file quirks; the baseline has a BOM, the sentinel and CRLF line endings."""
    bom = [q.random() < 0.25 for _ in range(deltas)]
    sentinel = [q.random() < 0.5 for _ in range(deltas)]
    crlf = [q.random() < 0.5 for _ in range(deltas)]
    shuffled = [q.random() < 0.2 for _ in range(deltas)]
    dups = [q.random() < 0.4 for _ in range(deltas)]
    if deltas:
        crlf[q.randrange(deltas)] = False  # at least one '\n' file
        shuffled[q.randrange(deltas)] = True
        dups[q.randrange(deltas)] = True
    if deltas >= 2 and len(set(sentinel)) == 1:  # about half: at least one of each
        sentinel[q.randrange(deltas)] = not sentinel[0]
    plans = [_FilePlan(True, True, "\r\n", None, False)]
    for i in range(deltas):
        order = None
        if shuffled[i]:
            perm = list(range(len(COLUMNS)))
            while perm == sorted(perm):
                q.shuffle(perm)
            order = tuple(perm)
        plans.append(_FilePlan(bom[i], sentinel[i], "\r\n" if crlf[i] else "\n", order, dups[i]))
    return plans


class _Stream:
    """Ticket state across the files of one stream, as compact per-ticket arrays."""

    def __init__(self, spec: _Spec, seed: int, t0: int, interval: int) -> None:
        self.spec = spec
        self.rng = random.Random(seed * 8 + spec.salt)
        self.row_rng = random.Random()
        self.row_base = (abs(seed) * 8 + spec.salt) << 40
        self.t0 = t0
        self.interval = interval
        self.numbers = array("q")
        self.created = array("q")  # created_at_service (true value), naive EAT seconds
        self.first_seen = array("q")
        self.flags = array("b")
        self.stage = array("b")
        self.team = array("h")  # -1 = none
        self.owner = array("h")  # -1 = none
        self.open_pool = array("l")  # open non-alarm tickets
        self.alarm_pool = array("l")  # open alarms
        self.next_number = spec.first_number

    # -- per-file context -------------------------------------------------------------

    def context(self, k: int, dataset: str, name: str) -> tuple[str, ...]:
        t = self.t0 + k * self.interval
        day = _EPOCH + timedelta(seconds=t)
        monday = (day - timedelta(days=day.weekday())).date()
        stamp = name[:-4].replace("-", "")
        return (  # the row's last columns, from last_seen_at on
            _ts(t), "", "", monday.isoformat(), (monday + timedelta(days=6)).isoformat(),
            S3_BUCKET, f"automations/{dataset}/changes/{name}", f"{dataset}-{stamp}",
        )

    # -- state transitions --------------------------------------------------------------

    def _pick_team(self, region: str, alarm: bool) -> int:
        rng = self.rng
        if alarm:
            return _pick(rng, _NOC_TEAM_IDX)
        if rng.random() < 0.85:
            return _pick(rng, _REGION_TEAM_IDX[region])
        return _pick(rng, _SHARED_TEAM_IDX)

    def _pick_person(self, other: int = -1) -> int:
        who = _below(self.rng, _N_PEOPLE)
        return (who + 1) % _N_PEOPLE if who == other else who

    def _new_ticket(self, first_seen: int, alarm: bool, closed: bool) -> int:
        rng = self.rng
        self.next_number += 1 + (1 + _below(rng, 3) if rng.random() < 0.04 else 0)
        no_cas = rng.random() < (0.05 if closed else 0.58)
        self.numbers.append(self.next_number)
        self.created.append(0)
        self.first_seen.append(first_seen)
        self.flags.append((_ALARM_BIT if alarm else 0) | (_NO_CAS_BIT if no_cas else 0))
        self.stage.append(_UNBORN)
        self.team.append(-1)
        self.owner.append(-1)
        return len(self.numbers) - 1

    def _open_state(self, i: int, region: str, stage: int) -> None:
        rng = self.rng
        alarm = bool(self.flags[i] & _ALARM_BIT)
        self.stage[i] = stage
        if stage == 0:
            self.team[i] = -1
            x = rng.random()
            self.owner[i] = (
                _N_PEOPLE + _below(rng, len(_QUEUES)) if x < 0.65
                else self._pick_person() if x < 0.97 else -1
            )
        else:
            self.team[i] = self._pick_team(region, alarm) if rng.random() < 0.95 else -1
            x = rng.random()
            self.owner[i] = (
                self._pick_person() if x < 0.95
                else _N_PEOPLE + _below(rng, len(_QUEUES)) if x < 0.97 else -1
            )

    def _progress(self, i: int, region: str) -> None:
        """Move an open ticket forward (or re-route it); never backwards."""
        rng = self.rng
        alarm = bool(self.flags[i] & _ALARM_BIT)
        stage, team, owner = self.stage[i], self.team[i], self.owner[i]
        if stage == 0:
            stage, team = 1, self._pick_team(region, alarm)
            if owner < 0 or owner >= _N_PEOPLE or rng.random() < 0.3:
                owner = self._pick_person(owner)
        else:
            if (stage == 1 and rng.random() < 0.8) or (stage == 2 and rng.random() < 0.35):
                stage += 1
            if team < 0 or rng.random() < 0.15:
                team = self._pick_team(region, alarm)
            if owner < 0 or owner >= _N_PEOPLE or rng.random() < 0.3:
                owner = self._pick_person(owner)
            if (stage, team, owner) == (self.stage[i], self.team[i], self.owner[i]):
                owner = self._pick_person(owner)
        self.stage[i], self.team[i], self.owner[i] = stage, team, owner

    def _close(self, i: int, region: str) -> None:
        rng = self.rng
        self.stage[i] = _CLOSED
        if self.team[i] < 0 and rng.random() < 0.7:
            self.team[i] = self._pick_team(region, bool(self.flags[i] & _ALARM_BIT))
        owner = self.owner[i]
        if (owner < 0 or owner >= _N_PEOPLE) and rng.random() < 0.8:
            self.owner[i] = self._pick_person()

    def _closure_columns(self, tc: int, closed: int) -> tuple[str, str, str]:
        rng = self.rng
        hours = max(0.25, round((closed - tc) / _HOUR * (0.35 + 0.65 * rng.random()) * 4) / 4)
        within = 0.95 if hours <= 24 else 0.7 if hours <= 48 else 0.12
        sla = _pick(rng, _WITHIN if rng.random() < within else _BREACHED)
        return _source_ts(rng, closed), sla, f"{hours:.2f}"

    # -- rows ---------------------------------------------------------------------------

    def _static_of(self, i: int, regenerable: bool = True) -> _Static:
        """The ticket's static columns: from its own seed when it can appear again."""
        r = self.row_rng if regenerable else self.rng
        if regenerable:
            r.seed(self.row_base + i)
        return _static(r, self.spec, self.flags[i], self.created[i])

    def _row(
        self, i: int, st: _Static, updated: int, closure: tuple[str, str, str], ctx: tuple[str, ...]
    ) -> list[str]:
        stage, team, owner = self.stage[i], self.team[i], self.owner[i]
        rng = self.rng
        (alarm, actionable, region, cluster, location, customer, summary, category, priority,
         cas, _) = st
        if stage == _CLOSED:
            bucket, status = "closed", _pick(rng, _CLOSED_STATUS)
        else:
            bucket, status = "pending", _pick(rng, _STATUS[stage])
        first_seen = _ts(self.first_seen[i])
        updated_text = _ts(updated)
        if rng.random() < 0.02:
            updated_text += f".{_below(rng, 1_000_000):06d}"
        source_type, department, service_type = self.spec.constants
        return [
            f"{self.spec.prefix}{self.numbers[i]:012d}", source_type, department, service_type,
            alarm, actionable, bucket, status, region, cluster, location, customer, summary,
            category, priority, _TEAMS[team] if team >= 0 else "",
            _OWNERS[owner] if owner >= 0 else "", cas, *closure, first_seen, updated_text,
            first_seen, *ctx,
        ]

    def baseline(self, emit: _Emit, rows: int, ctx: tuple[str, ...]) -> None:
        """Every current ticket, ids ascending, created over the ~10 days before the file."""
        rng = self.rng
        content = self.t0 - _LAG
        for n in range(rows):
            alarm = rng.random() < 1 / 3
            tc = content - _SPAN + _SPAN * n // rows + _below(rng, 3600) - 1800
            tc = min(tc, content - 60)
            age = content - tc
            closed = rng.random() < 0.15 + 0.6 * min(1.0, age / (6 * _DAY))
            first_seen = min(self.t0, tc + _LAG + _below(rng, _HOUR))
            i = self._new_ticket(first_seen, alarm, closed)
            self.created[i] = tc
            st = self._static_of(i, regenerable=not closed)  # closed: never seen again
            if closed:
                self._open_state(i, st[-1], 2)
                self._close(i, st[-1])
                if rng.random() < 0.18:
                    self.team[i] = -1
                closed_at = min(content - 60, tc + 1800 + int(rng.expovariate(1 / (26 * _HOUR))))
                closed_at = max(closed_at, tc)
                closure = self._closure_columns(tc, closed_at)
                updated = content - _below(rng, min(content - closed_at, 20 * _HOUR))
            else:
                x = rng.random()
                stage = 0 if x < 0.5 else 1 if x < 0.72 else 2 if x < 0.92 else 3
                self._open_state(i, st[-1], stage)
                updated = content - _below(rng, min(age, 20 * _HOUR))
                closure = ("", "", "")
                (self.alarm_pool if alarm else self.open_pool).append(i)
            emit(self._row(i, st, updated, closure, ctx))

    def _take(self, pool: array[int], used: set[int], remove: bool) -> int | None:
        for _ in range(8):
            if not pool:
                return None
            pos = _below(self.rng, len(pool))
            i = pool[pos]
            if i in used:
                continue
            if remove:
                pool[pos] = pool[-1]
                pool.pop()
            return i
        return None

    def delta(
        self, emit: _Emit, k: int, n_rows: int, duplicates: bool, ctx: tuple[str, ...]
    ) -> None:
        """New tickets, progressions and closures; a few tickets twice (the later is newer)."""
        rng = self.rng
        file_time = self.t0 + k * self.interval
        n_dup = 0
        if duplicates and n_rows >= 2:
            n_dup = rng.randint(1, max(1, min(n_rows // 2, n_rows // 60 + 1)))
        used: set[int] = set()
        kinds: dict[int, list[str]] = {}
        plan: list[int] = []

        def born(alarm: bool) -> int:
            i = self._new_ticket(file_time, alarm, closed=False)
            (self.alarm_pool if alarm else self.open_pool).append(i)
            return i

        for _ in range(n_rows - n_dup):
            x = rng.random()
            i, kind = None, "new"
            if x < 0.02:
                if rng.random() < 0.5:
                    i, kind = self._take(self.alarm_pool, used, remove=True), "close"
                if i is None:
                    i, kind = born(alarm=True), "new"
            elif x < 0.32:
                i = born(alarm=False)
            else:
                kind = "prog" if x < 0.77 else "close"
                i = self._take(self.open_pool, used, remove=kind == "close")
                if i is None:
                    i, kind = born(alarm=False), "new"
            used.add(i)
            plan.append(i)
            kinds[i] = [kind]
        candidates = [i for i in plan if kinds[i][0] != "close"]
        for i in rng.sample(candidates, min(n_dup, len(candidates))):
            second = "close" if rng.random() < 0.4 else "prog"
            if second == "close":
                pool = self.alarm_pool if self.flags[i] & _ALARM_BIT else self.open_pool
                pos = pool.index(i)
                pool[pos] = pool[-1]
                pool.pop()
            kinds[i].append(second)
            plan.append(i)
        while len(plan) < n_rows:  # too few tickets to repeat: fill with new ones
            i = born(alarm=False)
            plan.append(i)
            kinds[i] = ["new"]
        rng.shuffle(plan)

        # updated_at inside this file's content window, ascending in file order
        high = file_time - _LAG
        low = high - self.interval
        times = sorted(rng.randrange(low + 1, high + 1) for _ in plan)
        for i, updated in zip(plan, times, strict=True):
            kind = kinds[i].pop(0)
            closure = ("", "", "")
            if kind == "new":
                self.created[i] = updated - 60 - _below(rng, 3 * _HOUR - 60)
                st = self._static_of(i)
                self._open_state(i, st[-1], 0 if rng.random() < 0.7 else 1)
            else:
                st = self._static_of(i)
                if kind == "prog":
                    self._progress(i, st[-1])
                else:
                    self._close(i, st[-1])
                    closed_at = max(self.created[i], updated - 1 - _below(rng, 600))
                    closure = self._closure_columns(self.created[i], closed_at)
            emit(self._row(i, st, updated, closure, ctx))


def _emitter(writerow: Callable[[list[str]], object], order: tuple[int, ...] | None) -> _Emit:
    """Write rows given in contract order, permuted to the file's column order."""
    if order is None:
        return writerow

    def emit(row: list[str]) -> None:
        writerow([row[j] for j in order])

    return emit


def write_stream(
    dataset: str,
    out_dir: Path,
    rows: int = 31434,
    deltas: int = 3,
    seed: int = 7,
    delta_rows: int | None = None,
    start: datetime = DEFAULT_START,
    interval: timedelta = timedelta(minutes=20),
) -> list[Path]:
    """Write baseline + `deltas` delta files into out_dir (created if missing); return paths in stream order.

    File i is named change_file_name(start + i*interval). The baseline holds `rows`
    tickets (plus the sentinel row); each delta holds `delta_rows` rows (default ~2% of
    `rows`, at least 10): new tickets, progressions and closures, each with the ticket's
    full current state. Same arguments, byte-identical files.
    """
    spec = _DATASETS.get(dataset)
    if spec is None:
        raise ValueError(f"unknown dataset {dataset!r}; expected 'inc' or 'crq'")
    if rows < 0 or deltas < 0 or (delta_rows is not None and delta_rows < 0):
        raise ValueError("rows, deltas and delta_rows must not be negative")
    if interval < timedelta(seconds=1):
        raise ValueError("interval must be at least one second")
    if delta_rows is None:
        delta_rows = max(10, round(rows * 0.02))
    start = start.replace(tzinfo=EAT) if start.tzinfo is None else start.astimezone(EAT)
    t0 = int((start.replace(tzinfo=None) - _EPOCH).total_seconds())
    stream = _Stream(spec, seed, t0, int(interval.total_seconds()))
    plans = _plan_files(random.Random(seed * 8 + spec.salt + 4), deltas)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for k, plan in enumerate(plans):
        name = change_file_name(start + k * interval)
        path = out_dir / name
        ctx = stream.context(k, dataset, name)
        encoding = "utf-8-sig" if plan.bom else "utf-8"
        with path.open("w", encoding=encoding, newline="", buffering=1 << 20) as f:
            writer = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator=plan.lineterminator)
            emit = _emitter(writer.writerow, plan.order)
            emit(list(COLUMNS))
            if plan.sentinel:
                emit([SENTINEL] + [""] * (len(COLUMNS) - 1))
            if k == 0:
                stream.baseline(emit, rows, ctx)
            else:
                stream.delta(emit, k, delta_rows, plan.duplicates, ctx)
        paths.append(path)
    return paths


if __name__ == "__main__":  # python -m fleettickets.sample DIR
    for _dataset in ("inc", "crq"):
        write_stream(_dataset, Path(sys.argv[1]) / _dataset)
