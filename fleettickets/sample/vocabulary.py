"""The sample's vocabulary: places, words and people of a Kenyan ISP's field operations.

Data only, plus the weights derived from it. The order of every tuple is part of the
generator's output (a draw picks by position): reordering one changes the files.
"""

from __future__ import annotations

# (cluster, region, latitude, longitude, relative weight within the region)
CLUSTER_DATA: tuple[tuple[str, str, float, float, int], ...] = (
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
CLUSTERS: tuple[tuple[str, str], ...] = tuple((c, r) for c, r, _, _, _ in CLUSTER_DATA)

REGION_WEIGHT = {
    "Nairobi": 0.46, "Central": 0.13, "Coast": 0.13, "Rift Valley": 0.12,
    "Nyanza": 0.07, "Western": 0.04, "Eastern": 0.04, "North Eastern": 0.01,
}


def _cumulative_weights() -> tuple[float, ...]:
    per_region: dict[str, int] = {}
    for _, region, _, _, w in CLUSTER_DATA:
        per_region[region] = per_region.get(region, 0) + w
    total, cum = 0.0, []
    for _, region, _, _, w in CLUSTER_DATA:
        total += REGION_WEIGHT[region] * w / per_region[region]
        cum.append(total)
    return tuple(c / total for c in cum)


CLUSTER_CUM = _cumulative_weights()

ROADS: dict[str, tuple[str, ...]] = {
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
MALLS: dict[str, tuple[str, ...]] = {
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
BUILDINGS = (
    "Jacaranda Court", "Riverside Gardens", "Sunrise Apartments", "Mvule Gardens",
    "Baraka Court", "Amani Heights", "Tulivu Apartments", "Fedha Estate", "Greenspan Estate",
    "Nyayo Estate", "Savannah Court", "Milimani Villas", "Palm Grove", "Kijani Ridge",
    "Jamhuri Estate", "Shalom Court", "Rosslyn Ridge", "Mwangaza Flats", "Zawadi Apartments",
    "Imani Towers",
)
LANDMARKS = (
    "near Total petrol station", "near Shell petrol station", "opp. Naivas supermarket",
    "behind Quickmart", "next to Equity Bank", "near KCB branch", "opp. Carrefour",
    "near the Catholic church", "next to Chandarana Foodplus", "near Rubis petrol station",
    "behind the police station", "near the matatu stage", "next to Kenol petrol station",
    "near Co-op Bank ATM", "opp. the county offices", "near Java House",
    "next to the primary school", "opposite the mosque", "near the chief's camp",
    "past the second speed bump",
)

INC_SUMMARIES: tuple[tuple[str, str], ...] = (
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
CRQ_SUMMARIES: tuple[tuple[str, str], ...] = (
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
ADDENDA = (
    ", customer available after 5pm", ", call before visit", ". Escalated by customer care",
    "\nCustomer called twice, no answer on callback", "\nPlease carry a spare ONT",
    ", caretaker has the keys", " - previous ticket closed without fix",
    ', access via back gate "B"', ", customer is a \"VIP\" account",
)
ALARMS: tuple[tuple[str, str], ...] = (  # {ont}, {olt}, {port}, {dbm} are filled in
    ("LOS on ONT {ont} at {olt} PON {port}", "Optical Alarm"),
    ("Dying gasp from ONT {ont}, {olt} PON {port}", "Power Alarm"),
    ("ONT {ont} offline at {olt} PON {port}", "Network Alarm"),
    ("PON port {port} down on {olt}", "Network Alarm"),
    ("Cabinet mains failure, {olt} running on batteries", "Power Alarm"),
    ("High optical attenuation -{dbm} dBm, ONT {ont} at {olt}", "Optical Alarm"),
)
PEOPLE = (
    "Brian Otieno", "Faith Wanjiku", "Kevin Mwangi", "Mercy Achieng", "Dennis Kiprotich",
    "Grace Njeri", "Peter Kamau", "Esther Mutua", "John Ochieng", "Mary Wambui",
    "Samuel Kipchoge", "Joyce Chebet", "Ali Hassan", "Fatuma Abdi", "Collins Omondi",
    "Naomi Atieno", "Victor Kiptoo", "Ann Nduta", "James Mutiso", "Lucy Wairimu",
    "Hassan Omar", "Mohamed Abdullahi", "Cynthia Akinyi", "George Wafula", "Beatrice Nafula",
    "Kelvin Barasa", "Purity Mukami", "Eric Kibet", "Sharon Jepkosgei", "Daniel Kariuki",
    "Lilian Moraa", "Stephen Nyamweya", "Caroline Muthoni", "Joseph Wekesa", "Halima Said",
    "Omar Salim", "Winnie Chepngetich", "Patrick Mbugua", "Agnes Kemunto", "Felix Odhiambo",
)
QUEUES = ("Service Desk", "NOC Queue", "Dispatch", "Customer Care L1")
OWNERS = PEOPLE + QUEUES
N_PEOPLE = len(PEOPLE)

REGION_TEAMS: dict[str, tuple[str, ...]] = {
    "Nairobi": ("FS Nairobi West", "FS Nairobi East", "FS Nairobi North", "FS Nairobi South"),
    "Coast": ("FS Coast Mombasa", "FS Coast North", "FS Coast South"),
    "Rift Valley": ("FS Nakuru", "FS Eldoret", "FS Naivasha"),
    "Central": ("FS Thika", "FS Kiambu", "FS Nyeri"),
    "Nyanza": ("FS Kisumu", "FS Kisii"),
    "Western": ("FS Kakamega", "FS Bungoma"),
    "Eastern": ("FS Machakos", "FS Meru"),
    "North Eastern": ("FS Garissa",),
}
SHARED_TEAMS = ("OSP Fibre Crew", "Installations", "Customer Care L2")
NOC_TEAMS = ("NOC L1", "NOC L2", "Transmission NOC")
TEAMS: tuple[str, ...] = (
    tuple(t for ts in REGION_TEAMS.values() for t in ts) + SHARED_TEAMS + NOC_TEAMS
)
TEAM_INDEX = {t: i for i, t in enumerate(TEAMS)}
REGION_TEAM_IDX = {r: tuple(TEAM_INDEX[t] for t in ts) for r, ts in REGION_TEAMS.items()}
SHARED_TEAM_IDX = tuple(TEAM_INDEX[t] for t in SHARED_TEAMS)
NOC_TEAM_IDX = tuple(TEAM_INDEX[t] for t in NOC_TEAMS)


def _variants(
    word: str, upper: int = 2, lower: int = 1, extra: tuple[str, ...] = ()
) -> tuple[str, ...]:
    """A weighted pool of case variants of `word` (canonical ~3/4 of the time)."""
    return (word,) * 9 + (word.upper(),) * upper + (word.lower(),) * lower + extra


TRUE_TEXTS = _variants("true", upper=2, lower=0, extra=("True", "True"))
FALSE_TEXTS = _variants("false", upper=2, lower=0, extra=("False", "False"))
OPEN_STATUS = tuple(_variants(s) for s in ("New", "Assigned", "In Progress", "Pending"))
CLOSED_STATUS = _variants("Resolved") + _variants("Closed")
WITHIN = ("Within SLA",) * 16 + ("Within SLA ", "Within SLA ", "WITHIN SLA", "within sla")
BREACHED = ("Breached",) * 16 + ("BREACHED", "Breached ", "breached")
PRIORITY = ("P1",) + ("P2",) * 4 + ("P3",) * 9 + ("P4",) * 6
ALARM_PRIORITY = ("P1",) * 3 + ("P2",) * 9 + ("P3",) * 6 + ("P4",) * 2
BAD_TIMES = ("not a date", "2026-02-30 10:00:00", "31/06/2026 14:00", "TBC")
