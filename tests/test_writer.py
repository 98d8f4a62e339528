"""The workbook writer's streamed sheets: rows go to a file as they are written, and the sheet a person opens is
the same as one held in memory, its Excel table included (xlsxwriter itself refuses a table on such a sheet)."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import openpyxl
import pytest
from office import convert
from python_calamine import CalamineWorkbook

from scoa_xl.writer import fit_row, new_workbook

HEADERS = ["Council", "Note", "Score"]
ROWS = [
    ("Barsetshire", "A long note that wraps onto several lines in a column this narrow, so its row is taller", 61.5),
    ("Loamshire", "", 40.0),
    ("Wessex", "Short", None),
]


def _write(path: Path, streamed: bool, rows=ROWS) -> None:
    wb = new_workbook(path, spill=path.parent)
    head = wb.add_format({"bold": True, "text_wrap": True})
    wrap = wb.add_format({"text_wrap": True})
    ws = wb.add_streamed_worksheet("Data") if streamed else wb.add_worksheet("Data")
    ws.write_string(0, 0, "A title above the table")
    top = 2
    for c, h in enumerate(HEADERS):
        ws.write_string(top, c, h, head)
    fit_row(ws, top, [(h, 10) for h in HEADERS], bold=True)
    for r, (council, note, score) in enumerate(rows, start=top + 1):
        ws.write_string(r, 0, council, wrap)
        if note:
            ws.write_string(r, 1, note, wrap)
        else:
            ws.write_blank(r, 1, None, wrap)
        if score is None:
            ws.write_blank(r, 2, None, wrap)
        else:
            ws.write_number(r, 2, score)
        fit_row(ws, r, [(council, 14), (note, 20)])
    last = top + max(1, len(rows))
    ws.add_table(top, 0, last, len(HEADERS) - 1, {
        "name": "tblData", "style": "Table Style Light 1", "autofilter": True,
        "columns": [{"header": h, "header_format": head} for h in HEADERS]})
    ws.write_string(last + 2, 0, "A line below the table")
    ws.set_column(1, 1, 20)
    ws.freeze_panes(top + 1, 1)
    wb.close()


def _seen(path: Path) -> tuple:
    wb = openpyxl.load_workbook(path)
    ws = wb["Data"]
    cells = {c.coordinate: (c.value, c.font.b, c.alignment.wrap_text) for row in ws.iter_rows() for c in row
             if c.value is not None or c.has_style}
    heights = {r: d.height for r, d in ws.row_dimensions.items() if d.height}
    tables = {n: (ws.tables[n].ref, [col.name for col in ws.tables[n].tableColumns]) for n in ws.tables}
    return cells, heights, tables, ws.freeze_panes


@pytest.mark.parametrize("rows", [ROWS, []], ids=["rows", "empty"])
def test_a_streamed_sheet_reads_back_as_the_same_sheet_held_in_memory(tmp_path: Path, rows) -> None:
    held, streamed = tmp_path / "held" / "book.xlsx", tmp_path / "streamed" / "book.xlsx"
    held.parent.mkdir()
    streamed.parent.mkdir()
    _write(held, False, rows)
    _write(streamed, True, rows)
    with zipfile.ZipFile(streamed) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert 't="inlineStr"' in sheet  # really streamed: each text in its cell, not in the shared list
    with zipfile.ZipFile(held) as z:
        assert 't="inlineStr"' not in z.read("xl/worksheets/sheet1.xml").decode()
    seen = _seen(streamed)
    assert seen == _seen(held)
    cells, heights, tables, _ = seen
    assert tables == {"tblData": (f"A3:C{3 + max(1, len(rows))}", HEADERS)}
    assert [cells[f"{c}3"][0] for c in "ABC"] == HEADERS  # the header row is the table's, written once
    if rows:
        assert heights[4] > heights[5]  # the wrapped note's row is taller
        assert cells["C4"][0] == 61.5
    values = CalamineWorkbook.from_path(str(streamed)).get_sheet_by_name("Data").to_python()
    assert values[2][:3] == HEADERS
    assert {tuple(r[:3]) for r in values[3:3 + len(rows)]} == {(c, n, "" if s is None else s) for c, n, s in rows}


def test_libreoffice_opens_a_streamed_sheet_with_its_table(tmp_path: Path, soffice: str) -> None:
    path = tmp_path / "in" / "book.xlsx"
    path.parent.mkdir()
    _write(path, True)
    (resaved,) = convert([path], tmp_path / "resaved")
    cells, _, tables, _ = _seen(resaved)
    assert tables["tblData"][1] == HEADERS
    assert cells["A4"][0] == "Barsetshire" and cells["C4"][0] == 61.5 and cells["A8"][0] == "A line below the table"


def test_a_streamed_sheet_refuses_a_table_that_would_write_into_rows_already_written(tmp_path: Path) -> None:
    wb = new_workbook(tmp_path / "book.xlsx", spill=tmp_path)
    ws = wb.add_streamed_worksheet("Data")
    ws.write_string(0, 0, "Total")
    with pytest.raises(ValueError, match="streamed"):
        ws.add_table(0, 0, 2, 0, {"columns": [{"header": "Total", "formula": "=1+1"}]})
    with pytest.raises(ValueError, match="streamed"):
        ws.add_table(0, 0, 2, 0, {"data": [[1], [2]]})
    wb.close()


def test_a_workbook_assembled_in_memory_holds_its_sheets_in_memory_too(tmp_path: Path) -> None:
    wb = new_workbook(tmp_path / "book.xlsx")  # no spill folder: xlsxwriter streams only into files
    ws = wb.add_streamed_worksheet("Data")
    assert not ws.constant_memory
    ws.write_string(0, 0, "x")
    wb.close()
    assert openpyxl.load_workbook(tmp_path / "book.xlsx")["Data"]["A1"].value == "x"


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "held"])
def test_a_table_may_be_given_as_a_range_in_words(tmp_path: Path, streamed: bool) -> None:
    wb = new_workbook(tmp_path / "book.xlsx", spill=tmp_path)
    ws = wb.add_streamed_worksheet("Data") if streamed else wb.add_worksheet("Data")
    ws.write_row(0, 0, ["Council", "Score"])
    ws.write_row(1, 0, ["Wessex", 12])
    ws.add_table("A1:B2", {"name": "tblWords", "columns": [{"header": "Council"}, {"header": "Score"}]})
    wb.close()
    ws2 = openpyxl.load_workbook(tmp_path / "book.xlsx")["Data"]
    assert ws2.tables["tblWords"].ref == "A1:B2"
    assert [[c.value for c in row] for row in ws2.iter_rows()] == [["Council", "Score"], ["Wessex", 12]]


def test_cells_written_directly_are_byte_for_byte_what_xlsxwriter_writes(tmp_path):
    """The writer writes the commonest cells (text or a number in a format of their own), and the rows that hold
    them, straight into the sheet; every kind of cell and row, formatted or not, must come out exactly as
    xlsxwriter's own Workbook writes it."""
    from xlsxwriter.workbook import Workbook

    from scoa_xl.writer import SAFE_TEXT

    def fill(wb) -> None:
        bold = wb.add_format({"bold": True})
        money = wb.add_format({"num_format": "0.0"})
        ws = wb.add_worksheet("Cells")
        ws.write_string(7, 6, "first, so each bound of the sheet's used range moves later", bold)
        ws.set_column(3, 3, 12, money)
        ws.set_row(4, 30, bold)
        ws.write_string(0, 0, "plain text")
        ws.write_string(0, 1, "bold & <escaped> \"text\"", bold)
        ws.write_string(0, 2, "  spaced  ", bold)
        ws.write_string(0, 3, "_x0041_ and a tab\there", bold)
        ws.write_number(1, 0, 61.25)
        ws.write_number(1, 1, 1 / 3, money)
        ws.write_number(1, 2, 12345678901234567890, money)
        ws.write_number(1, 3, -0.0001, bold)
        ws.write_number(2, 3, 7)  # the column's format
        ws.write_string(4, 0, "the row's format")
        ws.write_blank(5, 0, None, bold)
        ws.write_boolean(5, 1, True, bold)
        ws.write_formula(5, 2, "=B2*2", money, 0.67)
        ws.write_datetime(5, 3, dt.datetime(2026, 12, 3, 9, 30), wb.add_format({"num_format": "yyyy-mm-dd"}))
        ws.write_rich_string(6, 0, "a ", bold, "rich", " string", bold)
        ws.write_string(7, 16383, "the last column", bold)
        ws.set_row(9, 20)  # a row's height before any cell of it, then cells above and to the left of the last
        ws.write_string(9, 5, "after a row height")
        ws.write_string("C9", "in A1 notation", bold)
        ws.write_string(3, 0, "x" * 40_000, bold)  # cut to Excel's limit, as xlsxwriter cuts it
        ws.write_string(8, 16384, "beyond the last column")
        ws.write_string(1_048_576, 0, "beyond the last row")
        ws.write_string(-1, 0, "before the first row")
        ws.write(10, 0, "through write()", bold)
        ws.set_row(40, 18, None, {"hidden": True, "level": 2})  # rows with a height alone, in later blocks of 16
        ws.set_row(41, None, bold, {"collapsed": True})
        ws.set_row(70, 0)  # hidden by a height of 0
        ws.write_number(70, 2, 3, money)
        ws.write_string(90, 1, "alone in its block of 16 rows", bold)
        text = wb.add_worksheet("Text only")  # the used range comes from these alone
        for row, col in ((5, 4), (2, 1), (8, 7), (3, 2), (37, 3)):
            text.write_string(row, col, f"row {row}, column {col}", bold)
        tall = wb.add_worksheet("Taller rows")  # every row taller by default, one row given its own height
        tall.set_default_row(24)
        tall.write_string(0, 0, "a row of the default height", bold)
        tall.set_row(2, 15)
        tall.write_number(2, 1, 2.5, money)
        noted = wb.add_worksheet("Comments")  # a sheet with comments: xlsxwriter's own rows
        noted.write_string(0, 0, "commented", bold)
        noted.write_comment(3, 2, "a note")

    for attempt in range(2):  # the second time, each text's XML is the one the writer remembered
        ours, theirs = tmp_path / f"ours-{attempt}.xlsx", tmp_path / f"theirs-{attempt}.xlsx"
        wb = new_workbook(ours)
        fill(wb)
        args = ((3, 1, "y" * 40_000), (0, 16384, "z"), (2, 2, "w"), (11, 0, "a\x01control\x1f"), (12, 0, " lead"),
                (13, 0, "x" * 500 + " "), (14, 0, "<r>not rich</r>"), (15, 0, "\ufffe"))
        said = [wb.worksheets()[0].write_string(*a) for a in args]
        wb.close()
        plain = Workbook(str(theirs), {**SAFE_TEXT, "in_memory": True})
        fill(plain)
        assert said == [plain.worksheets()[0].write_string(*a) for a in args] == [-2, -1, 0, 0, 0, 0, 0, 0]
        plain.close()
        with zipfile.ZipFile(ours) as a, zipfile.ZipFile(theirs) as b:
            for part in ("xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml", "xl/worksheets/sheet3.xml",
                         "xl/worksheets/sheet4.xml", "xl/sharedStrings.xml"):
                assert a.read(part) == b.read(part), (attempt, part)
            assert b'<c r="B2" s="' in a.read("xl/worksheets/sheet1.xml")  # the cells the writer writes itself


def test_parts_are_zipped_fast_and_xlsxwriter_is_left_as_it_was(tmp_path):
    """The writer zips at zlib's fastest level by lending xlsxwriter its own zip writer while it zips: the parts
    must inflate to what a zip at the default level holds, and xlsxwriter's zip writer must be its own again
    afterwards, also when zipping failed."""
    import xlsxwriter.workbook as xw

    def fill(wb) -> None:
        ws = wb.add_worksheet("Words")
        for r in range(300):
            ws.write_string(r, 0, f"row {r}: the same words over and over, row after row", wb.add_format({}))

    fast, usual = tmp_path / "fast.xlsx", tmp_path / "usual.xlsx"
    wb = new_workbook(fast)
    fill(wb)
    wb.close()
    assert xw.ZipFile is zipfile.ZipFile
    from xlsxwriter.workbook import Workbook

    from scoa_xl.writer import SAFE_TEXT

    plain = Workbook(str(usual), {**SAFE_TEXT, "in_memory": True})
    fill(plain)
    plain.close()
    with zipfile.ZipFile(fast) as a, zipfile.ZipFile(usual) as b:
        assert a.namelist() == b.namelist()
        for info in a.infolist():
            assert info.compress_type == zipfile.ZIP_DEFLATED
            assert a.read(info) == b.read(info.filename)
        sheet = "xl/worksheets/sheet1.xml"
        assert a.getinfo(sheet).compress_size != b.getinfo(sheet).compress_size  # another level was used
    wb = new_workbook(tmp_path / "clash.xlsx")  # two tables of one name: xlsxwriter refuses while it zips
    fill(wb)
    wb.worksheets()[0].add_table(0, 2, 3, 3, {"name": "Same"})
    wb.worksheets()[0].add_table(5, 2, 8, 3, {"name": "Same"})
    with pytest.raises(Exception, match="Same"):
        wb.close()
    assert xw.ZipFile is zipfile.ZipFile
    assert not (tmp_path / "clash.xlsx").exists()


def test_a_streamed_sheet_is_byte_for_byte_what_xlsxwriter_streams(tmp_path):
    """A streamed sheet (the summary's big sheets) holds each text in its cell; the writer writes each text's XML
    as xlsxwriter made it the first time it met the text, and the sheet must come out exactly as xlsxwriter's
    own constant_memory mode writes it, whether the text is met for the first time or again."""
    from xlsxwriter.workbook import Workbook

    from scoa_xl.writer import SAFE_TEXT

    texts = ["plain", "bold & <escaped> \"text\"", "  spaced  ", "a\x01control\x1f", "_x0041_ kept", "<r>not rich</r>",
             "x" * 500 + " ", "line one\nline two", "\ufffe", ""]

    def fill(wb, ws) -> None:
        bold, money = wb.add_format({"bold": True}), wb.add_format({"num_format": "0.0"})
        for r in range(30):
            ws.set_row(r, 15 + r % 3 * 15)
            for c, text in enumerate(texts):
                ws.write_string(r, c, text if r % 2 else text.upper(), bold)
            ws.write_number(r, len(texts), r / 7, money)
            ws.write_string(r, len(texts) + 1, f"unformatted {r % 4}")
            ws.write_blank(r, len(texts) + 2, None, bold)

    for attempt in range(2):  # the second time, every text's XML is the one remembered
        ours, theirs = tmp_path / f"ours-{attempt}.xlsx", tmp_path / f"theirs-{attempt}.xlsx"
        wb = new_workbook(ours, spill=tmp_path)
        fill(wb, wb.add_streamed_worksheet("Streamed"))
        wb.close()
        plain = Workbook(str(theirs), {**SAFE_TEXT, "constant_memory": True, "tmpdir": str(tmp_path)})
        fill(plain, plain.add_worksheet("Streamed"))
        plain.close()
        with zipfile.ZipFile(ours) as a, zipfile.ZipFile(theirs) as b:
            sheet = a.read("xl/worksheets/sheet1.xml")
            assert sheet == b.read("xl/worksheets/sheet1.xml"), attempt
            assert b't="inlineStr"><is><t xml:space="preserve">  spaced  </t>' in sheet
