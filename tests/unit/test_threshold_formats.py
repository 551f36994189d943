"""QC thresholds as text (bsmount.controls.threshold_formats): the write commands, JSON and CSV
both ways, merging an ``add``, and a lane's metrics checked against thresholds."""

from __future__ import annotations

import errno
import json

import pytest

from bsmount.controls.threshold_formats import (
    Command,
    evaluate,
    merge,
    parse_command,
    parse_thresholds,
    thresholds_csv,
    thresholds_json,
)
from bsmount.errors import ControlError
from bsmount.tree.lane_layout import overall

PF = {"Name": "PercentPf", "Optional": False, "Operator": "GreaterThanOrEqual",
      "DatasetTypeId": "", "ThresholdValues": [80], "Group": "Lane"}  # fmt: skip
Q30 = {"Name": "PercentGtQ30", "Optional": True, "Operator": "Between",
       "DatasetTypeId": "", "ThresholdValues": [75, 100.5], "Group": "Lane"}  # fmt: skip


def test_commands() -> None:
    assert parse_command(" clear\n") == Command("clear", "")
    assert parse_command("add PercentPf,GreaterThan,1\n") == Command(
        "add", "PercentPf,GreaterThan,1"
    )
    assert parse_command("ADD\n[1]\n") == Command("add", "[1]")
    assert parse_command("Name,Operator\nx,y\n").action == "import"
    assert parse_command("address,Equal,1").action == "import"  # a word starting with add
    for bad in ("", "  \n", "add", "add \n"):
        with pytest.raises(ControlError) as info:
            parse_command(bad)
        assert info.value.errno == errno.EINVAL


def test_json_and_csv_round_trip() -> None:
    items = [PF, Q30]
    assert parse_thresholds(thresholds_json(items).decode()) == items
    csv_text = thresholds_csv(items).decode()
    assert csv_text.splitlines() == [
        "Name,Operator,Values,Group,DatasetTypeId,Optional",
        "PercentPf,GreaterThanOrEqual,80,Lane,,false",
        "PercentGtQ30,Between,75;100.5,Lane,,true",
    ]
    assert parse_thresholds(csv_text) == items
    # one JSON object, a bare list, CSV without a header (columns in the documented order)
    assert parse_thresholds(json.dumps(PF)) == [PF]
    assert parse_thresholds(json.dumps([PF])) == [PF]
    assert parse_thresholds("PercentPf,GreaterThanOrEqual,80,Lane") == [PF]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("PercentPf,Around,80", "Operator 'Around'"),
        ("PercentPf,Between,80", "Between takes 2 value(s), got 1"),
        ("PercentPf,GreaterThan,eighty", "'eighty' is not a number"),
        (",GreaterThan,1", "Name is required"),
        ("Name,Colour\nx,y", "unknown column(s) Colour"),
        ('{"QcThresholds": [{"Name": "x", "Operator": "Equal", "ThresholdValues": [true]}]}',
         "ThresholdValues must be a list of numbers"),
        ('[{"Name": "x", "Operator": "Equal", "ThresholdValues": [1], "Extra": 1}]',
         "unknown field(s) Extra"),
        ("PercentPf,Equal,1\nPercentPf,Equal,2", "given twice"),
        ("{not json", "not valid JSON"),
        ("PercentPf,Equal,1,Lane,,maybe", "Optional must be true or false"),
    ],
)  # fmt: skip
def test_bad_thresholds_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(ControlError) as info:
        parse_thresholds(text)
    assert info.value.errno == errno.EINVAL and reason in str(info.value)


def test_merge_replaces_same_key_and_appends_new() -> None:
    stricter = {**PF, "ThresholdValues": [90]}
    other_group = {**PF, "Group": "Other"}
    assert merge([PF, Q30], [stricter, other_group]) == [stricter, Q30, other_group]


def test_evaluate_and_overall() -> None:
    verdicts = evaluate({"PercentPf": 88.6, "PercentGtQ30": 70.0}, [PF, Q30])
    assert [(v.passed, v.rule) for v in verdicts] == [
        (True, ">= 80"),
        (False, "between 75 and 100.5"),
    ]
    assert overall(verdicts) == "pass"  # only an optional threshold failed
    assert overall(evaluate({"PercentPf": 79.9}, [PF])) == "fail"
    assert overall(evaluate({}, [PF])) == "unknown"
    assert overall([]) == "no thresholds"
