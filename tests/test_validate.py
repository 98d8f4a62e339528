"""Returns filled as a user would, with problems planted: every issue at its exact cell, every file handled.

Returns are filled with openpyxl through the workbook's defined names (tests/helpers.py). openpyxl keeps
names, validations and protection, but it is a script, not a spreadsheet application: it does not move
defined names when rows are inserted (Excel and LibreOffice do), it refuses control characters and it cuts
text at 32,767 characters (so those two are planted by editing the saved XML, as another tool could).
What a real application does to a return is proved with the real LibreOffice in test_roundtrip.py.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
import yaml
from click.testing import CliRunner
from helpers import answers as build_answers
from helpers import fill_workbook
from openpyxl.packaging.custom import CustomPropertyList
from openpyxl.utils import column_index_from_string, get_column_letter
from openpyxl.workbook.defined_name import DefinedName

from scoa_xl import layout as L
from scoa_xl.check import PARALLEL_FROM, check_paths, check_return
from scoa_xl.cli import main
from scoa_xl.errors import CATALOGUE, Code, SpecError
from scoa_xl.generate import CARRIED_MARK, Prefill, generate
from scoa_xl.model import FactorAnswer, Identity, Severity, Status
from scoa_xl.read import READ_BY_IDS, READ_BY_NAMES
from scoa_xl.resources import default_spec_path
from scoa_xl.spec import load_spec

SPEC = load_spec()
FIELDS = {f.name: f for f in L.build_layout(SPEC).fields}
DAY = dt.date(2026, 1, 5)
SD = SPEC.aspects[0]  # System design: factors in rows 5-10
F = SPEC.factors
M = SPEC.models


def at(name: str) -> str:
    """Where a field sits in a freshly generated workbook, as an issue's location prints it."""
    f = FIELDS[name]
    return f"'{f.sheet}'!{f.cell}"


def rating_of(i: int) -> int:
    """The rating the complete fill gives factor i: 1, 2, 3, 4, 5, 1, ..."""
    return i % 5 + 1


def complete_answers() -> dict[str, object]:
    """A return with nothing to query: every factor rated, inhibitors categorised, supporters answered."""
    answers = build_answers(SPEC, lambda i, f: rating_of(i), control=lambda i, f, k: SPEC.control[i % 4].label,
                            boost=lambda i, f, k: SPEC.boost[i % 2].label,
                            identity={"council": "Leeds", "council_code": "E08000035", "respondent": "Jo Bloggs",
                                      "organisation": "Leeds City Council", "role": "Head of commissioning",
                                      "date": "2026-03-01"})
    for i, f in enumerate(F):
        if i % 3 == 0:
            answers[f"importance_{f.id}"] = SPEC.importance[i % 3].label
    for a in SPEC.aspects:
        answers[f"text_{a.id}_strengths"] = f"Good joint work on {a.name.lower()}.\nBoard minutes, March."
    for i, m in enumerate(M):
        answers[f"priority_{m.id}"] = SPEC.priority[i % 5].label
    return answers


# Factors by their rating in the complete fill (System design: 1, 2, 3, 4, 5, 1).
INHIBITOR, INHIBITOR2, NEUTRAL, SUPPORTER, SUPPORTER2 = F[0], F[1], F[2], F[3], F[4]


@pytest.fixture(scope="module")
def blank(tmp_path_factory) -> Path:
    return generate(SPEC, tmp_path_factory.mktemp("blank") / "blank.xlsx", Identity(), generated_at=DAY)


@pytest.fixture(scope="module")
def complete(blank, tmp_path_factory) -> Path:
    return fill_workbook(blank, tmp_path_factory.mktemp("complete") / "leeds.xlsx", complete_answers())


@pytest.fixture
def fill(blank, tmp_path) -> Callable[..., Path]:
    """Fill the blank workbook with the complete answers, changed by `changes` (None clears a cell)."""
    def _fill(changes: dict[str, object] | None = None, name: str = "return.xlsx", src: Path | None = None) -> Path:
        return fill_workbook(src or blank, tmp_path / name, {**complete_answers(), **(changes or {})})
    return _fill


def report(path: Path, spec=SPEC) -> list[tuple[str, str]]:
    return [(i.location, i.code.value) for i in check_return(path, spec).issues]


def edit(src: Path, dst: Path, change: Callable[[openpyxl.Workbook], None]) -> Path:
    """Open a return with openpyxl, change it as a person or script might, save it elsewhere."""
    wb = openpyxl.load_workbook(src)
    change(wb)
    wb.save(dst)
    return dst


def rewrite_zip(src: Path, dst: Path, replace: dict[bytes, bytes] | None = None,
                add: dict[str, bytes] | None = None) -> Path:
    """Copy a workbook's zip, replacing bytes inside its parts and adding parts."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            for old, new in (replace or {}).items():
                data = data.replace(old, new)
            zout.writestr(info, data)
        for name, data in (add or {}).items():
            zout.writestr(name, data)
    return dst


def put(sheet: str, values: dict[str, object]) -> Callable[[openpyxl.Workbook], None]:
    """A change that types values into cells of one sheet (None clears a cell)."""
    def change(wb: openpyxl.Workbook) -> None:
        for ref, value in values.items():
            wb[sheet][ref] = value
    return change


def set_text(wb: openpyxl.Workbook, name: str, text: str) -> None:
    """Type text into a named cell as text (as Excel stores a typed '=... with its leading apostrophe)."""
    (sheet, ref), = wb.defined_names[name].destinations
    cell = wb[sheet][ref.replace("$", "")]
    cell.value = text
    cell.data_type = "s"


# --- the complete return ------------------------------------------------------------------------------------


def test_a_complete_return_is_valid(complete):
    a = check_return(complete, SPEC)
    assert (a.status, a.issues, a.read_by) == (Status.VALID, [], READ_BY_NAMES)
    assert a.ret.identity.council == "Leeds" and a.ret.identity.respondent == "Jo Bloggs"
    assert {fid: ans.rating for fid, ans in a.ret.factors.items()} == {f.id: rating_of(i) for i, f in enumerate(F)}
    assert a.ret.factors[INHIBITOR.id].control == "in_control"
    assert a.ret.factors[SUPPORTER.id].boost is False and a.ret.factors[SUPPORTER2.id].boost is True
    assert a.ret.factors[F[0].id].importance == 1 and a.ret.factors[F[1].id].importance is None
    assert a.ret.texts[SD.id]["strengths"] == "Good joint work on system design.\nBoard minutes, March."
    assert a.ret.priorities == {m.id: i % 5 + 1 for i, m in enumerate(M)}
    assert (a.ret.spec_id, a.ret.spec_version, a.ret.fingerprint) == (SPEC.id, SPEC.version, SPEC.fingerprint)
    assert a.scores is not None and a.scores.overall_room_for_manoeuvre is not None
    assert a.scores.council == "Leeds"


# --- values not on the list ----------------------------------------------------------------------------------


def test_values_not_on_the_list(fill):
    path = fill({f"rating_{NEUTRAL.id}": "6 - Amazing",
                 f"importance_{NEUTRAL.id}": "Very high",
                 f"control_{INHIBITOR.id}": "Maybe",
                 f"boost_{SUPPORTER.id}": "Perhaps",
                 f"priority_{M[0].id}": "6 - Perfect"})
    a = check_return(path, SPEC)
    # Each is reported once, as off the list, not again as a missing answer at the same cell.
    assert [(i.location, i.code.value) for i in a.issues] == [
        (at(f"control_{INHIBITOR.id}"), "VAL_003"),
        (at(f"rating_{NEUTRAL.id}"), "VAL_001"),
        (at(f"importance_{NEUTRAL.id}"), "VAL_002"),
        (at(f"boost_{SUPPORTER.id}"), "VAL_004"),
        (at(f"priority_{M[0].id}"), "VAL_005"),
    ]
    assert a.status == Status.INVALID
    assert at(f"rating_{NEUTRAL.id}") == "'System design'!C7"
    val1 = a.issues[1]
    assert val1.severity == Severity.ERROR
    assert val1.message.startswith(CATALOGUE[Code.VAL_001].title + '; found "6 - Amazing"; expected "1 - ')
    assert val1.message.endswith(CATALOGUE[Code.VAL_001].fix)
    # An off-list rating counts as unanswered, never as a score.
    assert a.ret.factors[NEUTRAL.id].rating is None
    assert a.ret.priorities[M[0].id] is None


# --- identity ---------------------------------------------------------------------------------------------------


def test_no_council_and_no_respondent(fill):
    path = fill({"identity_council": None, "identity_respondent": "   "})
    assert report(path) == [("'Cover'!B4", "ID_001"), ("'Cover'!B6", "ID_002")]
    assert check_return(path, SPEC).status == Status.INVALID


# --- answers that need a look --------------------------------------------------------------------------------


def test_answer_queries_at_their_cells(fill):
    path = fill({f"control_{INHIBITOR.id}": None,  # inhibitor with no control category
                 f"boost_{INHIBITOR2.id}": "Yes",  # boost on an inhibitor
                 f"control_{NEUTRAL.id}": "Influenceable",  # control on a neutral factor
                 f"boost_{SUPPORTER.id}": None,  # supporter with no boost answer
                 f"priority_{M[3].id}": None})  # no priority fit
    assert report(path) == [
        (at(f"control_{INHIBITOR.id}"), "ANS_001"),
        (at(f"boost_{INHIBITOR2.id}"), "ANS_004"),
        (at(f"control_{NEUTRAL.id}"), "ANS_003"),
        (at(f"boost_{SUPPORTER.id}"), "ANS_002"),
        (at(f"priority_{M[3].id}"), "ANS_006"),
    ]
    a = check_return(path, SPEC)
    assert a.status == Status.QUERIES
    assert all(i.severity == Severity.QUERY for i in a.issues)
    # The priority is missing, so that model's fit rests on readiness alone.
    fit = next(m for m in a.scores.models if m.id == M[3].id)
    assert fit.priority_fit is None and fit.fit == fit.readiness


def test_fewer_than_half_of_an_aspects_factors_answered(fill):
    changes: dict[str, object] = {}
    for f in SD.factors[:4]:  # 2 of 6 left rated
        changes |= {f"rating_{f.id}": None, f"control_{f.id}": None, f"boost_{f.id}": None}
    path = fill(changes)
    assert report(path) == [("'System design'!C5", "ANS_005")]
    a = check_return(path, SPEC)
    assert a.scores.aspect(SD.id).room_for_manoeuvre is None  # missing, never zero
    assert a.scores.aspect(SD.id).answered == 2


def test_dont_know_counts_as_unanswered(fill):
    changes: dict[str, object] = {}
    for f in SD.factors[:4]:
        changes |= {f"rating_{f.id}": "Don't know", f"control_{f.id}": None, f"boost_{f.id}": None}
    path = fill(changes)
    assert report(path) == [("'System design'!C5", "ANS_005")]
    a = check_return(path, SPEC)
    assert a.ret.factors[SD.factors[0].id].dont_know is True
    assert a.ret.factors[SD.factors[0].id].rating is None


def test_answers_carried_forward_and_not_confirmed(tmp_path):
    carried = {f.id: FactorAnswer(f.id, rating_of(i), None, None, None, "Last year's note")
               for i, f in enumerate(F[2:4], start=2)}
    src = generate(SPEC, tmp_path / "prefilled.xlsx", Identity(council="Leeds"),
                   prefill=Prefill(factors=carried, carried=True, source="leeds-2025.xlsx"), generated_at=DAY)
    answers = complete_answers()
    path = fill_workbook(src, tmp_path / "return.xlsx", answers)
    assert report(path) == [("'System design'!L7", "ANS_007"), ("'System design'!L8", "ANS_007")]
    a = check_return(path, SPEC)
    assert a.ret.factors[F[2].id].carried and not a.ret.factors[F[0].id].carried
    assert a.issues[0].found == f'"{CARRIED_MARK}"'
    # Confirming (clearing the mark) settles it.
    confirmed = edit(path, tmp_path / "confirmed.xlsx",
                     put(SD.sheet, {"L7": None, "L8": None}))
    assert report(confirmed) == []


# --- sheets and rows -----------------------------------------------------------------------------------------


def test_a_missing_sheet(complete, tmp_path):
    path = edit(complete, tmp_path / "no-policy.xlsx", lambda wb: wb.remove(wb["Policy"]))
    assert report(path) == [("'Policy'", "SHEET_001")]
    a = check_return(path, SPEC)
    assert a.status == Status.INVALID
    assert a.scores.aspect("policy").room_for_manoeuvre is None
    assert a.issues[0].message.startswith(CATALOGUE[Code.SHEET_001].title + '; found no sheet called "Policy"')


def _drop_names(wb: openpyxl.Workbook) -> None:
    for name in list(wb.defined_names):
        del wb.defined_names[name]


def test_an_overwritten_factor_id_with_names_intact_still_reads_by_name(complete, tmp_path):
    # The defined names still find the cells, so the id cell is not needed to read the answers.
    path = edit(complete, tmp_path / "id.xlsx", put(SD.sheet, {"A6": "oops"}))
    assert report(path) == []


def test_an_overwritten_factor_or_model_id_without_names(complete, tmp_path):
    def change(wb):
        _drop_names(wb)
        wb[SD.sheet]["A6"] = "sd_wellbeing"  # the id of F[1], mistyped
        wb[L.MODELS]["A7"] = ""  # the id of the third model, cleared

    path = edit(complete, tmp_path / "ids.xlsx", change)
    assert report(path) == [("'System design'!C6", "SHEET_002"), ("'Models'!D7", "SHEET_002")]
    a = check_return(path, SPEC)
    assert a.read_by == READ_BY_IDS
    assert a.issues[0].found == f'no row with factor id "{F[1].id}"'


# --- the form version ----------------------------------------------------------------------------------------


def _spec_copy(tmp_path: Path, name: str, change: Callable[[dict], None]):
    data = yaml.safe_load(default_spec_path().read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    change(data)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return load_spec(path)


def test_not_a_return_no_form_stamp(complete, tmp_path):
    def change(wb):
        lists = wb[L.LISTS]
        for row in range(1, len(L.META_KEYS) + 1):
            lists.cell(row=row, column=L.META_KEY_COL + 2).value = None
        wb[L.COVER]["A2"] = "Self-assessment"
        wb.custom_doc_props = CustomPropertyList()

    path = edit(complete, tmp_path / "unstamped.xlsx", change)
    assert report(path) == [("'Cover'!A2", "SPEC_001")]
    a = check_return(path, SPEC)
    assert a.status == Status.INVALID and a.scores is None


def test_a_plain_workbook_with_the_same_sheet_names(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = L.COVER
    for sheet in [a.sheet for a in SPEC.aspects] + [L.MODELS, L.SCORES, L.HOW, L.LISTS]:
        wb.create_sheet(sheet)
    wb.save(tmp_path / "plain.xlsx")
    a = check_return(tmp_path / "plain.xlsx", SPEC)
    assert a.status == Status.INVALID
    # Far from our form: the missing stamp is the one thing worth saying, not 76 missing rows.
    assert [(i.location, i.code.value) for i in a.issues] == [("'Cover'!A2", "SPEC_001")]
    assert a.read_by == READ_BY_IDS


def test_a_version_we_cannot_read(tmp_path):
    old = _spec_copy(tmp_path, "old.yaml", lambda d: d.update(version="0.9"))
    src = generate(old, tmp_path / "old-blank.xlsx", Identity(), generated_at=DAY)
    path = fill_workbook(src, tmp_path / "old.xlsx", complete_answers())
    assert report(path) == [("'Cover'!A2", "SPEC_002")]
    a = check_return(path, SPEC)
    assert a.status == Status.INVALID and a.scores is None
    assert a.issues[0].found == "version 0.9" and a.issues[0].expected == f"version {SPEC.version}"


def test_another_form_altogether(tmp_path):
    other = _spec_copy(tmp_path, "other.yaml", lambda d: d.update(id="other_form"))
    src = generate(other, tmp_path / "other-blank.xlsx", Identity(), generated_at=DAY)
    path = fill_workbook(src, tmp_path / "other.xlsx", complete_answers())
    assert report(path) == [("'Cover'!A2", "SPEC_002")]


def test_an_earlier_version_is_migrated(complete, tmp_path):
    renamed = F[0].id

    def newer(d):
        d["version"] = "1.1"
        d["aspects"][0]["factors"][0]["id"] = "sd_one_system"
        d["migrations"] = [{"from_version": "1.0", "renamed": {renamed: "sd_one_system"}}]

    current = _spec_copy(tmp_path, "current.yaml", newer)
    a = check_return(complete, current)  # a 1.0 return, read against 1.1
    assert [(i.location, i.code.value) for i in a.issues] == [("'Cover'!A2", "SPEC_003")]
    assert a.status == Status.QUERIES
    assert a.migrated_from == "1.0"
    assert a.ret.spec.version == "1.1" and a.scores.spec_version == "1.1"
    assert a.ret.factors["sd_one_system"].rating == 1
    assert a.ret.factors["sd_one_system"].control == "in_control"
    assert renamed not in a.ret.factors
    original = check_return(complete, SPEC)
    assert a.scores.aspect(SD.id).room_for_manoeuvre == original.scores.aspect(SD.id).room_for_manoeuvre
    assert f"renamed: {renamed} to sd_one_system" in a.issues[0].found


def test_edited_fingerprint(complete, tmp_path):
    row = 1 + L.META_KEYS.index("spec_fingerprint")
    path = edit(complete, tmp_path / "fp.xlsx",
                lambda wb: wb[L.LISTS].cell(row=row, column=L.META_KEY_COL + 2, value="0123456789abcdef"))
    assert report(path) == [("'Cover'!A2", "SPEC_004")]
    assert check_return(path, SPEC).status == Status.QUERIES


# --- text ------------------------------------------------------------------------------------------------------


def test_text_too_long_or_with_control_characters(fill, tmp_path):
    path = fill({f"notes_{F[0].id}": "PLACEHOLDER_ONE", f"text_{SD.id}_discussion": "PLACEHOLDER_TWO"})
    planted = rewrite_zip(path, tmp_path / "text.xlsx", {b"PLACEHOLDER_ONE": b"bell_x0007_here",
                                                         b"PLACEHOLDER_TWO": b"y" * 40_000})
    a = check_return(planted, SPEC)
    assert [(i.location, i.code.value) for i in a.issues] == [(at(f"notes_{F[0].id}"), "TEXT_001"),
                                                              (at(f"text_{SD.id}_discussion"), "TEXT_001")]
    assert a.ret.factors[F[0].id].evidence == "bellhere"  # what could be kept was kept
    assert a.issues[1].found == "40,000 characters (the first 32,767 were kept)"
    assert at(f"text_{SD.id}_discussion") == "'System design'!B13"


def test_text_that_looks_like_a_formula(fill, tmp_path):
    path = fill()
    sneaky = '=HYPERLINK("http://example.invalid","click")'

    def change(wb):
        set_text(wb, f"notes_{F[5].id}", sneaky)
        set_text(wb, f"text_{SD.id}_development", "@SUM(A1)")

    planted = edit(path, tmp_path / "formula.xlsx", change)
    a = check_return(planted, SPEC)
    assert [(i.location, i.code.value) for i in a.issues] == [(at(f"notes_{F[5].id}"), "TEXT_002"),
                                                              (at(f"text_{SD.id}_development"), "TEXT_002")]
    assert a.ret.factors[F[5].id].evidence == sneaky  # kept as plain text
    assert a.status == Status.QUERIES


# --- files that are not returns ----------------------------------------------------------------------------------


def _file_issue(path: Path) -> tuple[Status, list[tuple[str, str]]]:
    a = check_return(path, SPEC)
    return a.status, [(i.location, i.code.value) for i in a.issues]


def test_a_pdf_named_xlsx(tmp_path):
    path = tmp_path / "return.xlsx"
    path.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n")
    assert _file_issue(path) == (Status.UNREADABLE, [("", "FILE_001")])
    assert check_return(path, SPEC).issues[0].found == "a PDF document"


def test_a_truncated_workbook(complete, tmp_path):
    data = complete.read_bytes()
    path = tmp_path / "cut.xlsx"
    path.write_bytes(data[: len(data) // 2])
    assert _file_issue(path) == (Status.UNREADABLE, [("", "FILE_001")])


def test_a_word_document_named_xlsx(tmp_path):
    path = tmp_path / "letter.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<document/>")
    assert _file_issue(path) == (Status.UNREADABLE, [("", "FILE_001")])
    assert check_return(path, SPEC).issues[0].found == "a Word document"


def test_a_file_that_does_not_exist(tmp_path):
    assert _file_issue(tmp_path / "nowhere.xlsx") == (Status.UNREADABLE, [("", "FILE_001")])


def test_a_password_protected_workbook(complete, tmp_path):
    from msoffcrypto.format.ooxml import OOXMLFile

    path = tmp_path / "locked.xlsx"
    with open(complete, "rb") as src, open(path, "wb") as out:
        OOXMLFile(src).encrypt("secret", out)
    assert path.read_bytes()[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an OLE2 container, not a zip
    assert _file_issue(path) == (Status.UNREADABLE, [("", "FILE_002")])


def test_an_ole2_container_with_an_encrypted_package_stream(tmp_path):
    # What any encrypting application writes: an OLE2 header and a stream named EncryptedPackage (UTF-16).
    path = tmp_path / "locked-by-hand.xlsx"
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    path.write_bytes(header + "EncryptedPackage".encode("utf-16-le") + bytes(1024))
    assert _file_issue(path) == (Status.UNREADABLE, [("", "FILE_002")])


def test_a_zip_bomb(tmp_path):
    # 150 MB of one repeated row packs to about 150 KB: written in chunks, so the test stays light.
    path = tmp_path / "bomb.xlsx"
    chunk = b"<row/>" * (1 << 16)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>")
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            for _ in range(150 * (1 << 20) // len(chunk)):
                fh.write(chunk)
    assert path.stat().st_size < 2 * (1 << 20)
    assert _file_issue(path) == (Status.UNREADABLE, [("", "FILE_003")])


def test_a_file_too_large_to_be_a_return(tmp_path):
    path = tmp_path / "huge.xlsx"
    with open(path, "wb") as fh:
        fh.truncate(30 * (1 << 20))  # sparse: costs no disk or time
    assert _file_issue(path) == (Status.UNREADABLE, [("", "FILE_003")])


def test_a_workbook_with_macros(complete, tmp_path):
    path = rewrite_zip(complete, tmp_path / "macros.xlsx", add={"xl/vbaProject.bin": bytes(range(256)) * 8})
    assert _file_issue(path) == (Status.QUERIES, [("", "FILE_004")])
    a = check_return(path, SPEC)
    assert a.ret.factors == check_return(complete, SPEC).ret.factors  # read all the same, macros never run


def test_an_empty_file(tmp_path):
    path = tmp_path / "empty.xlsx"
    path.write_bytes(b"")
    assert _file_issue(path) == (Status.UNREADABLE, [("", "FILE_005")])


def _as_xls(src: Path, dst: Path) -> Path:
    """Save a return's values as an old .xls, as 'Save As Excel 97-2003' would (names are not carried)."""
    import xlwt  # in the test extra: a real .xls writer, so the reader meets a real old-format file
    book = openpyxl.load_workbook(src)
    out = xlwt.Workbook()
    for ws in book.worksheets:
        sheet = out.add_sheet(ws.title)
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is not None and cell.data_type != "f":
                    sheet.write(cell.row - 1, cell.column - 1, cell.value)
    out.save(str(dst))
    return dst


def test_an_old_xls_return(complete, tmp_path):
    path = _as_xls(complete, tmp_path / "leeds.xls")
    assert path.read_bytes()[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    a = check_return(path, SPEC)
    assert [(i.location, i.code.value) for i in a.issues] == [("", "FILE_007")]
    assert a.status == Status.QUERIES and a.read_by == READ_BY_IDS
    original = check_return(complete, SPEC)
    assert a.ret.factors == original.ret.factors
    assert a.ret.texts == original.ret.texts and a.ret.priorities == original.ret.priorities
    assert a.scores.to_json() == original.scores.to_json()


# --- what people type ------------------------------------------------------------------------------------------


def test_what_people_type_is_cleaned(fill, tmp_path):
    path = fill({
        f"rating_{F[0].id}": "4",  # the leading number of "4 - Supports us"
        f"rating_{F[1].id}": "4.0",
        f"rating_{F[2].id}": "  4 \u2013 supports us ",  # en dash, lower case, stray spaces
        f"rating_{F[3].id}": "Don\u2019t know",  # smart apostrophe
        f"rating_{F[4].id}": "5\u00a0-\u00a0STRONGLY SUPPORTS US",  # non-breaking spaces, upper case
        f"importance_{F[0].id}": "HIGH",
        f"control_{F[0].id}": None,
        f"boost_{F[0].id}": "YES",
        f"control_{F[1].id}": None, f"boost_{F[1].id}": "no",
        f"boost_{F[2].id}": "Yes", f"boost_{F[3].id}": None,
        f"rating_{F[5].id}": "2", f"control_{F[5].id}": "IN OUR CONTROL",
        f"priority_{M[0].id}": "3 - SOME FIT",
        f"priority_{M[1].id}": "5",
    })
    rel = SPEC.aspects[1]
    assert rating_of(F.index(rel.factors[0])) == 2
    typed = edit(path, tmp_path / "typed.xlsx", put(rel.sheet, {"C5": 2.0}))  # a number
    a = check_return(typed, SPEC)
    assert a.issues == []
    got = {f.id: a.ret.factors[f.id] for f in SD.factors}
    assert [got[f.id].rating for f in SD.factors] == [4, 4, 4, None, 5, 2]
    assert got[F[3].id].dont_know is True
    assert got[F[0].id].importance == 3 and got[F[0].id].boost is True and got[F[1].id].boost is False
    assert got[F[5].id].control == "in_control"
    assert a.ret.factors[rel.factors[0].id].rating == 2
    assert a.ret.priorities[M[0].id] == 3 and a.ret.priorities[M[1].id] == 5


# --- status, one per return --------------------------------------------------------------------------------


def test_status_per_return(complete, fill, tmp_path):
    queried = fill({f"boost_{SUPPORTER.id}": None}, name="queried.xlsx")
    invalid = fill({f"rating_{NEUTRAL.id}": "seven"}, name="invalid.xlsx")
    empty = tmp_path / "empty.xlsx"
    empty.write_bytes(b"")
    assert [check_return(p, SPEC).status for p in (complete, queried, invalid, empty)] == [
        Status.VALID, Status.QUERIES, Status.INVALID, Status.UNREADABLE]


# --- names dropped, rows moved ---------------------------------------------------------------------------------


def _same_answers(a, b) -> None:
    assert a.ret.identity == b.ret.identity
    assert a.ret.factors == b.ret.factors
    assert a.ret.texts == b.ret.texts
    assert a.ret.priorities == b.ret.priorities
    assert a.scores.to_json() == b.scores.to_json()


def test_names_dropped_reads_by_the_ids_in_the_rows(complete, tmp_path):
    # What a web app's export does: the names go, the cells stay.
    path = edit(complete, tmp_path / "no-names.xlsx", _drop_names)
    assert not openpyxl.load_workbook(path).defined_names
    a, original = check_return(path, SPEC), check_return(complete, SPEC)
    assert a.read_by == READ_BY_IDS and original.read_by == READ_BY_NAMES
    assert a.issues == []
    _same_answers(a, original)


def _shift_names(wb: openpyxl.Workbook, sheet: str, at_row: int, n: int) -> None:
    """Move the names on `sheet` at or below `at_row` down by n rows, as Excel and LibreOffice do."""
    for name, dn in list(wb.defined_names.items()):
        (target, ref), = list(dn.destinations) or [(None, None)]
        if target != sheet:
            continue
        col, row = ref.replace("$", " ").split()
        if int(row) >= at_row:
            quoted = sheet.replace("'", "''")
            wb.defined_names[name] = DefinedName(name, attr_text=f"'{quoted}'!${col}${int(row) + n}")


def test_rows_inserted_in_a_spreadsheet_application(complete, tmp_path):
    def change(wb):
        wb[SD.sheet].insert_rows(3, 2)
        _shift_names(wb, SD.sheet, 3, 2)

    path = edit(complete, tmp_path / "moved.xlsx", change)
    a = check_return(path, SPEC)
    assert a.read_by == READ_BY_NAMES and a.issues == []
    assert a.ret.factors[F[0].id].rating == 1
    _same_answers(a, check_return(complete, SPEC))


def test_a_column_inserted_in_a_spreadsheet_application(complete, tmp_path):
    # Excel moves the names along with the cells; the names then lead to the answers, not the layout's columns.
    def change(wb):
        wb[SD.sheet].insert_cols(2, 1)
        for name, dn in list(wb.defined_names.items()):
            (target, ref), = list(dn.destinations) or [(None, None)]
            if target != SD.sheet:
                continue
            col, row = ref.replace("$", " ").split()
            index = column_index_from_string(col)
            if index >= 2:
                moved = f"'{SD.sheet}'!${get_column_letter(index + 1)}${row}"
                wb.defined_names[name] = DefinedName(name, attr_text=moved)

    path = edit(complete, tmp_path / "column.xlsx", change)
    a = check_return(path, SPEC)
    assert a.read_by == READ_BY_NAMES and a.issues == []
    assert [i.cell for i in check_return(fill_workbook(path, tmp_path / "bad.xlsx", {f"rating_{NEUTRAL.id}": "seven"}),
                                   SPEC).issues] == ["D7"]  # the moved cell is the one reported
    _same_answers(a, check_return(complete, SPEC))


def test_rows_inserted_by_a_script_that_leaves_the_names_behind(complete, tmp_path):
    # openpyxl's insert_rows moves the cells but not the names, which then point two rows too high.
    # The reader checks the factor id in the row a name points at, and follows the id when they disagree.
    path = edit(complete, tmp_path / "stale.xlsx", lambda wb: wb[SD.sheet].insert_rows(3, 2))
    names = openpyxl.load_workbook(path).defined_names
    assert list(names[f"rating_{F[0].id}"].destinations) == [(SD.sheet, "$C$5")]  # stale: the row is now 7
    a = check_return(path, SPEC)
    assert a.issues == []
    _same_answers(a, check_return(complete, SPEC))


def test_rows_inserted_and_names_dropped(complete, tmp_path):
    def change(wb):
        _drop_names(wb)
        wb[SD.sheet].insert_rows(3, 2)
        wb[L.MODELS].insert_rows(2, 1)
        wb[L.COVER].insert_rows(2, 1)

    path = edit(complete, tmp_path / "moved-no-names.xlsx", change)
    a = check_return(path, SPEC)
    assert a.read_by == READ_BY_IDS and a.issues == []
    _same_answers(a, check_return(complete, SPEC))


# --- scoa check --------------------------------------------------------------------------------------------------


def test_check_json_shape_and_exit_codes(complete, fill, tmp_path):
    queried = fill({f"boost_{SUPPORTER.id}": None}, name="queried.xlsx")
    invalid = fill({f"rating_{NEUTRAL.id}": "seven"}, name="invalid.xlsx")
    runner = CliRunner()

    ok = runner.invoke(main, ["check", str(complete), str(queried), "--json"])
    assert ok.exit_code == 0  # queries alone never fail a check
    data = json.loads(ok.stdout)
    assert [d["file"] for d in data] == [str(complete), str(queried)]
    assert [d["status"] for d in data] == ["valid", "queries"]
    assert data[0]["issues"] == []
    (only,) = data[1]["issues"]
    assert {"severity", "code", "sheet", "cell", "message"} <= set(only)
    assert (only["severity"], only["code"], only["sheet"], only["cell"]) == ("query", "ANS_002", SD.sheet, "F8")
    assert only["message"].endswith(CATALOGUE[Code.ANS_002].fix)

    bad = runner.invoke(main, ["check", str(complete), str(invalid), "--json"])
    assert bad.exit_code == 1
    assert [d["status"] for d in json.loads(bad.stdout)] == ["valid", "invalid"]

    empty = tmp_path / "empty.xlsx"
    empty.write_bytes(b"")
    unreadable = runner.invoke(main, ["check", str(empty), "--json"])
    assert unreadable.exit_code == 1
    (entry,) = json.loads(unreadable.stdout)
    assert entry["status"] == "unreadable"
    assert [(i["code"], i["sheet"], i["cell"]) for i in entry["issues"]] == [("FILE_005", None, None)]


def test_check_table(complete, fill):
    invalid = fill({f"rating_{NEUTRAL.id}": "seven", f"boost_{SUPPORTER.id}": None}, name="invalid.xlsx")
    result = CliRunner().invoke(main, ["check", str(complete), str(invalid)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{complete}: valid")
    assert lines[1].startswith(f"{invalid}: invalid (1 errors, 1 queries")
    header = lines.index("File | Sheet!Cell | Severity | Code | Message")
    rows = [line.split(" | ", 4) for line in lines[header + 1:]]
    assert [r[:4] for r in rows] == [[str(invalid), "'System design'!C7", "error", "VAL_001"],
                                     [str(invalid), "'System design'!F8", "query", "ANS_002"]]
    assert rows[0][4].startswith(CATALOGUE[Code.VAL_001].title)


def test_check_in_workers_reports_as_one_process_does(complete, fill, tmp_path):
    """A folder large enough to be checked by worker processes gives the same answers, in the order given; a file
    that takes too long is reported as unreadable (FILE_006) and the others are still checked."""
    invalid = fill({f"rating_{NEUTRAL.id}": "seven"}, name="invalid.xlsx")
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"PK\x03\x04 not a zip")
    paths = []
    for k in range(PARALLEL_FROM + 5):
        dup = tmp_path / f"r{k:03}.xlsx"
        shutil.copyfile((complete, invalid, junk)[k % 3], dup)
        paths.append(dup)

    def seen(results):
        return [(name, a.status, [(i.location, i.code) for i in a.issues]) for name, a in results]

    alone = seen(check_paths(paths, SPEC, jobs=1))
    assert [s for _, s, _ in alone[:3]] == [Status.VALID, Status.INVALID, Status.UNREADABLE]
    assert seen(check_paths(paths, SPEC, jobs=2)) == alone
    late = list(check_paths(paths, SPEC, jobs=2, time_limit=0.0))  # every file overruns a limit of no time at all
    assert [name for name, _ in late] == [name for name, _, _ in alone]
    assert {(a.status, tuple(i.code for i in a.issues)) for _, a in late} == {(Status.UNREADABLE, (Code.FILE_006,))}


def test_check_with_a_bad_spec_no_traceback_unless_debug(complete, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: scoa\nversion: [unclosed\n", encoding="utf-8")
    runner = CliRunner()
    plain = runner.invoke(main, ["check", "--spec", str(bad), str(complete)])
    assert plain.exit_code == 1
    assert f"{bad.resolve()}: line 3, column 1: not valid YAML" in plain.stderr
    assert "Traceback" not in plain.stderr + plain.stdout
    assert not isinstance(plain.exception, SpecError)
    debug = runner.invoke(main, ["--debug", "check", "--spec", str(bad), str(complete)])
    assert isinstance(debug.exception, SpecError)  # raised, so click's runner (and a terminal) shows the traceback


def test_check_never_shows_a_traceback_for_a_bad_file(tmp_path):
    path = tmp_path / "junk.xlsx"
    path.write_bytes(b"PK\x03\x04 this is not really a zip")
    for args in (["check", str(path)], ["--debug", "check", str(path)], ["score", str(path)]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1, args
        assert result.exception is None or isinstance(result.exception, SystemExit), args
        assert "Traceback" not in result.stdout + result.stderr


def test_inputs_are_never_modified(complete, tmp_path):
    before, mtime = complete.read_bytes(), complete.stat().st_mtime_ns
    runs = [CliRunner().invoke(main, args) for args in (
        ["check", str(complete), "--json"], ["score", str(complete), "--json"],
        ["plan", str(complete), "-o", str(tmp_path / "plan.xlsx")],
        ["fields", str(complete), "--json"])]
    assert [r.exit_code for r in runs] == [0, 0, 0, 0], [r.output for r in runs]
    assert json.loads(runs[0].stdout)[0]["status"] == "valid"
    assert complete.read_bytes() == before
    assert complete.stat().st_mtime_ns == mtime
