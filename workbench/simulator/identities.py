"""Synthetic people, plates and places. ID numbers are well-formed (GB 11643 checksums) but made
up: region codes and birth dates are drawn at random, so they belong to nobody in particular."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from schemas.people import id_check_char

# Origin regions: (region code, name). The first is local (the park's own district).
LOCAL_REGION = ("310116", "上海市金山区")
OTHER_REGIONS = (
    ("330402", "浙江省嘉兴市南湖区"),
    ("330482", "浙江省平湖市"),
    ("320505", "江苏省苏州市虎丘区"),
    ("320583", "江苏省昆山市"),
    ("340104", "安徽省合肥市蜀山区"),
    ("370602", "山东省烟台市芝罘区"),
    ("310112", "上海市闵行区"),
    ("310120", "上海市奉贤区"),
)
PLATE_PREFIXES = ("沪A", "沪B", "沪D", "浙F", "浙B", "苏E", "苏A", "皖A", "鲁F")
PLATE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
CARGOES = (
    ("UN1203", "3"),  # petrol
    ("UN1230", "3"),  # methanol
    ("UN1090", "3"),  # acetone
    ("UN1294", "3"),  # toluene
    ("UN1005", "2.3"),  # ammonia
    ("UN1017", "2.3"),  # chlorine
    ("UN1075", "2.1"),  # LPG
    ("UN1789", "8"),  # hydrochloric acid
    ("UN1830", "8"),  # sulphuric acid
    ("UN2031", "8"),  # nitric acid
)


@dataclass(frozen=True)
class Person:
    id_number: str
    phone: str


def person(rng: random.Random, region_code: str) -> Person:
    born = date(1962, 1, 1) + timedelta(days=rng.randrange(365 * 38))
    first17 = f"{region_code}{born:%Y%m%d}{rng.randrange(1000):03d}"
    phone = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
    return Person(first17 + id_check_char(first17), phone)


def plate(rng: random.Random) -> str:
    return rng.choice(PLATE_PREFIXES) + "".join(rng.choices(PLATE_ALPHABET, k=5))
