"""The development plan workbook, written from returns filled as a user would fill them."""

from __future__ import annotations

import datetime as dt
import json
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from helpers import DONT_KNOW, fill_workbook
from helpers import answers as build_answers
from office import convert
from python_calamine import CalamineWorkbook

from scoa_xl import plan as P
from scoa_xl import plan_content as C
from scoa_xl.check import check_return
from scoa_xl.cli import main
from scoa_xl.errors import CATALOGUE, Code, InputError
from scoa_xl.generate import generate
from scoa_xl.model import CONTROL_IDS, Identity, Status
from scoa_xl.score import SHORT_LIST
from scoa_xl.spec import load_spec

SPEC = load_spec()
DAY = dt.date(2026, 3, 1)
FORMULA_NOTE = "=1+1"
FORMULA_LINK = '=HYPERLINK("http://x")'
RATING = {c.value: c.label for c in SPEC.rating}
CONTROL = [c.label for c in SPEC.control]


def user_answers(shift: int = 0) -> dict[str, object]:
    """Every kind of answer a council gives: all four control categories, one left blank, boosts yes/no/blank,
    importance chosen or left to the default, "don't know", blanks, and text that looks like a formula."""
    pattern = [1, 2, 4, 5, 3, None, 2, 1, 4]  # None = "Don't know"
    answers = build_answers(
        SPEC, lambda i, f: pattern[(i + shift) % len(pattern)] or DONT_KNOW,
        control=lambda i, f, k: CONTROL[k % 5 % 4] if k % 5 != 4 else None,  # every fifth inhibitor left blank
        boost=lambda i, f, k: None if k % 3 == 2 else ("Yes" if k % 3 == 0 else "No"),
        identity={"council": "Leeds", "council_code": "E08000035", "respondent": "Jo Bloggs; Sam Patel",
                  "organisation": FORMULA_LINK, "date": "2026-02-27"})
    for i, f in enumerate(SPEC.factors):
        if i % 3 == 0:
            answers[f"importance_{f.id}"] = "High"
        elif i % 3 == 1:
            answers[f"importance_{f.id}"] = "Low"
        if i % 4 == 0:
            answers[f"notes_{f.id}"] = FORMULA_NOTE
    for a in SPEC.aspects:
        answers[f"text_{a.id}_discussion"] = f"We discussed {a.name.lower()} at length.\nPartners saw it differently."
        answers[f"text_{a.id}_strengths"] = FORMULA_LINK
        answers[f"text_{a.id}_development"] = FORMULA_NOTE
    for k, m in enumerate(SPEC.models):
        if k != 3:  # one model left unrated
            answers[f"priority_{m.id}"] = SPEC.priority[(k + shift) % 5].label
    return answers


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("plan")
    blank = generate(SPEC, tmp / "blank.xlsx", Identity(), generated_at=DAY)
    this_year = fill_workbook(blank, tmp / "leeds-2026.xlsx", user_answers())
    last_year = fill_workbook(blank, tmp / "leeds-2025.xlsx", user_answers(shift=2))
    plan = P.write_plan(check_return(this_year, SPEC), tmp / "out" / "leeds-plan.xlsx", made_on=DAY)
    with_previous = P.write_plan(check_return(this_year, SPEC), tmp / "out" / "leeds-plan-change.xlsx",
                                 previous=check_return(last_year, SPEC), made_on=DAY)
    empty = P.write_plan(check_return(blank, SPEC), tmp / "out" / "blank-plan.xlsx", made_on=DAY)
    return {"tmp": tmp, "blank": blank, "return": this_year, "last_year": last_year, "plan": plan,
            "with_previous": with_previous, "empty": empty}


@pytest.fixture(scope="module")
def asm(made):
    a = check_return(made["return"], SPEC)
    assert a.status == Status.QUERIES  # formula-like text and a missing category are queries, not errors
    return a


def rows_of(path: Path, sheet: str) -> list[list]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python(skip_empty_area=False)


def test_fill_helper_stores_typed_text_as_text(made):
    ws = openpyxl.load_workbook(made["return"])["System design"]
    cell = ws["G5"]  # notes of the first factor
    assert (cell.value, cell.data_type) == (FORMULA_NOTE, "s")


def test_action_table_has_every_inhibitor_and_every_supporter_marked_for_boosting(made, asm):
    ws = openpyxl.load_workbook(made["plan"])[P.ACTIONS]
    table = ws.tables[P.ACTION_TABLE]
    cells = ws[table.ref]
    header = [c.value for c in cells[0]]
    assert header == list(P.ACTION_HEADERS)
    got = {}
    own = []
    for row in cells[1:]:
        values = dict(zip(header, (c.value for c in row), strict=True))
        if values["Factor id"]:
            got[values["Factor id"]] = values
        else:
            own.append(values)
    # Issue 14: spare rows at the foot for actions tied to no one factor, every cell open.
    assert len(own) == P.SPARE_ACTIONS
    assert all(v["Category"] == P.OWN_ACTION and v["Status"] == P.STATUSES[0] for v in own)
    last = cells[-1]
    assert all(c.protection.locked is False for c in last)
    want = {}
    for a in SPEC.aspects:
        for f in a.factors:
            ans = asm.ret.factors[f.id]
            if ans.rating in (1, 2):
                want[f.id] = SPEC.control_label(ans.control) if ans.control else C.NO_CATEGORY
            elif ans.rating in (4, 5) and ans.boost is True:
                want[f.id] = C.BOOST_CATEGORY
    assert {fid: v["Category"] for fid, v in got.items()} == want
    assert len(cells) - 1 == len(want) + P.SPARE_ACTIONS  # one row each, and the spare rows
    # Every category shows up, so the check above is not vacuous.
    assert set(want.values()) == set(CONTROL) | {C.NO_CATEGORY, C.BOOST_CATEGORY}
    for fid, v in got.items():
        f = SPEC.factor(fid)
        assert v["Aspect"] == SPEC.aspect(f.aspect_id).name
        assert v["Factor"] == f.statement
        assert v["Rating"] == RATING[asm.ret.factors[fid].rating]
        assert v["Status"] == P.STATUSES[0]


def test_action_table_is_ready_to_fill_in(made):
    wb = openpyxl.load_workbook(made["plan"])
    ws = wb[P.ACTIONS]
    # Issue 14: the sheet is left unprotected so that its table can grow (Excel will not grow a table on a
    # protected sheet); the columns from the return are still marked locked, the council's columns open.
    assert not ws.protection.sheet
    header = [c.value for c in ws[P.HEADER_ROW + 1]]
    first = P.HEADER_ROW + 2
    for col, head in enumerate(header, start=1):
        cell = ws.cell(first, col)
        assert cell.protection.locked is (head not in P.ACTION_HEADERS[P.ACTION_INPUTS:]), head
    status_col = openpyxl.utils.get_column_letter(header.index("Status") + 1)
    dvs = [dv for dv in ws.data_validations.dataValidation if status_col in str(dv.sqref)]
    assert len(dvs) == 1 and dvs[0].type == "list"
    assert dvs[0].formula1 == f"'{P.LISTS}'!$A$2:$A${1 + len(P.STATUSES)}"
    assert wb[P.LISTS].sheet_state == "hidden"
    assert [wb[P.LISTS].cell(r, 1).value for r in range(2, 2 + len(P.STATUSES))] == list(P.STATUSES)


def parse_development_plan(path: Path) -> dict[str, dict]:
    """The development plan sheet as {aspect name: {"sections": {title: [ids]}, "groups": {label: {...}}}}."""
    names = {a.name for a in SPEC.aspects}
    ids = {f.id for f in SPEC.factors}
    sections = {P.SECTION_HOLDING_BACK, P.SECTION_SUPPORTING, P.SECTION_BOOST, P.SECTION_BY_CONTROL,
                P.SECTION_UNRATED, P.SECTION_NOTES}
    groups = set(CONTROL) | {C.NO_CATEGORY}
    out: dict[str, dict] = {}
    aspect = section = group = None
    for row in rows_of(path, P.PLAN)[P.HEADER_ROW + 1:]:
        first = row[0]
        if first in names:
            aspect, section, group = first, None, None
            out[aspect] = {"sections": {}, "groups": {}, "notes": {}}
        elif first in sections:
            section, group = first, None
            out[aspect]["sections"][section] = []
        elif section == P.SECTION_BY_CONTROL and first in groups:
            group = first
            out[aspect]["groups"][group] = {"approach": None, "ids": []}
        elif first == P.APPROACH_LABEL and group:
            out[aspect]["groups"][group]["approach"] = row[1]
        elif first in ids:
            if group:
                out[aspect]["groups"][group]["ids"].append(first)
            else:
                out[aspect]["sections"][section].append(first)
        elif section == P.SECTION_NOTES and first:
            out[aspect]["notes"][first] = row[1]
    return out


def test_inhibitors_sit_under_their_control_group_with_its_approach(made, asm):
    parsed = parse_development_plan(made["plan"])
    assert set(parsed) == {a.name for a in SPEC.aspects}
    approach = {c.label: c.approach for c in SPEC.control}
    seen_groups = set()
    for a in SPEC.aspects:
        groups = parsed[a.name]["groups"]
        for f in a.factors:
            ans = asm.ret.factors[f.id]
            if ans.rating not in (1, 2):
                assert all(f.id not in g["ids"] for g in groups.values())
                continue
            label = SPEC.control_label(ans.control) if ans.control in CONTROL_IDS else C.NO_CATEGORY
            assert f.id in groups[label]["ids"], (a.name, f.id)
            assert sum(f.id in g["ids"] for g in groups.values()) == 1
            seen_groups.add(label)
        for label, g in groups.items():
            if label in approach:
                assert g["approach"] == approach[label]
            else:
                assert g["approach"] == C.NO_CATEGORY_APPROACH  # even "not given" says what to do
    assert seen_groups == set(CONTROL) | {C.NO_CATEGORY}


def test_plan_lists_worst_first_weighted_by_importance_and_boosts(made, asm):
    parsed = parse_development_plan(made["plan"])
    order = {f.id: i for i, f in enumerate(SPEC.factors)}

    def pull(fid: str) -> int:
        ans, f = asm.ret.factors[fid], SPEC.factor(fid)
        return abs(3 - ans.rating) * (ans.importance or f.weight)

    for a in SPEC.aspects:
        sections = parsed[a.name]["sections"]
        answers = {f.id: asm.ret.factors[f.id] for f in a.factors}
        inhibitors = [fid for fid, x in answers.items() if x.rating in (1, 2)]
        supporters = [fid for fid, x in answers.items() if x.rating in (4, 5)]
        assert sections[P.SECTION_HOLDING_BACK] == sorted(
            inhibitors, key=lambda fid: (-pull(fid), answers[fid].rating, order[fid]))
        assert sections[P.SECTION_SUPPORTING] == sorted(
            supporters, key=lambda fid: (-pull(fid), -answers[fid].rating, order[fid]))
        assert set(sections[P.SECTION_BOOST]) == {fid for fid in supporters if answers[fid].boost is True}
        unrated = [f.id for f in a.factors if answers[f.id].rating is None]
        assert sections.get(P.SECTION_UNRATED, []) == unrated
        notes = parsed[a.name]["notes"]
        labels = {p.id: p.label for p in SPEC.text_prompts}
        assert notes[labels["discussion"]] == asm.ret.texts[a.id]["discussion"]
        assert notes[labels["strengths"]] == FORMULA_LINK
        assert notes[labels["development"]] == FORMULA_NOTE


def test_model_ranking_matches_the_scores_and_scoa_score(made, asm):
    rows = rows_of(made["plan"], P.FIT)
    header = rows[P.HEADER_ROW]
    assert header == list(P.FIT_HEADERS)
    col = {h: i for i, h in enumerate(header)}
    table = rows[P.HEADER_ROW + 1:P.HEADER_ROW + 1 + len(SPEC.models)]
    cli = CliRunner().invoke(main, ["score", str(made["return"]), "--json"])
    assert cli.exit_code == 0, cli.output
    printed = json.loads(cli.stdout)["models"]
    assert [r[col["Model id"]] for r in table] == [m.id for m in asm.scores.models] == [m["id"] for m in printed]
    for r, m in zip(table, asm.scores.models, strict=True):
        assert r[col["Model"]] == m.name
        assert (None if r[col["Rank"]] == "-" else int(r[col["Rank"]])) == m.rank
        for head, value in (("Fit", m.fit), ("Readiness", m.readiness), ("Priority fit", m.priority_fit)):
            assert (None if r[col[head]] == "" else r[col[head]]) == pytest.approx(value), (m.id, head)
        assert r[col["Why this fit"]] == "\n".join(m.reasons)
        assert r[col["Sensitive to a small change"]] == ("Yes" if m.sensitive else "No")
        assert (r[col["Short list"]] == P.ON_SHORT_LIST) == (m.rank is not None and m.rank <= SHORT_LIST)
    assert sum(r[col["Short list"]] == P.ON_SHORT_LIST for r in table) == SHORT_LIST


def test_risks_of_the_short_listed_models_with_mitigations(made, asm):
    """On a sheet of their own, as a table under a header row that repeats on each printed page: on the Model fit
    sheet, that sheet's own repeated header printed over them."""
    rows = rows_of(made["plan"], P.RISKS)
    assert rows[P.HEADER_ROW][:4] == list(P.RISK_HEADERS)
    got = []
    for r in rows[P.HEADER_ROW + 1:]:
        if not r[1] or not r[2]:
            break
        got.append((int(r[0]), r[1], r[2], r[3]))
    by_id = {m.id: m for m in SPEC.models}
    want = [(m.rank, m.name, k.risk, k.mitigation) for m in asm.scores.models[:SHORT_LIST]
            for k in by_id[m.id].risks]
    assert got == want and want
    ws = openpyxl.load_workbook(made["plan"])[P.RISKS]
    (table,) = ws.tables.values()
    assert table.ref == f"A{P.HEADER_ROW + 1}:D{P.HEADER_ROW + 1 + len(want)}"
    assert not any(r[:4] == list(P.RISK_HEADERS) for r in rows_of(made["plan"], P.FIT))


def test_typed_answers_are_text_never_formulas(made):
    wb = openpyxl.load_workbook(made["plan"])
    found = {FORMULA_NOTE: 0, FORMULA_LINK: 0}
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate}"
                if cell.value in found:
                    assert cell.data_type == "s"
                    found[cell.value] += 1
    assert found[FORMULA_NOTE] > 0 and found[FORMULA_LINK] > 0
    assert wb[P.COVER]["B7"].value == FORMULA_LINK  # the organisation, typed by the council
    with zipfile.ZipFile(made["plan"]) as zf:
        sheets = [n for n in zf.namelist() if n.startswith("xl/worksheets/sheet")]
        assert not any(re.search(r"<f[ >]", zf.read(n).decode("utf-8")) for n in sheets)


def test_what_to_confirm_lists_every_issue(made, asm):
    rows = rows_of(made["plan"], P.CONFIRM)
    assert rows[P.HEADER_ROW][:5] == list(P.CONFIRM_HEADERS)
    got = [tuple(r[:4]) for r in rows[P.HEADER_ROW + 1:] if r[0]]
    assert got == [(i.severity.value.capitalize(), i.sheet, i.cell, i.code.value) for i in asm.issues]
    messages = [r[4] for r in rows[P.HEADER_ROW + 1:] if r[0]]
    assert all(CATALOGUE[Code(code)].fix in msg for (_, _, _, code), msg in zip(got, messages, strict=True))
    assert {Code.TEXT_002.value, Code.ANS_001.value, Code.ANS_006.value} <= {g[3] for g in got}


def test_cover_names_the_council_and_summarises(made, asm):
    rows = rows_of(made["plan"], P.COVER)
    assert rows[0][0] == "Commissioning development plan"
    labels = {r[0]: r[1] for r in rows[3:20] if r[0]}
    assert labels["Council"] == "Leeds"
    assert labels["Respondent(s)"] == "Jo Bloggs; Sam Patel"
    assert labels["Form"] == f"{SPEC.id} version {SPEC.version}"
    assert labels["Overall room for manoeuvre (0-100)"] == pytest.approx(asm.scores.overall_room_for_manoeuvre)
    text = " ".join(str(c) for r in rows for c in r)
    for m in asm.scores.models[:SHORT_LIST]:
        assert m.name in text
    best = max((a for a in asm.scores.aspects if a.room_for_manoeuvre is not None),
               key=lambda a: a.room_for_manoeuvre)
    assert f"most room for manoeuvre in {best.name}" in text
    assert P.CHANGE_COLUMN not in text  # no previous return given


def test_change_since_last_year_per_aspect(made, asm):
    last = check_return(made["last_year"], SPEC)
    rows = rows_of(made["with_previous"], P.COVER)
    top = next(i for i, r in enumerate(rows) if r[0] == P.COVER_TABLE_HEADERS[0])
    header = rows[top]
    col = header.index(P.CHANGE_COLUMN)
    assert header[col - 1] == "Last year"
    checked = 0
    for a, r in zip(asm.scores.aspects, rows[top + 1:top + 1 + len(SPEC.aspects)], strict=True):
        before = last.scores.aspect(a.id).room_for_manoeuvre
        assert r[0] == a.name
        if a.room_for_manoeuvre is not None and before is not None:
            assert r[col] == pytest.approx(a.room_for_manoeuvre - before)
            checked += 1
    assert checked >= 6


def test_print_ready_and_titled(made):
    wb = openpyxl.load_workbook(made["plan"])
    assert wb.sheetnames == [P.COVER, P.PLAN, P.ACTIONS, P.FIT, P.RISKS, P.CONFIRM, P.LISTS]
    for name in wb.sheetnames[:-1]:
        ws = wb[name]
        assert ws["A1"].value and ws["A1"].font.b, name
        assert ws.page_setup.paperSize == 9 and ws.page_setup.orientation == "landscape", name
        # Issue 14: fitted to one page wide where that keeps the print legible; the wide action plan and model
        # fit print at full size over two pages across, with the factor or model repeated on each.
        if name in (P.ACTIONS, P.FIT):
            assert not ws.sheet_properties.pageSetUpPr.fitToPage, name
            assert ws.print_title_cols, name
        else:
            assert ws.sheet_properties.pageSetUpPr.fitToPage, name
            assert ws.page_setup.fitToWidth in (None, 1) and ws.page_setup.fitToHeight == 0, name
        if name != P.COVER:
            assert ws.print_title_rows == f"${P.HEADER_ROW + 1}:${P.HEADER_ROW + 1}", name
        assert not ws.merged_cells.ranges, name  # issue 14: no merged cells anywhere


def test_charts_have_alt_text(made):
    with zipfile.ZipFile(made["plan"]) as zf:
        drawings = [zf.read(n).decode("utf-8") for n in zf.namelist() if n.startswith("xl/drawings/drawing")]
        charts = [zf.read(n).decode("utf-8") for n in zf.namelist() if n.startswith("xl/charts/chart")]
    descriptions = [d for x in drawings for d in re.findall(r'descr="([^"]+)"', x)]
    assert len(descriptions) == 2 and all(len(d) > 40 for d in descriptions)
    assert sorted("radarChart" in c for c in charts) == [False, True]
    assert any("barChart" in c for c in charts)


def test_empty_return_still_gets_a_plan(made):
    rows = rows_of(made["empty"], P.ACTIONS)
    assert rows[P.HEADER_ROW][0].startswith("Nothing to act on yet")
    assert not openpyxl.load_workbook(made["empty"])[P.ACTIONS].tables
    fit = rows_of(made["empty"], P.FIT)
    assert {r[7] for r in fit[P.HEADER_ROW + 1:P.HEADER_ROW + 1 + len(SPEC.models)]} == {"Not scored"}
    assert rows_of(made["empty"], P.RISKS)[P.HEADER_ROW][0].startswith("No model could be scored yet")
    assert rows_of(made["empty"], P.COVER)[3][1] == ""  # no council named: the cell is left blank


def test_write_plan_refuses_a_return_without_scores_and_leaves_the_output_alone(made, tmp_path):
    junk = tmp_path / "junk.xlsx"
    junk.write_text("not a workbook")
    out = tmp_path / "plan.xlsx"
    out.write_bytes(b"earlier plan")
    with pytest.raises(InputError):
        P.write_plan(check_return(junk, SPEC), out)
    assert out.read_bytes() == b"earlier plan"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.xlsx", "plan.xlsx"]


def test_plan_opens_in_libreoffice(made, soffice, tmp_path):
    back = convert([made["plan"], made["with_previous"]], tmp_path / "lo", "xlsx", recalc=False)
    for path in back:
        assert rows_of(path, P.COVER)[0][0] == "Commissioning development plan"
        ws = openpyxl.load_workbook(path)[P.ACTIONS]
        assert P.ACTION_TABLE in ws.tables
        ref = ws.tables[P.ACTION_TABLE].ref
        assert ws[ref.split(":")[0]].value == P.ACTION_HEADERS[0]
        notes = {c.value for row in openpyxl.load_workbook(path)[P.PLAN].iter_rows() for c in row}
        assert FORMULA_NOTE in notes  # still text after LibreOffice re-saved it


# ---------------------------------------------------------------- the command


def test_cli_writes_a_plan_and_mentions_queries(made, tmp_path):
    out = tmp_path / "plan.xlsx"
    result = CliRunner().invoke(main, ["plan", str(made["return"]), "-o", str(out),
                                       "--previous", str(made["last_year"])])
    assert result.exit_code == 0, result.output
    assert str(out) in result.stdout
    assert "queries" in result.stderr and P.CONFIRM in result.stderr
    header = next(r for r in rows_of(out, P.COVER) if r[0] == P.COVER_TABLE_HEADERS[0])
    assert P.CHANGE_COLUMN in header


def test_cli_unreadable_return_exits_1_with_the_error(tmp_path):
    junk = tmp_path / "return.xlsx"
    junk.write_bytes(b"PK\x03\x04 this is not really a workbook")
    out = tmp_path / "plan.xlsx"
    result = CliRunner().invoke(main, ["plan", str(junk), "-o", str(out)])
    assert result.exit_code == 1
    assert "FILE_" in result.stderr and not out.exists()


def test_cli_unknown_form_version_exits_1(made, tmp_path):
    odd = fill_workbook(made["return"], tmp_path / "odd.xlsx", {"meta_spec_version": "9.9"})
    result = CliRunner().invoke(main, ["plan", str(odd), "-o", str(tmp_path / "plan.xlsx")])
    assert result.exit_code == 1
    # 9.9 is newer than the form this copy of scoa knows: the programme team's to fix (SPEC_005).
    assert f"{Code.SPEC_005.value}: {CATALOGUE[Code.SPEC_005].title}" in result.stderr
    assert "'Cover'!A2" in result.stderr
    assert not (tmp_path / "plan.xlsx").exists()


def test_cli_usage_errors_exit_2(made, tmp_path):
    runner = CliRunner()
    assert runner.invoke(main, ["plan", str(made["return"])]).exit_code == 2
    copy = tmp_path / "r.xlsx"
    copy.write_bytes(made["return"].read_bytes())
    result = runner.invoke(main, ["plan", str(copy), "-o", str(copy)])
    assert result.exit_code == 2 and copy.read_bytes() == made["return"].read_bytes()
    helped = runner.invoke(main, ["plan", "-h"])
    assert helped.exit_code == 0 and "Example:" in helped.output and "--previous" in helped.output
