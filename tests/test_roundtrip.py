"""The heart of the suite: generate → fill as a user would → re-save in the real LibreOffice → read → score.

LibreOffice is given a profile that forces a full recalculation on load, so the live formulas on
"Your scores" and "Models" are computed by LibreOffice itself (openpyxl saves them with no cached
values) and can be held against Python's figures.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import openpyxl
import pytest
from helpers import DONT_KNOW, fill_workbook
from helpers import answers as build_answers
from office import convert
from python_calamine import CalamineWorkbook

from scoa_xl.check import check_return
from scoa_xl.fields import workbook_fields
from scoa_xl.generate import generate
from scoa_xl.model import Identity, Status
from scoa_xl.read import READ_BY_NAMES, parse_ref
from scoa_xl.spec import load_spec

SPEC = load_spec()


def user_answers(seed: int) -> dict[str, object]:
    """A varied, realistic fill: every kind of answer, some left blank, some "don't know"."""
    rnd = random.Random(seed)
    ratings = [c.value for c in SPEC.rating]
    answers = build_answers(
        SPEC, lambda i, f: (lambda v: None if v == "blank" else DONT_KNOW if v is None else v)(
            rnd.choice([*ratings, "blank"])),
        control=lambda i, f, k: rnd.choice([c.label for c in SPEC.control]),
        boost=lambda i, f, k: rnd.choice(["Yes", "No"]),
        identity={"council": "Leeds", "council_code": "E08000035", "respondent": "Jo Bloggs",
                  "organisation": "Leeds City Council", "role": "Head of commissioning", "date": "2026-03-01"})
    for f in SPEC.factors:
        if f"rating_{f.id}" not in answers:
            continue
        if rnd.random() < 0.6:
            answers[f"importance_{f.id}"] = rnd.choice([c.label for c in SPEC.importance])
        if rnd.random() < 0.3:
            answers[f"notes_{f.id}"] = f"Board minutes, March.\nSee the joint plan for {f.id} (p. 4) – “agreed”."
    for a in SPEC.aspects:
        answers[f"text_{a.id}_strengths"] = f"Strong partnership on {a.name.lower()}; long-standing trust."
    for m in SPEC.models:
        if rnd.random() < 0.85:
            answers[f"priority_{m.id}"] = rnd.choice([c.label for c in SPEC.priority])
    return answers


@pytest.fixture(scope="module")
def saved(tmp_path_factory, soffice) -> dict[str, Path]:
    """One return filled by a user, and the same return re-saved by LibreOffice as .xlsx and .ods."""
    tmp = tmp_path_factory.mktemp("roundtrip")
    blank = generate(SPEC, tmp / "blank.xlsx", Identity(), generated_at=dt.date(2026, 1, 5))
    filled = fill_workbook(blank, tmp / "leeds.xlsx", user_answers(7))
    xlsx = convert([filled], tmp / "lo-xlsx", "xlsx")[0]
    ods = convert([filled], tmp / "lo-ods", "ods")[0]
    return {"blank": blank, "filled": filled, "xlsx": xlsx, "ods": ods}


def test_libreoffice_copies_read_back_the_same_answers_and_scores(saved):
    original = check_return(saved["filled"], SPEC)
    assert original.status in (Status.VALID, Status.QUERIES)
    assert original.read_by == READ_BY_NAMES
    assert original.ret.identity.council == "Leeds"
    for key in ("xlsx", "ods"):
        copy = check_return(saved[key], SPEC)
        assert copy.read_by == READ_BY_NAMES, key
        assert copy.ret.identity == original.ret.identity, key
        assert copy.ret.factors == original.ret.factors, key
        assert copy.ret.texts == original.ret.texts, key
        assert copy.ret.priorities == original.ret.priorities, key
        assert copy.scores.to_json() == original.scores.to_json(), key
        assert [(i.location, i.code) for i in copy.issues] == [(i.location, i.code) for i in original.issues], key


def _python_figures(a) -> dict[str, float | None]:
    s = a.scores
    out: dict[str, float | None] = {"rfm_overall": s.overall_room_for_manoeuvre,
                                    "answered_overall": sum(x.answered for x in s.aspects)}
    for x in s.aspects:
        out[f"rfm_{x.id}"] = x.room_for_manoeuvre
        out[f"controllability_{x.id}"] = x.controllability
        out[f"answered_{x.id}"] = x.answered
    for m in s.models:
        out[f"readiness_{m.id}"] = m.readiness
        out[f"priority_fit_{m.id}"] = m.priority_fit
        out[f"fit_{m.id}"] = m.fit
    for fid, v in s.factor_scores.items():
        out[f"score_{fid}"] = v
    return out


@pytest.mark.parametrize("key", ["xlsx", "ods"])
def test_live_formulas_recalculated_by_libreoffice_equal_python(saved, key):
    a = check_return(saved[key], SPEC)
    want = _python_figures(a)
    wb = CalamineWorkbook.from_path(str(saved[key]))
    checked = 0
    mismatches = []
    for f in workbook_fields(saved[key], SPEC):
        if f["name"] not in want:
            continue
        _, row, col = parse_ref(f"'{f['sheet']}'!{f['cell']}")
        live = wb.get_sheet_by_name(f["sheet"]).to_python(skip_empty_area=False)[row][col]
        expected = want[f["name"]]
        shown = None if live == "" else round(float(live), 1)
        if shown != (None if expected is None else round(expected, 1)):
            mismatches.append((f["name"], live, expected))
        checked += 1
    assert checked == len(want)
    assert mismatches == []
    # The figures are really live: at least some aspects and the overall have a score.
    assert want["rfm_overall"] is not None


def test_openpyxl_fill_left_no_cached_values_so_libreoffice_did_the_arithmetic(saved):
    # Guards the test above: the filled file carries formulas without results, so agreement means
    # LibreOffice computed them rather than echoing cached numbers.
    wb = CalamineWorkbook.from_path(str(saved["filled"]))
    rows = wb.get_sheet_by_name("Your scores").to_python(skip_empty_area=False)
    assert all(rows[r][1] in ("", 0, 0.0) for r in range(3, 11))
    formulas = openpyxl.load_workbook(saved["filled"])["Your scores"]["B4"].value
    assert str(formulas).startswith("=IF(COUNT(")


def test_fields_dictionary_survives_a_libreoffice_resave(saved):
    original = workbook_fields(saved["blank"], SPEC)
    assert len(original) == len({f["name"] for f in original})
    for key in ("xlsx", "ods"):
        assert workbook_fields(saved[key], SPEC) == original, key


def test_libreoffice_keeps_the_guard_rails(saved):
    wb = openpyxl.load_workbook(saved["xlsx"])
    aspect = wb[SPEC.aspects[0].sheet]
    assert aspect.protection.sheet
    assert aspect["C5"].protection.locked is False
    assert aspect["B5"].protection.locked is True
    lists = [dv for dv in aspect.data_validations.dataValidation if dv.type == "list"]
    assert {str(r) for dv in lists for r in dv.sqref.ranges} >= {"C5:C10", "D5:D10", "E5:E10", "F5:F10"}
    assert wb["Lists"].sheet_state in ("hidden", "veryHidden")
    assert len(wb.defined_names) >= len(workbook_fields(saved["blank"], SPEC))
