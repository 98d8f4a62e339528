"""Every cell format of the workbooks we write, defined once.

Inputs are pale yellow inside a thick near-black border (the convention for "type here" in government
spreadsheets); every other cell has a thin light grey border, and computed cells are pale grey. So an input
stands out by the weight of its boundary, not by its fill alone: the border has a contrast of more than 3:1
with white, the yellow and the grey (WCAG 1.4.11), and text on every fill more than 4.5:1. Meaning never rests
on colour alone: every input has a header saying what goes in it, and a missing or off-list answer is named in
words in its row.
"""

from __future__ import annotations

from xlsxwriter.workbook import Workbook

FONT = "Arial"
MIN_FONT_SIZE = 11
INK = "#0b0c0c"
WHITE = "#ffffff"
INPUT_FILL = "#fff7d6"
INPUT_BORDER = INK
INPUT_BORDER_STYLE = 5  # thick (xlsxwriter's index 5), so an input's boundary is unmistakable
CELL_BORDER = "#b1b4b6"  # thin and light: it groups cells but does not compete with an input's boundary
COMPUTED_FILL = "#eef0f2"
HEADER_FILL = "#1d4f6e"
ACCENT = "#1d70b8"
SECONDARY_TEXT = "#505a5f"
WARN_FILL = "#ffdd99"
CHECK_TEXT = "#942514"  # dark red words for a missing or off-list answer, on the computed grey

_BASE = {"font_name": FONT, "font_size": MIN_FONT_SIZE, "font_color": INK, "valign": "top"}
_CELL = {"border": 1, "border_color": CELL_BORDER}
_INPUT = {"bg_color": INPUT_FILL, "border": INPUT_BORDER_STYLE, "border_color": INPUT_BORDER, "locked": False}

_FORMATS: dict[str, dict] = {
    "title": {"bold": True, "font_size": 16},
    "subtitle": {"font_size": 12, "italic": True},
    "heading": {"bold": True, "font_size": 13},
    "text": {"text_wrap": True},
    "note": {"italic": True},
    "label": {"bold": True, "text_wrap": True},
    "label_line": {"bold": True},  # runs on across empty cells
    "header": {"bold": True, "font_color": WHITE, "bg_color": HEADER_FILL, "text_wrap": True, "border": 1,
               "border_color": CELL_BORDER},
    "id": {"font_color": SECONDARY_TEXT, **_CELL},
    "id_line": {"font_color": SECONDARY_TEXT},  # a long technical value kept on one line (a hash)
    "statement": {"text_wrap": True, **_CELL},
    "guide": {"text_wrap": True, "italic": True, "font_color": SECONDARY_TEXT, **_CELL},
    "input": {**_INPUT, "text_wrap": True},
    "input_text": {**_INPUT, "text_wrap": True},
    "input_date": {**_INPUT, "num_format": "yyyy-mm-dd"},
    "computed": {"bg_color": COMPUTED_FILL, **_CELL, "num_format": "0.0"},
    "computed_int": {"bg_color": COMPUTED_FILL, **_CELL, "num_format": "0"},
    "computed_big": {"bg_color": COMPUTED_FILL, **_CELL, "num_format": "0.0", "bold": True, "font_size": 13},
    "check": {"bg_color": COMPUTED_FILL, **_CELL, "text_wrap": True, "bold": True, "font_color": CHECK_TEXT},
    "number": {"num_format": "0.0", **_CELL},
    "int": {"num_format": "0", **_CELL},
    "carried": {**_INPUT, "bg_color": WARN_FILL, "text_wrap": True, "italic": True},
    "warn": {"bg_color": WARN_FILL},
    "link": {"font_color": ACCENT, "underline": 1},
    "meta": {"font_color": SECONDARY_TEXT},
    "plain_cell": {"text_wrap": True, **_CELL},
    "bold_cell": {"bold": True, "text_wrap": True, **_CELL},
    "good": {"bg_color": "#cce2d8"},
    "bad": {"bg_color": "#f4cdc6"},
    "subheading": {"bold": True, "font_size": 12, "font_color": HEADER_FILL},
    "value": {},
    "change": {"num_format": "+0.0;-0.0;0.0", **_CELL},
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
