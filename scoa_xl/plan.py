"""CheckedReturn → the council's annotated commissioning development plan (.xlsx), written with xlsxwriter.

The plan answers the self-assessment's plan questions from the council's own return: what holds it
back most, what supports it, what it could boost, and what it can do about each constraint given how
far it is in its control; then an action table to fill in, the fit of every commissioning model, and
what to confirm. Every answer a person typed goes in with write_string, so it can never run as a
formula. The file is written whole or not at all.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InputError
from .figures import rounded, shown
from .fileio import TEXT_LIMIT, atomic_output
from .model import CONTROL_IDS, CONTROLLABLE, FactorAnswer, Scores, Spec
from .plan_content import (
    NO_CATEGORY,
    NO_CATEGORY_APPROACH,
    AspectPlan,
    PlanFactor,
    action_rows,
    plan_aspects,
    rating_label,
)
from .render import paragraphs
from .score import MIN_SCORED_ASPECTS, SENSITIVITY_STEP, SHORT_LIST
from .styles import Styles
from .writer import bar_chart_size, fit_row, new_workbook, page_setup, radar_chart, text_lines

if TYPE_CHECKING:
    from .check import CheckedReturn

COVER = "Cover"
PLAN = "Development plan"
ACTIONS = "Action plan"
FIT = "Model fit"
RISKS = "Model risks"
CONFIRM = "What to confirm"
LISTS = "Lists"
PARTNERS = "Partners"

ACTION_TABLE = "ActionPlan"
STATUSES = ("Not started", "In progress", "Done", "Dropped")
CHANGE_COLUMN = "Change since last year"

# Development plan: one header row for every factor row on the sheet, so it repeats on each printed page.
PLAN_HEADERS = ("Factor id", "Factor", "Rating", "Importance", "Control or boost", "Your evidence and notes")
PLAN_WIDTHS = (20, 46, 22, 16, 20, 38)
SECTION_HOLDING_BACK = "What holds you back most"
SECTION_SUPPORTING = "What supports you most"
SECTION_BOOST = "Supporters you said you could boost"
SECTION_BY_CONTROL = "What you can do about each factor holding you back"
SECTION_UNRATED = "Not rated yet (no rating, or \"Don't know\")"
SECTION_NOTES = "Your notes on this aspect"
APPROACH_LABEL = "Approach"

ACTION_HEADERS = ("Aspect", "Factor id", "Factor", "Rating", "Category", "Suggested approach", "Action", "Owner",
                  "By when", "Measure of success", "Status")
ACTION_WIDTHS = (16, 24, 36, 16, 16, 32, 34, 14, 12, 26, 13)
ACTION_INPUTS = 6  # columns from "Action" on are for the council to fill in
SPARE_ACTIONS = 10  # rows at the foot of the table for actions of the council's own, tied to no one factor
OWN_ACTION = "Your own action"
FIT_HEADERS = ("Rank", "Model", "Why this fit", "What the model focuses on", "Fit", "Readiness", "Priority fit",
               "Short list", "Sensitive to a small change", "Model id")
FIT_WIDTHS = (6, 30, 50, 40, 9, 10, 10, 12, 14, 24)
RISK_HEADERS = ("Rank", "Model", "Risk", "How to reduce it")
RISK_WIDTHS = (6, 30, 60, 60)
ON_SHORT_LIST = "Short list"

CONFIRM_HEADERS = ("Severity", "Sheet", "Cell", "Code", "What to check and what to do")
CONFIRM_WIDTHS = (10, 26, 8, 11, 110)

COVER_TABLE_HEADERS = ("Aspect", "Room for manoeuvre (0 to 100)", "Controllability (%)", "Factors rated", "Factors",
                       "Holding you back", "Supporting you")
COVER_WIDTHS = (36, 14, 17, 10, 10, 12, 12, 12, 14)

HEADER_ROW = 3  # 0-based row of the column headers on every tabular sheet
PARTNER_WIDTHS = (22, 50)  # then one column per respondent
RESPONDENT_WIDTH = 24


def write_plan(assessment: CheckedReturn, out: Path, *, previous: CheckedReturn | None = None,
               partners: list[CheckedReturn] | None = None, made_on: dt.date | None = None) -> Path:
    """Write the council's development plan workbook to `out`, whole or not at all.

    `previous` (last year's scored return) adds the change since then; `partners` (other respondents'
    scored returns for the same council) adds where they see things differently and what they agree on.
    """
    if assessment.ret is None or assessment.scores is None:
        raise InputError(f"{assessment.file}: the return has no scores, so no plan can be written from it")
    out = Path(out)
    prev = previous.scores if previous is not None else None
    others = [p for p in partners or [] if p.ret is not None and p.scores is not None]
    with atomic_output(out) as tmp:
        _write(assessment, prev, tmp, made_on or dt.date.today(), others)
    return out


def _write(asm: CheckedReturn, prev: Scores | None, path: Path, day: dt.date,
           partners: list[CheckedReturn] | None = None) -> None:
    ret, scores = asm.ret, asm.scores
    assert ret is not None and scores is not None
    spec = ret.spec
    wb = new_workbook(path)  # typed text stays text; see writer.py for why this is faster
    council = ret.identity.council
    wb.set_properties({
        "title": f"Commissioning development plan{' - ' + council if council else ''}",
        "subject": f"{spec.id} version {spec.version}",
        "author": "scoa",
        "company": council,
        "keywords": "commissioning, development plan, adult social care",
        "comments": f"Made from {asm.file.name} (sha256 {asm.sha256[:16]})",
        "created": dt.datetime(day.year, day.month, day.day),
    })
    for key, value in (("scoa_spec_id", spec.id), ("scoa_spec_version", spec.version),
                       ("scoa_plan_of", asm.file.name), ("scoa_return_sha256", asm.sha256)):
        wb.set_custom_property(key, value, "text")
    st = Styles(wb)
    plans = plan_aspects(ret, scores)

    cover = wb.add_worksheet(COVER)
    plan_ws = wb.add_worksheet(PLAN)
    actions_ws = wb.add_worksheet(ACTIONS)
    fit_ws = wb.add_worksheet(FIT)
    risks_ws = wb.add_worksheet(RISKS)
    partners_ws = wb.add_worksheet(PARTNERS) if partners else None
    confirm_ws = wb.add_worksheet(CONFIRM)
    lists_ws = wb.add_worksheet(LISTS)

    status_ref = _write_lists(wb, lists_ws, st)
    aspect_rows = _write_plan_sheet(plan_ws, spec, plans, st)
    table_top = _write_cover(cover, asm, prev, plans, st, day, aspect_rows)
    _write_actions(actions_ws, spec, plans, st, status_ref)
    _write_fit(wb, fit_ws, spec, scores, st, table_top)
    _write_risks(risks_ws, spec, scores, st)
    if partners_ws is not None and partners:
        _write_partners(partners_ws, asm, partners, st)
    _write_confirm(confirm_ws, asm, st)
    cover.activate()
    wb.close()


# ---------------------------------------------------------------- helpers


def _widths(ws, widths: tuple[int, ...]) -> None:
    for col, width in enumerate(widths):
        ws.set_column(col, col, width)


def _text(value: str) -> str:
    """A typed answer as a cell can hold it (Excel's limit is 32,767 characters)."""
    return value if len(value) <= TEXT_LIMIT else value[:TEXT_LIMIT - 1] + "…"


def _fit_row(ws, row: int, cells: list[tuple[str, float]], minimum: int = 1) -> None:
    """The one row-height rule (writer.fit_row), for a row of the plan."""
    fit_row(ws, row, cells, minimum=minimum)


def _prose(ws, row: int, text: str, fmt, widths: tuple[int, ...], *, max_rows: int | None = None) -> int:
    """A paragraph as lines that run on across the empty cells to their right (no merged cells), each within the
    printed page; returns the number of rows used."""
    lines = text_lines(text, widths)
    if max_rows is not None and len(lines) > max_rows:  # only a very long file name gets here
        lines = [*lines[:max_rows - 1], lines[max_rows - 1][:-1] + "\u2026"]
    for i, line in enumerate(lines):
        ws.write_string(row + i, 0, line, fmt)
    return len(lines)


def _table(ws, name: str, top: int, last: int, heads, widths, fmt, *, autofilter: bool = True) -> None:
    """Mark rows top..last (the header row first) as a table, so a screen reader announces each cell's header."""
    seen: dict[str, int] = {}
    unique = []
    for h in heads:  # a table's headers must differ (two respondents can share a name)
        seen[h] = seen.get(h, 0) + 1
        unique.append(h if seen[h] == 1 else f"{h} ({seen[h]})")
    ws.add_table(top, 0, max(last, top + 1), len(heads) - 1, {
        "name": name, "style": None, "autofilter": autofilter,
        "columns": [{"header": h, "header_format": fmt} for h in unique]})
    fit_row(ws, top, list(zip(unique, widths, strict=False)), bold=True)


def _headers(ws, row: int, heads, widths, fmt) -> None:
    for col, head in enumerate(heads):
        ws.write_string(row, col, head, fmt)
    fit_row(ws, row, list(zip(heads, widths, strict=False)), bold=True)


def _fmt(value: float | None) -> str:
    return shown(value)


def _importance_label(spec: Spec, p: PlanFactor) -> str:
    labels = {c.value: c.label for c in spec.importance}
    if p.answer.importance is not None:
        return labels.get(p.answer.importance, "")
    return f"{labels.get(p.factor.weight, '')} (usual weight)"


def _control_or_boost(spec: Spec, answer: FactorAnswer) -> str:
    if answer.is_inhibitor:
        return spec.control_label(answer.control) if answer.control in CONTROL_IDS else NO_CATEGORY
    if answer.is_supporter:
        if answer.boost is None:
            return "Could boost: not given"
        return "Could boost: " + next(c.label for c in spec.boost if c.value is answer.boost)
    return ""


def _number(ws, row: int, col: int, value: float | None, fmt, blank_fmt) -> None:
    if value is None:
        ws.write_blank(row, col, None, blank_fmt)
    else:
        ws.write_number(row, col, value, fmt)


def _write_lists(wb, ws, st: Styles) -> str:
    ws.write_string(0, 0, "status", st["label"])
    for i, label in enumerate(STATUSES):
        ws.write_string(1 + i, 0, label)
    ref = f"='{LISTS}'!$A$2:$A${1 + len(STATUSES)}"
    wb.define_name("list_status", ref)
    ws.set_column(0, 0, 20)
    ws.hide()
    ws.protect("")
    return ref


# ---------------------------------------------------------------- cover


def _summary_context(asm: CheckedReturn, prev: Scores | None, plans: list[AspectPlan]) -> dict:
    ret, scores = asm.ret, asm.scores
    assert ret is not None and scores is not None
    spec = ret.spec
    names = {a.id: a.name for a in spec.aspects}
    scored = sorted((a for a in scores.aspects if a.room_for_manoeuvre is not None),
                    key=lambda a: -(a.room_for_manoeuvre or 0.0))
    # Two at each end, but never the same aspect named as both strongest and weakest.
    n_end = min(2, len(scored) // 2) if len(scored) >= 2 else len(scored)
    most = [f"{a.name} ({_fmt(a.room_for_manoeuvre)})" for a in scored[:n_end]]
    least = [f"{a.name} ({_fmt(a.room_for_manoeuvre)})" for a in reversed(scored[-n_end:])] \
        if len(scored) >= 2 else []
    inhibitors = [p for ap in plans for p in ap.holding_back]
    shortlist = []
    for m in scores.models:
        if m.rank is None or m.rank > SHORT_LIST:
            continue
        shortlist.append({"name": m.name, "label": f"{m.name} (fit {_fmt(m.fit)})",
                          "carried": [names[a] for a in m.carried_by[:2]],
                          "held": [names[a] for a in m.held_back_by[:2]],
                          "priority": None if m.priority_fit is None else _fmt(m.priority_fit)})
    previous = None
    if prev is not None:
        before, after = prev.overall_room_for_manoeuvre, scores.overall_room_for_manoeuvre
        direction = ""
        if before is not None and after is not None:
            d = after - before
            direction = ("stayed the same" if rounded(d) == 0 else
                         f"{'risen' if d > 0 else 'fallen'} by {shown(abs(d))} points")
        changes = [(a.name, a.room_for_manoeuvre - p.room_for_manoeuvre)
                   for a in scores.aspects for p in prev.aspects
                   if a.id == p.id and a.room_for_manoeuvre is not None and p.room_for_manoeuvre is not None]
        rise = max(changes, key=lambda c: c[1], default=None)
        fall = min(changes, key=lambda c: c[1], default=None)
        previous = {"before": None if before is None else _fmt(before), "after": None if after is None else
                    _fmt(after), "direction": direction,
                    "rise": f"{rise[0]} ({shown(rise[1], sign=True)})" if rise and rounded(rise[1]) > 0 else "",
                    "fall": f"{fall[0]} ({shown(fall[1], sign=True)})" if fall and rounded(fall[1]) < 0 else ""}
    return {
        "who": ret.identity.council or "the council",
        "overall": None if scores.overall_room_for_manoeuvre is None else _fmt(scores.overall_room_for_manoeuvre),
        "overall_value": scores.overall_room_for_manoeuvre,
        "n_scored": len(scored), "n_aspects": len(spec.aspects), "min_aspects": MIN_SCORED_ASPECTS,
        "most": most, "least": least,
        "unscored": [a.name for a in scores.aspects if a.room_for_manoeuvre is None],
        "inhibitors": len(inhibitors),
        "controllable": sum(p.answer.control in CONTROLLABLE for p in inhibitors),
        "uncategorised": sum(p.answer.control not in CONTROL_IDS for p in inhibitors),
        "boost": sum(len(ap.to_boost) for ap in plans),
        "shortlist": shortlist,
        "sensitive": [m.name for m in scores.models if m.sensitive],
        "step": int(SENSITIVITY_STEP),
        "previous": previous, "change_column": CHANGE_COLUMN,
        "errors": asm.errors, "queries": asm.queries,
        "actions_sheet": ACTIONS, "confirm_sheet": CONFIRM,
    }


def _status_text(asm: CheckedReturn) -> str:
    if not asm.issues:
        return "Passed every check"
    parts = []
    if asm.errors:
        parts.append(f"{asm.errors} {'error' if asm.errors == 1 else 'errors'}")
    if asm.queries:
        parts.append(f"{asm.queries} {'query' if asm.queries == 1 else 'queries'}")
    return f"{' and '.join(parts)} to confirm: see \"{CONFIRM}\""


def _write_cover(ws, asm: CheckedReturn, prev: Scores | None, plans: list[AspectPlan], st: Styles,
                 day: dt.date, aspect_rows: dict[str, int]) -> int:
    """The cover; returns the 0-based row of the aspect table's header (the radar chart reads it)."""
    ret, scores = asm.ret, asm.scores
    assert ret is not None and scores is not None
    spec, ident = ret.spec, ret.identity
    last_col = len(COVER_WIDTHS) - 1
    page_setup(ws, f"Commissioning development plan: {ident.council}" if ident.council else
               "Commissioning development plan", widths=COVER_WIDTHS)
    _widths(ws, COVER_WIDTHS)
    ws.write_string(0, 0, "Commissioning development plan", st["title"])
    ws.write_string(1, 0, _text(f"{spec.title}{' - ' + ident.council if ident.council else ''}"), st["subtitle"])
    rows: list[tuple[str, str]] = [
        ("Council", ident.council), ("Council code (ONS)", ident.council_code),
        ("Respondent(s)", ident.respondent), ("Organisation", ident.organisation), ("Role", ident.role),
        ("Date completed", ident.date), ("Form", f"{spec.id} version {spec.version}"),
        ("Return", asm.file.name), ("Return checks", _status_text(asm)), ("Plan made", day.isoformat()),
    ]
    r = 3
    for label, value in rows:
        ws.write_string(r, 0, label, st["label"])
        ws.write_string(r, 1, _text(value), st["value"])  # typed by the council: always text
        r += 1
    ws.write_string(r, 0, "Overall room for manoeuvre (0-100)", st["label"])
    fit_row(ws, r, [("Overall room for manoeuvre (0-100)", COVER_WIDTHS[0])], bold=True)
    overall = scores.overall_room_for_manoeuvre
    if overall is None:
        ws.write_string(r, 1, f"Not enough aspects scored yet (needs {MIN_SCORED_ASPECTS})", st["value"])
    else:
        ws.write_number(r, 1, overall, st["computed_big"])
    r += 1
    if prev is not None:
        ws.write_string(r, 0, "Last year", st["label"])
        _number(ws, r, 1, prev.overall_room_for_manoeuvre, st["number"], st["value"])
        r += 1
        ws.write_string(r, 0, CHANGE_COLUMN, st["label"])
        if overall is not None and prev.overall_room_for_manoeuvre is not None:
            ws.write_number(r, 1, overall - prev.overall_room_for_manoeuvre, st["change"])
        r += 1
    r += 1
    for para in paragraphs("plan_summary.txt.j2", **_summary_context(asm, prev, plans)):
        if para.startswith("## "):
            ws.write_string(r, 0, para[3:], st["heading"])
        else:
            r += _prose(ws, r, para, st["value"], COVER_WIDTHS)  # and a row between paragraphs
        r += 1
    r += 1
    ws.set_h_pagebreaks([r])  # the table and the contents on a page of their own
    ws.write_string(r, 0, "Room for manoeuvre by aspect", st["heading"])
    r += 1
    table_top = r
    heads = list(COVER_TABLE_HEADERS) + (["Last year", CHANGE_COLUMN] if prev is not None else [])
    _headers(ws, r, heads, COVER_WIDTHS, st["header"])
    before = {a.id: a.room_for_manoeuvre for a in prev.aspects} if prev is not None else {}
    for ap in plans:
        r += 1
        s = ap.score
        ws.write_url(r, 0, f"internal:'{PLAN}'!A{aspect_rows[ap.aspect.id] + 1}", st["link"], s.name)
        _number(ws, r, 1, s.room_for_manoeuvre, st["number"], st["plain_cell"])
        _number(ws, r, 2, s.controllability, st["number"], st["plain_cell"])
        ws.write_number(r, 3, s.answered, st["int"])
        ws.write_number(r, 4, s.factors, st["int"])
        ws.write_number(r, 5, len(ap.holding_back), st["int"])
        ws.write_number(r, 6, len(ap.supporting), st["int"])
        if prev is not None:
            last = before.get(ap.aspect.id)
            _number(ws, r, 7, last, st["number"], st["plain_cell"])
            change = None if last is None or s.room_for_manoeuvre is None else s.room_for_manoeuvre - last
            _number(ws, r, 8, change, st["change"], st["plain_cell"])
    r += 1
    ws.write_string(r, 0, "A blank score means fewer than half of the aspect's factors were rated. Controllability "
                    "is the share of factors holding you back that are in your control or influenceable.",
                    st["note"])
    r += 2
    ws.write_string(r, 0, "In this workbook", st["heading"])
    for name, what in ((PLAN, "For each aspect: what holds you back, what supports you, and what you can do."),
                       (ACTIONS, "A row for each factor to tackle or boost: add actions, owners, dates and status."),
                       (FIT, "How well each commissioning model fits your place, and the reasons."),
                       (RISKS, "The main risks of the short-listed models, and how to reduce each."),
                       (CONFIRM, "Points in your return to check: they may change the plan.")):
        r += 1
        ws.write_url(r, 0, f"internal:'{name}'!A1", st["link"], name)
        ws.write_string(r, 1, what, st["value"])
    ws.print_area(0, 0, r, last_col)
    return table_top


# ---------------------------------------------------------------- development plan


def _write_plan_sheet(ws, spec: Spec, plans: list[AspectPlan], st: Styles) -> dict[str, int]:
    """The development plan, a block per aspect; returns the 0-based row where each aspect starts."""
    last_col = len(PLAN_HEADERS) - 1
    page_setup(ws, f"{spec.title}: development plan", repeat=HEADER_ROW, widths=PLAN_WIDTHS)
    _widths(ws, PLAN_WIDTHS)
    ws.write_string(0, 0, "Commissioning development plan, aspect by aspect", st["title"])
    _prose(ws, 1, "Built from your ratings. Within each list, the factors furthest from \"neither holds "
           "back nor supports\" come first, and among those the ones you rated most important. Each factor holding "
           "you back is also listed under how far it is in your control, with an approach that suits it.",
           st["value"], PLAN_WIDTHS, max_rows=2)
    _headers(ws, HEADER_ROW, PLAN_HEADERS, PLAN_WIDTHS, st["header"])
    r = HEADER_ROW + 1
    breaks = []
    starts: dict[str, int] = {}
    for i, ap in enumerate(plans):
        if i:
            breaks.append(r)
        starts[ap.aspect.id] = r
        r = _write_aspect_block(ws, spec, ap, st, r)
        r += 1
    ws.set_h_pagebreaks(breaks)
    ws.freeze_panes(HEADER_ROW + 1, 0)
    ws.print_area(0, 0, max(r - 1, HEADER_ROW), last_col)
    return starts


def _write_aspect_block(ws, spec: Spec, ap: AspectPlan, st: Styles, r: int) -> int:
    s = ap.score
    ws.write_string(r, 0, ap.aspect.name, st["heading"])
    ws.set_row(r, 22)
    r += 1
    ctrl = "" if s.controllability is None else \
        f"; {shown(s.controllability, 0)}% of the factors holding you back are in your control or influenceable"
    room = "no score yet (fewer than half the factors rated)" if s.room_for_manoeuvre is None else \
        f"{shown(s.room_for_manoeuvre)} out of 100"
    ws.write_string(r, 0, f"Room for manoeuvre: {room}; {s.answered} of {s.factors} factors rated{ctrl}.",
                    st["meta"])
    r += 2

    def section(title: str, items: tuple[PlanFactor, ...], empty: str) -> None:
        nonlocal r
        ws.write_string(r, 0, title, st["subheading"])
        r += 1
        if not items:
            ws.write_string(r, 1, empty, st["note"])
            r += 1
        for p in items:
            _factor_row(ws, spec, p, st, r)
            r += 1
        r += 1

    section(SECTION_HOLDING_BACK, ap.holding_back, "Nothing: you rated no factor 1 or 2 here.")
    section(SECTION_SUPPORTING, ap.supporting, "Nothing: you rated no factor 4 or 5 here.")
    section(SECTION_BOOST, ap.to_boost, "None marked for boosting.")

    ws.write_string(r, 0, SECTION_BY_CONTROL, st["subheading"])
    r += 1
    if not ap.holding_back:
        ws.write_string(r, 1, "Nothing holds you back here.", st["note"])
        r += 1
    groups = [(c.label, c.approach, ap.by_control[str(c.value)]) for c in spec.control]
    if ap.by_control[None]:
        groups.append((NO_CATEGORY, NO_CATEGORY_APPROACH, ap.by_control[None]))
    for label, approach, items in groups if ap.holding_back else []:
        ws.write_string(r, 0, label, st["label"])
        ws.write_string(r, 1, f"{len(items)} {'factor' if len(items) == 1 else 'factors'}", st["meta"])
        r += 1
        ws.write_string(r, 0, APPROACH_LABEL, st["meta"])
        ws.write_string(r, 1, approach, st["guide"])
        _fit_row(ws, r, [(approach, PLAN_WIDTHS[1])])
        r += 1
        for p in items:
            _factor_row(ws, spec, p, st, r)
            r += 1
    r += 1

    if ap.unrated:
        ws.write_string(r, 0, SECTION_UNRATED, st["subheading"])
        r += 1
        for f, dont_know in ap.unrated:
            ws.write_string(r, 0, f.id, st["id"])
            ws.write_string(r, 1, f.statement, st["statement"])
            ws.write_string(r, 2, spec.rating[-1].label if dont_know else "Not rated", st["plain_cell"])
            _fit_row(ws, r, [(f.statement, PLAN_WIDTHS[1])])
            r += 1
        r += 1

    ws.write_string(r, 0, SECTION_NOTES, st["subheading"])
    r += 1
    for prompt in spec.text_prompts:
        text = _text(ap.texts.get(prompt.id, ""))
        ws.write_string(r, 0, prompt.label, st["label"])
        ws.write_string(r, 1, text or "(none recorded)", st["plain_cell"] if text else st["note"])
        _fit_row(ws, r, [(text, PLAN_WIDTHS[1]), (prompt.label, PLAN_WIDTHS[0])])
        r += 1
    return r


def _factor_row(ws, spec: Spec, p: PlanFactor, st: Styles, r: int) -> None:
    rating = rating_label(spec, p.answer)
    evidence = _text(p.answer.evidence)
    ws.write_string(r, 0, p.factor.id, st["id"])
    ws.write_string(r, 1, p.factor.statement, st["statement"])
    ws.write_string(r, 2, rating, st["plain_cell"])
    ws.write_string(r, 3, _importance_label(spec, p), st["plain_cell"])
    ws.write_string(r, 4, _control_or_boost(spec, p.answer), st["plain_cell"])
    ws.write_string(r, 5, evidence, st["plain_cell"])  # typed by the council: always text
    _fit_row(ws, r, [(p.factor.statement, PLAN_WIDTHS[1]), (rating, PLAN_WIDTHS[2]), (evidence, PLAN_WIDTHS[5])])


# ---------------------------------------------------------------- action plan


def _write_actions(ws, spec: Spec, plans: list[AspectPlan], st: Styles, status_ref: str) -> None:
    last_col = len(ACTION_HEADERS) - 1
    # Wide: at full size over pages across, the aspect and factor id repeated on each.
    page_setup(ws, f"{spec.title}: action plan", repeat=HEADER_ROW, widths=ACTION_WIDTHS, repeat_cols=(0, 1))
    _widths(ws, ACTION_WIDTHS)
    ws.write_string(0, 0, "Action plan", st["title"])
    _prose(ws, 1, "One row per factor holding you back and per supporter you could boost, then "
           f"{SPARE_ACTIONS} spare rows for actions of your own. Fill in the yellow columns. Need more rows? Insert "
           "them inside the table, or type in the row just below it.", st["value"], ACTION_WIDTHS, max_rows=2)
    rows = action_rows(spec, plans)
    if not rows:
        ws.write_string(HEADER_ROW, 0, "Nothing to act on yet: no factor was rated as holding you back, and no "
                        "supporting factor was marked for boosting.", st["note"])
        ws.print_area(0, 0, HEADER_ROW, last_col)
        return
    first, last = HEADER_ROW + 1, HEADER_ROW + len(rows) + SPARE_ACTIONS
    ws.add_table(HEADER_ROW, 0, last, last_col, {
        "name": ACTION_TABLE, "style": "Table Style Light 1", "autofilter": True,
        "columns": [{"header": h, "header_format": st["header"]} for h in ACTION_HEADERS],
    })
    fit_row(ws, HEADER_ROW, list(zip(ACTION_HEADERS, ACTION_WIDTHS, strict=True)), bold=True)
    for i, row in enumerate(rows):
        r = first + i
        for col, value in enumerate((row.aspect, row.factor_id, row.factor, row.rating, row.category, row.approach)):
            ws.write_string(r, col, value, st["id"] if col == 1 else st["statement"])
        for col in range(ACTION_INPUTS, last_col + 1):
            fmt = st["input_date"] if ACTION_HEADERS[col] == "By when" else st["input"]
            ws.write_string(r, col, STATUSES[0] if col == last_col else "", fmt)
        _fit_row(ws, r, [(row.factor, ACTION_WIDTHS[2]), (row.approach, ACTION_WIDTHS[5]),
                         (row.rating, ACTION_WIDTHS[3]), (row.aspect, ACTION_WIDTHS[0])])
    for r in range(first + len(rows), last + 1):
        # An action of the council's own, tied to no one factor: every cell open, the category said in words.
        for col in range(last_col + 1):
            fmt = st["input_date"] if ACTION_HEADERS[col] == "By when" else st["input"]
            value = OWN_ACTION if ACTION_HEADERS[col] == "Category" else STATUSES[0] if col == last_col else ""
            ws.write_string(r, col, value, fmt)
        _fit_row(ws, r, [], minimum=2)
    ws.data_validation(first, last_col, last, last_col, {
        "validate": "list", "source": status_ref, "input_title": "Status",
        "input_message": "Choose how far this action has got.", "error_title": "Not on the list",
        "error_type": "stop", "error_message": "Please choose a status from the dropdown list."})
    ws.freeze_panes(HEADER_ROW + 1, 0)
    ws.print_area(0, 0, last, last_col)
    # Not protected: Excel will not let a table grow on a protected sheet, whatever the protection allows, and this
    # sheet is the council's own to extend. The columns from the return keep their grey-bordered look, and the
    # council's columns their yellow; nothing on this sheet is read back.


# ---------------------------------------------------------------- model fit


def _write_fit(wb, ws, spec: Spec, scores: Scores, st: Styles, cover_table_top: int) -> None:
    last_col = len(FIT_HEADERS) - 1
    page_setup(ws, f"{spec.title}: model fit", repeat=HEADER_ROW, widths=FIT_WIDTHS, repeat_cols=(0, 1))
    _widths(ws, FIT_WIDTHS)
    ws.write_string(0, 0, "Which commissioning models fit your context", st["title"])
    _prose(ws, 1, f"Fit blends readiness ({spec.readiness_share:.0%}: your room for manoeuvre in the aspects each "
           f"model relies on) with your rating of its fit with local priorities and values "
           f"({spec.priority_share:.0%}). Treat the top {SHORT_LIST} as a short list to blend, not a single answer. "
           f"\"Sensitive\": a change of {int(SENSITIVITY_STEP)} points in one aspect score would move the model in "
           f"or out of the top {SHORT_LIST}.", st["value"], FIT_WIDTHS, max_rows=2)
    _headers(ws, HEADER_ROW, FIT_HEADERS, FIT_WIDTHS, st["header"])
    focus = {m.id: m.focus for m in spec.models}
    r = HEADER_ROW
    for m in scores.models:
        r += 1
        why = "\n".join(m.reasons)
        if m.rank is None:
            ws.write_string(r, 0, "-", st["plain_cell"])
        else:
            ws.write_number(r, 0, m.rank, st["int"])
        ws.write_string(r, 1, m.name, st["bold_cell"])
        ws.write_string(r, 2, why, st["statement"])
        ws.write_string(r, 3, focus[m.id], st["guide"])
        _number(ws, r, 4, m.fit, st["number"], st["plain_cell"])
        _number(ws, r, 5, m.readiness, st["number"], st["plain_cell"])
        _number(ws, r, 6, m.priority_fit, st["number"], st["plain_cell"])
        listed = m.rank is not None and m.rank <= SHORT_LIST
        ws.write_string(r, 7, ON_SHORT_LIST if listed else ("Not scored" if m.rank is None else ""),
                        st["bold_cell"] if listed else st["plain_cell"])
        ws.write_string(r, 8, "Yes" if m.sensitive else "No", st["plain_cell"])
        ws.write_string(r, 9, m.id, st["id"])
        _fit_row(ws, r, [(why, FIT_WIDTHS[2]), (focus[m.id], FIT_WIDTHS[3]), (m.name, FIT_WIDTHS[1])])
    first_model, last_model = HEADER_ROW + 1, r
    _table(ws, "ModelFit", HEADER_ROW, last_model, FIT_HEADERS, FIT_WIDTHS, st["header"])

    # The charts one above the other in columns B to D, which print on the first page across, each on a page
    # of its own.
    r += 2
    charts_top = r
    ws.write_string(r, 0, "Charts", st["heading"])
    r += 1
    fit_col = "E"  # FIT_HEADERS: Fit
    bar = wb.add_chart({"type": "bar"})
    bar.add_series({"name": "Fit", "categories": f"='{FIT}'!$B${first_model + 1}:$B${last_model + 1}",
                    "values": f"='{FIT}'!${fit_col}${first_model + 1}:${fit_col}${last_model + 1}",
                    "fill": {"color": "#1d70b8"}, "data_labels": {"value": True, "num_format": "0"}})
    bar.set_title({"name": "Fit of each model, 0 to 100", "name_font": {"size": 12}})
    bar.set_x_axis({"min": 0, "max": 100, "major_unit": 20})
    bar.set_y_axis({"reverse": True})  # best fit at the top, as in the table
    bar.set_legend({"none": True})
    size = bar_chart_size(last_model - first_model + 1, width=760)
    bar.set_size(size)
    ws.insert_chart(r, 1, bar, {"description": "Bar chart of the fit of each commissioning model, 0 to 100, best "
                                               "first; the same figures are in the Fit column of the table above."})
    r += size["height"] // 20 + 2  # rows of 20 pixels, the default
    ws.set_h_pagebreaks([charts_top, r])
    r += 1  # a row's gap below the break, so no part of the chart is drawn on the page before
    top, bottom = cover_table_top + 2, cover_table_top + 1 + len(spec.aspects)
    radar = radar_chart(wb, COVER, top, bottom)
    ws.insert_chart(r, 1, radar, {"description": "Radar chart of the room for manoeuvre in each aspect, 0 to "
                                                      f"100; the same figures are in the table on the {COVER} "
                                                      "sheet."})
    ws.freeze_panes(HEADER_ROW + 1, 2)
    ws.print_area(0, 0, r + 22, last_col)


def _write_risks(ws, spec: Spec, scores: Scores, st: Styles) -> None:
    """The risks of the short-listed models: a sheet of its own, so that each printed page is headed by its own
    columns (on the Model fit sheet, the fit table's repeated header printed over them)."""
    last_col = len(RISK_HEADERS) - 1
    page_setup(ws, f"{spec.title}: model risks", repeat=HEADER_ROW, widths=RISK_WIDTHS)
    _widths(ws, RISK_WIDTHS)
    ws.write_string(0, 0, "Main risks of the short-listed models, and how to reduce them", st["title"])
    _prose(ws, 1, f"Each model brings risks of its own. These are the ones to plan for if you take forward any of "
           f"the top {SHORT_LIST} on the {FIT} sheet, with a way to reduce each.", st["value"], RISK_WIDTHS,
           max_rows=2)
    by_id = {m.id: m for m in spec.models}
    leaders = [m for m in scores.models if m.rank is not None and m.rank <= SHORT_LIST]
    if not leaders:
        ws.write_string(HEADER_ROW, 0, "No model could be scored yet, so there is no short list.", st["note"])
        ws.print_area(0, 0, HEADER_ROW, last_col)
        return
    _headers(ws, HEADER_ROW, RISK_HEADERS, RISK_WIDTHS, st["header"])
    r = HEADER_ROW
    for m in leaders:
        for risk in by_id[m.id].risks:
            r += 1
            ws.write_number(r, 0, m.rank, st["int"])
            ws.write_string(r, 1, m.name, st["bold_cell"])
            ws.write_string(r, 2, risk.risk, st["statement"])
            ws.write_string(r, 3, risk.mitigation, st["statement"])
            _fit_row(ws, r, [(risk.risk, RISK_WIDTHS[2]), (risk.mitigation, RISK_WIDTHS[3]), (m.name, RISK_WIDTHS[1])])
    _table(ws, "ModelRisks", HEADER_ROW, r, RISK_HEADERS, RISK_WIDTHS, st["header"])
    ws.freeze_panes(HEADER_ROW + 1, 0)
    ws.print_area(0, 0, r, last_col)


# ---------------------------------------------------------------- what to confirm


def _write_confirm(ws, asm: CheckedReturn, st: Styles) -> None:
    last_col = len(CONFIRM_HEADERS) - 1
    page_setup(ws, "What to confirm", repeat=HEADER_ROW, widths=CONFIRM_WIDTHS)
    _widths(ws, CONFIRM_WIDTHS)
    ws.write_string(0, 0, "What to confirm", st["title"])
    _prose(ws, 1, "Points found when your return was checked. An error is an answer that could not be used and must "
           "be fixed; a query is unusual and worth confirming or explaining. The plan was built from the answers "
           f"that could be read, so fixing these may change it. Return: {asm.file.name}", st["value"],
           CONFIRM_WIDTHS, max_rows=2)
    _headers(ws, HEADER_ROW, CONFIRM_HEADERS, CONFIRM_WIDTHS, st["header"])
    r = HEADER_ROW
    if not asm.issues:
        r += 1
        ws.write_string(r, 4, "Nothing to confirm: the return passed every check.", st["note"])
    for i in asm.issues:
        r += 1
        ws.write_string(r, 0, i.severity.value.capitalize(), st["bold_cell"])
        ws.write_string(r, 1, i.sheet, st["plain_cell"])
        ws.write_string(r, 2, i.cell, st["plain_cell"])
        ws.write_string(r, 3, i.code.value, st["id"])
        ws.write_string(r, 4, _text(i.message), st["statement"])  # quotes what was typed: always text
        _fit_row(ws, r, [(i.message, CONFIRM_WIDTHS[4]), (i.sheet, CONFIRM_WIDTHS[1])])
    _table(ws, "ToConfirm", HEADER_ROW, r, CONFIRM_HEADERS, CONFIRM_WIDTHS, st["header"])
    ws.freeze_panes(HEADER_ROW + 1, 0)
    ws.print_area(0, 0, r, last_col)


def _write_partners(ws, asm: CheckedReturn, partners: list[CheckedReturn], st: Styles) -> None:
    """Where this council's respondents see things differently (prompts for a conversation), and common ground."""
    from .consolidate import DIVERGENCE_POINTS, agreement, divergence, respondent_label

    rets = [a.ret for a in (asm, *partners) if a.ret is not None]
    ret = rets[0]
    spec = ret.spec
    named = [(respondent_label(r.identity.respondent, r.identity.organisation, i),
              {fid: fa.rating for fid, fa in r.factors.items()}) for i, r in enumerate(rets)]
    labels = {c.value: c.label for c in spec.rating}
    aspect_names = {a.id: a.name for a in spec.aspects}
    widths = (*PARTNER_WIDTHS, *[RESPONDENT_WIDTH] * len(named))
    page_setup(ws, f"{PARTNERS}: {ret.identity.council}", repeat=4, widths=widths, repeat_cols=(0, 1))
    _widths(ws, widths)
    ws.write_string(0, 0, "Where partners see things differently", st["title"])
    row = 1
    intro = (f"{len(named)} respondents answered for {ret.identity.council or 'this council'}: "
             + "; ".join(n for n, _ in named) + f". Factors whose ratings are {DIVERGENCE_POINTS} or more points "
             "apart are worth talking through together: a difference of view is a conversation worth having, not "
             "an error. For each, ask: what do you each see that leads to a different rating, and what would you "
             "need to agree on it?")
    # The header row is row 5 (so that it repeats on each page); a very long list of names gets two lines here.
    _prose(ws, row, intro, st["note"], widths, max_rows=3)
    row = 4
    heads = ["Aspect", "Factor", *[n for n, _ in named]]
    top = row
    differ = divergence(named, spec)
    for d in differ:
        row += 1
        ws.write_string(row, 0, aspect_names[d.aspect], st["plain_cell"])
        ws.write_string(row, 1, d.statement, st["plain_cell"])
        given = [labels.get(r.rating, "Not rated") if r.rating else "Not rated" for r in d.ratings]
        for k, text in enumerate(given):
            ws.write_string(row, 2 + k, text, st["plain_cell"])
        _fit_row(ws, row, [(aspect_names[d.aspect], widths[0]), (d.statement, widths[1]),
                           *[(t, RESPONDENT_WIDTH) for t in given]])
    if not differ:
        row += 1
        ws.write_string(row, 0, "No factor is rated two or more points apart.", st["value"])
    _table(ws, "PartnersDiffer", top, row, heads, widths, st["header"])
    row += 2
    ws.write_string(row, 0, "What you agree on", st["heading"])
    same = agreement(named, spec)
    row += 1
    top = row
    for g in same:
        row += 1
        ws.write_string(row, 0, aspect_names[g.aspect], st["plain_cell"])
        ws.write_string(row, 1, g.statement, st["plain_cell"])
        rating = labels.get(g.rating, "")
        ws.write_string(row, 2, rating, st["plain_cell"])
        _fit_row(ws, row, [(aspect_names[g.aspect], widths[0]), (g.statement, widths[1]),
                           (rating, RESPONDENT_WIDTH)])
    if not same:
        row += 1
        ws.write_string(row, 0, "No factor was rated the same by everyone yet.", st["value"])
    _table(ws, "PartnersAgree", top, row, ("Aspect", "Factor", "Everyone rated it"), widths, st["header"])
    ws.print_area(0, 0, row, len(widths) - 1)
