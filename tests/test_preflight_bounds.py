"""Pre-flight's quick bound on a sheet's cells (every address within Z999) never refuses a real workbook, however
many sheets it has, and never lets a far-flung cell through."""

from __future__ import annotations

import pytest
import xlsxwriter
from hypothesis import given, settings
from hypothesis import strategies as st

from scoa_xl import preflight
from scoa_xl.errors import Code, ReturnUnreadable


def workbook(path, sheets: int, far: str | None = None):
    wb = xlsxwriter.Workbook(str(path))
    for i in range(sheets):
        ws = wb.add_worksheet(f"S{i}")
        for r in range(5):
            ws.write_row(r, 0, ["x", 1, 2])
    if far:
        wb.worksheets()[0].write(far, "far")
    wb.close()
    return path


def test_many_small_sheets_are_not_taken_for_a_bomb(tmp_path):
    # 100 sheets would pass the quick bound (26 x 999 cells each) over the limit: the exact count is used then.
    assert 100 * preflight.SMALL_SHEET > preflight.MAX_CELLS
    assert preflight.sniff(workbook(tmp_path / "many.xlsx", 100))[0].kind == "xlsx"


@pytest.mark.parametrize("far", ["AA1", "A1000", "CV5000"])
def test_an_address_beyond_the_quick_bound_is_counted_exactly(tmp_path, far):
    assert preflight.sniff(workbook(tmp_path / "wide.xlsx", 2, far))[0].kind == "xlsx"
    assert preflight._xlsx_cells(b'<sheetData><row r="1"><c r="' + far.encode() + b'"/></row></sheetData>') > 26


def test_a_far_flung_cell_is_still_refused(tmp_path):
    with pytest.raises(ReturnUnreadable) as caught:
        preflight.sniff(workbook(tmp_path / "bomb.xlsx", 1, "XFD1048576"))
    assert caught.value.issue.code == Code.FILE_003


CELL_TAGS = st.sampled_from([
    '<c r="{a}"><v>1</v></c>', '<c r="{a}" t="s"><v>0</v></c>', "<c r='{a}'><v>1</v></c>", '<c  r="{a}"/>',
    '<c\tr="{a}"><v>1</v></c>', "<c><v>1</v></c>", '<x:c r="{a}"><x:v>1</x:v></x:c>', '<c r="{a}"></c>'])
OTHER_TAGS = st.sampled_from(["", '<cols><col min="1" max="3" width="9"/></cols>', "<cellWatches/>",
                              "<customSheetViews/>", '<conditionalFormatting sqref="A1"><cfRule/>'
                              "</conditionalFormatting>", '<x:row r="{r}">'])
ADDRESSES = st.tuples(st.sampled_from(["A", "C", "Z", "AA", "CV", "XFD"]), st.sampled_from([1, 9, 999, 1000, 70000]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(CELL_TAGS, ADDRESSES, OTHER_TAGS), min_size=1, max_size=12))
def test_the_quick_bound_is_never_below_the_exact_count(cells):
    """However a sheet's tags are written, the bound pre-flight uses is at least what a walk over every row and
    cell finds: a quick answer never hides a cell far out."""
    body = "".join(other.format(r=row) + tag.format(a=f"{col}{row}") for tag, (col, row), other in cells)
    xml = f'<worksheet><sheetData><row r="1">{body}</row></sheetData></worksheet>'.encode()
    assert preflight._xlsx_cells(xml) >= preflight._xlsx_cells_exact(xml)
