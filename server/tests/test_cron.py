"""services/cron.py: parsing, next fire in a zone, and the documented DST rules (pure, no I/O)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from spooled_server.services.cron import (CronError, TimezoneError, next_fire, parse, parse_timezone,
                                          to_instant)

UTC = timezone.utc
NY = "America/New_York"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def fires(expr: str, zone: str, after: datetime, count: int) -> list[datetime]:
    out = []
    for _ in range(count):
        after = next_fire(expr, zone, after)
        assert after is not None
        out.append(after)
    return out


def local(instant: datetime, zone: str) -> str:
    return instant.astimezone(parse_timezone(zone)).strftime("%Y-%m-%d %H:%M:%S%z")


# -- parsing -------------------------------------------------------------------------------------

@pytest.mark.parametrize("expr,field,values", [
    ("* * * * * *", "seconds", tuple(range(60))),
    ("*/15 * * * * *", "seconds", (0, 15, 30, 45)),
    ("0 5-8 * * * *", "minutes", (5, 6, 7, 8)),
    ("0 0 1,13,22 * * *", "hours", (1, 13, 22)),
    ("0 0 0 */10 * *", "days", (10, 20, 30)),       # divisible by n, not 1,11,21,31
    ("0 0 0 * */3 *", "months", (3, 6, 9, 12)),
    ("0 0 0 * * 0", "weekdays", (0,)),
    ("  0  0 0 * * 6 ", "weekdays", (6,)),          # runs of spaces separate fields
])
def test_parse_fields(expr, field, values):
    assert getattr(parse(expr), field) == values


@pytest.mark.parametrize("expr,problem", [
    ("*/5 * * * *", "expected 6"),
    ("* * * * * * *", "expected 6"),
    ("", "expected 6"),
    ("every day at noon", "expected 6"),
    ("0 0 12 * * MON", "names are not supported"),
    ("0 0 0 1 JAN *", "names are not supported"),
    ("60 * * * * *", "second: 60 is out of range 0-59"),
    ("0 60 * * * *", "minute: 60"),
    ("0 0 24 * * *", "hour: 24"),
    ("0 0 0 0 * *", "day-of-month: 0"),
    ("0 0 0 32 * *", "day-of-month: 32"),
    ("0 0 0 * 13 *", "month: 13"),
    ("0 0 0 * * 7", "day-of-week: 7"),
    ("*/0 * * * * *", "step '0'"),
    ("*/61 * * * * *", "step '61'"),
    ("0 0 0 * * */7", "step '7'"),
    ("5-1 * * * * *", "runs backwards"),
    ("1-5/2 * * * * *", "stepped ranges"),
    ("1,,2 * * * * *", "empty item"),
    ("1-5,9 * * * * *", "is not a number"),
    ("0 0 0 ? * *", "'?' is not supported"),
    ("0 0 0 L * *", "'L' is not supported"),
    ("0 0 0 * * 5#3", "'#' is not supported"),
    ("0 0 0 15W * *", "'W' is not supported"),
    ("-1 * * * * *", "is not a number"),
    ("٣ * * * * *", "is not a number"),             # non-ASCII digits
    ("*\t* * * * *", "expected 6"),                  # fields are separated by spaces only
    ("0 " * 60 + "0", "at most 100 characters"),
])
def test_invalid_expressions_name_the_problem(expr, problem):
    with pytest.raises(CronError, match=problem.replace("*", r"\*").replace("?", r"\?")):
        parse(expr)


def test_extended_mode_accepts_five_fields_and_stepped_ranges():
    five = parse("*/5 9-17 * * 1-5", extended=True)
    assert five.seconds == (0,) and five.minutes == tuple(range(0, 60, 5))
    assert five.hours == tuple(range(9, 18)) and five.weekdays == (1, 2, 3, 4, 5)
    assert parse("1-10/3 * * * * *", extended=True).seconds == (1, 4, 7, 10)
    assert parse("0 0 1-3,20-22/2 * * *", extended=True).hours == (1, 2, 3, 20, 22)
    # A six-field expression means the same in both modes.
    assert parse("0 */5 * * * *", extended=True) == parse("0 */5 * * * *")
    with pytest.raises(CronError, match="expected 5 or 6"):
        parse("* * * *", extended=True)
    with pytest.raises(CronError, match="a step needs a range"):
        parse("5/2 * * * * *", extended=True)


@given(st.text(max_size=60))
def test_parse_never_fails_with_anything_but_cron_error(text):
    try:
        parse(text, extended=True)
    except CronError:
        pass


# -- timezones -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name,offset_hours", [
    ("UTC", 0), ("GMT", 0), ("Etc/UTC", 0), ("Etc/GMT+5", -5), ("Etc/GMT-14", 14),
    ("+05:30", 5.5), ("-03:00", -3), ("+00:00", 0), ("Asia/Kolkata", 5.5), ("Europe/Madrid", 1),
])
def test_timezones_accepted(name, offset_hours):
    zone = parse_timezone(name)
    # 2025-01-15: no DST anywhere listed here.
    assert utc(2025, 1, 15).astimezone(zone).utcoffset() == timedelta(hours=offset_hours)


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", "localtime", "Factory", "../../etc/passwd",
                                  "/etc/localtime", "+19:00", "+5:30", "05:30", "Etc/GMT+13", "utc",
                                  "America/New_York\x00", "x" * 65])
def test_unknown_timezones_rejected(name):
    with pytest.raises(TimezoneError):
        parse_timezone(name)


# -- next fire -----------------------------------------------------------------------------------

def test_next_fire_is_strictly_after():
    assert next_fire("0 * * * * *", "UTC", utc(2025, 1, 1, 10, 0, 0)) == utc(2025, 1, 1, 10, 1)
    assert next_fire("0 * * * * *", "UTC", utc(2025, 1, 1, 9, 59, 59, 999999)) == utc(2025, 1, 1, 10, 0)
    assert next_fire("* * * * * *", "UTC", utc(2025, 1, 1, 10, 0, 0, 500000)) == utc(2025, 1, 1, 10, 0, 1)


def test_day_of_month_and_day_of_week_must_both_match():
    # Friday the 13th only (classic cron would fire on every 13th and every Friday).
    got = fires("0 0 0 13 * 5", "UTC", utc(2025, 1, 1), 3)
    assert got == [utc(2025, 6, 13), utc(2026, 2, 13), utc(2026, 3, 13)]
    assert all(d.weekday() == 4 for d in got)


def test_evaluated_in_the_schedules_zone():
    assert next_fire("0 0 9 * * *", "Asia/Tokyo", utc(2024, 12, 31, 12)) == utc(2025, 1, 1, 0)
    assert next_fire("0 0 9 * * *", "+05:30", utc(2025, 1, 1)) == utc(2025, 1, 1, 3, 30)
    assert next_fire("0 0 9 * * *", "Etc/GMT+5", utc(2025, 1, 1)) == utc(2025, 1, 1, 14)


def test_nothing_within_a_year_is_none():
    assert next_fire("0 0 0 30 2 *", "UTC", utc(2025, 1, 1)) is None
    assert next_fire("0 0 0 29 2 *", "UTC", utc(2025, 3, 1)) is None       # next leap day is 2028
    assert next_fire("0 0 0 29 2 *", "UTC", utc(2027, 6, 1)) == utc(2028, 2, 29)
    assert next_fire("0 0 0 1 1 *", "UTC", utc(9999, 6, 1)) is None         # past datetime's range


def test_naive_after_is_refused():
    with pytest.raises(ValueError):
        next_fire("* * * * * *", "UTC", datetime(2025, 1, 1))


# -- DST (America/New_York: spring forward 2025-03-09 02:00 -> 03:00, fall back 2025-11-02 02:00 -> 01:00)

def test_fall_back_repeated_time_fires_once_at_first_occurrence():
    got = fires("0 30 1 * * *", NY, utc(2025, 11, 1, 12), 3)
    assert [local(t, NY) for t in got] == [
        "2025-11-02 01:30:00-0400",   # first 01:30 (EDT); the second one (EST, 06:30Z) is skipped
        "2025-11-03 01:30:00-0500",
        "2025-11-04 01:30:00-0500"]
    # Asked from between the two occurrences, the next fire is the next day's.
    assert next_fire("0 30 1 * * *", NY, utc(2025, 11, 2, 6, 0)) == utc(2025, 11, 3, 6, 30)


def test_spring_forward_missing_time_fires_once_when_the_gap_ends():
    got = fires("0 30 2 * * *", NY, utc(2025, 3, 8, 12), 3)
    assert [local(t, NY) for t in got] == [
        "2025-03-09 03:00:00-0400",   # 02:30 does not exist that day: 03:00 local, once
        "2025-03-10 02:30:00-0400",
        "2025-03-11 02:30:00-0400"]


def test_spring_forward_gap_collapses_many_times_into_one_fire():
    got = fires("0 * * * * *", NY, utc(2025, 3, 9, 6, 58), 4)
    assert [local(t, NY) for t in got] == [
        "2025-03-09 01:59:00-0500", "2025-03-09 03:00:00-0400",
        "2025-03-09 03:01:00-0400", "2025-03-09 03:02:00-0400"]


def test_fall_back_hour_is_silent_for_every_minute_expressions():
    # Each wall-clock minute 01:00-01:59 occurs twice and fires once, at its first occurrence.
    got = fires("0 * * * * *", NY, utc(2025, 11, 2, 5, 58), 3)
    assert got == [utc(2025, 11, 2, 5, 59), utc(2025, 11, 2, 7, 0), utc(2025, 11, 2, 7, 1)]


def test_to_instant_rules_directly():
    zone = parse_timezone(NY)
    assert to_instant(datetime(2025, 3, 9, 2, 30), zone) == utc(2025, 3, 9, 7)
    assert to_instant(datetime(2025, 11, 2, 1, 30), zone) == utc(2025, 11, 2, 5, 30)
    assert to_instant(datetime(2025, 7, 1, 12, 0), zone) == utc(2025, 7, 1, 16)


def test_southern_hemisphere_dst():
    # Australia/Sydney: clocks go 02:00 -> 03:00 on 2025-10-05, 03:00 -> 02:00 on 2025-04-06.
    syd = "Australia/Sydney"
    assert local(next_fire("0 30 2 * * *", syd, utc(2025, 10, 4, 12)), syd) == "2025-10-05 03:00:00+1100"
    got = fires("0 30 2 * * *", syd, utc(2025, 4, 5, 12), 2)
    assert [local(t, syd) for t in got] == ["2025-04-06 02:30:00+1100", "2025-04-07 02:30:00+1000"]


# -- properties ----------------------------------------------------------------------------------

ZONES = ["UTC", "+05:30", "-09:30", NY, "Europe/London", "Australia/Sydney", "Asia/Kolkata",
         "America/Sao_Paulo", "Pacific/Auckland"]


def _values(low: int, high: int):
    number = st.integers(low, high)
    return st.one_of(
        st.just("*"),
        st.integers(1, high).map(lambda n: f"*/{n}"),
        number.map(str),
        st.tuples(number, number).map(lambda ab: f"{min(ab)}-{max(ab)}"),
        st.lists(number, min_size=1, max_size=4).map(lambda xs: ",".join(map(str, xs))),
    )


# Seconds and minutes vary; the other fields are `*`, so a fire is always within about an hour
# (two across a DST gap) and the brute-force oracle below stays cheap.
frequent = st.tuples(_values(0, 59), _values(0, 59)).map(lambda sm: f"{sm[0]} {sm[1]} * * * *")
instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31),
                        timezones=st.just(UTC))
# Around NY's 2025 transitions, where the interesting cases are.
near_dst = st.sampled_from([utc(2025, 3, 9, 6), utc(2025, 11, 2, 4, 30), utc(2025, 11, 2, 5, 30)]).flatmap(
    lambda base: st.integers(0, 3 * 3600).map(lambda s: base + timedelta(seconds=s)))


def _is_gap_end(instant: datetime, zone) -> bool:
    before = (instant - timedelta(seconds=1)).astimezone(zone).utcoffset()
    return instant.astimezone(zone).utcoffset() > before


def _check(expr: str, zone_name: str, after: datetime) -> None:
    zone = parse_timezone(zone_name)
    cron = parse(expr)
    result = next_fire(expr, zone_name, after)
    assert result is not None and result > after
    wall = result.astimezone(zone).replace(tzinfo=None)
    # It matches on the local clock, or it is the end of a spring-forward gap that swallowed
    # a matching time.
    assert cron.matches(wall) or _is_gap_end(result, zone)
    # No earlier instant fires: none in (after, result) has a matching local time at its first
    # occurrence (fold 0).
    t = after.replace(microsecond=0) + timedelta(seconds=1)
    while t < result:
        seen = t.astimezone(zone)
        assert not (cron.matches(seen.replace(tzinfo=None)) and seen.fold == 0), (expr, zone_name, after, t)
        t += timedelta(seconds=1)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frequent, st.sampled_from(ZONES), instants)
def test_property_next_fire_is_the_first_matching_instant(expr, zone, after):
    _check(expr, zone, after)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frequent, near_dst)
def test_property_first_matching_instant_across_dst(expr, after):
    _check(expr, NY, after)


# Hours and days of the week vary in UTC; stepping minute by minute checks nothing is skipped.
hourly = st.tuples(_values(0, 59), _values(0, 23), _values(0, 6)).map(
    lambda mhd: f"0 {mhd[0]} {mhd[1]} * * {mhd[2]}")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hourly, instants)
def test_property_no_minute_skipped_in_utc(expr, after):
    cron = parse(expr)
    result = next_fire(expr, "UTC", after)
    assert result is not None and result > after and cron.matches(result)
    assume(result - after < timedelta(days=8))
    t = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while t < result:
        assert not cron.matches(t), (expr, after, t)
        t += timedelta(minutes=1)


@settings(max_examples=100, deadline=None)
@given(frequent, st.sampled_from(ZONES), instants)
def test_property_successive_fires_strictly_increase(expr, zone, after):
    first = next_fire(expr, zone, after)
    second = next_fire(expr, zone, first)
    assert second is not None and second > first
