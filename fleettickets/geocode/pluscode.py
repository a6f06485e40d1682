"""Open Location Code ("plus code") decoding, offline, after the published specification.

https://github.com/google/open-location-code/blob/main/Documentation/Specification/specification.md

A full code (`6GCRPR6C+24`) names a cell anywhere on Earth. A short code (`PR6C+24`, often
followed by a place name: `PR6C+24 Kilimani`) drops the first digits and is recovered
against a nearby reference point, here the ticket's cluster centroid. Only codes precise to
a city block or better (at least 8 digits after recovery, ~275 m) are used.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

ALPHABET = "23456789CFGHJMPQRVWX"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
SEPARATOR, SEPARATOR_POSITION, PADDING = "+", 8, "0"
PAIR_CODE_LENGTH, MAX_DIGITS = 10, 15
GRID_COLUMNS, GRID_ROWS = 4, 5
# Integer precision of a 15-digit code, so encoding never suffers floating-point drift.
_PAIR_PRECISION = 20**3
_LAT_PRECISION = _PAIR_PRECISION * GRID_ROWS ** (MAX_DIGITS - PAIR_CODE_LENGTH)
_LNG_PRECISION = _PAIR_PRECISION * GRID_COLUMNS ** (MAX_DIGITS - PAIR_CODE_LENGTH)
MIN_USEFUL_DIGITS = 8

# A code as written in free text: 2-8 digits (maybe 0-padded), '+', then 0-7 digits.
_IN_TEXT = re.compile(
    r"(?<![0-9A-Za-z+])([23456789CFGHJMPQRVWXcfghjmpqrvwx]{2,8}0*\+[23456789CFGHJMPQRVWXcfghjmpqrvwx]*)"
    r"(?![0-9A-Za-z+])"
)


@dataclass(frozen=True)
class CodeArea:
    south: float
    west: float
    north: float
    east: float
    digits: int

    @property
    def latitude(self) -> float:
        return min((self.south + self.north) / 2, 90.0)

    @property
    def longitude(self) -> float:
        return min((self.west + self.east) / 2, 180.0)


def is_valid(code: str) -> bool:
    code = code.upper()
    if code.count(SEPARATOR) != 1:
        return False
    sep = code.index(SEPARATOR)
    if sep > SEPARATOR_POSITION or sep % 2:
        return False
    if PADDING in code:
        if sep < SEPARATOR_POSITION or code.startswith(PADDING):
            return False
        pad = re.search(r"0+", code)
        assert pad is not None
        if len(pad.group()) % 2 or pad.start() % 2 or PADDING in code[pad.end():]:
            return False
        if not code.endswith(SEPARATOR):
            return False
    if len(code) - sep - 1 == 1:
        return False
    return all(c in _VALUE for c in code.replace(SEPARATOR, "").replace(PADDING, ""))


def is_short(code: str) -> bool:
    return is_valid(code) and code.index(SEPARATOR) < SEPARATOR_POSITION


def is_full(code: str) -> bool:
    if not is_valid(code) or is_short(code):
        return False
    code = code.upper()
    if _VALUE[code[0]] * 20 >= 180:  # first latitude digit
        return False
    return not (len(code) > 1 and code[1] in _VALUE and _VALUE[code[1]] * 20 >= 360)


def encode(latitude: float, longitude: float, length: int = PAIR_CODE_LENGTH) -> str:
    if length < 2 or (length < PAIR_CODE_LENGTH and length % 2):
        raise ValueError(f"invalid plus code length {length}")
    length = min(length, MAX_DIGITS)
    latitude = min(max(latitude, -90.0), 90.0)
    longitude = (longitude + 180.0) % 360.0 - 180.0
    lat_val = math.floor(round((latitude + 90.0) * _LAT_PRECISION, 6))
    lng_val = math.floor(round((longitude + 180.0) * _LNG_PRECISION, 6))
    lat_val = min(lat_val, 180 * _LAT_PRECISION - 1)  # the north pole belongs to the cell below it
    grid = ""
    for _ in range(MAX_DIGITS - PAIR_CODE_LENGTH):
        grid = ALPHABET[(lat_val % GRID_ROWS) * GRID_COLUMNS + lng_val % GRID_COLUMNS] + grid
        lat_val //= GRID_ROWS
        lng_val //= GRID_COLUMNS
    pairs = ""
    for _ in range(PAIR_CODE_LENGTH // 2):
        pairs = ALPHABET[lat_val % 20] + ALPHABET[lng_val % 20] + pairs
        lat_val //= 20
        lng_val //= 20
    digits = (pairs + grid)[:length]
    digits = digits.ljust(SEPARATOR_POSITION, PADDING)
    return digits[:SEPARATOR_POSITION] + SEPARATOR + digits[SEPARATOR_POSITION:]


def decode(code: str) -> CodeArea:
    if not is_full(code):
        raise ValueError(f"not a full plus code: {code!r}")
    digits = code.upper().replace(SEPARATOR, "").replace(PADDING, "")[:MAX_DIGITS]
    pair_digits = digits[:PAIR_CODE_LENGTH]
    lat_i = lng_i = 0
    for i in range(0, len(pair_digits), 2):
        lat_i = lat_i * 20 + _VALUE[pair_digits[i]]
        lng_i = lng_i * 20 + _VALUE[pair_digits[i + 1]]
    resolution = 20.0 ** (2 - len(pair_digits) // 2)
    south, west = lat_i * resolution - 90.0, lng_i * resolution - 180.0
    lat_res = lng_res = resolution
    for ch in digits[PAIR_CODE_LENGTH:]:
        row, col = divmod(_VALUE[ch], GRID_COLUMNS)
        lat_res /= GRID_ROWS
        lng_res /= GRID_COLUMNS
        south += row * lat_res
        west += col * lng_res
    return CodeArea(south, west, south + lat_res, west + lng_res, len(digits))


def recover_nearest(short_code: str, ref_latitude: float, ref_longitude: float) -> str:
    """The full code of the cell nearest the reference point that ends with `short_code`."""
    if is_full(short_code):
        return short_code.upper()
    if not is_short(short_code):
        raise ValueError(f"not a short plus code: {short_code!r}")
    code = short_code.upper()
    ref_latitude = min(max(ref_latitude, -90.0), 90.0)
    ref_longitude = (ref_longitude + 180.0) % 360.0 - 180.0
    padding_length = SEPARATOR_POSITION - code.index(SEPARATOR)
    resolution = 20.0 ** (2 - padding_length / 2)
    half = resolution / 2
    area = decode(encode(ref_latitude, ref_longitude)[:padding_length] + code)
    lat, lng = area.latitude, area.longitude
    if ref_latitude + half < lat and lat - resolution >= -90:
        lat -= resolution
    elif ref_latitude - half > lat and lat + resolution <= 90:
        lat += resolution
    if ref_longitude + half < lng:
        lng -= resolution
    elif ref_longitude - half > lng:
        lng += resolution
    return encode(lat, lng, area.digits)


def find_plus_code(text: str | None) -> str | None:
    """The first plausible plus code written in free text (upper-cased), else None.

    Short codes need at least 4 digits before the '+' and 2 after (`PR6C+24`): shorter
    fragments are too easily something else.
    """
    if not text or SEPARATOR not in text:
        return None
    for match in _IN_TEXT.finditer(text):
        code = match.group(1).upper()
        if not is_valid(code):
            continue
        sep = code.index(SEPARATOR)
        if is_full(code) or (is_short(code) and sep >= 4 and len(code) - sep - 1 >= 2):
            return code
    return None


def locate(text: str | None, ref: tuple[float, float] | None) -> tuple[str, CodeArea] | None:
    """(full code, area) for a plus code in `text`; short codes need the reference point.

    None when there is no code, a short code has no reference, or the code is too coarse.
    """
    code = find_plus_code(text)
    if code is None:
        return None
    if is_short(code):
        if ref is None:
            return None
        code = recover_nearest(code, *ref)
    area = decode(code)
    if area.digits < MIN_USEFUL_DIGITS:
        return None
    return code, area
