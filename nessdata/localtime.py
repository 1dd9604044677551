"""Local calendar days and months of the business time zone, as UTC instants."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

UTC = timezone.utc
HOUR = timedelta(hours=1)
# Instants outside these years are refused on the way in: they are typing errors,
# and the far ends of the calendar break local-day arithmetic (9999-12-31 has no
# next day).
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of a local day, in UTC.

    Where midnight does not exist (a daylight-saving jump at 00:00, as in São Paulo
    until 2019), zoneinfo's fold=0 reading lands on the jump itself, which is exactly
    when the day begins; an ambiguous midnight takes its earlier reading.
    """
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)


def day_bounds(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the local days first..last."""
    return day_start(first, tz), day_start(last + timedelta(days=1), tz)


def local_day(instant: datetime, tz: ZoneInfo) -> date:
    return instant.astimezone(tz).date()


def local_today(tz: ZoneInfo, now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(tz).date()


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def days(first: date, last: date) -> Iterator[date]:
    for n in range((last - first).days + 1):
        yield first + timedelta(days=n)


def days_of_hours(hours: Iterable[datetime], tz: ZoneInfo) -> set[date]:
    """The local days that UTC hours [h, h+1) overlap (two where a day starts
    inside the hour, as in zones with half-hour offsets)."""
    found = set()
    for hour in hours:
        found.add(local_day(hour, tz))
        found.add(local_day(hour + HOUR - timedelta(microseconds=1), tz))
    return found


def runs(sorted_days: Iterable[date], longest: int) -> Iterator[tuple[date, date]]:
    """Split sorted days into runs of consecutive days, each at most `longest` long."""
    first = last = None
    for day in sorted_days:
        if first is not None and day == last + timedelta(days=1) and (
            (day - first).days < longest
        ):
            last = day
            continue
        if first is not None:
            yield first, last
        first = last = day
    if first is not None:
        yield first, last


@dataclass(frozen=True)
class OffsetSpan:
    """Instants [start, end) over which the zone's UTC offset is `offset`."""

    start: datetime
    end: datetime
    offset: timedelta


def offset_spans(start: datetime, end: datetime, tz: ZoneInfo) -> list[OffsetSpan]:
    """Cut [start, end) where the zone's UTC offset changes.

    Offsets are probed hour by hour and each change is pinned to the second by
    bisection: transitions fall on whole minutes in every zone in use.
    """
    spans = []
    span_start, offset = start, start.astimezone(tz).utcoffset()
    probe = start
    while probe < end:
        following = min(probe + HOUR, end)
        next_offset = following.astimezone(tz).utcoffset()
        if next_offset != offset and following < end:
            change = _bisect_change(probe, following, tz, offset)
            spans.append(OffsetSpan(span_start, change, offset))
            span_start, offset = change, next_offset
        probe = following
    spans.append(OffsetSpan(span_start, end, offset))
    return spans


def _bisect_change(low: datetime, high: datetime, tz: ZoneInfo, before) -> datetime:
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle.astimezone(tz).utcoffset() == before:
            low = middle
        else:
            high = middle
    return high
