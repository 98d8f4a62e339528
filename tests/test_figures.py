"""One rounding rule: a figure at exactly x.x5 shows the same in the workbook (as LibreOffice displays it), in the
plan's text, in `scoa score` and in the letters, rounded half away from zero as spreadsheets round."""

from __future__ import annotations

import csv
import json

import openpyxl
import pytest
from click.testing import CliRunner
from helpers import fill_workbook
from office import convert

from scoa_xl.check import check_return
from scoa_xl.cli import main
from scoa_xl.figures import rounded, shown
from scoa_xl.generate import generate
from scoa_xl.model import Identity
from scoa_xl.spec import load_spec

SPEC = load_spec()
ASPECT = SPEC.aspects[0]


def test_the_rule_rounds_half_away_from_zero():
    assert [shown(v) for v in (56.25, 56.35, 0.05, -1.25, 12.0, None)] == ["56.3", "56.4", "0.1", "-1.3", "12.0", "-"]
    assert f"{56.25:.1f}" == "56.2"  # what Python's own formatting would have shown
    assert shown(2.5, 0) == "3" and shown(-0.04) == "0.0" and shown(0.25, sign=True) == "+0.3"
    assert rounded(56.25) * 10 == 563


@pytest.fixture(scope="module")
def at_56_25(tmp_path_factory, soffice):
    """A return whose first aspect is exactly 56.25: four factors rated, three 'neither' (50) and one 4 (75),
    all of medium importance."""
    tmp = tmp_path_factory.mktemp("figures")
    blank = generate(SPEC, tmp / "blank.xlsx", Identity("Leeds", "E08000035", "Jo Bloggs", "Leeds City Council"))
    fill = {"identity_date": "2026-03-01"}
    for f, rating in zip(ASPECT.factors, (3, 3, 3, 4), strict=False):
        fill[f"rating_{f.id}"] = SPEC.rating[rating - 1].label
        fill[f"importance_{f.id}"] = SPEC.importance[1].label
    path = fill_workbook(blank, tmp / "leeds.xlsx", fill)
    assert check_return(path, SPEC).scores.aspect(ASPECT.id).room_for_manoeuvre == 56.25
    return {"path": path, "tmp": tmp}


def test_the_workbook_shows_56_3_after_libreoffice_recalculates(at_56_25):
    names = openpyxl.load_workbook(at_56_25["path"], read_only=True).sheetnames
    shown_csv, = convert([at_56_25["path"]], at_56_25["tmp"] / "csv", sheet=(names.index("Your scores") + 1,
                                                                             "Your scores"))
    rows = {r[0]: r for r in csv.reader(shown_csv.open(encoding="utf-8")) if r}
    assert rows[ASPECT.name][1] == "56.3"


def test_scoa_score_shows_56_3_and_keeps_the_number_unrounded(at_56_25):
    table = CliRunner().invoke(main, ["score", str(at_56_25["path"])])
    line, = [ln for ln in table.output.splitlines() if ln.startswith(ASPECT.name)]
    assert line.split()[len(ASPECT.name.split())] == "56.3"
    data = json.loads(CliRunner().invoke(main, ["score", str(at_56_25["path"]), "--json"]).output)
    assert data["aspects"][0]["room_for_manoeuvre"] == 56.25


def test_the_plan_text_and_the_reasons_show_56_3(at_56_25):
    out = at_56_25["tmp"] / "plan.xlsx"
    assert CliRunner().invoke(main, ["plan", str(at_56_25["path"]), "-o", str(out)]).exit_code == 0
    texts = [c for ws in openpyxl.load_workbook(out).worksheets for row in ws.iter_rows(values_only=True)
             for c in row if isinstance(c, str)]
    assert any("Room for manoeuvre: 56.3 out of 100" in t for t in texts)
    assert not any("56.2" in t for t in texts)
    reasons = [r for m in check_return(at_56_25["path"], SPEC).scores.models for r in m.reasons]
    assert any(f"{ASPECT.name} (56.3)" in r for r in reasons) and not any("(56.2)" in r for r in reasons)
