"""Every cell format of the workbooks we write, defined once.

Inputs are pale yellow with a dark border (the convention for "type here" in government
spreadsheets), computed cells pale grey; meaning never rests on colour alone: every input has
a header saying what goes in it.
"""

from __future__ import annotations

from xlsxwriter.workbook import Workbook

FONT = "Arial"
INK = "#0b0c0c"
INPUT_FILL = "#fff7d6"
COMPUTED_FILL = "#eef0f2"
HEADER_FILL = "#1d4f6e"
ACCENT = "#1d70b8"
WARN_FILL = "#ffdd99"

_BASE = {"font_name": FONT, "font_size": 11, "font_color": INK, "valign": "top"}

_FORMATS: dict[str, dict] = {
    "title": {"bold": True, "font_size": 16},
    "subtitle": {"font_size": 12, "italic": True},
    "heading": {"bold": True, "font_size": 13},
    "text": {"text_wrap": True},
    "note": {"italic": True},
    "label": {"bold": True, "text_wrap": True},
    "header": {"bold": True, "font_color": "#ffffff", "bg_color": HEADER_FILL, "text_wrap": True, "border": 1},
    "id": {"font_color": "#505a5f", "border": 1},
    "statement": {"text_wrap": True, "border": 1},
    "guide": {"text_wrap": True, "italic": True, "font_color": "#505a5f", "border": 1},
    "input": {"bg_color": INPUT_FILL, "border": 1, "border_color": "#505a5f", "locked": False, "text_wrap": True},
    "input_text": {"bg_color": INPUT_FILL, "border": 1, "border_color": "#505a5f", "locked": False,
                   "text_wrap": True},
    "input_date": {"bg_color": INPUT_FILL, "border": 1, "border_color": "#505a5f", "locked": False,
                   "num_format": "yyyy-mm-dd"},
    "computed": {"bg_color": COMPUTED_FILL, "border": 1, "num_format": "0.0"},
    "computed_int": {"bg_color": COMPUTED_FILL, "border": 1, "num_format": "0"},
    "computed_big": {"bg_color": COMPUTED_FILL, "border": 1, "num_format": "0.0", "bold": True, "font_size": 13},
    "number": {"num_format": "0.0", "border": 1},
    "int": {"num_format": "0", "border": 1},
    "carried": {"bg_color": WARN_FILL, "border": 1, "locked": False, "text_wrap": True, "italic": True},
    "warn": {"bg_color": WARN_FILL},
    "link": {"font_color": ACCENT, "underline": 1},
    "meta": {"font_color": "#505a5f"},
    "plain_cell": {"text_wrap": True, "border": 1},
    "bold_cell": {"bold": True, "text_wrap": True, "border": 1},
    "good": {"bg_color": "#cce2d8"},
    "bad": {"bg_color": "#f4cdc6"},
    "subheading": {"bold": True, "font_size": 12, "font_color": HEADER_FILL},
    "value": {},
    "change": {"num_format": "+0.0;-0.0;0.0", "border": 1},
}


class Styles:
    """The formats of one workbook, made on first use."""

    def __init__(self, workbook: Workbook):
        self._wb = workbook
        self._made: dict[str, object] = {}

    def __getitem__(self, key: str):
        if key not in self._made:
            self._made[key] = self._wb.add_format({**_BASE, **_FORMATS[key]})
        return self._made[key]
