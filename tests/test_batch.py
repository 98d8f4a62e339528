"""A programme team's messy folder of returns, batched: every file accounted for, nothing touched."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from helpers import answers as build_answers
from helpers import fill_workbook
from office import convert
from python_calamine import CalamineWorkbook

from scoa_xl.batch import run_batch
from scoa_xl.check import check_return
from scoa_xl.cli import main
from scoa_xl.errors import CATALOGUE, Code, InputError
from scoa_xl.fileio import safe_filename
from scoa_xl.generate import generate
from scoa_xl.issuing import issue_workbooks
from scoa_xl.layout import build_layout
from scoa_xl.model import Identity, Status
from scoa_xl.results import FileRecord
from scoa_xl.spec import load_spec

SPEC = load_spec()
DAY = dt.date(2026, 1, 12)
RATING = {c.value: c.label for c in SPEC.rating}
CONTROL = [c.label for c in SPEC.control]
PRIORITY = [c.label for c in SPEC.priority]
REGISTER = [("Leeds", "E08000035", "Yorkshire and The Humber"), ("Manchester", "E08000003", "North West"),
            ("Kent", "E10000016", "South East"), ("Camden", "E09000007", "London"),
            ("Birmingham", "E08000025", "West Midlands"), ("Cornwall", "E06000052", "South West"),
            ("Norfolk", "E10000020", "East of England"), ("Derbyshire", "E10000007", "East Midlands")]
CODES = {name: code for name, code, _ in REGISTER}


def answers(council: str, respondent: str, date: str, *, shift: int = 0, share: int = 10) -> dict[str, object]:
    """A complete, consistent return (every inhibitor categorised, every supporter answered); with share < 10
    only that many factors in ten are rated, as in a half-filled return."""
    pattern = [4, 2, 5, 3, 1, 4, 3]
    out = build_answers(SPEC, lambda i, f: pattern[(i + shift) % len(pattern)] if i % 10 < share else None,
                        control=lambda i, f, k: CONTROL[(i + shift) % 4],
                        boost=lambda i, f, k: "Yes" if i % 2 else "No",
                        identity={"council": council, "council_code": CODES.get(council, ""), "respondent": respondent,
                                  "organisation": f"{council} council", "date": date})
    for k, m in enumerate(SPEC.models):
        out[f"priority_{m.id}"] = PRIORITY[(k + shift) % 5]
    return out


def tree_hashes(folder: Path) -> dict[str, str]:
    """Every entry under folder (links as links) with a digest of its bytes."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if p.is_symlink():
            out[rel] = "link:" + os.readlink(p)
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            out[rel] = "dir"
    return out


EXPECTED = {
    "leeds.xlsx": Status.VALID,
    "leeds-icb.xlsx": Status.VALID,  # the same issued workbook, another respondent: kept apart, counted
    "leeds_copy.xlsx": Status.DUPLICATE,
    "manchester.xlsx": Status.SUPERSEDED,
    "resubmitted/manchester v2.xlsx": Status.VALID,
    "kent.xlsx": Status.QUERIES,  # half filled
    "errors.xlsx": Status.INVALID,
    "old-form.xlsx": Status.INVALID,
    "broken.xlsx": Status.UNREADABLE,
    "fake.xlsx": Status.UNREADABLE,  # a PDF with a spreadsheet's name
    "camden.xlsx.download": Status.VALID,  # a workbook with the browser's name: read by its content
    "notes.txt": Status.SKIPPED,
    "cover letter.pdf": Status.SKIPPED,
    "letter.docx": Status.SKIPPED,  # a zip, like a workbook, but a Word document inside
    "~$leeds.xlsx": Status.SKIPPED,
    ".~lock.kent.xlsx#": Status.SKIPPED,
    ".hidden.xlsx": Status.DUPLICATE,  # a name starting with a dot is still read: here, a copy of leeds.xlsx
    "outside-link.xlsx": Status.SKIPPED,
    "lo/birmingham.ods": Status.VALID,
    "lo/cornwall.xlsx": Status.VALID,
}


@pytest.fixture(scope="module")
def messy(tmp_path_factory, soffice) -> dict:
    tmp = tmp_path_factory.mktemp("batch")
    work = tmp / "work"
    work.mkdir()
    inbox = tmp / "inbox"
    inbox.mkdir()
    blank = generate(SPEC, work / "blank.xlsx", Identity(), generated_at=DAY)
    leeds_issued = generate(SPEC, work / "leeds-issued.xlsx", Identity("Leeds", "E08000035"), generated_at=DAY)
    man_issued = generate(SPEC, work / "man-issued.xlsx", Identity("Manchester", "E08000003"), generated_at=DAY)
    leeds = fill_workbook(leeds_issued, inbox / "leeds.xlsx", answers("Leeds", "Jo Bloggs", "2026-02-02"))
    shutil.copyfile(leeds, inbox / "leeds_copy.xlsx")
    fill_workbook(leeds_issued, inbox / "leeds-icb.xlsx", answers("Leeds", "Sam Patel", "2026-02-05", shift=3))
    fill_workbook(man_issued, inbox / "manchester.xlsx", answers("Manchester", "Ann Lee", "2026-02-01"))
    (inbox / "resubmitted").mkdir()
    fill_workbook(man_issued, inbox / "resubmitted" / "manchester v2.xlsx",
                  answers("Manchester", "Ann Lee", "2026-03-01", shift=1))
    # The older file is touched last, so only the date-completed answer says which is newer.
    os.utime(inbox / "resubmitted" / "manchester v2.xlsx", (1_700_000_000, 1_700_000_000))
    fill_workbook(blank, inbox / "kent.xlsx", answers("Kent", "Kim Ode", "2026-02-03", shift=2, share=4))
    bad = answers("", "Pat Doe", "2026-02-04")
    bad["identity_council_code"] = ""
    bad[f"rating_{SPEC.aspects[1].factors[2].id}"] = "7 - brilliant"
    fill_workbook(blank, inbox / "errors.xlsx", bad)
    old = generate(dataclasses.replace(SPEC, version="0.9"), work / "old-blank.xlsx", Identity(),
                   generated_at=dt.date(2025, 1, 6))
    fill_workbook(old, inbox / "old-form.xlsx", answers("Derbyshire", "Lee Moss", "2025-02-01"))
    data = leeds.read_bytes()
    (inbox / "broken.xlsx").write_bytes(data[: len(data) // 2])
    (inbox / "fake.xlsx").write_bytes(b"%PDF-1.4\n1 0 obj << >> endobj\n%%EOF\n")
    fill_workbook(blank, inbox / "camden.xlsx.download", answers("Camden", "Al Tan", "2026-02-06", shift=4))
    (inbox / "notes.txt").write_text("Chased Norfolk on 3 March.\n", encoding="utf-8")
    (inbox / "cover letter.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    with zipfile.ZipFile(inbox / "letter.docx", "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    (inbox / "~$leeds.xlsx").write_bytes(b"\x08Jo Bloggs" + b" " * 50)
    (inbox / ".~lock.kent.xlsx#").write_text("Kim Ode,host,2026-02-03T10:00:00,\n", encoding="utf-8")
    shutil.copyfile(leeds, inbox / ".hidden.xlsx")
    outside = fill_workbook(blank, work / "outside.xlsx", answers("Norfolk", "Out Side", "2026-02-07"))
    (inbox / "outside-link.xlsx").symlink_to(outside)
    # Returns re-saved by the real LibreOffice: one as .ods, one as .xlsx.
    bham = fill_workbook(blank, work / "birmingham.xlsx", answers("Birmingham", "Bo Ray", "2026-02-08", shift=5))
    corn = fill_workbook(blank, work / "cornwall.xlsx", answers("Cornwall", "Cy Penn", "2026-02-09", shift=6))
    (inbox / "lo").mkdir()
    ods, = convert([bham], work / "lo-ods", "ods")
    xlsx, = convert([corn], work / "lo-xlsx", "xlsx")
    shutil.copyfile(ods, inbox / "lo" / "birmingham.ods")
    shutil.copyfile(xlsx, inbox / "lo" / "cornwall.xlsx")
    register = tmp / "register.csv"
    with open(register, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "code", "region"])
        w.writerows(REGISTER)

    before = tree_hashes(inbox)
    out = tmp / "out"
    result = run_batch(inbox, out, SPEC, register=register, jobs=2)
    return {"tmp": tmp, "inbox": inbox, "out": out, "result": result, "before": before, "register": register,
            "originals": {"lo/birmingham.ods": bham, "lo/cornwall.xlsx": corn}}


def by_file(result) -> dict[str, FileRecord]:
    return {f.file: f for f in result.files}


def sheet_rows(path: Path, sheet: str, header: str) -> list[dict]:
    """A summary sheet's table as dicts, from the row whose first cell is `header`."""
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    top = next(i for i, r in enumerate(rows) if r and r[0] == header)
    heads = rows[top]
    out = []
    for r in rows[top + 1:]:
        if not any(v not in ("", None) for v in r):
            break
        out.append(dict(zip(heads, r, strict=False)))
    return out


def test_every_file_has_the_right_status(messy):
    got = {f: r.status for f, r in by_file(messy["result"]).items()}
    assert got == EXPECTED


def test_skipped_files_say_why(messy):
    files = by_file(messy["result"])
    assert "lock file" in files["~$leeds.xlsx"].reason
    assert "lock file" in files[".~lock.kent.xlsx#"].reason
    # A real return is never skipped for its name alone: this one was read, and is a copy.
    assert files[".hidden.xlsx"].duplicate_of == "leeds.xlsx"
    assert "leeds.xlsx" in files[".hidden.xlsx"].reason
    assert "outside the folder" in files["outside-link.xlsx"].reason
    assert files["cover letter.pdf"].reason == "not a spreadsheet (a PDF document)"
    assert files["notes.txt"].reason == "not a spreadsheet (a text file)"
    assert files["letter.docx"].reason == "not a spreadsheet (a Word document)"


def test_duplicates_and_resubmissions_are_flagged(messy):
    files = by_file(messy["result"])
    assert files["leeds_copy.xlsx"].duplicate_of == "leeds.xlsx"
    assert files["manchester.xlsx"].superseded_by == "resubmitted/manchester v2.xlsx"
    assert files["resubmitted/manchester v2.xlsx"].supersedes == ["manchester.xlsx"]
    assert files["leeds-icb.xlsx"].same_workbook_as == ["leeds.xlsx"]
    rows = {r["File"]: r for r in sheet_rows(messy["out"] / "summary.xlsx", "Returns", "File")}
    assert rows["leeds_copy.xlsx"]["Duplicate of / Superseded by"] == "Duplicate of leeds.xlsx"
    # The row says which rule made the later return the later one (PRODUCT.md "Who a respondent is").
    assert rows["manchester.xlsx"]["Duplicate of / Superseded by"] == ("Superseded by resubmitted/manchester v2.xlsx "
                                                                       "(later by date completed)")
    assert rows["resubmitted/manchester v2.xlsx"]["Duplicate of / Superseded by"] == "Supersedes manchester.xlsx"
    assert rows["leeds_copy.xlsx"]["SHA-256"] == rows["leeds.xlsx"]["SHA-256"]


def test_unreadable_and_invalid_files_carry_catalogue_issues(messy):
    files = by_file(messy["result"])
    assert [i.code for i in files["broken.xlsx"].issues] == [Code.FILE_001]
    assert [i.code for i in files["fake.xlsx"].issues] == [Code.FILE_001]
    assert [i.code for i in files["old-form.xlsx"].issues] == [Code.SPEC_002]
    rating = next(f for f in build_layout(SPEC).fields if f.name == f"rating_{SPEC.aspects[1].factors[2].id}")
    bad_cell = f"'{rating.sheet}'!{rating.cell}"
    assert {(i.location, i.code) for i in files["errors.xlsx"].issues} == {("'Cover'!B4", Code.ID_001),
                                                                          (bad_cell, Code.VAL_001)}
    assert {i.code for i in files["kent.xlsx"].issues} == {Code.ANS_005}


def test_returns_sheet_lists_every_file(messy):
    rows = sheet_rows(messy["out"] / "summary.xlsx", "Returns", "File")
    assert {r["File"]: r["Status"] for r in rows} == {k: v.value for k, v in EXPECTED.items()}
    for col in ("Council", "Code", "Respondent", "Organisation", "Errors", "Queries", "Completeness (% factors rated)",
                "Spec version", "Read by", "Workbook id", "SHA-256", "Duplicate of / Superseded by"):
        assert col in rows[0]
    old = next(r for r in rows if r["File"] == "old-form.xlsx")
    assert old["Spec version"] == "0.9" and old["Counted in figures"] == "No"
    kent = next(r for r in rows if r["File"] == "kent.xlsx")
    assert 30 <= kent["Completeness (% factors rated)"] <= 50


def test_good_returns_have_plans_and_every_file_feedback(messy):
    out = messy["out"]
    for f in messy["result"].files:
        assert f.feedback and (out / f.feedback).is_file(), f.file
        wants_plan = f.status in (Status.VALID, Status.QUERIES, Status.INVALID) and f.score is not None
        assert bool(f.plan) == wants_plan, f.file
        if f.plan:
            assert (out / f.plan).is_file() and (out / f.plan).parent == out / "plans"
    assert len(list((out / "plans").iterdir())) == sum(bool(f.plan) for f in messy["result"].files)
    assert len(list((out / "feedback").iterdir())) == len(EXPECTED)
    assert not [p for p in out.rglob("*") if p.name.startswith((".~scoa", ".scoa-staging"))]


def test_feedback_letters_name_each_cell_and_fix(messy):
    files = by_file(messy["result"])
    out = messy["out"]
    letter = (out / files["errors.xlsx"].feedback).read_text(encoding="utf-8")
    for i in files["errors.xlsx"].issues:
        assert i.location in letter
        assert CATALOGUE[i.code].fix in letter
        assert CATALOGUE[i.code].title in letter
    dup = (out / files["leeds_copy.xlsx"].feedback).read_text(encoding="utf-8")
    assert "leeds.xlsx" in dup
    old = (out / files["manchester.xlsx"].feedback).read_text(encoding="utf-8")
    assert "resubmitted/manchester v2.xlsx" in old
    skipped = (out / files["notes.txt"].feedback).read_text(encoding="utf-8")
    assert "not a spreadsheet" in skipped
    unreadable = (out / files["broken.xlsx"].feedback).read_text(encoding="utf-8")
    assert CATALOGUE[Code.FILE_001].fix in unreadable


def test_summary_scores_equal_scoa_score(messy):
    inbox = messy["inbox"]
    rows = [r for r in sheet_rows(messy["out"] / "summary.xlsx", "Scores", "Council") if r["File"]]
    counted = {f.file for f in messy["result"].files if f.counted}
    assert {r["File"] for r in rows} == counted
    assert {"leeds.xlsx", "leeds-icb.xlsx", "lo/birmingham.ods", "lo/cornwall.xlsx"} <= counted
    assert [r["Council"].casefold() for r in rows] == sorted(r["Council"].casefold() for r in rows)
    runner = CliRunner()
    for row in rows:
        res = runner.invoke(main, ["score", str(inbox / row["File"]), "--json"])
        assert res.exit_code == 0, res.output
        s = json.loads(res.output)
        for a in s["aspects"]:
            for key, head in (("room_for_manoeuvre", a["name"]), ("controllability", f"Controllability: {a['name']}")):
                want = a[key]
                got = row[head]
                assert (got == "" if want is None else got == pytest.approx(want, rel=1e-12)), (row["File"], head)
        want = s["overall_room_for_manoeuvre"]
        got = row["Overall room for manoeuvre"]
        assert got == "" if want is None else got == pytest.approx(want, rel=1e-12)


def test_libreoffice_resaved_returns_score_as_the_originals(messy):
    files = by_file(messy["result"])
    for rel, original in messy["originals"].items():
        assert files[rel].score == check_return(original, SPEC).scores.to_json()


def test_consolidates_respondents_per_council(messy):
    councils = {c.council: c.to_json() for c in messy["result"].councils}
    leeds = councils["Leeds"]
    assert sorted(leeds["respondents"]) == ["Jo Bloggs", "Sam Patel"]
    assert sorted(leeds["files"]) == ["leeds-icb.xlsx", "leeds.xlsx"]
    files = by_file(messy["result"])
    for i, a in enumerate(leeds["aspects"]):
        pair = [files[f].score["aspects"][i]["room_for_manoeuvre"] for f in leeds["files"]]
        assert a["room_for_manoeuvre"] == pytest.approx(sum(pair) / 2)
    assert councils["Manchester"]["files"] == ["resubmitted/manchester v2.xlsx"]
    assert "Derbyshire" not in councils  # an old form version is never mixed in


def test_inputs_are_untouched(messy):
    assert tree_hashes(messy["inbox"]) == messy["before"]


def test_tracker_sheet(messy):
    path = messy["out"] / "summary.xlsx"
    councils = {r["Council"]: r for r in sheet_rows(path, "Tracker", "Council")}
    assert {k: v["State"] for k, v in councils.items()} == {
        "Leeds": "valid", "Manchester": "valid", "Kent": "with queries", "Camden": "valid", "Birmingham": "valid",
        "Cornwall": "valid", "Norfolk": "missing", "Derbyshire": "invalid"}
    assert councils["Leeds"]["Returns"] == 2
    regions = {r["Region"]: r for r in sheet_rows(path, "Tracker", "Region")}
    assert regions["All regions"]["Expected"] == len(REGISTER)
    assert regions["All regions"]["Missing"] == 1
    assert regions["South East"]["With queries"] == 1
    stray = sheet_rows(path, "Tracker", "File")
    assert [r["File"] for r in stray] == ["errors.xlsx"]


def test_the_summary_sheets_that_grow_with_the_batch_are_streamed(messy):
    """Returns, Scores, Partners and Issues grow with the batch: their rows go to disk as written (each text in its
    cell), so a 1,000-return summary is not held in memory; the rest keep the shared list of texts."""
    path = messy["out"] / "summary.xlsx"
    names = CalamineWorkbook.from_path(str(path)).sheet_names
    with zipfile.ZipFile(path) as z:
        inline = {name: 't="inlineStr"' in z.read(f"xl/worksheets/sheet{i}.xml").decode()
                  for i, name in enumerate(names, 1)}
    assert {n for n, streamed in inline.items() if streamed} == {"Returns", "Scores", "Partners", "Issues"}


def test_the_summary_about_sheet_links_to_every_sheet_it_describes(messy):
    about = openpyxl.load_workbook(messy["out"] / "summary.xlsx")["About"]
    links = {c.value: c.hyperlink.location for row in about.iter_rows() for c in row if c.hyperlink is not None}
    names = ["Returns", "Scores", "Cohort", "Constraints", "Models", "Partners", "Issues", "Tracker"]
    assert links == {n: f"'{n}'!A1" for n in names}


def test_summary_has_every_sheet_and_says_it_is_partial(messy):
    path = messy["out"] / "summary.xlsx"
    names = CalamineWorkbook.from_path(str(path)).sheet_names
    assert names == ["About", "Returns", "Scores", "Cohort", "Constraints", "Models", "Partners", "Issues", "Tracker"]
    about = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("About").to_python()
    facts = {r[0]: r[1] for r in about if len(r) > 1}
    assert about[1][0].startswith("This summary is partial")
    assert facts["Files found"] == len(EXPECTED)
    assert facts["Files that could not be read (failed)"] == 2
    assert facts["Files skipped (not a return)"] == 6  # .hidden.xlsx is read now (a copy), not skipped by its name
    # Issue 14: a count first, then the version in words ("0.9" alone read as a number of returns).
    assert facts["Returns made from another form version (not counted)"] == "1 (form version 0.9)"
    issues = sheet_rows(path, "Issues", "File")
    assert len(issues) == sum(len(f.issues) for f in messy["result"].files)
    cohort = {r["Aspect"]: r for r in sheet_rows(path, "Cohort", "Aspect")}
    assert set(cohort) == {a.name for a in SPEC.aspects} | {"Overall room for manoeuvre"}
    for r in cohort.values():
        if r["Councils"]:
            assert r["Lowest"] <= r["Lower quartile"] <= r["Median"] <= r["Upper quartile"] <= r["Highest"]
    models = sheet_rows(path, "Models", "Model")
    assert len(models) == len(SPEC.models)
    assert sum(r["In a council's top three"] for r in models) == 3 * len(messy["result"].councils)
    constraints = sheet_rows(path, "Constraints", "Aspect")
    assert len(constraints) == len(SPEC.factors)


def test_batch_json_and_exit_status(messy, tmp_path):
    res = CliRunner().invoke(main, ["batch", str(messy["inbox"]), "-o", str(tmp_path / "out"), "--json", "--quiet"])
    assert res.exit_code == 1  # errors and unreadable files present
    data = json.loads(res.stdout)
    assert set(data) == {"files", "councils"}
    assert [f["file"] for f in data["files"]] == [f.file for f in messy["result"].files]
    for f in data["files"]:
        assert set(f) == {"file", "status", "issues", "score", "source"}
        assert f["source"] is None  # every file here is a plain file, not an email attachment
        for i in f["issues"]:
            assert {"severity", "code", "sheet", "cell", "message"} <= set(i)
    leeds = next(f for f in data["files"] if f["file"] == "leeds.xlsx")
    assert leeds["score"] == by_file(messy["result"])["leeds.xlsx"].score
    assert next(f for f in data["files"] if f["file"] == "notes.txt")["score"] is None
    for c in data["councils"]:
        assert {"council", "code", "respondents", "files", "combined", "aspects"} <= set(c)


def test_rerun_into_the_same_folder_is_safe_with_one_worker(messy, tmp_path):
    inbox = tmp_path / "inbox"
    shutil.copytree(messy["inbox"], inbox, symlinks=True)
    out = tmp_path / "out"
    first = run_batch(inbox, out, SPEC, register=None, jobs=1)
    plan = out / by_file(first)["kent.xlsx"].plan
    assert plan.is_file()
    (inbox / "kent.xlsx").unlink()
    second = run_batch(inbox, out, SPEC, register=None, jobs=1)
    assert {f.file: f.status for f in second.files} == {k: v for k, v in EXPECTED.items() if k != "kent.xlsx"}
    assert not plan.exists()  # what the first run wrote for a file now gone is tidied away
    assert len(list((out / "feedback").iterdir())) == len(second.files)
    assert not [p for p in out.rglob("*") if p.name.startswith((".~scoa", ".scoa-staging"))]


def test_previous_returns_add_the_change_since_last_year(messy, tmp_path):
    from scoa_xl.plan import CHANGE_COLUMN

    inbox, last_year = tmp_path / "inbox", tmp_path / "last-year"
    inbox.mkdir()
    last_year.mkdir()
    shutil.copyfile(messy["inbox"] / "leeds.xlsx", inbox / "leeds.xlsx")
    shutil.copyfile(messy["inbox"] / "camden.xlsx.download", inbox / "camden.xlsx")
    blank = generate(SPEC, tmp_path / "blank.xlsx", Identity(), generated_at=DAY)
    fill_workbook(blank, last_year / "leeds 2025.xlsx", answers("Leeds", "Jo Bloggs", "2025-02-02", shift=4))
    result = run_batch(inbox, tmp_path / "out", SPEC, register=None, previous=last_year)

    def cover_text(f: FileRecord) -> str:
        wb = CalamineWorkbook.from_path(str(tmp_path / "out" / f.plan))
        return " ".join(str(v) for name in wb.sheet_names for row in wb.get_sheet_by_name(name).to_python()
                        for v in row)

    files = by_file(result)
    assert CHANGE_COLUMN in cover_text(files["leeds.xlsx"])
    assert CHANGE_COLUMN not in cover_text(files["camden.xlsx"])


def test_last_years_returns_that_came_by_email_or_in_an_archive_are_found(messy, tmp_path):
    """Last year's folder is often last year's inbox: a return attached to an email, or zipped, counts as one
    lying there as a file."""
    from test_mail import XLSX, message, zipped

    from scoa_xl.plan import CHANGE_COLUMN

    inbox, last_year = tmp_path / "inbox", tmp_path / "last-year"
    inbox.mkdir()
    last_year.mkdir()
    shutil.copyfile(messy["inbox"] / "leeds.xlsx", inbox / "leeds.xlsx")
    shutil.copyfile(messy["inbox"] / "camden.xlsx.download", inbox / "camden.xlsx")
    camden = check_return(inbox / "camden.xlsx", SPEC).ret
    assert camden is not None
    blank = generate(SPEC, tmp_path / "blank.xlsx", Identity(), generated_at=DAY)
    fill_workbook(blank, tmp_path / "leeds 2025.xlsx", answers("Leeds", "Jo Bloggs", "2025-02-02", shift=4))
    who = camden.identity
    fill_workbook(blank, tmp_path / "camden 2025.xlsx", {
        **answers(who.council, who.respondent, "2025-02-03", shift=2),
        "identity_council_code": who.council_code, "identity_organisation": who.organisation})
    (last_year / "SCOA return 2025.eml").write_bytes(message(attachments=[
        ("Leeds 2025.xlsx", (tmp_path / "leeds 2025.xlsx").read_bytes(), XLSX)]).as_bytes())
    (last_year / "returns 2025.zip").write_bytes(zipped({"camden 2025.xlsx":
                                                          (tmp_path / "camden 2025.xlsx").read_bytes()}))
    result = run_batch(inbox, tmp_path / "out", SPEC, register=None, previous=last_year)
    for name in ("leeds.xlsx", "camden.xlsx"):
        wb = CalamineWorkbook.from_path(str(tmp_path / "out" / by_file(result)[name].plan))
        assert CHANGE_COLUMN in [v for row in wb.get_sheet_by_name("Cover").to_python() for v in row], name
    assert not list(last_year.glob("*.xlsx"))  # last year's folder is only read
    assert not [p for p in (tmp_path / "out").rglob("*") if p.name.startswith(".scoa-run-")]


def test_a_file_over_the_time_limit_is_reported_not_waited_for(messy, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copyfile(messy["inbox"] / "leeds.xlsx", inbox / "slow.xlsx")
    result = run_batch(inbox, tmp_path / "out", SPEC, register=None, jobs=1, time_limit=1e-9)
    f, = result.files
    assert f.status == Status.UNREADABLE
    assert [i.code for i in f.issues] == [Code.FILE_006]
    assert f.plan == ""
    assert CATALOGUE[Code.FILE_006].fix in (tmp_path / "out" / f.feedback).read_text(encoding="utf-8")


def test_output_folder_inside_the_inbox_is_refused(messy):
    with pytest.raises(InputError, match="outside"):
        run_batch(messy["inbox"], messy["inbox"] / "out", SPEC, register=None)
    assert tree_hashes(messy["inbox"]) == messy["before"]


@pytest.mark.parametrize("text", ["../../etc/passwd", "a/b\\c", "..", "con", "x\x00y\x1b[31m", "\u202eevil",
                                  "=HYPERLINK(\"http://x\")", "é" * 200, "   ", "Leeds: ICB?*"])
def test_safe_filename(text):
    name = safe_filename(text)
    assert name and "/" not in name and "\\" not in name and ".." not in name
    assert all(ch.isprintable() for ch in name) and "\u202e" not in name
    assert len(name.encode("utf-8")) <= 120
    assert name.split(".")[0].upper() not in {"CON", "PRN", "AUX", "NUL"}
    assert not any(ch in name for ch in '<>:"|?*')


def test_safe_filename_is_unique_ignoring_case():
    used: set[str] = set()
    assert [safe_filename(t, used) for t in ("Leeds", "leeds", "LEEDS")] == ["Leeds", "leeds (2)", "LEEDS (3)"]


def test_generate_from_a_register(tmp_path):
    register = tmp_path / "register.csv"
    rows = [("Leeds", "E08000035", "Yorkshire and The Humber"), ("Kent", "E10000016", "South East"),
            ("../../Evil/..", "E99999999", "Nowhere"), ("=HYPERLINK(\"http://x\")", "E99999998", "Nowhere")]
    with open(register, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "code", "region"])
        w.writerows(rows)
    out = tmp_path / "issued"
    res = CliRunner().invoke(main, ["generate", "--register", str(register), "--out-dir", str(out),
                                    "--date", "2026-01-12"])
    assert res.exit_code == 0, res.output
    with open(out / "issue-log.csv", newline="", encoding="utf-8") as fh:
        log = list(csv.DictReader(fh))
    assert [r["code"] for r in log] == [r[1] for r in rows]
    assert log[3]["council"].startswith("'=")  # never a live formula when the log is opened in a spreadsheet
    assert {p.name for p in out.iterdir()} == {r["file"] for r in log} | {"issue-log.csv"}
    for (name, code, _), r in zip(rows, log, strict=True):
        path = out / r["file"]
        assert path.parent == out and path.suffix == ".xlsx"
        a = check_return(path, SPEC)
        assert (a.ret.identity.council, a.ret.identity.council_code) == (name, code)
        assert a.ret.workbook_id == r["workbook_id"]
    assert len({r["workbook_id"] for r in log}) == len(rows)


def test_generate_register_and_output_are_alternatives(tmp_path):
    register = tmp_path / "r.csv"
    register.write_text("name,code,region\nLeeds,E08000035,Yorkshire and The Humber\n", encoding="utf-8")
    runner = CliRunner()
    both = runner.invoke(main, ["generate", "-o", str(tmp_path / "x.xlsx"), "--register", str(register),
                                "--out-dir", str(tmp_path / "d")])
    assert both.exit_code == 2
    alone = runner.invoke(main, ["generate", "--register", str(register)])
    assert alone.exit_code == 2


def test_issue_workbooks_library_and_example_register(tmp_path):
    from scoa_xl.examples import example_register_path
    from scoa_xl.register import load_register

    councils = load_register(example_register_path())
    assert 8 <= len(councils) <= 12
    england = {(c.name, c.code, c.region) for c in load_register()}
    assert {(c.name, c.code, c.region) for c in councils} <= england
    issued = issue_workbooks(SPEC, example_register_path(), tmp_path, day=DAY)
    assert [i.council.code for i in issued] == [c.code for c in councils]


def test_demo_runs_the_whole_journey(tmp_path):
    out = tmp_path / "demo"
    res = CliRunner().invoke(main, ["demo", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    assert str(out / "summary.xlsx") in res.output
    rows = {r["File"]: r["Status"] for r in sheet_rows(out / "summary.xlsx", "Returns", "File")}
    from scoa_xl.examples import make_examples

    again = make_examples(tmp_path / "again", SPEC)
    expected = {e.file: e.expect for e in again}
    assert {e.path.suffix for e in again} >= {".eml", ".msg", ".mbox", ".zip", ".xlsx"}
    assert rows == expected
    assert len([s for s in expected.values() if s not in ("skipped",)]) >= 12
    assert (out / "plans").is_dir() and any((out / "plans").iterdir())
    assert len(list((out / "feedback").iterdir())) == len(expected)
    # Drafts: one per letter worth sending, addressed from the sender or the example register; a reminder for the
    # council whose only file could not be read.
    drafts = {p.name: p.read_bytes() for p in (out / "drafts").iterdir()}
    assert "Reminder - Northumberland.eml" in drafts and len(drafts) >= 10
    assert all(b"\nX-Unsent: 1\n" in d.replace(b"\r\n", b"\n") for d in drafts.values())
    assert b"To: Chris Ellison <chris.ellison@kent.example.org>" in drafts["Kent - Chris Ellison.eml"]
    assert "drafts/" in res.output


def test_batch_help_has_an_example():
    for cmd in ("batch", "demo", "generate"):
        res = CliRunner().invoke(main, [cmd, "--help"])
        assert res.exit_code == 0 and "Example:" in res.output
