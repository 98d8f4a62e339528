"""Spec (+ identity, + earlier answers) → the self-assessment workbook, written with xlsxwriter.

The same inputs give a byte-identical file: the creation date is pinned to the generation date
and every id is derived from the inputs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from . import layout as L
from .model import FactorAnswer, Identity, Spec
from .render import paragraphs
from .score import MIN_SCORED_ASPECTS, SENSITIVITY_STEP, factor_score, score_answers, weight_of
from .styles import Styles
from .writer import atomic_output, new_workbook, page_setup, radar_chart

CARRIED_MARK = "Carried forward - please confirm"


@dataclass(frozen=True, slots=True)
class Prefill:
    """Answers to write into a new workbook (from last year's return, or agreed between partners)."""

    factors: dict[str, FactorAnswer] = field(default_factory=dict)
    texts: dict[str, dict[str, str]] = field(default_factory=dict)
    priorities: dict[str, int | None] = field(default_factory=dict)
    carried: bool = True  # mark each carried answer for confirmation
    source: str = ""  # what it was prefilled from (file name), stamped in the metadata
    notes: tuple[str, ...] = ()  # lines for the cover (e.g. retired factors, disagreements)
    flagged: dict[str, str] = field(default_factory=dict)  # factor id -> mark text, instead of CARRIED_MARK


def workbook_id(spec: Spec, identity: Identity, generated_at: str, source: str = "") -> str:
    key = "|".join((spec.fingerprint, identity.council, identity.council_code, identity.respondent,
                    identity.organisation, generated_at, source))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


def generate(spec: Spec, out: Path, identity: Identity | None = None, *, prefill: Prefill | None = None,
             generated_at: dt.date | None = None) -> Path:
    """Write the self-assessment workbook to `out`, whole or not at all."""
    day = generated_at or dt.date.today()
    identity = identity or Identity()
    out = Path(out)
    with atomic_output(out) as tmp:
        _write(spec, tmp, identity, prefill, day)
    return out


def _write(spec: Spec, path: Path, identity: Identity, prefill: Prefill | None, day: dt.date) -> None:
    wb = new_workbook(path)  # typed text stays text; see writer.py for why this is faster
    created = dt.datetime(day.year, day.month, day.day)
    wid = workbook_id(spec, identity, day.isoformat(), prefill.source if prefill else "")
    wb.set_properties({
        "title": f"{spec.title} - self-assessment",
        "subject": f"{spec.id} version {spec.version}",
        "author": identity.respondent or "",
        "company": identity.council or "",
        "keywords": "self-assessment, commissioning, adult social care",
        "comments": f"Form {spec.id} {spec.version}, fingerprint {spec.fingerprint}",
        "created": created,
    })
    for key, value in (("scoa_spec_id", spec.id), ("scoa_spec_version", spec.version),
                       ("scoa_spec_fingerprint", spec.fingerprint), ("scoa_workbook_id", wid)):
        wb.set_custom_property(key, value, "text")
    st = Styles(wb)
    lay = L.layout_for(spec)
    pre = prefill or Prefill(carried=False)
    scores = score_answers(spec, pre.factors, pre.priorities, identity.council)

    cover = wb.add_worksheet(L.COVER)
    aspect_sheets = [wb.add_worksheet(a.sheet) for a in spec.aspects]
    models_ws = wb.add_worksheet(L.MODELS)
    scores_ws = wb.add_worksheet(L.SCORES)
    how_ws = wb.add_worksheet(L.HOW)
    lists_ws = wb.add_worksheet(L.LISTS)

    list_refs = _write_lists(lists_ws, spec, st, wid, day, pre.source)
    _write_cover(cover, spec, st, identity, pre)
    for ai, ws in enumerate(aspect_sheets):
        _write_aspect(ws, spec, ai, st, list_refs, pre, lay)
    _write_models(models_ws, spec, st, list_refs, pre, scores)
    _write_scores(wb, scores_ws, spec, st, scores)
    _write_how(how_ws, spec, st)

    for f in lay.fields:
        wb.define_name(f.name, f.absolute)
    for key, ref in list_refs.items():
        wb.define_name(f"list_{key}", ref)
    meta_col = L.col_letter(L.META_KEY_COL + 1)
    for i, key in enumerate(L.META_KEYS):
        wb.define_name(f"meta_{key}", f"='{L.LISTS}'!${meta_col}${i + 1}")
    cover.activate()
    wb.close()




def _protect(ws) -> None:
    # A guard against accidents, not security: no password, so a team can lift it if it must.
    ws.protect("", {"format_columns": True, "format_rows": True, "select_locked_cells": True,
                    "select_unlocked_cells": True})


def _write_lists(ws, spec: Spec, st: Styles, wid: str, day: dt.date, source: str) -> dict[str, str]:
    scales = {"rating": spec.rating, "importance": spec.importance, "control": spec.control,
              "boost": spec.boost, "priority": spec.priority}
    refs = {}
    for col, key in enumerate(L.LIST_COLUMNS):
        items = scales[key]
        ws.write_string(0, col, key, st["label"])
        for i, c in enumerate(items):
            ws.write_string(1 + i, col, c.label)
        letter = L.col_letter(col)
        refs[key] = f"='{L.LISTS}'!${letter}$2:${letter}${1 + len(items)}"
    meta = {"spec_id": spec.id, "spec_version": spec.version, "spec_fingerprint": spec.fingerprint,
            "workbook_id": wid, "generated_at": day.isoformat(), "prefilled_from": source}
    for i, key in enumerate(L.META_KEYS):
        ws.write_string(i, L.META_KEY_COL, key)
        ws.write_string(i, L.META_KEY_COL + 1, meta[key])
    ws.set_column(0, L.META_KEY_COL + 1, 24)
    ws.hide()
    _protect(ws)
    return refs


def _write_cover(ws, spec: Spec, st: Styles, identity: Identity, pre: Prefill) -> None:
    page_setup(ws, spec.title, landscape=False)
    ws.set_column(0, 0, 30)
    ws.set_column(1, 1, 90)
    ws.write_string(0, 0, spec.title, st["title"])
    ws.write_string(1, 0, f"Self-assessment workbook - form {spec.id} version {spec.version}", st["subtitle"])
    ws.write_string(2, 0, "About you", st["heading"])
    values = {"council": identity.council, "council_code": identity.council_code,
              "respondent": identity.respondent, "organisation": identity.organisation,
              "role": identity.role, "date": identity.date}
    for i, (key, label) in enumerate(L.IDENTITY_FIELDS):
        row = L.IDENTITY_FIRST_ROW + i
        ws.write_string(row, 0, label, st["label"])
        ws.write_string(row, 1, values[key], st["input"])
    ws.data_validation(L.IDENTITY_FIRST_ROW, 1, L.IDENTITY_FIRST_ROW, 1, {
        "validate": "length", "criteria": ">", "value": 0, "input_title": "Council",
        "input_message": "The council this assessment is for.", "ignore_blank": True})
    row = L.IDENTITY_FIRST_ROW + len(L.IDENTITY_FIELDS) + 1
    for line in pre.notes:
        ws.write_string(row, 0, "Note", st["label"])
        ws.write_string(row, 1, line, st["text"])
        row += 1
    if pre.notes:
        row += 1
    for para in paragraphs("instructions.txt.j2", spec=spec, models_sheet=L.MODELS, scores_sheet=L.SCORES,
                           how_sheet=L.HOW):
        if para.startswith("## "):
            row += 1
            ws.write_string(row, 0, para[3:], st["heading"])
        else:
            ws.write_string(row, 1, para, st["text"])
            ws.set_row(row, 15 * max(1, len(para) // 95 + 1))
        row += 1
    ws.write_string(row + 1, 0, "Sheets in this workbook", st["heading"])
    row += 2
    for a in spec.aspects:
        ws.write_url(row, 0, f"internal:'{a.sheet}'!A1", st["link"], a.sheet)
        ws.write_string(row, 1, a.covers, st["text"])
        ws.set_row(row, 15 * max(1, len(a.covers) // 95 + 1))
        row += 1
    for name, what in ((L.MODELS, "How well each commissioning model fits your local priorities."),
                       (L.SCORES, "Your room for manoeuvre, as you go."),
                       (L.HOW, "How every figure is worked out.")):
        ws.write_url(row, 0, f"internal:'{name}'!A1", st["link"], name)
        ws.write_string(row, 1, what, st["text"])
        row += 1
    ws.print_area(0, 0, row, 1)
    _protect(ws)


def _write_aspect(ws, spec: Spec, ai: int, st: Styles, refs: dict[str, str], pre: Prefill, lay: L.Layout) -> None:
    aspect = spec.aspects[ai]
    n = len(aspect.factors)
    first, last = L.FIRST_FACTOR_ROW, L.FIRST_FACTOR_ROW + n - 1
    page_setup(ws, f"{spec.title}: {aspect.name}", repeat=L.HEADER_ROW)
    for col, width in ((L.COL_ID, 12), (L.COL_STATEMENT, 55), (L.COL_RATING, 26), (L.COL_IMPORTANCE, 13),
                       (L.COL_CONTROL, 22), (L.COL_BOOST, 16), (L.COL_NOTES, 40), (L.COL_GUIDE, 40),
                       (L.COL_SCORE, 11), (L.COL_WEIGHT, 9), (L.COL_CARRIED, 18)):
        ws.set_column(col, col, width)
    ws.set_column(L.COL_POINTS, L.COL_POINTS, 9, None, {"hidden": True})
    ws.write_string(0, 0, aspect.name, st["title"])
    ws.write_string(1, 0, aspect.covers, st["note"])  # not wrapped: it runs on across the empty cells
    sc = lambda r, c: L.a1(r, c)  # noqa: E731
    rng = lambda c: f"{sc(first, c)}:{sc(last, c)}"  # noqa: E731
    ws.write_formula(2, 0, f'=COUNT({rng(L.COL_SCORE)})&" of {n} factors answered"', st["label"],
                     f"{sum(1 for f in aspect.factors if pre.factors.get(f.id) and pre.factors[f.id].rating)}"
                     f" of {n} factors answered")
    for col, text in enumerate(L.ASPECT_HEADERS):
        ws.write_string(L.HEADER_ROW, col, text, st["header"])
    ws.set_row(L.HEADER_ROW, 45)
    dv = {"rating": ("Rating", "How far does this factor hold you back or support you? Choose from the list."),
          "importance": ("Importance", "Optional. Leave blank for the usual weight."),
          "control": ("Control", "Only for factors rated 1 or 2: how far can you change it?"),
          "boost": ("Boost", "Only for factors rated 4 or 5: could you make more of it?")}
    labels = {"rating": {c.value: c.label for c in spec.rating},
              "importance": {c.value: c.label for c in spec.importance},
              "control": {c.value: c.label for c in spec.control},
              "boost": {c.value: c.label for c in spec.boost}}
    for fi, f in enumerate(aspect.factors):
        r = first + fi
        a = pre.factors.get(f.id)
        ws.set_row(r, 48)
        ws.write_string(r, L.COL_ID, f.id, st["id"])
        ws.write_string(r, L.COL_STATEMENT, f.statement, st["statement"])
        values = {
            L.COL_RATING: (labels["rating"][None] if a and a.dont_know else
                           labels["rating"].get(a.rating, "") if a and a.rating else ""),
            L.COL_IMPORTANCE: labels["importance"].get(a.importance, "") if a and a.importance else "",
            L.COL_CONTROL: labels["control"].get(a.control, "") if a and a.control else "",
            L.COL_BOOST: labels["boost"].get(a.boost, "") if a and a.boost is not None else "",
            L.COL_NOTES: a.evidence if a else "",
        }
        for col, value in values.items():
            ws.write_string(r, col, value, st["input"])
        ws.write_string(r, L.COL_GUIDE, f.evidence, st["guide"])
        rating = sc(r, L.COL_RATING)
        s = factor_score(a.rating if a else None)
        ws.write_formula(r, L.COL_SCORE, f'=IF({rating}="","",IFERROR((VALUE(LEFT({rating},1))-1)/4*100,""))',
                         st["computed"], "" if s is None else s)
        imp = sc(r, L.COL_IMPORTANCE)
        ws.write_formula(r, L.COL_WEIGHT, f"=IFERROR(MATCH({imp},{refs['importance'][1:]},0),{f.weight})",
                         st["computed_int"], weight_of(a, f.weight))
        ws.write_formula(r, L.COL_POINTS, f"=IF(ISNUMBER({sc(r, L.COL_SCORE)}),"
                         f"{sc(r, L.COL_SCORE)}*{sc(r, L.COL_WEIGHT)},0)", st["computed"],
                         0 if s is None else s * weight_of(a, f.weight))
        mark = pre.flagged.get(f.id, CARRIED_MARK if pre.carried and a is not None else "")
        ws.write_string(r, L.COL_CARRIED, mark, st["carried"] if mark else st["input"])
    for key, col in (("rating", L.COL_RATING), ("importance", L.COL_IMPORTANCE), ("control", L.COL_CONTROL),
                     ("boost", L.COL_BOOST)):
        title, msg = dv[key]
        ws.data_validation(first, col, last, col, {
            "validate": "list", "source": refs[key], "input_title": title, "input_message": msg,
            "error_title": "Not on the list", "error_type": "stop",
            "error_message": "Please choose one of the options in the dropdown list."})
    # Amber while an inhibitor has no control category, or a supporter no boost answer.
    ws.conditional_format(first, L.COL_CONTROL, last, L.COL_CONTROL, {
        "type": "formula", "format": st["warn"],
        "criteria": f'=AND(OR(LEFT($C{first + 1},1)="1",LEFT($C{first + 1},1)="2"),$E{first + 1}="")'})
    ws.conditional_format(first, L.COL_BOOST, last, L.COL_BOOST, {
        "type": "formula", "format": st["warn"],
        "criteria": f'=AND(OR(LEFT($C{first + 1},1)="4",LEFT($C{first + 1},1)="5"),$F{first + 1}="")'})
    row = last + 2
    ws.write_string(row, 0, "Your notes on this aspect", st["heading"])
    for pi, prompt in enumerate(spec.text_prompts):
        r = lay.text_row(ai, pi)
        ws.write_string(r, L.COL_ID, prompt.label, st["label"])
        ws.write_string(r, L.COL_STATEMENT, pre.texts.get(aspect.id, {}).get(prompt.id, ""), st["input_text"])
        ws.write_string(r, L.COL_RATING, prompt.help, st["guide"])
        ws.set_row(r, 75)
    ws.freeze_panes(L.HEADER_ROW + 1, 2)
    ws.print_area(0, 0, lay.text_row(ai, len(spec.text_prompts) - 1), L.COL_CARRIED)
    _protect(ws)


def _write_models(ws, spec: Spec, st: Styles, refs: dict[str, str], pre: Prefill, scores) -> None:
    page_setup(ws, f"{spec.title}: models", repeat=L.MODEL_HEADER_ROW)
    ws.write_string(0, 0, "Commissioning models: how well does each fit your place?", st["title"])
    ws.write_string(1, 0, "Rate how well each model fits your local priorities and values. Readiness comes from your "
                    "aspect scores, weighted by how much the model relies on each aspect (0 to 3, on the right).",
                    st["note"])
    ws.write_string(2, 0, f"Fit blends the two: {spec.readiness_share:.0%} readiness and {spec.priority_share:.0%} "
                    "priority fit. Treat the best few as a short list to blend, not a single answer.", st["note"])
    heads = ["Model id", "Model", "What it focuses on", "Priority fit (your rating)", "Readiness",
             "Priority fit score", "Fit", "Rank"] + [f"Relies on: {a.name}" for a in spec.aspects]
    for col, text in enumerate(heads):
        ws.write_string(L.MODEL_HEADER_ROW, col, text, st["header"])
    ws.set_row(L.MODEL_HEADER_ROW, 60)
    for col, width in ((0, 18), (1, 30), (2, 50), (3, 22), (4, 11), (5, 11), (6, 11), (7, 7)):
        ws.set_column(col, col, width)
    ws.set_column(L.M_COL_PROFILE, L.M_COL_PROFILE + len(spec.aspects) - 1, 11)
    n = len(spec.models)
    helper_row = L.MODEL_FIRST_ROW + n + 1  # aspect scores used for readiness, as rows
    p0, p1 = L.M_COL_PROFILE, L.M_COL_PROFILE + len(spec.aspects) - 1
    score_rng = f"${L.col_letter(p0)}${helper_row + 1}:${L.col_letter(p1)}${helper_row + 1}"
    count_rng = f"${L.col_letter(p0)}${helper_row + 2}:${L.col_letter(p1)}${helper_row + 2}"
    fit_rng = f"${L.col_letter(L.M_COL_FIT)}${L.MODEL_FIRST_ROW + 1}:${L.col_letter(L.M_COL_FIT)}$" \
              f"{L.MODEL_FIRST_ROW + n}"
    fits = {m.id: m for m in scores.models}
    prio_labels = {c.value: c.label for c in spec.priority}
    for mi, m in enumerate(spec.models):
        r = L.MODEL_FIRST_ROW + mi
        ws.set_row(r, 45)
        ws.write_string(r, 0, m.id, st["id"])
        ws.write_string(r, 1, m.name, st["bold_cell"])
        ws.write_string(r, 2, m.focus, st["statement"])
        ws.write_string(r, 3, prio_labels.get(pre.priorities.get(m.id), ""), st["input"])
        prof = f"{L.a1(r, p0)}:{L.a1(r, p1)}"
        mf = fits[m.id]
        ws.write_formula(r, L.M_COL_READINESS, f'=IF(SUMPRODUCT({prof},{count_rng})=0,"",'
                         f"SUMPRODUCT({prof},{score_rng})/SUMPRODUCT({prof},{count_rng}))", st["computed"],
                         _cached(mf.readiness))
        pc = L.a1(r, L.M_COL_PRIORITY)
        ws.write_formula(r, L.M_COL_PRIORITY_FIT, f'=IF({pc}="","",IFERROR((VALUE(LEFT({pc},1))-1)/4*100,""))',
                         st["computed"], _cached(mf.priority_fit))
        rd, pf = L.a1(r, L.M_COL_READINESS), L.a1(r, L.M_COL_PRIORITY_FIT)
        ws.write_formula(r, L.M_COL_FIT, f'=IF({rd}="","",IF({pf}="",{rd},'
                         f"{spec.readiness_share}*{rd}+{spec.priority_share}*{pf}))", st["computed"],
                         _cached(mf.fit))
        fc = L.a1(r, L.M_COL_FIT)
        ws.write_formula(r, L.M_COL_RANK, f'=IF({fc}="","",RANK({fc},{fit_rng}))', st["computed_int"],
                         _cached(mf.rank))
        for ai, a in enumerate(spec.aspects):
            ws.write_number(r, p0 + ai, m.profile[a.id], st["int"])
    ws.data_validation(L.MODEL_FIRST_ROW, L.M_COL_PRIORITY, L.MODEL_FIRST_ROW + n - 1, L.M_COL_PRIORITY, {
        "validate": "list", "source": refs["priority"], "input_title": "Priority fit",
        "input_message": "How well does this model fit your local priorities and values? 1 very poor, 5 very good.",
        "error_title": "Not on the list", "error_type": "stop",
        "error_message": "Please choose a fit from 1 to 5 from the dropdown list."})
    ws.write_string(helper_row, L.M_COL_FOCUS, "Aspect scores used for readiness (blank counts as not scored)",
                    st["note"])
    ws.write_string(helper_row + 1, L.M_COL_FOCUS, "Aspect has a score (1) or not (0)", st["note"])
    rooms = {a.id: a.room_for_manoeuvre for a in scores.aspects}
    for ai, a in enumerate(spec.aspects):
        rfm = L.name_of("rfm", a.id)
        ws.write_formula(helper_row, p0 + ai, f"=IF(ISNUMBER({rfm}),{rfm},0)", st["computed"],
                         rooms[a.id] or 0)
        ws.write_formula(helper_row + 1, p0 + ai, f"=IF(ISNUMBER({rfm}),1,0)", st["computed_int"],
                         0 if rooms[a.id] is None else 1)
    ws.freeze_panes(L.MODEL_FIRST_ROW, 2)
    ws.print_area(0, 0, helper_row + 1, p1)
    _protect(ws)


def _cached(value):
    return "" if value is None else value


def _write_scores(wb, ws, spec: Spec, st: Styles, scores) -> None:
    page_setup(ws, f"{spec.title}: your scores", landscape=False)
    ws.write_string(0, 0, "Your scores, as you go", st["title"])
    ws.write_string(1, 0, "Room for manoeuvre runs from 0 (every factor strongly holds you back) to 100 (every "
                    "factor strongly supports you). Blank means not enough answers yet.", st["note"])
    heads = ("Aspect", "Room for manoeuvre (0-100)", "Factors answered", "Factors", "Controllability (%)")
    for col, text in enumerate(heads):
        ws.write_string(L.SCORES_HEADER_ROW, col, text, st["header"])
    ws.set_row(L.SCORES_HEADER_ROW, 32)
    ws.set_column(0, 0, 36)
    ws.set_column(1, 4, 16)
    for ai, a in enumerate(spec.aspects):
        r = L.SCORES_FIRST_ROW + ai
        sheet = a.sheet.replace("'", "''")
        first, last = L.FIRST_FACTOR_ROW + 1, L.FIRST_FACTOR_ROW + len(a.factors)
        col = lambda c: f"'{sheet}'!${L.col_letter(c)}${first}:${L.col_letter(c)}${last}"  # noqa: E731,B023
        s = scores.aspect(a.id)
        ws.write_url(r, 0, f"internal:'{sheet}'!A1", st["link"], a.name)
        scored, points, weights = col(L.COL_SCORE), col(L.COL_POINTS), col(L.COL_WEIGHT)
        ws.write_formula(r, 1, f'=IF(COUNT({scored})*2<{len(a.factors)},"",SUM({points})/SUMIF({scored},">=0",'
                         f"{weights}))", st["computed_big"], _cached(s.room_for_manoeuvre))
        ws.write_formula(r, 2, f"=COUNT({scored})", st["computed_int"], s.answered)
        ws.write_number(r, 3, len(a.factors), st["int"])
        ctrl = col(L.COL_CONTROL)
        c_in, c_inf = spec.control[0].label, spec.control[1].label
        ws.write_formula(r, 4, f'=IF(COUNTIFS({scored},"<=25")=0,"",(COUNTIFS({scored},"<=25",{ctrl},"{c_in}")+'
                         f'COUNTIFS({scored},"<=25",{ctrl},"{c_inf}"))/COUNTIFS({scored},"<=25")*100)',
                         st["computed"], _cached(s.controllability))
    r = L.overall_row(spec)
    top, bottom = L.SCORES_FIRST_ROW + 1, L.SCORES_FIRST_ROW + len(spec.aspects)
    ws.write_string(r, 0, "Overall room for manoeuvre", st["bold_cell"])
    ws.write_formula(r, 1, f'=IF(COUNT(B{top}:B{bottom})<{MIN_SCORED_ASPECTS},"",AVERAGE(B{top}:B{bottom}))',
                     st["computed_big"], _cached(scores.overall_room_for_manoeuvre))
    ws.write_formula(r, 2, f"=SUM(C{top}:C{bottom})", st["computed_int"], sum(a.answered for a in scores.aspects))
    ws.write_formula(r, 3, f"=SUM(D{top}:D{bottom})", st["int"], len(spec.factors))
    ws.write_string(r + 1, 0, f"The overall figure appears once {MIN_SCORED_ASPECTS} of the "
                    f"{len(spec.aspects)} aspects have a score.", st["note"])
    chart = radar_chart(wb, L.SCORES, top, bottom)
    ws.insert_chart(r + 3, 0, chart, {"description": "Radar chart of the room for manoeuvre score of each aspect, "
                                                    "0 to 100; the same figures are in the table above."})
    ws.print_area(0, 0, r + 25, 4)
    _protect(ws)


def _write_how(ws, spec: Spec, st: Styles) -> None:
    page_setup(ws, f"{spec.title}: how scores are calculated", landscape=False)
    ws.set_column(0, 0, 72)
    row = 0
    for para in paragraphs("how_scores.txt.j2", spec=spec, scores_sheet=L.SCORES, models_sheet=L.MODELS,
                           min_aspects=MIN_SCORED_ASPECTS, step=int(SENSITIVITY_STEP)):
        if para.startswith("## "):
            ws.write_string(row, 0, para[3:], st["title"] if row == 0 else st["heading"])
        else:
            ws.write_string(row, 0, para, st["text"])
            ws.set_row(row, 15 * max(1, len(para) // 66 + 1))
        row += 1
    ws.print_area(0, 0, row, 0)
    _protect(ws)
