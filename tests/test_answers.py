"""Every answer counts and every figure agrees: formulas in answer cells, one rounding rule, the form's own
words, councils that are councils, and .ods text kept as typed.

Returns are filled with openpyxl (tests/helpers.py) and then re-saved by the real LibreOffice as .xlsx and
.ods, so each check runs on what the applications really write: openpyxl leaves a formula with no cached
result; LibreOffice keeps the formula and stores what it computed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import json
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
import yaml
from click.testing import CliRunner
from helpers import fill_workbook
from office import convert

from scoa_xl import layout as L
from scoa_xl.check import check_return
from scoa_xl.cli import main
from scoa_xl.errors import CATALOGUE, Code
from scoa_xl.figures import rounded, shown
from scoa_xl.generate import generate
from scoa_xl.model import Identity, Status
from scoa_xl.plan import write_plan
from scoa_xl.render import environment as render_env
from scoa_xl.resources import default_spec_path
from scoa_xl.sheetxml import _from_of, formula_text, xlsx_formulas
from scoa_xl.spec import load_spec

SPEC = load_spec()
FIELDS = {f.name: f for f in L.build_layout(SPEC).fields}
F = SPEC.factors
M = SPEC.models
SD = SPEC.aspects[0]
DAY = dt.date(2026, 1, 5)

LINK = '=HYPERLINK("http://x","click")'
FORMULAS = {f"notes_{F[0].id}": LINK, f"rating_{F[1].id}": "=2+2", "identity_respondent": '="Jo"&" Bloggs"',
            f"text_{SD.id}_strengths": "=1+1", f"importance_{F[2].id}": "=3", f"priority_{M[0].id}": "=4"}


def at(name: str) -> str:
    f = FIELDS[name]
    return f"'{f.sheet}'!{f.cell}"


def base_answers() -> dict[str, object]:
    """A return with nothing to query: every factor rated, inhibitors categorised, supporters answered."""
    answers: dict[str, object] = {"identity_council": "Leeds", "identity_council_code": "E08000035",
                                  "identity_respondent": "Jo Bloggs", "identity_organisation": "Leeds City Council",
                                  "identity_role": "Head of commissioning", "identity_date": "2026-03-01"}
    for i, f in enumerate(F):
        value = i % 5 + 1
        answers[f"rating_{f.id}"] = SPEC.rating[value - 1].label
        if value <= 2:
            answers[f"control_{f.id}"] = SPEC.control[i % 4].label
        if value >= 4:
            answers[f"boost_{f.id}"] = SPEC.boost[i % 2].label
    for a in SPEC.aspects:
        answers[f"text_{a.id}_strengths"] = f"Good joint work on {a.name.lower()}."
    for i, m in enumerate(M):
        answers[f"priority_{m.id}"] = SPEC.priority[i % 5].label
    return answers


EDITED = "Partners NEVER plan together for our place."


def statement_cell(factor_id: str) -> tuple[str, str]:
    f = FIELDS[f"rating_{factor_id}"]
    return f.sheet, L.a1(f.row, L.COL_STATEMENT)


def model_cell(model_id: str) -> tuple[str, str]:
    f = FIELDS[f"priority_{model_id}"]
    return f.sheet, L.a1(f.row, L.M_COL_NAME)


def overwrite(path: Path, cells: dict[tuple[str, str], str]) -> Path:
    """Type over cells of the form itself (its statements, its model names), as a user might."""
    wb = openpyxl.load_workbook(path)
    for (sheet, ref), text in cells.items():
        wb[sheet][ref].value = text
        wb[sheet][ref].data_type = "s"
    wb.save(path)
    return path


def rounding_answers() -> dict[str, object]:
    """System design at exactly 56.25: four of six factors rated 4, 4, 3, 2 (75, 75, 50, 25), all Medium."""
    answers = base_answers()
    for f in SD.factors:
        for kind in ("rating", "importance", "control", "boost"):
            answers.pop(f"{kind}_{f.id}", None)
    for f, rating in zip(SD.factors, (4, 4, 3, 2), strict=False):
        answers[f"rating_{f.id}"] = SPEC.rating[rating - 1].label
        answers[f"importance_{f.id}"] = "Medium"
        if rating == 2:
            answers[f"control_{f.id}"] = SPEC.control[0].label
        if rating == 4:
            answers[f"boost_{f.id}"] = "Yes"
    return answers


@pytest.fixture(scope="module")
def blank(tmp_path_factory) -> Path:
    return generate(SPEC, tmp_path_factory.mktemp("blank") / "blank.xlsx", Identity(), generated_at=DAY)


@pytest.fixture(scope="module")
def returns(tmp_path_factory, blank, soffice) -> dict[str, dict[str, Path]]:
    """Each planted return as filled by openpyxl, and as LibreOffice re-saved it in .xlsx and .ods."""
    tmp = tmp_path_factory.mktemp("answers")
    made = {}
    answers = base_answers()
    for name in FORMULAS:
        answers.pop(name, None)
    made["formulas"] = fill_workbook(blank, tmp / "formulas.xlsx", answers, FORMULAS)
    made["rounding"] = fill_workbook(blank, tmp / "rounding.xlsx", rounding_answers())
    made["wording"] = overwrite(fill_workbook(blank, tmp / "wording.xlsx", base_answers()),
                                {statement_cell(F[3].id): EDITED, model_cell(M[2].id): "Small government, big society"})
    names = list(made)
    xlsx = convert([made[n] for n in names], tmp / "lo-xlsx", "xlsx")
    ods = convert([made[n] for n in names], tmp / "lo-ods", "ods")
    found = {n: {"openpyxl": made[n], "xlsx": x, "ods": o} for n, x, o in zip(names, xlsx, ods, strict=True)}
    # Saved as Excel 97-2003 (.xls) by LibreOffice: its formulas are kept only in their coded form.
    found["formulas"]["xls"] = convert([made["formulas"]], tmp / "lo-xls", "xls:MS Excel 97")[0]
    return found


SAVED_BY = ["openpyxl", "xlsx", "ods"]
WITH_XLS = [*SAVED_BY, "xls"]


# --- 1. a formula is never an answer, and never lost --------------------------------------------------------------


@pytest.mark.parametrize("saved_by", WITH_XLS)
def test_a_formula_in_any_answer_cell_is_reported_at_its_cell(returns, saved_by):
    a = check_return(returns["formulas"][saved_by], SPEC)
    got = sorted((i.location, i.code.value) for i in a.issues if i.code != Code.FILE_007)  # .xls: "save as .xlsx"
    assert got == sorted([(at(f"notes_{F[0].id}"), "FORMULA_001"), (at(f"text_{SD.id}_strengths"), "FORMULA_001"),
                          (at(f"rating_{F[1].id}"), "FORMULA_002"), (at("identity_respondent"), "FORMULA_002"),
                          (at(f"importance_{F[2].id}"), "FORMULA_002"), (at(f"priority_{M[0].id}"), "FORMULA_002")])
    assert a.status == Status.INVALID
    by_cell = {i.location: i for i in a.issues}
    link = by_cell[at(f"notes_{F[0].id}")]
    assert link.found.startswith(f"the formula {LINK}")
    assert link.fix == CATALOGUE[Code.FORMULA_001].fix
    rating = by_cell[at(f"rating_{F[1].id}")]
    assert rating.found.startswith("the formula =2+2")
    if saved_by != "openpyxl":  # LibreOffice stored what it computed; it is said, never taken
        assert rating.found == 'the formula =2+2, which shows "4"'
        assert link.found == f'the formula {LINK}, which shows "click"'


@pytest.mark.parametrize("saved_by", WITH_XLS)
def test_a_text_answer_keeps_the_formula_text_and_a_choice_is_never_computed(returns, saved_by):
    a = check_return(returns["formulas"][saved_by], SPEC)
    assert a.ret.factors[F[0].id].evidence == LINK  # the URL is kept, not "click", not blank
    assert a.ret.texts[SD.id]["strengths"] == "=1+1"
    assert a.ret.factors[F[1].id].rating is None  # never 4
    assert a.ret.factors[F[2].id].importance is None
    assert a.ret.priorities[M[0].id] is None
    assert a.ret.identity.respondent == ""
    # No second issue for the same cell ("found a blank cell", "no priority fit given").
    assert not {i.code for i in a.issues} & {Code.ID_002, Code.ANS_006, Code.TEXT_002}


def test_formula_text_reaches_plan_letter_and_summary_as_plain_text(returns, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "leeds.xlsx").write_bytes(returns["formulas"]["xlsx"].read_bytes())
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["batch", str(folder), "-o", str(out), "--json", "--quiet"])
    assert result.exit_code == 1, result.output  # the return has errors
    files = json.loads(result.stdout)["files"]
    assert [f["status"] for f in files] == ["invalid"]
    letters = list(out.rglob("*.txt"))
    assert any(LINK in p.read_text(encoding="utf-8") for p in letters)
    plans = [p for p in out.rglob("*.xlsx") if p.name != "summary.xlsx"]
    assert plans
    for book in [*plans, out / "summary.xlsx"]:
        wb = openpyxl.load_workbook(book)
        seen = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row
                if isinstance(c.value, str) and "HYPERLINK" in c.value]
        assert seen, book.name
        assert all(c.data_type == "s" for c in seen), book.name
        with zipfile.ZipFile(book) as zf:
            for part in zf.namelist():
                if part.startswith("xl/worksheets/sheet"):
                    live = re.findall(rb"<(?:\w+:)?f(?:\s[^>]*)?>(.*?)</(?:\w+:)?f>", zf.read(part), re.S)
                    assert not [f for f in live if b"HYPERLINK" in f], (book.name, part)


def test_a_filled_down_formula_is_read_at_every_cell_it_covers():
    # Excel writes a formula filled down as one "shared" master and children that only point at it.
    xml = (b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
           b'<row r="5"><c r="C5"><f t="shared" ref="C5:C7" si="0">A5+1</f><v>2</v></c>'
           b'</row><row r="6"><c r="C6"><f t="shared" si="0"/><v>3</v></c></row>'
           b'<row r="7"><c r="B7"/><c r="C7" t="str"><f>"a&amp;b"</f><v>a&amp;b</v></c><c r="D7" t="s"><v>1</v></c>'
           b'</row></sheetData></worksheet>')
    got = {k: formula_text(v) for k, v in xlsx_formulas(xml).items()}
    assert got == {(4, 2): "=A5+1", (5, 2): "=A6+1", (6, 2): '="a&b"'}
    # Cells written without references take the slow, exact way and give the same answer.
    assert {k: formula_text(v) for k, v in xlsx_formulas(xml.replace(b' r="C7"', b"")).items()} == got


def test_an_ods_formula_is_shown_as_a_user_would_type_it():
    assert _from_of('of:=HYPERLINK("http://x";"a;b")') == '=HYPERLINK("http://x","a;b")'
    assert _from_of("of:=SUM([.C5:.C7])+['System design'.$D$5]") == "=SUM(C5:C7)+'System design'!$D$5"


# --- 3. one rounding rule -----------------------------------------------------------------------------------------


def test_the_rounding_rule_is_half_away_from_zero_on_the_decimal_shown():
    assert [shown(x) for x in (56.25, 0.05, -0.05, 48.45, 100.0, -0.04)] == \
        ["56.3", "0.1", "-0.1", "48.5", "100.0", "0.0"]
    assert f"{56.25:.1f}" == "56.2"  # what Python's own formatting would have shown
    assert shown(12.5, 0) == "13" and shown(None) == "-" and shown(12.25, sign=True) == "+12.3"
    assert float(rounded(56.25)) == 56.3
    assert render_env().from_string("{{ 56.25|figure }}|{{ 2.5|figure(0) }}").render() == "56.3|3"


def _strings(book: Path) -> list[str]:
    wb = openpyxl.load_workbook(book)
    return [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)]


def test_an_aspect_at_exactly_56_25_shows_56_3_in_the_workbook_the_plan_and_scoa_score(returns, tmp_path):
    path = returns["rounding"]["xlsx"]  # recalculated by LibreOffice
    a = check_return(path, SPEC)
    assert a.scores.aspect(SD.id).room_for_manoeuvre == 56.25

    # The workbook: LibreOffice stored 56.25 under the number format 0.0, and shows it as 56.3.
    cell = FIELDS[f"rfm_{SD.id}"]
    ws = openpyxl.load_workbook(path, data_only=True)[cell.sheet]
    assert ws[cell.cell].value == 56.25 and ws[cell.cell].number_format == "0.0"
    page = convert([path], tmp_path / "html", "html")[0].read_text(encoding="utf-8", errors="replace")
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))
    assert f"{SD.name} 56.3 4 6" in text

    # scoa score: the table shows 56.3; the JSON keeps the figure unrounded.
    runner = CliRunner()
    table = runner.invoke(main, ["score", str(path)])
    assert table.exit_code == 0, table.output
    line = next(x for x in table.stdout.splitlines() if x.startswith(SD.name))
    assert line.split()[len(SD.name.split())] == "56.3"
    as_json = json.loads(runner.invoke(main, ["score", str(path), "--json"]).stdout)
    assert as_json["aspects"][0]["room_for_manoeuvre"] == 56.25
    reasons = [r for m in a.scores.models for r in m.reasons if f"{SD.name} (" in r]
    assert reasons and all(f"{SD.name} (56.3)" in r for r in reasons)

    # The plan's text.
    plan = write_plan(a, tmp_path / "plan.xlsx", made_on=DAY)
    strings = _strings(plan)
    assert f"Room for manoeuvre: 56.3 out of 100; 4 of {len(SD.factors)} factors rated" in " ".join(strings)
    assert not [x for x in strings if "56.2" in x]


# --- 5. the form's own words ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("saved_by", SAVED_BY)
def test_a_changed_statement_or_model_name_is_a_query_showing_both_wordings(returns, saved_by):
    a = check_return(returns["wording"][saved_by], SPEC)
    got = [(i.location, i.code.value) for i in a.issues]
    sheet, ref = statement_cell(F[3].id)
    msheet, mref = model_cell(M[2].id)
    assert got == [(f"'{sheet}'!{ref}", "WORD_001"), (f"'{msheet}'!{mref}", "WORD_001")]
    assert a.status == Status.QUERIES
    assert a.issues[0].found == f'"{EDITED}"'
    assert a.issues[0].expected == f'the form\'s wording: "{F[3].statement}"'
    assert M[2].name in a.issues[1].expected and "big society" in a.issues[1].found
    assert a.ret.factors[F[3].id].rating is not None  # still read, and scored against the form's wording


def test_a_fingerprint_mismatch_names_the_factors_whose_wording_differs(returns, tmp_path):
    data = yaml.safe_load(default_spec_path().read_text(encoding="utf-8"))
    data["aspects"][0]["factors"][0]["statement"] = "Partners plan together for our place as one whole system."
    (tmp_path / "reworded.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True),
                                            encoding="utf-8")
    reworded = load_spec(tmp_path / "reworded.yaml")
    assert reworded.version == SPEC.version and reworded.fingerprint != SPEC.fingerprint
    a = check_return(returns["wording"]["ods"], reworded)
    by_code = {}
    for i in a.issues:
        by_code.setdefault(i.code.value, []).append(i)
    (fp,) = by_code["SPEC_004"]
    assert fp.found.endswith(f"the wording differs for factors {F[0].id}, {F[3].id}")
    assert {i.location for i in by_code["WORD_001"]} >= {f"'{SD.sheet}'!B5"}
    # Where no statement differs, the query says the change lies elsewhere.
    untouched = check_return(returns["formulas"]["openpyxl"], dataclasses.replace(SPEC, fingerprint="0" * 16))
    (fp,) = [i for i in untouched.issues if i.code == Code.SPEC_004]
    assert "no factor statement in the return differs" in fp.found


# --- 7. smaller items ----------------------------------------------------------------------------------------------


def test_a_return_from_a_newer_form_tells_the_programme_team_to_update(returns, tmp_path):
    data = yaml.safe_load(default_spec_path().read_text(encoding="utf-8"))
    major, minor = (SPEC.version.split(".") + ["0"])[:2]
    data["version"] = f"{major}.{int(minor) + 1}"
    (tmp_path / "newer.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    newer = load_spec(tmp_path / "newer.yaml")
    path = fill_workbook(generate(newer, tmp_path / "newer-blank.xlsx", Identity(), generated_at=DAY),
                         tmp_path / "newer.xlsx", base_answers())
    a = check_return(path, SPEC)
    assert [(i.location, i.code.value) for i in a.issues] == [("'Cover'!A2", "SPEC_005")]
    assert a.issues[0].found == f"version {newer.version}"
    assert "update scoa" in a.issues[0].fix and "--spec" in a.issues[0].fix
    assert "ask the programme team for the current workbook" not in a.issues[0].message.lower()
    assert check_return(path, newer).status == Status.VALID  # given the spec that made it, it reads


TYPED = "Good<text:tab/>joint<text:s text:c=\"3\"/>work<text:line-break/>on <text:span>system</text:span> design."


def test_ods_text_keeps_tabs_line_breaks_and_runs_of_spaces(returns, tmp_path):
    src = returns["rounding"]["ods"]
    plain = f"<text:p>Good joint work on {SD.name.lower()}.</text:p>".encode()
    with zipfile.ZipFile(src) as zf:
        content = zf.read("content.xml")
        assert content.count(plain) == 1
        typed = TYPED.replace("system design", SD.name.lower()).encode()
        content = content.replace(plain, b"<text:p>" + typed + b"</text:p><text:p>Second paragraph.</text:p>")
        path = tmp_path / "typed.ods"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
            for info in zf.infolist():  # mimetype first and stored, as ODF requires
                data = content if info.filename == "content.xml" else zf.read(info.filename)
                out.writestr(info, data, compress_type=info.compress_type)
    a = check_return(path, SPEC)
    assert a.ret.texts[SD.id]["strengths"] == "Good\tjoint   work\non system design.\nSecond paragraph."
    # Only text cells are read this way; everything else is as calamine read it.
    assert a.ret.factors == check_return(src, SPEC).ret.factors
