"""Shared test helpers: fill a generated workbook as a user would."""

from __future__ import annotations

from pathlib import Path

import openpyxl


def fill_workbook(src: Path, dst: Path, answers: dict[str, object],
                  formulas: dict[str, str] | None = None) -> Path:
    """Open `src`, type each answer into the cell its defined name points at, save as `dst`.

    Keys are defined names ("rating_sd_one_place", "identity_council", "priority_prevention",
    "text_policy_strengths"); values are what a user would pick or type (dropdown labels, free text).
    `formulas` are typed as live formulas ("=2+2"), as Excel takes what a user types beginning with "=".
    openpyxl keeps names, validations and protection, and writes formulas with no cached values,
    so a spreadsheet application that opens the result computes every live figure itself.
    """
    wb = openpyxl.load_workbook(src)
    for name, value in answers.items():
        dn = wb.defined_names[name]
        (sheet, ref), = list(dn.destinations)
        cell = wb[sheet][ref.replace("$", "")]
        cell.value = value
        if isinstance(value, str):
            # What a person types into a text box stays text, even "=1+1" (as Excel keeps '=1+1);
            # openpyxl would otherwise store a leading "=" as a live formula.
            cell.data_type = "s"
    for name, formula in (formulas or {}).items():
        (sheet, ref), = list(wb.defined_names[name].destinations)
        wb[sheet][ref.replace("$", "")].value = formula  # openpyxl stores a leading "=" as a formula
    wb.save(dst)
    return Path(dst)
