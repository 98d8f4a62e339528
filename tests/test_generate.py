"""The generated workbook, read back with openpyxl: names, dropdowns, protection, print setup, the dictionary."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from openpyxl.utils.cell import range_boundaries

from scoa_xl import layout as L
from scoa_xl.cli import main
from scoa_xl.errors import CATALOGUE, Code
from scoa_xl.fields import spec_fields
from scoa_xl.generate import CARRIED_MARK, FormTemplate, Prefill, generate, template_key
from scoa_xl.issuing import issue_workbooks
from scoa_xl.model import CONTROL_IDS, FactorAnswer, FieldKind, Identity
from scoa_xl.register import load_register
from scoa_xl.spec import load_spec

SPEC = load_spec()
LAYOUT = L.build_layout(SPEC)
DAY = dt.date(2026, 1, 5)
INPUT_KINDS = {FieldKind.IDENTITY, FieldKind.RATING, FieldKind.IMPORTANCE, FieldKind.CONTROL, FieldKind.BOOST,
               FieldKind.TEXT, FieldKind.PRIORITY}
LIST_KINDS = {"rating", "importance", "control", "boost", "priority"}
# Functions Excel, LibreOffice and Google Sheets all have (no XLOOKUP, LET, FILTER or other dynamic arrays).
SHARED_FUNCTIONS = {"IF", "IFERROR", "VALUE", "LEFT", "MATCH", "ISNUMBER", "COUNT", "COUNTIF", "COUNTIFS", "SUM",
                    "SUMIF", "SUMIFS", "SUMPRODUCT", "AVERAGE", "RANK", "AND", "OR", "NOT", "ROUND", "INDEX",
                    "MIN", "MAX", "LEN", "TRIM", "ISBLANK", "COUNTA"}


@pytest.fixture(scope="module")
def workbook(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "leeds.xlsx"
    return generate(SPEC, out, Identity(council="Leeds", council_code="E08000035", respondent="Jo Bloggs"),
                    generated_at=DAY)


@pytest.fixture(scope="module")
def wb(workbook) -> openpyxl.Workbook:
    return openpyxl.load_workbook(workbook)


def _cells(sqref) -> set[str]:
    """Every cell of a data validation's ranges, A1 style."""
    out = set()
    for rng in str(sqref).split():
        min_col, min_row, max_col, max_row = range_boundaries(rng)
        out |= {L.a1(r - 1, c - 1) for r in range(min_row, max_row + 1) for c in range(min_col, max_col + 1)}
    return out


def test_every_field_has_a_workbook_level_defined_name(wb):
    for f in LAYOUT.fields:
        assert f.name in wb.defined_names, f.name
        dests = list(wb.defined_names[f.name].destinations)
        assert dests == [(f.sheet, f.absolute.rsplit("!", 1)[1])], f.name
    # Names are workbook-level: no sheet holds a sheet-scoped copy that could shadow them.
    assert all(not ws.defined_names for ws in wb.worksheets)
    assert len({f.name.casefold() for f in LAYOUT.fields}) == len(LAYOUT.fields)


def test_dropdowns_read_from_the_hidden_lists_sheet(wb):
    covered: dict[str, set[tuple[str, str]]] = {k: set() for k in LIST_KINDS}
    for ws in wb.worksheets:
        for dv in ws.data_validations.dataValidation:
            if dv.type != "list":
                continue
            # The source is a range on the Lists sheet, never an inline "a,b,c" list (cut at 255 characters).
            assert not dv.formula1.startswith('"'), dv.formula1
            m = re.fullmatch(r"'Lists'!\$([A-Z])\$2:\$\1\$(\d+)", dv.formula1)
            assert m, dv.formula1
            kind = L.LIST_COLUMNS[ord(m.group(1)) - ord("A")]
            assert int(m.group(2)) == 1 + len(getattr(SPEC, kind))
            assert dv.showInputMessage and dv.prompt and dv.promptTitle
            assert dv.showErrorMessage and dv.error and dv.errorTitle
            assert dv.errorStyle in (None, "stop")  # None is the file format's default: stop
            covered[kind] |= {(ws.title, c) for c in _cells(dv.sqref)}
    for f in LAYOUT.fields:
        if f.kind.value in LIST_KINDS:
            assert (f.sheet, f.cell) in covered[f.kind.value], f.name
    # And the lists hold exactly the spec's labels, in scale order.
    lists = wb[L.LISTS]
    for col, kind in enumerate(L.LIST_COLUMNS):
        labels = [lists.cell(row=r, column=col + 1).value for r in range(2, 2 + len(getattr(SPEC, kind)))]
        assert labels == [c.label for c in getattr(SPEC, kind)]


def test_protection_and_unlocked_inputs(wb):
    for ws in wb.worksheets:
        assert ws.protection.sheet, ws.title
        assert not ws.protection.password  # a guard against accidents, liftable by the programme team
    for f in LAYOUT.fields:
        cell = wb[f.sheet][f.cell]
        if f.kind in INPUT_KINDS:
            assert cell.protection.locked is False, f.name
        else:
            assert cell.protection.locked is True, f.name
    for aspect in SPEC.aspects:
        ws = wb[aspect.sheet]
        for i, factor in enumerate(aspect.factors):
            row = L.FIRST_FACTOR_ROW + i + 1
            assert ws[f"B{row}"].value == factor.statement
            assert ws[f"B{row}"].protection.locked is True
            assert ws[f"A{row}"].value == factor.id
            assert ws[f"A{row}"].protection.locked is True
            assert ws[f"L{row}"].protection.locked is False  # the carried-forward mark can be cleared


def test_lists_sheet_is_hidden_and_holds_the_stamp(wb):
    assert wb[L.LISTS].sheet_state == "hidden"
    assert [ws.title for ws in wb.worksheets if ws.sheet_state != "visible"] == [L.LISTS]
    lists = wb[L.LISTS]
    meta = {lists.cell(row=r, column=L.META_KEY_COL + 1).value: lists.cell(row=r, column=L.META_KEY_COL + 2).value
            for r in range(1, 1 + len(L.META_KEYS))}
    assert meta["spec_id"] == SPEC.id
    assert meta["spec_version"] == SPEC.version
    assert meta["spec_fingerprint"] == SPEC.fingerprint
    assert meta["generated_at"] == DAY.isoformat()
    assert re.fullmatch(r"[0-9a-f]{12}", meta["workbook_id"])
    # The stamp is also on the cover, in words, for applications that drop hidden sheets' names and properties.
    assert f"form {SPEC.id} version {SPEC.version}" in wb[L.COVER]["A2"].value


def test_custom_document_properties_carry_the_stamp(wb):
    props = {p.name: p.value for p in wb.custom_doc_props.props}
    lists = wb[L.LISTS]
    workbook_id = lists.cell(row=1 + L.META_KEYS.index("workbook_id"), column=L.META_KEY_COL + 2).value
    assert props == {"scoa_spec_id": SPEC.id, "scoa_spec_version": SPEC.version,
                     "scoa_spec_fingerprint": SPEC.fingerprint, "scoa_workbook_id": workbook_id}
    assert wb.properties.created == dt.datetime(DAY.year, DAY.month, DAY.day)


def test_same_inputs_give_a_byte_identical_file(tmp_path, workbook):
    again = generate(SPEC, tmp_path / "again.xlsx",
                     Identity(council="Leeds", council_code="E08000035", respondent="Jo Bloggs"), generated_at=DAY)
    assert again.read_bytes() == workbook.read_bytes()
    other = generate(SPEC, tmp_path / "other.xlsx", Identity(council="York"), generated_at=DAY)
    assert other.read_bytes() != workbook.read_bytes()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".~")] == []  # no temp files left


ODD_NAMES = [  # each a name the form holds as plain text, XML's escapes aside
    ("Borsetshire & Felpersham <Unitary> \"City\"", "E99000011"), ("Borchester's Lynn", "E99000012"),
    ("Ynys Môn Cyngor Sir", "W99000001"), ("A council whose name is long enough to wrap onto a second line and "
                                            "then onto a third line of the cover's answer column", "E99000013")]
FALLBACKS = [  # each held in some other way (a control character's code, a text the form holds already), or empty
    ("Borsetshire\x07", "E99000001"), ("Council", "E99000002"), ("Borsetshire", ""),
    ("Borsetshire _x0041_", "E99000003")]


def test_a_register_is_issued_from_one_form_byte_for_byte_as_generated(tmp_path):
    """Every council of the bundled register, and names that need XML's escapes or wrap to more lines, comes out
    of the form template byte for byte as generate() writes it; a name the template cannot hold as plain text is
    generated in full (and so is the same too)."""
    register = tmp_path / "register.csv"
    councils = [(c.name, c.code) for c in load_register()] + ODD_NAMES + FALLBACKS
    lines = ["name,code,region"] + [",".join('"' + v.replace('"', '""') + '"' for v in (n, c, "Test"))
                                     for n, c in councils]
    register.write_text("\n".join(lines) + "\n", encoding="utf-8")
    issued = issue_workbooks(SPEC, register, tmp_path / "issued", day=DAY, respondent="Jo Bloggs", jobs=2)
    assert [(i.council.name, i.council.code) for i in issued] == councils
    forms: dict[tuple, FormTemplate] = {}
    for i in issued:
        identity = Identity(council=i.council.name, council_code=i.council.code, respondent="Jo Bloggs")
        key = template_key(SPEC, DAY, identity)
        form = forms.get(key) or forms.setdefault(key, FormTemplate.make(SPEC, DAY, identity))
        expected = generate(SPEC, tmp_path / "one.xlsx", identity, generated_at=DAY).read_bytes()
        assert i.file.read_bytes() == expected, i.council.name
        assert form.fill(identity) == (None if (i.council.name, i.council.code) in FALLBACKS else expected)
    assert len(forms) >= 2  # the long name's taller row is a form of its own
    leeds = Identity(council="Leeds", council_code="E08000035", respondent="Jo Bloggs")
    form = FormTemplate.make(SPEC, DAY, leeds)
    assert form.fill(replace(leeds, council=" Leeds ")) is None  # spaces at either end are kept another way
    assert form.fill(replace(leeds, council_code="Leeds")) is None  # two fields with one text share a string
    assert form.fill(replace(leeds, respondent="Sam")) is None  # not this template's form


def test_no_merged_cells(wb):
    for ws in wb.worksheets:
        assert not ws.merged_cells.ranges, ws.title


def test_print_setup(wb):
    # Issue 14: the wide sheets (aspects, models) print at full size over several pages across, with the factor
    # statement or model name repeated on each page; the narrow ones are fitted to one page wide.
    aspect_sheets = {a.sheet for a in SPEC.aspects}
    for ws in wb.worksheets:
        if ws.title == L.LISTS:
            continue
        assert ws.page_setup.paperSize == 9, ws.title  # A4
        assert ws.page_setup.fitToHeight in (None, 0), ws.title  # as many pages down as it takes
        assert ws.print_area, ws.title
        if ws.title in aspect_sheets or ws.title == L.MODELS:
            assert ws.page_setup.orientation == "landscape", ws.title
            assert ws.print_title_rows, ws.title  # the header row repeats on every page
            assert not ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
            assert ws.page_setup.scale in (None, 100), ws.title  # absent means the default, 100%
            assert ws.print_title_cols in ("$A:$A", "$B:$B"), ws.title
        else:
            assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
            assert (ws.page_setup.fitToWidth or 1) == 1, ws.title  # absent means the default, 1 page wide
    assert wb[aspect_sheets.pop()].print_title_rows == f"${L.HEADER_ROW + 1}:${L.HEADER_ROW + 1}"


def test_live_formulas_use_only_functions_every_application_has(wb):
    used: set[str] = set()
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    text = re.sub(r'"[^"]*"', "", str(cell.value))  # ignore words inside strings
                    used |= set(re.findall(r"([A-Z][A-Z0-9.]*)\(", text))
    assert used, "expected live formulas"
    assert used <= SHARED_FUNCTIONS, used - SHARED_FUNCTIONS


def test_typed_text_is_never_written_as_a_formula(tmp_path):
    sneaky = '=HYPERLINK("http://example.invalid","click")'
    first = SPEC.aspects[0].factors[0]
    pre = Prefill(factors={first.id: FactorAnswer(first.id, 4, None, None, True, sneaky)},
                  texts={SPEC.aspects[0].id: {"strengths": "+SUM(A1:A9)"}})
    path = generate(SPEC, tmp_path / "pre.xlsx", Identity(council="=cmd|' /C calc'!A0"), prefill=pre,
                    generated_at=DAY)
    wb = openpyxl.load_workbook(path)
    fields = {f.name: f for f in LAYOUT.fields}
    for name, text in ((f"notes_{first.id}", sneaky), (f"text_{SPEC.aspects[0].id}_strengths", "+SUM(A1:A9)"),
                       ("identity_council", "=cmd|' /C calc'!A0")):
        cell = wb[fields[name].sheet][fields[name].cell]
        assert cell.data_type == "s" and cell.value == text, name
    ws = wb[SPEC.aspects[0].sheet]
    assert ws[f"L{L.FIRST_FACTOR_ROW + 1}"].value == CARRIED_MARK  # prefilled answers are marked for confirmation


# --- the data dictionary -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dictionary(workbook) -> list[dict]:
    result = CliRunner().invoke(main, ["fields", str(workbook), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_fields_json_equals_the_specs_dictionary(dictionary):
    assert dictionary == spec_fields(SPEC)
    assert [d["name"] for d in dictionary] == [f.name for f in LAYOUT.fields]


def test_fields_json_has_the_public_shape(dictionary, wb):
    keys = {"name", "sheet", "cell", "label", "kind", "aspect", "factor", "model", "choices"}
    aspect_ids = {a.id for a in SPEC.aspects}
    factor_ids = {f.id for f in SPEC.factors}
    model_ids = {m.id for m in SPEC.models}
    for d in dictionary:
        assert set(d) == keys | ({"measure"} if d["kind"] == "computed" else set()), d["name"]
        assert d["kind"] in {k.value for k in FieldKind}
        assert re.fullmatch(r"[A-Z]{1,3}[1-9]\d*", d["cell"]), d  # A1 style, no $
        assert d["sheet"] in wb.sheetnames
        assert isinstance(d["label"], str) and d["label"]
        assert d["aspect"] is None or d["aspect"] in aspect_ids
        assert d["factor"] is None or d["factor"] in factor_ids
        assert d["model"] is None or d["model"] in model_ids
        if d["kind"] in LIST_KINDS:
            assert d["choices"], d["name"]
            labels = [c["label"] for c in d["choices"]]
            assert labels == [c.label for c in getattr(SPEC, d["kind"])]  # exactly what the dropdown offers
        else:
            assert d["choices"] is None, d["name"]

    by_kind = {}
    for d in dictionary:
        by_kind.setdefault(d["kind"], []).append(d)
    values = lambda kind: [c["value"] for c in by_kind[kind][0]["choices"]]  # noqa: E731
    assert values("rating") == [1, 2, 3, 4, 5, None]
    assert by_kind["rating"][0]["choices"][-1]["label"].casefold().replace("\u2019", "'") == "don't know"
    assert values("importance") == [1, 2, 3]
    assert values("priority") == [1, 2, 3, 4, 5]
    assert values("boost") == [True, False]
    assert values("control") == list(CONTROL_IDS)
    assert {d["kind"] for d in dictionary} == {k.value for k in FieldKind}

    # Labels the user sees: the factor statement for a rating, the model name for a priority.
    statements = {f.id: f.statement for f in SPEC.factors}
    assert all(d["label"] == statements[d["factor"]] for d in by_kind["rating"])
    names = {m.id: m.name for m in SPEC.models}
    assert all(d["label"] == names[d["model"]] for d in by_kind["priority"])
    assert len(by_kind["rating"]) == len(SPEC.factors)
    assert len(by_kind["priority"]) == len(SPEC.models)

    # Computed fields say what they measure: room for manoeuvre per aspect, and overall with aspect null.
    rfm = [d for d in by_kind["computed"] if d["measure"] == "room_for_manoeuvre"]
    assert sorted(d["aspect"] for d in rfm if d["aspect"]) == sorted(aspect_ids)
    overall = [d for d in rfm if d["aspect"] is None]
    assert len(overall) == 1 and overall[0]["sheet"] == L.SCORES
    assert all(d["measure"] for d in by_kind["computed"])
    assert {d["measure"] for d in by_kind["computed"]} >= {"room_for_manoeuvre", "readiness", "priority_fit", "fit"}


def test_fields_table_output(workbook):
    result = CliRunner().invoke(main, ["fields", str(workbook)])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["Name", "Cell", "Kind", "Label"]
    first = SPEC.factors[0]
    assert any(line.startswith(f"rating_{first.id} ") and f"'{SPEC.aspects[0].sheet}'!C5" in line
               for line in lines)
    assert len(lines) == 1 + len(LAYOUT.fields)


def test_fields_of_a_file_that_is_not_a_workbook(tmp_path):
    bad = tmp_path / "notes.xlsx"
    bad.write_bytes(b"%PDF-1.4 not a workbook")
    result = CliRunner().invoke(main, ["fields", str(bad), "--json"])
    assert result.exit_code == 1
    assert CATALOGUE[Code.FILE_001].title in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
