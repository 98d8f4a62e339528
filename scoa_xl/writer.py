"""The one way the tool opens a workbook for writing (xlsxwriter): text a person typed never becomes a formula,
a number or a link; the file's parts are assembled in memory; and each formula is prepared for the file once.

Measured (issue 7): xlsxwriter writes each part of a workbook to a temporary file before zipping it, and runs some
150 regular-expression substitutions over every formula, data validation and conditional format to mark functions
newer than Excel 2007. For the self-assessment workbook those two were half the time to generate it; the same
formulas recur in every workbook of a register, so each is rewritten once per process.
"""

from __future__ import annotations

from pathlib import Path

from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

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
    worksheet_class = _Worksheet  # xlsxwriter's documented way to use a Worksheet subclass


def new_workbook(path: Path | str, **options) -> Workbook:
    """An xlsxwriter Workbook writing to `path` on close(), with the tool's safe options (and any others given)."""
    return _Workbook(str(path), {**SAFE_TEXT, "in_memory": True, **options})
