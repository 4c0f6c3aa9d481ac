"""Table-driven checks of the subset matcher (harness/matching.py)."""

import pytest

from harness.matching import PatternError, match

CASES = [
    # pattern, actual, matches
    ({"a": 1}, {"a": 1, "b": 2}, True),
    ({"a": 1}, {"a": 2}, False),
    ({"a": 1}, {}, False),
    ({"a": "$absent"}, {}, True),
    ({"a": "$absent"}, {"a": None}, False),
    ({"a": "$any"}, {"a": None}, True),
    ({"a": "$any"}, {}, False),
    ([1, 2], [1, 2], True),
    ([1, 2], [1, 2, 3], False),
    ([{"id": 1}], [{"id": 1, "x": 0}], True),
    (1, 1.0, True),
    (True, 1, False),
    (None, None, True),
    ("$uuid", "0b4b2cbc-5a5e-4a8f-9d7e-2f6f1d7d2a10", True),
    ("$uuid", "not-a-uuid", False),
    ("$timestamp", "2026-01-01T00:00:00.123456Z", True),
    ("$timestamp", "2026-01-01T00:00:00", False),
    ("$integer", 3, True),
    ("$integer", 3.5, False),
    ("$number", True, False),
    ("$$literal", "$literal", True),
    ({"$len": 2}, [1, 2], True),
    ({"$len": 2}, [1], False),
    ({"$len": {"$lte": 4}}, "abcd", True),
    ({"$len": {"$lte": 4}}, "abcde", False),
    ({"$len": {"$gte": 1, "$lt": 3}}, [1, 2], True),
    ({"$contains": [{"k": 2}]}, [{"k": 1}, {"k": 2}], True),
    ({"$contains": [{"k": 3}]}, [{"k": 1}, {"k": 2}], False),
    ({"$all": {"ok": True}}, [{"ok": True}, {"ok": True}], True),
    ({"$all": {"ok": True}}, [{"ok": True}, {"ok": False}], False),
    ({"$count": {"where": {"n": 1}, "is": 2}}, [{"n": 1}, {"n": 2}, {"n": 1}], True),
    ({"$count": {"where": {"n": 1}, "is": 1}}, [{"n": 1}, {"n": 1}], False),
    ({"$gte": 3, "$lt": 5}, 4, True),
    ({"$gte": 3, "$lt": 5}, 5, False),
    ({"$ne": "a"}, "b", True),
    ({"$ne": "a"}, "a", False),
    ({"$in": [1, 2]}, 2, True),
    ({"$not": {"$len": 0}}, [1], True),
    ({"$regex": "^sp_test_"}, "sp_test_abc", True),
    ({"$regex": "^sp_test_"}, 5, False),
    ({"$instant": "2026-01-01T00:00:00Z"}, "2026-01-01T00:00:00.000000+00:00", True),
    ({"$after": "2026-01-01T00:00:00Z"}, "2026-01-01T00:00:01Z", True),
    ({"$after": "2026-01-01T00:00:00Z"}, "2026-01-01T00:00:00Z", False),
    ({"$after": {"ref": "2026-01-01T00:00:00Z", "min_secs": 59, "max_secs": 90}}, "2026-01-01T00:01:00Z", True),
    ({"$after": {"ref": "2026-01-01T00:00:00Z", "min_secs": 59, "max_secs": 90}}, "2026-01-01T00:02:00Z", False),
    ({"$before": "2026-01-01T00:00:00Z"}, "2025-12-31T23:59:59Z", True),
]


@pytest.mark.parametrize("pattern,actual,ok", CASES)
def test_match(pattern, actual, ok):
    assert (match(pattern, actual) == []) is ok


def test_mismatch_names_the_path():
    problems = match({"jobs": [{"id": "a"}]}, {"jobs": [{"id": "b"}]})
    assert problems and problems[0].startswith("$.jobs[0].id")


@pytest.mark.parametrize("pattern", ["$nope", {"$nope": 1}, {"$len": 1, "key": 2}, "$absent"])
def test_bad_patterns_are_scenario_errors(pattern):
    with pytest.raises(PatternError):
        match(pattern, [1])
