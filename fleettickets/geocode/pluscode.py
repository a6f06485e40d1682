"""Plus codes (Open Location Code) in ticket locations, decoded offline.

The codes themselves are the `openlocationcode` package's (the reference implementation);
this module adds what it lacks: finding a code in free text, recovering a short code
against the ticket's cluster centroid, and a typed area.

A full code (`6GCRPR6C+24`) names a cell anywhere on Earth. A short code (`PR6C+24`, often
followed by a place name: `PR6C+24 Kilimani`) drops the first digits and is recovered
against a nearby reference point. Only codes precise to a city block or better (at least 8
digits after recovery, ~275 m) are used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from openlocationcode import openlocationcode as olc

SEPARATOR = olc.SEPARATOR_
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
    return bool(olc.isValid(code))


def is_short(code: str) -> bool:
    return bool(olc.isShort(code))


def is_full(code: str) -> bool:
    return bool(olc.isFull(code))


def encode(latitude: float, longitude: float, length: int = olc.PAIR_CODE_LENGTH_) -> str:
    return olc.encode(latitude, longitude, length)


def decode(code: str) -> CodeArea:
    area = olc.decode(code)
    return CodeArea(area.latitudeLo, area.longitudeLo, area.latitudeHi, area.longitudeHi, area.codeLength)


def recover_nearest(short_code: str, ref_latitude: float, ref_longitude: float) -> str:
    """The full code of the cell nearest the reference point that ends with `short_code`."""
    return olc.recoverNearest(short_code, ref_latitude, ref_longitude)


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


def needs_reference(text: str | None) -> bool:
    """Whether the text holds a short code, which only a reference point can recover."""
    code = find_plus_code(text)
    return code is not None and is_short(code)


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
