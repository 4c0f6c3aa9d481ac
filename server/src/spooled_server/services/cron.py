"""Cron expressions and timezones (pure: no I/O, no clock).

Syntax (the contract's, `extended=False`): exactly six space-separated fields

    second(0-59) minute(0-59) hour(0-23) day-of-month(1-31) month(1-12) day-of-week(0-6, 0=Sunday)

each one of `*`, `*/n`, `a-b`, `a,b,c` or a single number. No names (`MON`, `JAN`), no `?`,
`L`, `W` or `#`. Two rules differ from classic cron, as the public Spooled server does:

- `*/n` matches the values divisible by n (`*/5` in day-of-month is 5,10,...,30, not 1,6,...).
- Day-of-month and day-of-week must BOTH match (classic cron fires when EITHER does, if
  both are restricted). `0 0 0 13 * 5` is Friday the 13th only.

`extended=True` also accepts the classic five-field form (minute hour day-of-month month
day-of-week, second = 0), stepped ranges `a-b/n` (a, a+n, ... up to b) and ranges or stepped
ranges inside lists. Every six-field expression means the same in both modes, so stored
expressions are always evaluated with `extended=True`; the mode only decides what a write accepts.

Evaluation happens on the wall clock of the schedule's zone. DST, stated once here:
- Spring forward: a local time that does not exist (02:30 when clocks jump 02:00 -> 03:00)
  fires once, at the first instant after the gap (03:00 local). Several matching times inside
  one gap collapse into that one fire.
- Fall back: a local time that occurs twice (01:30 when clocks go 02:00 -> 01:00) fires once,
  at its first occurrence. So an expression matching every second or minute stays silent
  while the repeated hour replays, instead of firing each wall-clock second twice.
"""

from __future__ import annotations

import re
import zoneinfo
from bisect import bisect_left
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache

UTC = timezone.utc
# "Next run" is searched at most this far ahead; nothing found means next_run_at = null.
SEARCH_HORIZON = timedelta(days=366)
MAX_EXPRESSION_LENGTH = 100

_SECOND = timedelta(seconds=1)
_NUMBER = re.compile(r"[0-9]+")
_OFFSET = re.compile(r"([+-])([0-9]{2}):([0-9]{2})")
_ETC_GMT = re.compile(r"Etc/GMT([+-])([0-9]{1,2})")
# Names zoneinfo lists that are not zones a user means: the host's own zone, and a placeholder.
_NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})


class CronError(ValueError):
    """An expression that cannot be parsed; the message says what is wrong."""


class TimezoneError(ValueError):
    """A timezone name that is neither an IANA zone, UTC/GMT, Etc/GMT±N nor a ±HH:MM offset."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int


_FIELDS = (_Field("second", 0, 59), _Field("minute", 0, 59), _Field("hour", 0, 23),
           _Field("day-of-month", 1, 31), _Field("month", 1, 12), _Field("day-of-week", 0, 6))


@dataclass(frozen=True)
class Cron:
    """A parsed expression: the allowed values of each field, sorted."""

    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: tuple[int, ...]
    months: tuple[int, ...]
    weekdays: tuple[int, ...]

    def matches(self, local: datetime) -> bool:
        """True when the wall-clock time `local` (its own fields, zone ignored) matches."""
        return (local.second in self.seconds and local.minute in self.minutes
                and local.hour in self.hours and self._day_matches(local))

    def _day_matches(self, local: datetime) -> bool:
        # Python's weekday() is Monday=0; cron's is Sunday=0. Both day fields must match.
        return (local.month in self.months and local.day in self.days
                and (local.weekday() + 1) % 7 in self.weekdays)

    def next_local(self, start: datetime, limit: datetime) -> datetime | None:
        """The first matching naive wall-clock second >= start and <= limit."""
        c = start.replace(microsecond=0)
        while c <= limit:
            if c.month not in self.months:
                c = datetime(c.year + (c.month == 12), c.month % 12 + 1, 1)
                continue
            if not self._day_matches(c):
                c = datetime(c.year, c.month, c.day) + timedelta(days=1)
                continue
            hour = _first_at_least(self.hours, c.hour)
            if hour is None:
                c = datetime(c.year, c.month, c.day) + timedelta(days=1)
                continue
            if hour != c.hour:
                c = c.replace(hour=hour, minute=0, second=0)
            minute = _first_at_least(self.minutes, c.minute)
            if minute is None:
                c = c.replace(minute=0, second=0) + timedelta(hours=1)
                continue
            if minute != c.minute:
                c = c.replace(minute=minute, second=0)
            second = _first_at_least(self.seconds, c.second)
            if second is None:
                c = c.replace(second=0) + timedelta(minutes=1)
                continue
            found = c.replace(second=second)
            return found if found <= limit else None
        return None


def _first_at_least(values: tuple[int, ...], value: int) -> int | None:
    i = bisect_left(values, value)
    return values[i] if i < len(values) else None


# -- parsing -------------------------------------------------------------------------------------

def _number(text: str, field: _Field) -> int:
    if not _NUMBER.fullmatch(text):
        if text.isalpha():
            raise CronError(f"{field.name}: '{text}' is not a number (names are not supported)")
        raise CronError(f"{field.name}: '{text}' is not a number")
    value = int(text)
    if not field.low <= value <= field.high:
        raise CronError(f"{field.name}: {value} is out of range {field.low}-{field.high}")
    return value


def _step(text: str, field: _Field) -> int:
    if not _NUMBER.fullmatch(text) or not 1 <= int(text) <= field.high:
        raise CronError(f"{field.name}: step '{text}' must be a number from 1 to {field.high}")
    return int(text)


def _range(text: str, field: _Field, extended: bool) -> list[int]:
    """`n`, `a-b`, or (extended) `a-b/n`."""
    span, slash, step_text = text.partition("/")
    if slash and not extended:
        raise CronError(f"{field.name}: stepped ranges like '{text}' are not supported")
    low_text, dash, high_text = span.partition("-")
    low = _number(low_text, field)
    high = _number(high_text, field) if dash else low
    if low > high:
        raise CronError(f"{field.name}: range '{span}' runs backwards")
    if slash and not dash:
        raise CronError(f"{field.name}: a step needs a range or '*', as in '0-59/{step_text}'")
    return list(range(low, high + 1, _step(step_text, field) if slash else 1))


def _parse_field(text: str, field: _Field, extended: bool) -> tuple[int, ...]:
    for token in ("?", "L", "W", "#"):
        if token in text:
            raise CronError(f"{field.name}: '{token}' is not supported")
    if text == "*":
        return tuple(range(field.low, field.high + 1))
    if text.startswith("*/"):
        step = _step(text[2:], field)
        # The contract's rule: values divisible by the step.
        return tuple(v for v in range(field.low, field.high + 1) if v % step == 0)
    if "," in text:
        values: set[int] = set()
        for part in text.split(","):
            if not part:
                raise CronError(f"{field.name}: empty item in list '{text}'")
            if extended:
                values.update(_range(part, field, extended))
            else:
                values.add(_number(part, field))
        return tuple(sorted(values))
    return tuple(_range(text, field, extended))


def parse(expression: str, *, extended: bool = False) -> Cron:
    """Parses an expression; raises CronError naming the problem."""
    if not isinstance(expression, str):
        raise CronError("cron expression must be a string")
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise CronError(f"cron expression must be at most {MAX_EXPRESSION_LENGTH} characters")
    parts = [part for part in expression.split(" ") if part]
    if extended and len(parts) == 5:
        parts = ["0", *parts]
    if len(parts) != 6:
        allowed = "5 or 6" if extended else "6"
        raise CronError(f"expected {allowed} space-separated fields (second minute hour day-of-month "
                        f"month day-of-week), got {len(parts)}")
    return Cron(*(_parse_field(p, f, extended) for p, f in zip(parts, _FIELDS)))


@lru_cache(maxsize=4096)
def _parse_cached(expression: str) -> Cron:
    return parse(expression, extended=True)


# -- timezones -----------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - _NOT_ZONES


def _fixed_zone(name: str) -> tzinfo | None:
    """±HH:MM, and UTC/GMT/Etc/GMT±N even where the tz database is not installed."""
    offset = _OFFSET.fullmatch(name)
    if offset:
        sign, hours, minutes = offset.groups()
        if int(hours) > 18 or int(minutes) > 59 or (int(hours) == 18 and int(minutes)):
            raise TimezoneError(f"offset '{name}' is out of range -18:00..+18:00")
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        return timezone(-delta if sign == "-" else delta)
    if name in ("UTC", "GMT", "Etc/UTC", "Etc/GMT"):
        return UTC
    etc = _ETC_GMT.fullmatch(name)
    if etc:
        sign, hours = etc.groups()
        if (sign == "+" and int(hours) > 12) or (sign == "-" and int(hours) > 14):
            return None
        # POSIX sign convention: Etc/GMT+5 is five hours BEHIND UTC.
        return timezone(timedelta(hours=-int(hours) if sign == "+" else int(hours)))
    return None


@lru_cache(maxsize=1024)
def parse_timezone(name: str) -> tzinfo:
    """The zone for a schedule's `timezone`; raises TimezoneError for anything unknown."""
    if not isinstance(name, str) or not name or len(name) > 64:
        raise TimezoneError("timezone must be an IANA zone name, UTC, GMT, Etc/GMT±N or ±HH:MM")
    if name in _known_zones():
        return zoneinfo.ZoneInfo(name)
    fixed = _fixed_zone(name)
    if fixed is not None:
        return fixed
    raise TimezoneError(f"unknown timezone '{name}': use an IANA zone name (e.g. Europe/Berlin), "
                        "UTC, GMT, Etc/GMT±N or a ±HH:MM offset")


# -- next fire -----------------------------------------------------------------------------------

def _offset_at(instant: int, zone: tzinfo) -> timedelta:
    return datetime.fromtimestamp(instant, UTC).astimezone(zone).utcoffset()


def _gap_end(before_gap: datetime, after_gap: datetime, zone: tzinfo) -> datetime:
    """The transition instant between two UTC instants on either side of a spring-forward."""
    low, high = int(before_gap.timestamp()), int(after_gap.timestamp())
    target = _offset_at(high, zone)
    while high - low > 1:
        middle = (low + high) // 2
        if _offset_at(middle, zone) == target:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def to_instant(local: datetime, zone: tzinfo) -> datetime:
    """The UTC instant a matching wall-clock time fires at, under the DST rules above."""
    first = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first <= second:
        # Equal: an ordinary time. Earlier: a repeated time; its first occurrence wins.
        return first
    # fold=0 reads a skipped time with the offset before the jump, fold=1 with the one after:
    # the jump itself lies between the two readings.
    return _gap_end(second, first, zone)


def next_fire(expression: str | Cron, zone: str | tzinfo, after: datetime) -> datetime | None:
    """The first fire instant strictly after `after` (aware), in UTC; None if there is none
    within SEARCH_HORIZON. Matching happens on the zone's wall clock."""
    cron = _parse_cached(expression) if isinstance(expression, str) else expression
    tz = parse_timezone(zone) if isinstance(zone, str) else zone
    if after.tzinfo is None:
        raise ValueError("after must be timezone-aware")
    try:
        after_utc = after.astimezone(UTC)
        local = after_utc.astimezone(tz).replace(tzinfo=None, microsecond=0, fold=0)
        limit = local + SEARCH_HORIZON
        candidate = local + _SECOND
        while True:
            found = cron.next_local(candidate, limit)
            if found is None:
                return None
            instant = to_instant(found, tz)
            # Wall-clock order and instant order agree, except that a repeated hour's second
            # pass maps back onto its first; such candidates are not after `after`: skip them.
            if instant > after_utc:
                return instant
            candidate = found + _SECOND
    except (OverflowError, ValueError):  # the horizon runs past year 9999
        return None
