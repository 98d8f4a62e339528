"""The one way the tool opens a workbook for writing (xlsxwriter): text a person typed never becomes a formula,
a number or a link; the file's parts are assembled in memory (or, for the summary, in files beside it, its big
sheets streamed row by row); each formula, and each shared text's XML, is prepared once per process; and the
commonest cells are written straight into the sheet's XML, byte for byte as xlsxwriter writes them.

Measured (issue 7): xlsxwriter writes each part of a workbook to a temporary file before zipping it, and runs some
150 regular-expression substitutions over every formula, data validation and conditional format to mark functions
newer than Excel 2007. For the self-assessment workbook those two were half the time to generate it; the same
formulas recur in every workbook of a register, so each is rewritten once per process.
"""

from __future__ import annotations

import io
import shutil
import tempfile
import textwrap
import zipfile
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import xlsxwriter.workbook as xlsxwriter_workbook
from xlsxwriter.exceptions import FileCreateError
from xlsxwriter.packager import Packager
from xlsxwriter.sharedstrings import SharedStrings
from xlsxwriter.utility import xl_col_to_name, xl_rowcol_to_cell_fast
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import CellNumberTuple, CellStringTuple, Worksheet, convert_range_args

from .fileio import TEMP_PREFIX

SAFE_TEXT = {"strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False}

_PREPARED: dict[tuple, str] = {}
_PREPARED_LIMIT = 10_000  # distinct formulas remembered; a form has a few hundred
_SHARED: dict[str, str] = {}
_SHARED_LIMIT = 5_000  # distinct texts remembered as XML; a plan has about 300, most of them the spec's own
_SHARED_LONGEST = 400  # characters: longer texts (a council's evidence) seldom recur, and are escaped afresh
_INLINE: dict[str, str] = {}  # a streamed cell's text as xlsxwriter writes it, from _INLINE_MARK on (same limits)
_INLINE_MARK = ' t="inlineStr">'


class _Worksheet(Worksheet):
    """A worksheet that remembers how xlsxwriter prepared each formula (a pure function of its arguments)."""

    def _prepare_formula(self, formula, *args, **kwargs):
        key = (formula, self.use_future_functions, args, tuple(sorted(kwargs.items())))
        prepared = _PREPARED.get(key)
        if prepared is None:
            if len(_PREPARED) >= _PREPARED_LIMIT:
                _PREPARED.clear()
            prepared = _PREPARED[key] = super()._prepare_formula(formula, *args, **kwargs)
        return prepared

    def write_string(self, row, col, *args, **kwargs):
        """xlsxwriter's, with its commonest case (a cell given by row and column, on a sheet held in memory, text short
        enough never to be cut) done here in one step, where its own goes through two more calls (3% of a plan's
        instructions, measured). Anything else, a cell out of bounds included, goes to xlsxwriter's."""
        string = args[0] if args else None
        if (type(row) is int and type(col) is int and type(string) is str and len(args) <= 2 and not kwargs
                and not self.constant_memory and len(string) <= self.xls_strmax // 2
                and not self._check_dimensions(row, col)):  # in bounds: the used range now takes it in
            self.table[row][col] = CellStringTuple(self.str_table._get_shared_string_index(string),
                                                   args[1] if len(args) == 2 else None)
            return 0
        return super().write_string(row, col, *args, **kwargs)

    def _write_cell(self, row, col, cell):
        """xlsxwriter's, with its commonest cells written straight out: text or a number, in a format of its own (nine
        in ten of a plan's cells, and of the summary's). Its own version builds and escapes each attribute in turn;
        written here, a plan takes an eighth fewer instructions (measured). On a streamed sheet a text is held in its
        cell, escaped: each text's XML is made by xlsxwriter's own code once per process and remembered. Anything
        else goes to xlsxwriter's."""
        fmt = cell.format
        if fmt is not None:
            kind = type(cell)
            if kind is CellStringTuple:
                if not self.constant_memory:
                    self.fh.write(f'<c r="{xl_rowcol_to_cell_fast(row, col)}" s="{fmt._get_xf_index()}" t="s">'
                                  f'<v>{cell.string}</v></c>')
                    return
                tail = _INLINE.get(cell.string)
                if tail is not None:
                    self.fh.write(f'<c r="{xl_rowcol_to_cell_fast(row, col)}" s="{fmt._get_xf_index()}"{tail}')
                    return
                out, self.fh = self.fh, io.StringIO()
                try:
                    super()._write_cell(row, col, cell)
                    xml = self.fh.getvalue()
                finally:
                    self.fh = out
                self.fh.write(xml)
                if len(cell.string) <= _SHARED_LONGEST:
                    if len(_INLINE) >= _SHARED_LIMIT:
                        _INLINE.clear()
                    _INLINE[cell.string] = xml[xml.index(_INLINE_MARK):]
                return
            if kind is CellNumberTuple:
                self.fh.write(f'<c r="{xl_rowcol_to_cell_fast(row, col)}" s="{fmt._get_xf_index()}">'
                              f'<v>{cell.number:.16G}</v></c>')
                return
        super()._write_cell(row, col, cell)

    def _write_rows(self):
        """xlsxwriter's <sheetData> rows in one pass, byte for byte as its own: the rows with cells or a height in
        order, each block of 16 rows with the columns it spans, and the commonest cells written as _write_cell
        writes them, into one string. Its own visits every column of every row of the used range, twice, and writes
        each attribute in turn (a sixth of a plan's time, measured). A sheet with comments, streamed, or marked for
        Excel 2010 goes to xlsxwriter's."""
        if self.comments or self.constant_memory or self.excel_version == 2010:
            return super()._write_rows()
        first, last, info, default = self.dim_rowmin, self.dim_rowmax, self.row_info, self.default_row_height
        left, right = self.dim_colmin, self.dim_colmax
        rows = sorted(r for r in {*info, *(r for r, cells in self.table.items() if cells)} if first <= r <= last)
        spans: dict[int, tuple[int, int]] = {}
        for r in rows:
            cells = self.table.get(r)
            if cells:
                lo, hi = min(cells), max(cells)
                if lo < left or hi > right:  # never so (each cell moves the used range), but then xlsxwriter's
                    return super()._write_rows()
                held = spans.get(r >> 4)
                spans[r >> 4] = (lo, hi) if held is None else (min(held[0], lo), max(held[1], hi))
        out: list[str] = []
        add = out.append
        xf: dict[int, int] = {}
        names = _column_names(right + 1)
        span_of = {block: f' spans="{lo + 1}:{hi + 1}"' for block, (lo, hi) in spans.items()}
        for r in rows:
            ri = info.get(r)
            tag = f'<row r="{r + 1}"{span_of.get(r >> 4, "")}'
            if ri is not None:
                height = default if ri.height is None else ri.height
                if ri.row_format:
                    tag += f' s="{x}" customFormat="1"' if (x := ri.row_format._get_xf_index()) else \
                        ' customFormat="1"'
                custom = height != self.original_row_height or height != default
                if custom:
                    tag += f' ht="{height * 0.75:.16g}"'
                if ri.hidden:
                    tag += ' hidden="1"'
                if custom:
                    tag += ' customHeight="1"'
                if ri.level:
                    tag += f' outlineLevel="{ri.level}"'
                if ri.collapsed:
                    tag += ' collapsed="1"'
            elif default != self.original_row_height:
                tag += f' ht="{default * 0.75:.16g}" customHeight="1"'
            cells = self.table.get(r)
            if not cells:
                add(tag + "/>")
                continue
            add(tag + ">")
            number = str(r + 1)
            for col in sorted(cells):
                cell = cells[col]
                fmt, kind = cell.format, type(cell)
                if fmt is not None and (kind is CellStringTuple or kind is CellNumberTuple):
                    s = xf.get(id(fmt))
                    if s is None:
                        s = xf[id(fmt)] = fmt._get_xf_index()
                    if kind is CellStringTuple:
                        add(f'<c r="{names[col]}{number}" s="{s}" t="s"><v>{cell.string}</v></c>')
                    else:
                        add(f'<c r="{names[col]}{number}" s="{s}"><v>{cell.number:.16G}</v></c>')
                else:
                    self.fh.write("".join(out))
                    out.clear()
                    super()._write_cell(r, col, cell)
            add("</row>")
        self.fh.write("".join(out))

    @convert_range_args  # as xlsxwriter's own: a range may also be given as "A1:D9"
    def add_table(self, first_row, first_col, last_row, last_col, options=None):
        """xlsxwriter's add_table, also on a streamed sheet (_Workbook.add_streamed_worksheet), which it refuses.

        A streamed sheet's rows are on disk once written, so the table can only describe them: its header cells are
        written by the caller, as any other row, and whatever add_table would write into the sheet is set aside.
        xlsxwriter also keeps an entry for every cell of the table, about 100 bytes each, only to refuse a later
        table or merged range laid over it; on a streamed sheet (one that grows with the batch) those are dropped."""
        if not self.constant_memory:
            return super().add_table(first_row, first_col, last_row, last_col, options)
        if options and ("data" in options or options.get("total_row")
                        or any("formula" in c for c in options.get("columns", ()))):
            raise ValueError("a streamed sheet's table can hold only what was written into its rows")
        held = {row: dict(cells) for row, cells in self.table.items()}  # the row not yet on disk
        self.constant_memory = False
        try:
            return super().add_table(first_row, first_col, last_row, last_col, options)
        finally:
            self.constant_memory = True
            self.table.clear()
            self.table.update(held)
            getattr(self, "table_cells", {}).clear()


@lru_cache(maxsize=8)
def _column_names(count: int) -> tuple[str, ...]:
    """The letters of the first `count` columns (A, B, ... XFD), for cell references."""
    return tuple(xl_col_to_name(c) for c in range(count))


class _SharedStrings(SharedStrings):
    """xlsxwriter's shared strings part, each text's XML made once per process: the statements, labels and approaches
    of the spec are in every workbook of a batch, and xlsxwriter escapes each afresh (three regular expressions)."""

    def _write_si(self, string):
        xml = _SHARED.get(string)
        if xml is None:
            out, self.fh = self.fh, io.StringIO()
            try:
                super()._write_si(string)
                xml = self.fh.getvalue()
            finally:
                self.fh = out
            if len(string) <= _SHARED_LONGEST:
                if len(_SHARED) >= _SHARED_LIMIT:
                    _SHARED.clear()
                _SHARED[string] = xml
        self.fh.write(xml)


class _Packager(Packager):
    """xlsxwriter's packager, with the shared strings above (its own method, with the class changed)."""

    def _write_shared_strings_file(self) -> None:
        sst = _SharedStrings()
        sst.string_table = self.workbook.str_table
        if not self.workbook.str_table.count:
            return
        sst._set_xml_writer(self._filename("xl/sharedStrings.xml"))
        sst._assemble_xml_file()


class _Buffer(io.BytesIO):
    """Where a workbook is zipped: a buffer that stays open until it is collected.

    When a part cannot be written (a full disk), xlsxwriter leaves its zip writer open on this buffer; collected
    later, the writer writes its last record here. Collected in the same sweep, a buffer that closed itself first
    would make the writer print an "Exception ignored" traceback instead."""

    def close(self) -> None:
        return None


ZIP_LEVEL = 1  # zlib's fastest: measured on a plan, 1.0 ms less to write (of about 25) for 13% more bytes


class ZipWriter(zipfile.ZipFile):
    """A zip writer compressing each part at ZIP_LEVEL rather than zlib's default (6): the one xlsxwriter is lent, and
    the one a form template is zipped with, so both give the same bytes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **{**kwargs, "compresslevel": ZIP_LEVEL})

    def writestr(self, zinfo_or_arcname, data, compress_type=None, compresslevel=None):
        super().writestr(zinfo_or_arcname, data, compress_type, ZIP_LEVEL if compresslevel is None else compresslevel)


class _Workbook(Workbook):
    """A workbook assembled in memory and written to its file in one go when closed.

    xlsxwriter zips straight into the file it is given; when the disk fills half-way, the zip writer it leaves
    behind later prints an "Exception ignored" traceback as it is collected. Zipping into memory and writing the
    bytes ourselves makes a full disk one plain OSError, raised by close()."""

    worksheet_class = _Worksheet  # xlsxwriter's documented way to use a Worksheet subclass

    def __init__(self, path: Path | str, options: dict, spill: Path | None = None):
        self._target = Path(path)
        self._buffer: io.BytesIO = _Buffer()
        self._spill = ""
        if spill is not None:
            self._spill = tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=spill)
            options = {**options, "in_memory": False, "tmpdir": self._spill}
        super().__init__(self._buffer, options)

    def _get_packager(self) -> Packager:  # xlsxwriter's own hook for a packager of one's own
        return _Packager()

    def add_streamed_worksheet(self, name: str) -> _Worksheet:
        """A worksheet whose rows go to a file as they are written instead of staying in memory (xlsxwriter's
        constant_memory mode, for this sheet alone): for a sheet that grows with the batch.

        Its cells must be written row by row, top to bottom, each row's height set while it is the row being
        written: anything written later into an earlier row is dropped. Text is stored in each cell, not in the
        shared list; a chart gets no cached figures from it; its tables are added as on any sheet."""
        if self.in_memory:  # xlsxwriter streams only when it assembles the parts in files (see spill)
            return self.add_worksheet(name)
        self.constant_memory = True  # read by add_worksheet, for the sheet it makes
        try:
            return self.add_worksheet(name)
        finally:
            self.constant_memory = False

    def _store_workbook(self) -> None:
        # xlsxwriter has no setting for how hard it compresses: its module's zip writer is ours while it zips.
        held = xlsxwriter_workbook.ZipFile
        xlsxwriter_workbook.ZipFile = ZipWriter
        try:
            super()._store_workbook()
        finally:
            xlsxwriter_workbook.ZipFile = held

    def close(self) -> None:
        try:
            super().close()
        except FileCreateError as exc:  # a part could not be spilled (a full disk): the OSError it wraps
            cause = exc.args[0] if exc.args else None
            if isinstance(cause, OSError):
                raise cause from None
            raise
        finally:
            if self._spill:
                shutil.rmtree(self._spill, ignore_errors=True)
        data = self._buffer.getvalue()
        self._buffer = io.BytesIO()
        with open(self._target, "wb") as fh:
            fh.write(data)


def new_workbook(path: Path | str, *, spill: Path | None = None, **options) -> _Workbook:
    """An xlsxwriter Workbook writing to `path` on close(), with the tool's safe options (and any others given).

    With `spill` (a folder), each part is assembled in a temporary file there (removed on closing, whatever
    happens) rather than all of them in memory at once: for a workbook whose size grows with the batch (the
    summary), where holding every part at once had been a third of a 1,000-return batch's growth in memory."""
    return _Workbook(path, {**SAFE_TEXT, "in_memory": True, **options}, spill)


# Printing on A4 (inches less the margins set below) and how wide a column prints: a column is measured in
# characters of the default font, 7 pixels each in Excel plus 5 of padding, at 96 pixels to the inch; LibreOffice
# (measured on its PDFs of these workbooks) makes each about 7.6 pixels, so that is the figure used.
A4_WIDTH_IN = {True: 11.69 - 1.0, False: 8.27 - 1.0}  # landscape, portrait
PIXELS_PER_WIDTH = 7.6
MIN_FIT_SCALE = 0.8  # a sheet is shrunk to one page wide only if that keeps it at 80% or more
LINE_HEIGHT = 15  # points per line of 11-point text
MAX_ROW_HEIGHT = 409  # Excel's limit
CHARS_PER_WIDTH = 1.0  # characters of 11-point Arial per unit of column width, on the safe side (measured: 1.0-1.1)


def column_inches(widths: Sequence[float]) -> float:
    """How wide columns of these widths print, in inches."""
    return sum(w * PIXELS_PER_WIDTH + 5 for w in widths) / 96


def page_setup(ws, header: str = "", *, landscape: bool = True, repeat: int | None = None,
               widths: Sequence[float] = (), repeat_cols: tuple[int, int] | None = None) -> None:
    """Print-ready on A4: the sheet name and page number in the footer, no gridlines, the header row repeated.

    Repeated columns start at column A: a repeated column further right would also print, on every page, the
    part of a title or note in column A that runs on into it.

    A sheet whose columns (`widths`) fit one page wide at 80% or more is fitted to one page wide; a wider sheet
    prints at full size over several pages across, with the columns `repeat_cols` (first, last) repeated on each, so
    that no page is too small to read.
    """
    ws.set_paper(9)  # A4
    if landscape:
        ws.set_landscape()
    else:
        ws.set_portrait()
    if not prints_wide(widths, landscape):
        ws.fit_to_pages(1, 0)
    else:
        ws.set_print_scale(100)
        if repeat_cols is not None:
            if repeat_cols[0] != 0:
                raise ValueError("repeated columns start at column A")
            ws.repeat_columns(*repeat_cols)
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
    if repeat is not None:
        ws.repeat_rows(repeat)
    ws.set_footer("&L&A&RPage &P of &N")
    if header:
        # Excel's header limit is 255 characters, codes included ('&' is doubled to print); a council's
        # name can be longer than that.
        text = header if len(header) <= 120 else header[:117] + "..."
        ws.set_header("&L" + text.replace("&", "&&"))
    ws.hide_gridlines(2)


# ---------------------------------------------------------------- one rule for wrapped text


@lru_cache(maxsize=8192)  # the same statements and approaches recur in every workbook of a batch
def wrapped_lines(text: str, width: float, *, bold: bool = False) -> int:
    """How many lines `text` wraps to in a column `width` characters wide (a generous estimate)."""
    chars = max(4, int(width * CHARS_PER_WIDTH * (0.9 if bold else 1.0)))
    total = 0
    for part in str(text).split("\n"):
        lines, used = 1, 0
        for word in part.split(" "):
            n = len(word)
            if used and used + 1 + n > chars:
                lines, used = lines + 1, 0
            while n > chars:  # a word longer than the column breaks anywhere
                lines, n = lines + 1, n - chars
            used = used + (1 if used else 0) + n
        total += lines
    return total


def row_height(cells: Iterable[tuple[object, float]], *, minimum: int = 1, bold: bool = False,
               size: float = 11) -> float:
    """The height in points of a row whose wrapped cells hold these (text, column width) pairs."""
    lines = max([minimum] + [wrapped_lines(str(t), w, bold=bold) for t, w in cells if t not in (None, "")])
    return min(MAX_ROW_HEIGHT, lines * LINE_HEIGHT * size / 11 + 3)


def fit_row(ws, row: int, cells: Iterable[tuple[object, float]], *, minimum: int = 1, bold: bool = False,
            size: float = 11, fmt=None) -> None:
    """Set a row tall enough for its wrapped text. Every writer calls this for every row with wrapped text:
    neither Excel nor LibreOffice grows a row written with no height when the file is opened."""
    ws.set_row(row, row_height(cells, minimum=minimum, bold=bold, size=size), fmt)


def prints_wide(widths: Sequence[float], landscape: bool = True) -> bool:
    """Whether a sheet of these column widths prints over several pages across (see page_setup)."""
    return column_inches(widths) > A4_WIDTH_IN[landscape] / MIN_FIT_SCALE


def text_lines(text: str, widths: Sequence[float], *, landscape: bool = True) -> list[str]:
    """`text` broken into lines that each fit, unwrapped, across columns of these widths and within the columns of
    the first printed page: a paragraph that runs across empty cells instead of a merged cell. (An application
    cuts text that runs past the last column printed on a page.)"""
    return list(_text_lines(text, tuple(widths), landscape))


@lru_cache(maxsize=2048)  # the same explanations recur in every plan and summary of a batch
def _text_lines(text: str, widths: tuple[float, ...], landscape: bool) -> tuple[str, ...]:
    page = A4_WIDTH_IN[landscape]
    if not widths:
        usable = page
    elif prints_wide(widths, landscape):
        usable, used = 0.0, 0.0
        for w in widths:
            used += column_inches([w])
            if used > page * 0.97:  # a column that only just fits may be pushed to the next page
                break
            usable = used
    else:
        usable = min(column_inches(widths), page)
    chars = max(20, int(usable * 96 / 7 * CHARS_PER_WIDTH * 0.95))
    return tuple(textwrap.wrap(text, chars) or [""])


def bar_chart_size(labels: int, width: int = 720) -> dict[str, int]:
    """A horizontal bar chart tall enough to show every category label (about 30 pixels a bar, plus the title
    and axis): the 288-point default shows only about seven."""
    return {"width": width, "height": max(320, 110 + 32 * labels)}


def radar_chart(wb: Workbook, sheet: str, top: int, bottom: int):
    """The room-for-manoeuvre radar: aspect names in column A and scores in column B, rows top..bottom (1-based)."""
    chart = wb.add_chart({"type": "radar", "subtype": "filled"})
    chart.add_series({"name": "Room for manoeuvre", "categories": f"='{sheet}'!$A${top}:$A${bottom}",
                      "values": f"='{sheet}'!$B${top}:$B${bottom}",
                      "fill": {"color": "#1d70b8", "transparency": 60}, "line": {"color": "#1d70b8"}})
    chart.set_title({"name": "Room for manoeuvre by aspect (0-100)", "name_font": {"size": 12}})
    chart.set_y_axis({"min": 0, "max": 100, "major_unit": 25})
    chart.set_legend({"none": True})
    chart.set_size({"width": 620, "height": 420})
    return chart
