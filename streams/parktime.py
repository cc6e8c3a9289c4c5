"""Park-local time: "daily" means the calendar day in Asia/Shanghai, from the event time."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

PARK_TZ = ZoneInfo("Asia/Shanghai")


def local_day(moment: datetime) -> date:
    return moment.astimezone(PARK_TZ).date()


def park_time(moment: datetime) -> str:
    """As the park's people read a time: ``2022-05-04 10:15``, Shanghai time."""
    return moment.astimezone(PARK_TZ).strftime("%Y-%m-%d %H:%M")
