"""Variables: interpolation, built-ins, credentials and save paths (harness/values.py)."""

from datetime import datetime, timezone

import pytest

from harness.values import VariableError, extract, interpolate, parse_timestamp, resolve_credential

VARS = {"job": "j-1", "n": 3, "acme": {"key": "sp_test_x", "id": "org-1"}, "claim": {"jobs": [{"id": "c1"}]}}


def test_whole_reference_keeps_type():
    assert interpolate("${n}", VARS) == 3
    assert interpolate({"a": ["${job}", "${acme}"]}, VARS) == {"a": ["j-1", {"key": "sp_test_x", "id": "org-1"}]}


def test_embedded_reference_becomes_text():
    assert interpolate("w-${job}-${n}", VARS) == "w-j-1-3"


def test_dotted_paths_and_indexes():
    assert interpolate("${acme.id}", VARS) == "org-1"
    assert interpolate("${claim.jobs.0.id}", VARS) == "c1"


def test_builtins():
    assert interpolate("${uuid}", VARS) != interpolate("${uuid}", VARS)
    assert interpolate("${text(5)}", VARS) == "xxxxx"
    later = parse_timestamp(interpolate("${now+1h}", VARS))
    delta = (later - datetime.now(timezone.utc)).total_seconds()
    assert 3590 < delta <= 3600


def test_placeholders_are_not_interpolated():
    assert interpolate({"id": "$uuid"}, VARS) == {"id": "$uuid"}


def test_unknown_variable():
    with pytest.raises(VariableError):
        interpolate("${missing}", VARS)


def test_credentials():
    assert resolve_credential("$acme.key", VARS) == "sp_test_x"
    assert resolve_credential("${acme.key}", VARS) == "sp_test_x"
    assert resolve_credential("literal-key", VARS) == "literal-key"
    assert resolve_credential(None, VARS) is None


@pytest.mark.parametrize("path,value", [("$", {"a": 1}), ("$.a", 1), ("$.jobs[1].id", "b"), ("$[0]", None)])
def test_extract(path, value):
    data = {"a": 1, "jobs": [{"id": "a"}, {"id": "b"}]} if path != "$[0]" else [None]
    assert extract(path, data if path != "$" else {"a": 1}) == value


@pytest.mark.parametrize("path", ["$.missing", "$.jobs[5]", "jobs", "$..a"])
def test_extract_errors(path):
    with pytest.raises(VariableError):
        extract(path, {"jobs": []})
