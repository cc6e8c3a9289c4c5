"""The traffic model of DOMAIN.md: daily volumes, the hour-of-day shape, dwell times."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta

FIRST_DAY = date(2022, 4, 1)
DAYS = 39  # 1 April to 9 May 2022
TOTAL_ENTRIES = 11_778
PEAK_ENTRIES = 502

# Share of a day's entries in each hour, in percent (00-23); sums to 100.
HOURLY_PERCENT = (
    0.5,
    0.5,
    0.5,
    0.5,
    0.5,
    1.0,
    5.5,
    7.5,
    9.5,
    9.5,
    9.0,
    7.5,
    5.5,
    7.0,
    8.0,
    7.0,
    6.0,
    4.5,
    3.0,
    2.0,
    1.5,
    1.5,
    1.0,
    1.0,
)
WEEKDAY_FACTOR = (1.02, 1.02, 1.02, 1.02, 1.02, 0.93, 0.90)  # Monday first

DWELL_MEDIAN_H = 2.0
DWELL_P95_H = 5.5
DWELL_CAP_H = 6.0
DWELL_SIGMA = math.log(DWELL_P95_H / DWELL_MEDIAN_H) / 1.6449  # lognormal p95 at z = 1.645


def daily_mean(day: int) -> float:
    """mu(d) = 160 + 315 / (1 + e^(-(d-21)/5)), d = 0 on 1 April."""
    return 160 + 315 / (1 + math.exp(-(day - 21) / 5))


def daily_counts(
    rng: random.Random, total: int = TOTAL_ENTRIES, peak: int = PEAK_ENTRIES, days: int = DAYS
) -> list[int]:
    """Entries per day: the model with weekday factors and lognormal noise (sigma 0.06), mapped
    affinely so that the days sum to exactly ``total`` and the busiest day has exactly ``peak``."""
    raw = [
        daily_mean(d)
        * WEEKDAY_FACTOR[(FIRST_DAY + timedelta(days=d)).weekday()]
        * rng.lognormvariate(0, 0.06)
        for d in range(days)
    ]
    top = max(raw)
    scale = (peak * days - total) / (days * top - sum(raw))
    shift = peak - scale * top
    scaled = [shift + scale * r for r in raw]
    peak_day = raw.index(top)
    counts = [math.floor(x) for x in scaled]
    counts[peak_day] = peak
    # Largest remainders get the rounding units, never lifting another day to the peak.
    missing = total - sum(counts)
    order = sorted(
        (d for d in range(days) if d != peak_day), key=lambda d: scaled[d] - counts[d], reverse=True
    )
    for d in order:
        if missing <= 0:
            break
        if counts[d] + 1 < peak:
            counts[d] += 1
            missing -= 1
    if missing != 0 or min(counts) < 0:
        raise ValueError(f"cannot fit {total} entries with a peak of {peak} into {days} days")
    return counts


def hour_counts(rng: random.Random, n: int) -> list[int]:
    """Split a day's ``n`` entries over the 24 hours by the hourly shape."""
    hours = rng.choices(range(24), weights=HOURLY_PERCENT, k=n)
    return [hours.count(h) for h in range(24)]


def dwell_hours(rng: random.Random, violator: bool) -> float:
    """Time inside the park: lognormal, capped at 6 h; a violator stays 6-8 h."""
    if violator:
        return DWELL_CAP_H + rng.uniform(0.05, 2.0)
    return min(rng.lognormvariate(math.log(DWELL_MEDIAN_H), DWELL_SIGMA), DWELL_CAP_H - 0.01)
