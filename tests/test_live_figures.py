"""The workbook's live figures after the real LibreOffice recalculates them: never impossible, always Python's.

Entries pasted past the dropdowns ("7 - brilliant", "5 wrong text") get no score and are named in words in their
row; entries the reader accepts (any case, the number alone) count as the reader counts them; and the workbook's
ranks are Python's ranks, ties included.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import openpyxl
import pytest
from helpers import fill_workbook
from office import convert
from python_calamine import CalamineWorkbook

from scoa_xl import layout as L
from scoa_xl.check import check_return
from scoa_xl.errors import Code
from scoa_xl.fields import workbook_fields
from scoa_xl.generate import generate
from scoa_xl.model import Identity
from scoa_xl.read import parse_ref
from scoa_xl.spec import load_spec

SPEC = load_spec()
RATING = {c.value: c.label for c in SPEC.rating}
PRIORITY = {c.value: c.label for c in SPEC.priority}
OFF_LIST_CODES = {Code.VAL_001, Code.VAL_002, Code.VAL_003, Code.VAL_004, Code.VAL_005}
IDENTITY = {"identity_council": "Leeds", "identity_council_code": "E08000035", "identity_respondent": "Jo Bloggs",
            "identity_organisation": "Leeds City Council"}


def pasted_answers() -> dict[str, object]:
    """A return with entries pasted past the dropdowns, and entries the reader accepts though they are not labels."""
    answers: dict[str, object] = dict(IDENTITY)
    pattern = [1, 2, 4, 5, 3, 2, 4]
    for i, f in enumerate(SPEC.factors):
        value = pattern[i % len(pattern)]
        answers[f"rating_{f.id}"] = RATING[value]
        if value in (1, 2):
            answers[f"control_{f.id}"] = SPEC.control[i % 4].label
        if value in (4, 5):
            answers[f"boost_{f.id}"] = "Yes"
    for k, m in enumerate(SPEC.models):
        answers[f"priority_{m.id}"] = PRIORITY[1 + k % 5]
    first, second = SPEC.aspects[0].factors, SPEC.aspects[1].factors
    answers.update({
        f"rating_{first[0].id}": "7 - brilliant",  # VALUE(LEFT()) made this 150
        f"rating_{first[1].id}": "5 wrong text",  # ... and this 100
        f"rating_{first[2].id}": "4 - SUPPORTS US",  # the reader takes any case
        f"rating_{first[3].id}": "  2 - Holds us back ",  # and stray spaces
        f"rating_{second[0].id}": 4,  # and the number alone
        f"rating_{second[1].id}": "4*",  # a wildcard: MATCH and COUNTIF would take it for "4 - Supports us"
        f"importance_{second[2].id}": "Very high",
        f"rating_{second[3].id}": RATING[1], f"control_{second[3].id}": "Maybe",
        f"rating_{second[4].id}": RATING[5], f"boost_{second[4].id}": "Perhaps",
        f"priority_{SPEC.models[0].id}": "9 - perfect",
        f"priority_{SPEC.models[1].id}": "4",
    })
    return answers


def tied_answers() -> dict[str, object]:
    """Every factor "3": every aspect, so every readiness, is 50; the models then tie in groups by priority."""
    answers: dict[str, object] = dict(IDENTITY)
    for f in SPEC.factors:
        answers[f"rating_{f.id}"] = RATING[3]
    for k, m in enumerate(SPEC.models):
        if k % 4 != 3:  # some left unrated: those fit on readiness alone, and tie with each other
            answers[f"priority_{m.id}"] = PRIORITY[(4, 2, 4)[k % 4]]
    return answers


@pytest.fixture(scope="module")
def recalculated(tmp_path_factory, soffice) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("live")
    blank = generate(SPEC, tmp / "blank.xlsx", Identity(), generated_at=dt.date(2026, 1, 5))
    pasted = fill_workbook(blank, tmp / "pasted.xlsx", pasted_answers())
    tied = fill_workbook(blank, tmp / "tied.xlsx", tied_answers())
    # The same return from an application that dropped every defined name (some web apps' exports do).
    nameless = openpyxl.load_workbook(pasted)
    for name in list(nameless.defined_names):
        del nameless.defined_names[name]
    nameless.save(tmp / "nameless.xlsx")
    out = convert([pasted, tied, tmp / "nameless.xlsx"], tmp / "lo", "xlsx")  # a full recalculation on load
    return {"pasted": out[0], "tied": out[1], "nameless": out[2], "pasted_before": pasted}


def python_figures(a) -> dict[str, float | None]:
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
        out[f"rank_{m.id}"] = m.rank
    for fid, v in s.factor_scores.items():
        out[f"score_{fid}"] = v
    return out


def live_values(path: Path) -> dict[str, object]:
    wb = CalamineWorkbook.from_path(str(path))
    sheets: dict[str, list[list]] = {}
    out = {}
    for f in workbook_fields(path, SPEC):
        _, row, col = parse_ref(f"'{f['sheet']}'!{f['cell']}")
        if f["sheet"] not in sheets:
            sheets[f["sheet"]] = wb.get_sheet_by_name(f["sheet"]).to_python(skip_empty_area=False)
        out[f["name"]] = sheets[f["sheet"]][row][col]
    return out


def _mismatches(path: Path) -> tuple[list, dict, object]:
    a = check_return(path, SPEC)
    want = python_figures(a)
    live = live_values(path)
    wrong = []
    for name, expected in want.items():
        got = live[name]
        shown = None if got == "" else round(float(got), 1)
        if shown != (None if expected is None else round(expected, 1)):
            wrong.append((name, got, expected))
    return wrong, live, a


def test_pasted_entries_leave_every_live_figure_possible_and_equal_to_python(recalculated):
    wrong, live, a = _mismatches(recalculated["pasted"])
    assert wrong == []
    figures = [v for k, v in live.items() if k.split("_")[0] in ("rfm", "controllability", "score", "readiness",
                                                                "priority", "fit") and k.startswith(tuple(
                                                                    ("rfm_", "controllability_", "score_",
                                                                     "readiness_", "priority_fit_", "fit_")))]
    assert figures and all(v == "" or 0 <= float(v) <= 100 for v in figures)
    first = SPEC.aspects[0].factors
    assert live[f"score_{first[0].id}"] == "" and live[f"score_{first[1].id}"] == ""
    assert live[f"score_{first[2].id}"] == 75 and live[f"score_{first[3].id}"] == 25
    assert live[f"score_{SPEC.aspects[1].factors[0].id}"] == 75
    assert live[f"score_{SPEC.aspects[1].factors[1].id}"] == ""
    assert live[f"priority_fit_{SPEC.models[0].id}"] == ""
    assert live[f"priority_fit_{SPEC.models[1].id}"] == 75


def test_each_off_list_entry_is_named_in_words_in_its_row_and_counted(recalculated):
    path = recalculated["pasted"]
    a = check_return(path, SPEC)
    off = [i for i in a.issues if i.code in OFF_LIST_CODES]
    assert len(off) == 7
    wb = CalamineWorkbook.from_path(str(path))
    checks = {}
    for sheet in [x.sheet for x in SPEC.aspects]:
        rows = wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
        for r in range(L.FIRST_FACTOR_ROW, len(rows)):
            if len(rows[r]) > L.COL_CHECK and rows[r][L.COL_CHECK]:
                checks[f"'{sheet}'!{L.a1(r, L.COL_CHECK)}"] = rows[r][L.COL_CHECK]
    models = wb.get_sheet_by_name(L.MODELS).to_python(skip_empty_area=False)
    for r in range(L.MODEL_FIRST_ROW, L.MODEL_FIRST_ROW + len(SPEC.models)):
        if models[r][L.M_COL_CHECK]:
            checks[f"'{L.MODELS}'!{L.a1(r, L.M_COL_CHECK)}"] = models[r][L.M_COL_CHECK]
    words = {Code.VAL_001: "Rating not on the list", Code.VAL_002: "Importance not on the list",
             Code.VAL_003: "Control not on the list", Code.VAL_004: "Boost answer not on the list",
             Code.VAL_005: "Priority fit not on the list"}
    for i in off:
        row = int("".join(ch for ch in i.cell if ch.isdigit()))
        col = L.M_COL_CHECK if i.sheet == L.MODELS else L.COL_CHECK
        where = f"'{i.sheet}'!{L.col_letter(col)}{row}"
        assert words[i.code] in checks.get(where, ""), (i.location, checks.get(where))
    assert sum("not on the list" in v for v in checks.values()) == len(off)
    # "Your scores" counts them: per aspect sheet, and in all (with the Models sheet).
    live = live_values(path)
    for x in SPEC.aspects:
        assert live[f"offlist_{x.id}"] == sum(i.sheet == x.sheet for i in off), x.id
    assert live["offlist_overall"] == len(off)
    # The inhibitor whose control is off the list is not also asked for a control: the reader reports it once.
    assert not any("Control needed" in v and "Control not on the list" in v for v in checks.values())


def test_tied_fits_get_pythons_ranks_in_the_workbook(recalculated):
    wrong, live, a = _mismatches(recalculated["tied"])
    assert wrong == []
    fits = [m.fit for m in a.scores.models]
    assert len(set(fits)) < len(fits)  # really tied
    ranks = [live[f"rank_{m.id}"] for m in SPEC.models]
    assert sorted(ranks) == list(range(1, len(SPEC.models) + 1))  # no shared rank, no gap
    assert {m.id: m.rank for m in a.scores.models} == {m.id: r for m, r in zip(SPEC.models, ranks, strict=True)}


def test_live_figures_do_not_depend_on_defined_names(recalculated):
    """Issue 14: the formulas use plain cell references, so a copy without any names computes the same figures."""
    with_names, without = recalculated["pasted"], recalculated["nameless"]
    assert not openpyxl.load_workbook(without).defined_names
    names = set(openpyxl.load_workbook(recalculated["pasted_before"]).defined_names)
    wb = openpyxl.load_workbook(recalculated["pasted_before"])
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    tokens = set(re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", re.sub(r'"[^"]*"', "", str(cell.value))))
                    assert not {t.casefold() for t in tokens} & {n.casefold() for n in names}, (ws.title, cell.value)
    a = CalamineWorkbook.from_path(str(with_names))
    b = CalamineWorkbook.from_path(str(without))
    for sheet in [x.sheet for x in SPEC.aspects] + [L.MODELS, L.SCORES]:
        assert a.get_sheet_by_name(sheet).to_python() == b.get_sheet_by_name(sheet).to_python(), sheet
