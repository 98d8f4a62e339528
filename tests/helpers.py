"""Shared test helpers: fill a generated workbook as a user would."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import openpyxl

from scoa_xl.model import Factor, Spec, is_inhibitor, is_supporter


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


DONT_KNOW = "dont_know"  # a rating builder's way to say "pick Don't know"
Pick = Callable[[int, Factor, int], "str | None"]  # (factor index, factor, inhibitor/supporter index) -> label


def answers(spec: Spec, rating: Callable[[int, Factor], int | str | None], *,
            control: Pick | None = None, boost: Pick | None = None,
            identity: Mapping[str, str] | None = None) -> dict[str, object]:
    """The one answers builder: what a user types, by defined name, for `fill_workbook`.

    `rating(i, factor)` gives 1-5, DONT_KNOW or None (left blank). Each inhibitor (the model's own rule) gets
    `control(i, factor, k)` and each supporter `boost(i, factor, k)`, k counting inhibitors or supporters so far;
    None leaves that cell blank. Identity keys are the field ids ("council", "respondent", ...)."""
    labels: dict[object, str] = {c.value: c.label for c in spec.rating}
    out: dict[str, object] = {f"identity_{k}": v for k, v in (identity or {}).items()}
    inhibitors = supporters = 0
    for i, f in enumerate(spec.factors):
        value = rating(i, f)
        if value is None:
            continue
        out[f"rating_{f.id}"] = labels[None if value == DONT_KNOW else value]
        if is_inhibitor(value if isinstance(value, int) else None):
            picked = control(i, f, inhibitors) if control else None
            inhibitors += 1
            if picked is not None:
                out[f"control_{f.id}"] = picked
        elif is_supporter(value if isinstance(value, int) else None):
            picked = boost(i, f, supporters) if boost else None
            supporters += 1
            if picked is not None:
                out[f"boost_{f.id}"] = picked
    return out
