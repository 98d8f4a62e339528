"""A return made from the first layout of form 1.0 (before the answer-check column, the helper columns and the
moved model profiles) reads back exactly as the same answers typed into today's workbook."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
from helpers import fill_workbook

from scoa_xl.check import check_return
from scoa_xl.generate import generate
from scoa_xl.model import Identity
from scoa_xl.read import READ_BY_IDS, READ_BY_NAMES
from scoa_xl.spec import load_spec

SPEC = load_spec()
EARLIER = Path(__file__).parent / "data" / "return-form-1.0-first-layout.xlsx"  # a varied fill, made then
INPUTS = ("identity_", "rating_", "importance_", "control_", "boost_", "notes_", "text_", "priority_")


def earlier_answers() -> dict[str, object]:
    """What was typed into the earlier return, by defined name: to type the same into today's workbook."""
    wb = openpyxl.load_workbook(EARLIER)
    out: dict[str, object] = {}
    for name, dn in wb.defined_names.items():
        if name.startswith(INPUTS):
            (sheet, ref), = list(dn.destinations)
            value = wb[sheet][ref.replace("$", "")].value
            if value not in (None, ""):
                out[name] = value
    assert len(out) > 100  # a real fill, not an empty one
    return out


def _same(a, b) -> None:
    assert a.status == b.status
    assert a.ret.identity == b.ret.identity
    assert a.ret.factors == b.ret.factors
    assert a.ret.texts == b.ret.texts
    assert a.ret.priorities == b.ret.priorities
    assert a.scores.to_json() == b.scores.to_json()
    assert [(i.location, i.code) for i in a.issues] == [(i.location, i.code) for i in b.issues]


def test_a_return_from_the_first_layout_reads_as_today(tmp_path):
    blank = generate(SPEC, tmp_path / "blank.xlsx", Identity(), generated_at=dt.date(2026, 1, 5))
    today = check_return(fill_workbook(blank, tmp_path / "today.xlsx", earlier_answers()), SPEC)
    earlier = check_return(EARLIER, SPEC)
    assert earlier.read_by == today.read_by == READ_BY_NAMES
    _same(earlier, today)


def test_a_return_from_the_first_layout_without_its_names_reads_by_the_ids(tmp_path):
    wb = openpyxl.load_workbook(EARLIER)
    for name in list(wb.defined_names):
        del wb.defined_names[name]
    stripped = tmp_path / "no-names.xlsx"
    wb.save(stripped)
    blank = generate(SPEC, tmp_path / "blank.xlsx", Identity(), generated_at=dt.date(2026, 1, 5))
    today = openpyxl.load_workbook(fill_workbook(blank, tmp_path / "today.xlsx", earlier_answers()))
    for name in list(today.defined_names):
        del today.defined_names[name]
    today.save(tmp_path / "today-no-names.xlsx")
    a, b = check_return(stripped, SPEC), check_return(tmp_path / "today-no-names.xlsx", SPEC)
    assert a.read_by == b.read_by == READ_BY_IDS
    _same(a, b)
