"""An old .xls workbook's formulas: found at their cells and read back as typed, from files real writers made
(xlwt, and LibreOffice's "Excel 97-2003"), since the reader gives only what a formula last computed."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
import xlwt
from helpers import fill_workbook
from hypothesis import given, settings
from hypothesis import strategies as st
from office import convert
from openpyxl.workbook.defined_name import DefinedName

from scoa_xl.biff import FUNCTIONS, UNREADABLE, BiffFormulas, formula_text
from scoa_xl.check import check_return
from scoa_xl.errors import Code
from scoa_xl.generate import generate
from scoa_xl.model import Identity
from scoa_xl.preflight import sniff
from scoa_xl.resources import default_spec_path
from scoa_xl.spec import load_spec

SPEC = load_spec(default_spec_path())
F = SPEC.factors

# What people type, as xlwt's own formula compiler stores it: text with quotes and a dash, absolute and mixed
# references, ranges, functions with fixed and with any number of arguments, operators of every kind, another
# sheet's cell, and numbers large and small.
TYPED = ['2+2', '1.5*-3', '"He said ""hi"""&" \u2013 ok"', 'A1', '$B$2+B$3+$C4', 'SUM(A1:B3)',
         'IF(A1>2,"yes","no")', 'ROUND(2.345,2)', 'CONCATENATE("a","b","c")', 'AND(TRUE,NOT(FALSE))', '50%',
         '(1+2)*3', 'A1<>B1', 'TODAY()', "'Other sheet'!A1+1", 'MAX(1,2,3)', '2^10', '0.00001', '123456789012',
         'SUM(A1)', 'HYPERLINK("http://x","click")', 'LEN(TRIM(A1))>=3']


def test_formulas_xlwt_wrote_are_read_back_as_typed(tmp_path):
    book = xlwt.Workbook()
    ws, other = book.add_sheet("Main"), book.add_sheet("Other sheet")
    other.write(0, 0, 7)
    for i, text in enumerate(TYPED):
        ws.write(10 + i, 3, xlwt.Formula(text))
    ws.write(0, 0, "plain text")
    book.save(str(tmp_path / "typed.xls"))
    sniffed, _ = sniff(tmp_path / "typed.xls")
    assert sniffed.xls_formulas is not None
    assert sniffed.xls_formulas.texts("Main") == {(10 + i, 3): "=" + text for i, text in enumerate(TYPED)}
    assert sniffed.xls_formulas.texts("Other sheet") == {}


@pytest.fixture(scope="module")
def saved_by_libreoffice(tmp_path_factory, soffice) -> Path:
    """A sheet with a formula filled down (LibreOffice stores it once, shared by the range), a left-out argument,
    a defined name, a range on another sheet, saved as .xls by LibreOffice."""
    tmp = tmp_path_factory.mktemp("lo-xls")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Main"
    wb.create_sheet("Other sheet")["A1"] = 3
    for r in range(1, 6):
        ws[f"A{r}"] = r
        ws[f"B{r}"] = f"=A{r}+$A$1*2"
    ws["C1"] = "=IF(A1,,2)"
    wb.defined_names["Rate"] = DefinedName("Rate", attr_text="'Other sheet'!$A$1")
    ws["C2"] = "=Rate*2"
    ws["C3"] = "='Other sheet'!A1:A2"
    ws["C4"] = "=-A1%"
    wb.save(tmp / "src.xlsx")
    return convert([tmp / "src.xlsx"], tmp / "out", "xls:MS Excel 97")[0]


def test_a_formula_filled_down_is_read_at_each_cell_as_that_cell_has_it(saved_by_libreoffice):
    sniffed, _ = sniff(saved_by_libreoffice)
    assert sniffed.xls_formulas is not None
    assert sniffed.xls_formulas.shared["Main"]  # LibreOffice did share it: the test reads the shared form
    got = sniffed.xls_formulas.texts("Main")
    assert {at: got[at] for at in got if at[1] == 1} == {(r - 1, 1): f"=A{r}+$A$1*2" for r in range(1, 6)}
    assert got[0, 2] == "=IF(A1,,2)"
    assert got[2, 2] == "='Other sheet'!A1:A2"
    assert got[3, 2] == "=-A1%"
    assert got[1, 2] == UNREADABLE  # a defined name: a formula all the same, its text not read here


def test_the_function_table_agrees_with_xlrds():
    """Our table of function numbers, checked against another reader's (xlrd, in the test extra only)."""
    from xlrd.formula import func_defs

    for number, (name, args) in FUNCTIONS.items():
        their_name, least, most = func_defs[number][:3]
        assert their_name == name, number
        assert (least == most == args) if args is not None else least != most, name


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=40), st.tuples(st.integers(0, 65535), st.integers(0, 255)))
def test_damaged_formula_records_are_unreadable_not_a_failure(body, at):
    book = BiffFormulas(sheets=["A"], externs=[(0, 0, 0)], own_books={0})
    text = formula_text(body, at, {(0, 0): body}, book)
    assert text == UNREADABLE or text.startswith("=")


def test_a_formula_whose_text_cannot_be_read_is_still_never_an_answer(tmp_path, soffice):
    """A rating and a note typed as formulas over a defined name: the rating is not taken, the note not kept as
    what it showed, and each is reported at its cell."""
    blank = generate(SPEC, tmp_path / "blank.xlsx", Identity())
    filled = fill_workbook(blank, tmp_path / "named.xlsx", {"identity_council": "Leeds"},
                           {f"rating_{F[0].id}": "=LEN(identity_council)-2", f"notes_{F[1].id}": "=identity_council"})
    xls = convert([filled], tmp_path / "lo", "xls:MS Excel 97")[0]
    a = check_return(xls, SPEC)
    assert a.ret is not None
    by_code = {(i.code, i.location): i for i in a.issues}
    rating, note = (a.ret.factors[F[0].id], a.ret.factors[F[1].id])
    assert rating.rating is None and note.evidence == ""
    for field, cell in ((f"rating_{F[0].id}", "C5"), (f"notes_{F[1].id}", "G6")):
        found = [i for (code, where), i in by_code.items() if code == Code.FORMULA_002 and where.endswith(cell)]
        assert len(found) == 1, (field, sorted(str(k) for k in by_code))
        assert found[0].found.startswith("a formula (an old .xls file keeps it in a coded form")
    assert 'which shows "3"' in next(i.found for (c, w), i in by_code.items() if w.endswith("C5"))
