"""The one way the tool opens a workbook for writing (xlsxwriter): text a person typed never becomes a formula,
a number or a link; the file's parts are assembled in memory; and each formula is prepared for the file once.

Measured (issue 7): xlsxwriter writes each part of a workbook to a temporary file before zipping it, and runs some
150 regular-expression substitutions over every formula, data validation and conditional format to mark functions
newer than Excel 2007. For the self-assessment workbook those two were half the time to generate it; the same
formulas recur in every workbook of a register, so each is rewritten once per process.
"""

from __future__ import annotations

import io
from pathlib import Path

from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from .fileio import atomic_output  # noqa: F401 - writers open their output through it

SAFE_TEXT = {"strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False}

_PREPARED: dict[tuple, str] = {}
_PREPARED_LIMIT = 10_000  # distinct formulas remembered; a form has a few hundred


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


class _Workbook(Workbook):
    """A workbook assembled in memory and written to its file in one go when closed.

    xlsxwriter zips straight into the file it is given; when the disk fills half-way, the zip writer it leaves
    behind later prints an "Exception ignored" traceback as it is collected. Zipping into memory and writing the
    bytes ourselves makes a full disk one plain OSError, raised by close()."""

    worksheet_class = _Worksheet  # xlsxwriter's documented way to use a Worksheet subclass

    def __init__(self, path: Path | str, options: dict):
        self._target = Path(path)
        self._buffer = io.BytesIO()
        super().__init__(self._buffer, options)

    def close(self) -> None:
        super().close()
        data = self._buffer.getvalue()
        self._buffer = io.BytesIO()
        with open(self._target, "wb") as fh:
            fh.write(data)


def new_workbook(path: Path | str, **options) -> Workbook:
    """An xlsxwriter Workbook writing to `path` on close(), with the tool's safe options (and any others given)."""
    return _Workbook(path, {**SAFE_TEXT, "in_memory": True, **options})


def page_setup(ws, header: str = "", *, landscape: bool = True, repeat: int | None = None) -> None:
    """Print-ready: A4, one page wide, the sheet name and page number in the footer, no gridlines."""
    ws.set_paper(9)  # A4
    if landscape:
        ws.set_landscape()
    ws.fit_to_pages(1, 0)
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


def radar_chart(wb: Workbook, sheet: str, top: int, bottom: int):
    """The room-for-manoeuvre radar: aspect names in column A and scores in column B, rows top..bottom (1-based)."""
    chart = wb.add_chart({"type": "radar", "subtype": "filled"})
    chart.add_series({"name": "Room for manoeuvre", "categories": f"='{sheet}'!$A${top}:$A${bottom}",
                      "values": f"='{sheet}'!$B${top}:$B${bottom}",
                      "fill": {"color": "#1d70b8", "transparency": 60}, "line": {"color": "#1d70b8"}})
    chart.set_title({"name": "Room for manoeuvre by aspect (0-100)"})
    chart.set_y_axis({"min": 0, "max": 100, "major_unit": 25})
    chart.set_legend({"none": True})
    chart.set_size({"width": 620, "height": 420})
    return chart
