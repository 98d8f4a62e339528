"""A batch's results → summary.xlsx for the programme team.

pandas shapes the data; xlsxwriter writes it, every string with write_string (so text a person typed
never becomes a live formula). Figures across councils are distributions, each council's place shown
by a colour scale and a plain-words position, never a ranking: rows are sorted by council name.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd
from xlsxwriter.utility import xl_range_abs

from .drafts import unreadable_by_council
from .fileio import TEXT_LIMIT, atomic_output
from .model import CONTROL_IDS, Status, is_inhibitor
from .register import Council, council_key
from .results import BatchResult, FileRecord
from .styles import Styles
from .writer import bar_chart_size, fit_row, new_workbook, page_setup, text_lines

# A diverging purple-orange scale: readable for the common kinds of colour blindness, and every
# coloured cell also shows its number.
LOW, MID, HIGH = "#fdb863", "#f7f7f7", "#b2abd2"
STATUS_WORDS = {
    Status.VALID: "valid", Status.QUERIES: "with queries", Status.INVALID: "invalid",
    Status.UNREADABLE: "could not be read", Status.SKIPPED: "skipped", Status.DUPLICATE: "duplicate",
    Status.SUPERSEDED: "superseded",
}


def write_summary(result: BatchResult, out: Path, register: Sequence[Council] | None = None) -> Path:
    """Write summary.xlsx whole or not at all; return its path."""
    out = Path(out)
    with atomic_output(out) as tmp:
        _write(result, tmp, register)
    return out


# ---------------------------------------------------------------------------------------------------
# Data shaping (pandas)


def returns_frame(files: Sequence[FileRecord]) -> pd.DataFrame:
    rows = []
    for f in files:
        src = f.source
        rows.append({
            "File": f.file,
            "From": src.sender or "" if src else "",
            "Sent": src.sent or "" if src else "",
            "Subject": src.subject or "" if src else "",
            "Council": f.council_name,
            "Code": f.code,
            "Respondent": f.respondent,
            "Organisation": f.organisation,
            "Status": f.status.value if f.status else "",
            "Errors": f.errors,
            "Queries": f.queries,
            "Completeness (% factors rated)": f.completeness,
            "Spec version": f.spec_version,
            "Read by": f.read_by,
            "Workbook id": f.workbook_id,
            "Duplicate of / Superseded by": f.relation,
            "Counted in figures": "Yes" if f.counted else "No",
            "Note": f.reason or _why_not_counted(f),
            "Plan": f.plan,
            "Feedback": f.feedback,
            "SHA-256": f.sha256,
        })
    # The hash last and on one line: a 64-character value wrapped in a narrow column fills four lines.
    return pd.DataFrame(rows, columns=[
        "File", "From", "Sent", "Subject", "Council", "Code", "Respondent", "Organisation", "Status", "Errors",
        "Queries", "Completeness (% factors rated)", "Spec version", "Read by", "Workbook id",
        "Duplicate of / Superseded by", "Counted in figures", "Note", "Plan", "Feedback", "SHA-256"])


def _why_not_counted(f: FileRecord) -> str:
    if f.counted or f.status in (Status.SKIPPED, Status.DUPLICATE, Status.SUPERSEDED, Status.UNREADABLE):
        return ""
    if f.status == Status.INVALID:
        return "Not counted in the figures until its errors are fixed"
    if not f.current:
        return f"Not counted in the figures: made from form version {f.spec_version or 'unknown'}"
    return ""


def scores_frame(result: BatchResult) -> pd.DataFrame:
    """One row per counted return, plus a combined row for each council with several respondents."""
    spec = result.spec
    names = [a.name for a in spec.aspects]
    rows = []
    for f in result.files:
        if not f.counted:
            continue
        row: dict[str, str | float | None] = {"Council": f.council_name, "Code": f.code, "Respondent": f.respondent,
                                              "File": f.file}
        row.update(zip(names, f.rooms, strict=True))
        row["Overall room for manoeuvre"] = f.overall
        row.update((f"Controllability: {n}", v) for n, v in zip(names, f.controllability, strict=True))
        rows.append(row)
    for c in result.councils:
        if len(c.files) < 2:
            continue
        row = {"Council": c.council, "Code": c.code, "Respondent": f"All {len(c.files)} respondents (mean)",
               "File": ""}
        row.update({a.name: a.room_for_manoeuvre for a in c.aspects})
        row["Overall room for manoeuvre"] = c.overall_room_for_manoeuvre
        row.update({f"Controllability: {a.name}": a.controllability for a in c.aspects})
        rows.append(row)
    columns = ["Council", "Code", "Respondent", "File", *names, "Overall room for manoeuvre",
               *[f"Controllability: {n}" for n in names]]
    df = pd.DataFrame(rows, columns=columns)
    if len(df):
        # Council name order (a combined row after its council's respondents): never a league table.
        df["_combined"] = df["File"].eq("")
        df = df.sort_values(["Council", "Code", "_combined", "Respondent", "File"],
                            key=lambda s: s if s.name == "_combined" else s.str.casefold(), kind="stable")
        df = df.drop(columns="_combined").reset_index(drop=True)
    return df


def _council_values(result: BatchResult) -> pd.DataFrame:
    """One row per counted council: each aspect's combined room for manoeuvre, and overall."""
    rows = []
    for c in result.councils:
        row: dict[str, str | float | None] = {"Council": c.council}
        row.update({a.name: a.room_for_manoeuvre for a in c.aspects})
        row["Overall room for manoeuvre"] = c.overall_room_for_manoeuvre
        rows.append(row)
    return pd.DataFrame(rows, columns=["Council", *[a.name for a in result.spec.aspects],
                                       "Overall room for manoeuvre"])


def cohort_frame(result: BatchResult) -> pd.DataFrame:
    """Per aspect (and overall): the spread of councils' room for manoeuvre."""
    values = _council_values(result)
    rows = []
    for col in values.columns[1:]:
        s = pd.to_numeric(values[col], errors="coerce").dropna()
        rows.append({"Aspect": col, "Councils": int(s.count()),
                     "Lowest": s.min() if len(s) else None, "Lower quartile": s.quantile(0.25) if len(s) else None,
                     "Median": s.median() if len(s) else None,
                     "Upper quartile": s.quantile(0.75) if len(s) else None,
                     "Highest": s.max() if len(s) else None})
    return pd.DataFrame(rows, columns=["Aspect", "Councils", "Lowest", "Lower quartile", "Median", "Upper quartile",
                                       "Highest"])


def constraints_frame(result: BatchResult) -> pd.DataFrame:
    """Per factor: how often it holds councils back (rated 1 or 2), and how they see their control over it."""
    spec = result.spec
    counted = [f for f in result.files if f.counted]
    rows = []
    for a in spec.aspects:
        for fac in a.factors:
            rated = [f for f in counted if f.ratings.get(fac.id) is not None]
            held = [f for f in rated if is_inhibitor(f.ratings.get(fac.id))]
            row = {"Aspect": a.name, "Factor id": fac.id, "Factor": fac.statement,
                   "Times an inhibitor": len(held), "Returns that rated it": len(rated),
                   "Share of those returns (%)": len(held) / len(rated) * 100 if rated else None}
            for cid in CONTROL_IDS:
                row[spec.control_label(cid)] = sum(f.controls.get(fac.id) == cid for f in held)
            row["No category given"] = sum(not f.controls.get(fac.id) for f in held)
            rows.append(row)
    df = pd.DataFrame(rows)
    if len(df):
        df = df.sort_values(["Times an inhibitor", "Share of those returns (%)"], ascending=False, kind="stable")
    return df.reset_index(drop=True)


def models_frame(result: BatchResult) -> pd.DataFrame:
    """Per model: mean fit across councils and how often it is in a council's top three."""
    spec = result.spec
    fits: dict[str, list[float]] = {m.id: [] for m in spec.models}
    top: dict[str, int] = {m.id: 0 for m in spec.models}
    for c in result.councils:
        for m in c.models:
            if m.fit is not None:
                fits[m.id].append(m.fit)
            if m.short_list:
                top[m.id] += 1
    n = sum(any(m.fit is not None for m in c.models) for c in result.councils)
    rows = [{"Model": m.name, "Councils with a fit": len(fits[m.id]),
             "Mean fit": sum(fits[m.id]) / len(fits[m.id]) if fits[m.id] else None,
             "Lowest fit": min(fits[m.id]) if fits[m.id] else None,
             "Highest fit": max(fits[m.id]) if fits[m.id] else None,
             "In a council's top three": top[m.id],
             "Share of councils with fits (%)": top[m.id] / n * 100 if n else None} for m in spec.models]
    df = pd.DataFrame(rows)
    return df.sort_values("Mean fit", ascending=False, na_position="last", kind="stable").reset_index(drop=True)


def issues_frame(files: Sequence[FileRecord]) -> pd.DataFrame:
    rows = [{"File": f.file, "Council": f.council_name, "Respondent": f.respondent,
             "Status": f.status.value if f.status else "", "Severity": i.severity.value, "Code": i.code.value,
             "Sheet": i.sheet, "Cell": i.cell, "Problem": i.title, "Found": i.found, "Expected": i.expected,
             "What to do": i.fix}
            for f in files for i in f.issues]
    return pd.DataFrame(rows, columns=["File", "Council", "Respondent", "Status", "Severity", "Code", "Sheet", "Cell",
                                       "Problem", "Found", "Expected", "What to do"])


TRACKER_STATES = ("valid", "with queries", "invalid", "could not be read", "missing")


def tracker_frames(result: BatchResult, register: Sequence[Council]) -> tuple[pd.DataFrame, pd.DataFrame,
                                                                                 pd.DataFrame]:
    """Expected councils and how far each has got; the same by region; returns naming no listed council."""
    live = [f for f in result.files if f.live]
    codes = {c.code.upper() for c in register}
    unreadable = unreadable_by_council(result.files, register)
    rows = []
    for c in register:
        mine = [f for f in live if f.code.upper() == c.code.upper()]
        sent = unreadable.get(council_key(c.code, c.name), []) if not mine else []
        n_valid = sum(f.status == Status.VALID for f in mine)
        n_q = sum(f.status == Status.QUERIES for f in mine)
        n_bad = sum(f.status == Status.INVALID for f in mine)
        # The state to act on: anything invalid needs chasing first, then queries. A council whose contact sent
        # only files that could not be read has replied, but has no return yet.
        if mine:
            state = "invalid" if n_bad else "with queries" if n_q else "valid"
        else:
            state = "could not be read" if sent else "missing"
        rows.append({"Council": c.name, "Code": c.code, "Region": c.region, "Returned": "Yes" if mine else "No",
                     "State": state, "Returns": len(mine), "Valid": n_valid, "With queries": n_q, "Invalid": n_bad,
                     "Files": ", ".join(f.file for f in mine + sent)})
    councils = pd.DataFrame(rows, columns=["Council", "Code", "Region", "Returned", "State", "Returns", "Valid",
                                           "With queries", "Invalid", "Files"])
    if len(councils):
        by_region = (councils.assign(Region=councils["Region"].replace("", "(no region)"))
                     .groupby("Region", sort=True)["State"].value_counts().unstack(fill_value=0)
                     .reindex(columns=list(TRACKER_STATES), fill_value=0))
        by_region.insert(0, "Expected", by_region.sum(axis=1))
        by_region.insert(1, "Returned", by_region["Expected"] - by_region["missing"] - by_region["could not be read"])
        by_region = by_region.rename(columns={s: s.capitalize() for s in TRACKER_STATES}).reset_index()
        total = by_region.drop(columns="Region").sum()
        by_region = pd.concat([by_region, pd.DataFrame([{"Region": "All regions", **total.to_dict()}])],
                              ignore_index=True)
    else:
        by_region = pd.DataFrame(columns=["Region", "Expected", "Returned",
                                          *(state.capitalize() for state in TRACKER_STATES)])
    stray = pd.DataFrame([{"File": f.file, "Council as written": f.council, "Code as written": f.code,
                           "Status": f.status.value if f.status else ""} for f in live
                          if f.code.upper() not in codes],
                         columns=["File", "Council as written", "Code as written", "Status"])
    return councils, by_region, stray


# ---------------------------------------------------------------------------------------------------
# Writing (xlsxwriter)


UNWRAPPED = {"SHA-256"}  # long technical values: one line in a column wide enough for them
HASH_WIDTH = 70


class _Sheets:
    def __init__(self, wb, st: Styles):
        self.wb, self.st = wb, st
        self.tables = 0
        self.widths: dict[str, dict[int, float]] = {}  # sheet -> column -> width, for the print setup
        self.bottom: dict[str, int] = {}  # sheet -> the last row in use, for the print area
        self.print_cols: dict[str, int] = {}  # sheet -> how many columns print, where not all of them

    def extend(self, ws, row: int) -> None:
        name = ws.get_name()
        self.bottom[name] = max(self.bottom.get(name, 0), row)

    def line(self, ws, row: int, text: str) -> None:
        """A sentence below a table, on one line."""
        ws.write_string(row, 0, text, self.st["value"])
        self.extend(ws, row)

    def set_width(self, ws, col: int, width: float) -> None:
        ws.set_column(col, col, width)
        self.widths.setdefault(ws.get_name(), {})[col] = width

    def cell(self, ws, r: int, c: int, v, fmt=None, number_fmt=None) -> None:
        st = self.st
        if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
            ws.write_blank(r, c, None, fmt or st["plain_cell"])
        elif isinstance(v, bool):
            ws.write_string(r, c, "Yes" if v else "No", fmt or st["plain_cell"])
        elif isinstance(v, int | float) or hasattr(v, "dtype"):
            num = float(v)
            is_int = num.is_integer() and not isinstance(v, float)
            ws.write_number(r, c, num, number_fmt or (st["int"] if is_int else st["number"]))
        else:
            ws.write_string(r, c, str(v)[:TEXT_LIMIT], fmt or st["plain_cell"])

    def table(self, ws, df: pd.DataFrame, top: int, name: str, widths: dict[str, int] | None = None,
              wrap: set[str] | None = None) -> tuple[int, int]:
        """Write df as an Excel table at row `top`; return (first data row, last data row). Every row is as tall
        as its wrapped text, and every header fits (no word is wider than its column)."""
        st = self.st
        cols = list(df.columns)
        widths = widths or {}
        col_width: list[float] = []
        for h in cols:
            if h in UNWRAPPED:
                width = HASH_WIDTH
            elif h in widths:
                width = widths[h]
            else:
                longest = max([len(str(h)) // 2 + 2] + [len(str(v)) for v in df[h].head(200)]) if len(df) else 12
                width = min(max(10, longest + 2), 50)
            width = max(width, max(len(word) for word in str(h).split()) + 3)  # a header word is never cut
            col_width.append(width)
        # Row by row, top to bottom: the big sheets are streamed (new_workbook's add_streamed_worksheet).
        for c, h in enumerate(cols):
            ws.write_string(top, c, str(h), st["header"])
        # The filter button takes about two characters of the header's width.
        fit_row(ws, top, [(str(h), w - 2) for h, w in zip(cols, col_width, strict=True)], bold=True)
        wrapped = [h not in UNWRAPPED for h in cols]
        for r, row in enumerate(df.itertuples(index=False, name=None), start=top + 1):
            texts = []
            for c, v in enumerate(row):
                self.cell(ws, r, c, v, None if wrapped[c] else st["id_line"])
                if wrapped[c] and isinstance(v, str):
                    texts.append((v, col_width[c]))
            fit_row(ws, r, texts)
        last = top + max(1, len(df))
        self.tables += 1
        ws.add_table(top, 0, last, len(cols) - 1, {
            "name": f"tbl{name}", "style": "Table Style Light 1", "autofilter": True,
            "columns": [{"header": str(h), "header_format": st["header"]} for h in cols]})
        for c, col in enumerate(col_width):
            self.set_width(ws, c, col)
        self.extend(ws, last)
        return top + 1, last


def _tool_version() -> str:
    try:
        return version("scoa_xl")
    except PackageNotFoundError:
        return "unknown"


def _write(result: BatchResult, path: Path, register: Sequence[Council] | None) -> None:
    wb = new_workbook(path, nan_inf_to_errors=True, spill=path.parent)  # its size grows with the batch
    spec = result.spec
    wb.set_properties({"title": f"{spec.title} - summary of returns", "subject": f"{spec.id} version {spec.version}",
                       "comments": "Made by scoa batch", "created": result.started})
    st = Styles(wb)
    sh = _Sheets(wb, st)
    ws_about = wb.add_worksheet("About")
    ws_returns = wb.add_streamed_worksheet("Returns")  # grows with the batch
    ws_scores = wb.add_streamed_worksheet("Scores")  # grows with the batch
    ws_cohort = wb.add_worksheet("Cohort")
    ws_constraints = wb.add_worksheet("Constraints")
    ws_models = wb.add_worksheet("Models")
    ws_partners = wb.add_streamed_worksheet("Partners")  # grows with the batch
    ws_issues = wb.add_streamed_worksheet("Issues")  # grows with the batch
    ws_tracker = wb.add_worksheet("Tracker") if register is not None else None

    _returns(sh, ws_returns, result)
    _scores(sh, ws_scores, result)
    _cohort(sh, wb, ws_cohort, result)
    _constraints(sh, ws_constraints, result)
    _models(sh, wb, ws_models, result)
    _partners(sh, ws_partners, result)
    _issues(sh, ws_issues, result)
    if ws_tracker is not None and register is not None:
        _tracker(sh, ws_tracker, result, register)
    _about(sh, ws_about, result, register)
    for ws in wb.worksheets():
        name = ws.get_name()
        widths = sh.widths.get(name, {})
        n_cols = sh.print_cols.get(name, max(widths, default=-1) + 1)
        printed = [widths.get(c, 8.43) for c in range(n_cols)]
        page_setup(ws, f"{spec.title}: {name}", widths=printed, repeat=REPEAT_ROWS.get(name, 3),
                   repeat_cols=REPEAT_COLS.get(name, (0, 0)))
        ws.print_area(0, 0, sh.bottom.get(name, 3), max(len(printed) - 1, 0))
    ws_about.activate()
    wb.close()


# Printing: the header row of each sheet's table repeats on every page (None: the sheet has several tables), and so
# do its identifying columns when it is too wide for one page.
REPEAT_ROWS: dict[str, int | None] = {"About": None, "Tracker": None}
REPEAT_COLS: dict[str, tuple[int, int]] = {"Scores": (0, 0), "Issues": (0, 0), "Returns": (0, 0)}


def _heading(sh: _Sheets, ws, title: str, note: str) -> int:
    """The sheet's title and a note of at most two lines, each within the printed page; the table goes in row 4."""
    ws.write_string(0, 0, title, sh.st["title"])
    for i, line in enumerate(text_lines(note, ())[:2]):
        ws.write_string(1 + i, 0, line, sh.st["note"])
    return 3


def _returns(sh: _Sheets, ws, result: BatchResult) -> None:
    top = _heading(sh, ws, "Every file found", "One row per file in the folder, whatever it held. Status: valid, "
                   "queries (fix or explain), invalid (must fix), unreadable, skipped (not a return), duplicate "
                   "(an identical copy) or superseded (replaced by a later return).")
    df = returns_frame(result.files)
    sh.table(ws, df, top, "Returns", widths={"Note": 50, "Duplicate of / Superseded by": 40, "File": 40})
    ws.freeze_panes(top + 1, 1)


def _scores(sh: _Sheets, ws, result: BatchResult) -> None:
    top = _heading(sh, ws, "Room for manoeuvre and controllability, return by return",
                   "Scores 0-100, unrounded (shown to one decimal). Sorted by council name, not by score: the "
                   "colours show where each figure sits in the spread of this column (orange lower, purple higher). "
                   "Valid returns and returns with queries on the current form only.")
    df = scores_frame(result)
    figures = {c: 14 for c in df.columns[4:]}  # a header word wider than that widens its column
    first, last = sh.table(ws, df, top, "Scores", widths={"File": 30, "Council": 24, "Respondent": 24, "Code": 11,
                                                         **figures})
    n_aspects = len(result.spec.aspects)
    if len(df):
        for c in range(4, 4 + 2 * n_aspects + 1):
            ws.conditional_format(first, c, last, c, {"type": "3_color_scale", "min_color": LOW, "mid_color": MID,
                                                      "max_color": HIGH})
    else:
        sh.line(ws, last + 2, "No return could be counted yet (see the Returns sheet).")
    ws.freeze_panes(top + 1, 3)


def _cohort(sh: _Sheets, wb, ws, result: BatchResult) -> None:
    top = _heading(sh, ws, "The spread across councils",
                   "One value per council (where a council has several respondents, their mean). Half of the "
                   "councils lie between the lower and upper quartile; the median is the middle council.")
    df = cohort_frame(result)
    first, last = sh.table(ws, df, top, "Cohort", widths={"Aspect": 34})
    if not df["Councils"].gt(0).any():
        sh.line(ws, last + 2, "No council's return could be counted yet, so there is no spread to show.")
        return
    # A box plot that Excel and LibreOffice both draw: stacked columns (an invisible base up to the lower
    # quartile, then lower quartile to median and median to upper quartile), with error bars as whiskers.
    # The differences the chart needs sit in helper columns to the right, under their own heading.
    sheet = ws.get_name()
    helper = len(df.columns) + 1
    sh.print_cols[sheet] = len(df.columns)  # the chart's helper columns are for the screen, not the page
    ws.set_h_pagebreaks([last + 1])  # the chart on a page of its own
    heads = ("Chart: box base", "Chart: lower quartile to median", "Chart: median to upper quartile",
             "Chart: whisker down", "Chart: whisker up")
    for k, h in enumerate(heads):
        ws.write_string(top, helper + k, h, sh.st["header"])
        sh.set_width(ws, helper + k, 16)
    fit_row(ws, top, [(h, 14) for h in [*map(str, df.columns), *heads]], bold=True)
    for r, row in enumerate(df.itertuples(index=False), start=first):
        parts = (row[3], _diff(row[4], row[3]), _diff(row[5], row[4]), _diff(row[3], row[2]), _diff(row[6], row[5]))
        for k, v in enumerate(parts):
            sh.cell(ws, r, helper + k, v)
    chart = wb.add_chart({"type": "column", "subtype": "stacked"})
    cats = [sheet, first, 0, last, 0]

    def ref(k: int) -> list:
        return [sheet, first, helper + k, last, helper + k]

    def rng(k: int) -> str:
        # Error bar values must be given as a range formula: a Python list would be taken as literal numbers,
        # which LibreOffice does not draw.
        return f"='{sheet}'!{xl_range_abs(first, helper + k, last, helper + k)}"

    chart.add_series({"name": "Lower quartile", "categories": cats, "values": ref(0), "fill": {"none": True},
                      "border": {"none": True},
                      "y_error_bars": {"type": "custom", "direction": "minus", "minus_values": rng(3),
                                       "plus_values": rng(3), "end_style": 1}})
    chart.add_series({"name": "Lower half of the middle", "categories": cats, "values": ref(1),
                      "fill": {"color": HIGH}, "border": {"color": "#3f3f76"}})
    chart.add_series({"name": "Upper half of the middle", "categories": cats, "values": ref(2),
                      "fill": {"color": LOW}, "border": {"color": "#3f3f76"}, "gap": 80,
                      "y_error_bars": {"type": "custom", "direction": "plus", "plus_values": rng(4),
                                       "minus_values": rng(4), "end_style": 1}})
    chart.set_title({"name": "Room for manoeuvre across councils"})
    chart.set_y_axis({"min": 0, "max": 100, "name": "Room for manoeuvre (0-100)"})
    chart.set_legend({"position": "bottom", "delete_series": [0]})
    chart.set_size({"width": 900, "height": 440})
    sh.extend(ws, last + 2 + 440 // 20)
    ws.insert_chart(last + 2, 0, chart, {"description": (
        "Box plot of room for manoeuvre for each aspect and overall: the purple part of each box runs from the "
        "lower quartile of councils to the median, the orange part from the median to the upper quartile, and the "
        "whiskers reach the lowest and highest council. The same figures are in the table above.")})


def _diff(a, b) -> float | None:
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)) or (isinstance(b, float) and math.isnan(b)):
        return None
    return float(a) - float(b)


def partners_frame(result: BatchResult) -> pd.DataFrame:
    """One row per council with several respondents and per factor they rate 2 or more points apart."""
    labels = {c.value: c.label for c in result.spec.rating}
    aspects = {a.id: a.name for a in result.spec.aspects}
    rows = []
    for c in result.councils:
        if len(c.respondents) < 2:
            continue
        who = "; ".join(r or "(not named)" for r in c.respondents)
        if not c.divergence:
            rows.append({"Council": c.council, "Code": c.code, "Respondents": who, "Aspect": "",
                         "Factor id": "", "Factor": "No factor rated two or more points apart", "Ratings": "",
                         "Gap": None, "Agreed factors": len(c.agreement)})
        for d in c.divergence:
            ratings = "; ".join(f"{r.respondent}: {labels.get(r.rating) or 'not rated'}" for r in d.ratings)
            rows.append({"Council": c.council, "Code": c.code, "Respondents": who,
                         "Aspect": aspects[d.aspect], "Factor id": d.factor, "Factor": d.statement,
                         "Ratings": ratings, "Gap": d.spread, "Agreed factors": len(c.agreement)})
    return pd.DataFrame(rows, columns=["Council", "Code", "Respondents", "Aspect", "Factor id", "Factor", "Ratings",
                                       "Gap", "Agreed factors"])


def _partners(sh: _Sheets, ws, result: BatchResult) -> None:
    top = _heading(sh, ws, "Where partners see things differently",
                   "Councils with several respondents (for example the council, its NHS partner and providers): the "
                   "factors they rate 2 or more points apart. Each is a conversation worth having, not an error. "
                   "Their scores are combined as the mean of the respondents' scores.")
    df = partners_frame(result)
    first, last = sh.table(ws, df, top, "Partners", widths={"Factor": 50, "Ratings": 60, "Respondents": 40})
    if not len(df):
        sh.line(ws, last + 2, "No council has more than one counted respondent.")
    ws.freeze_panes(top + 1, 1)


def _constraints(sh: _Sheets, ws, result: BatchResult) -> None:
    top = _heading(sh, ws, "What holds councils back",
                   "Each factor: how many returns rate it 1 or 2 (an inhibitor), and how those returns see their "
                   "control over it. Most frequent first. Valid returns and returns with queries only.")
    sh.table(ws, constraints_frame(result), top, "Constraints", widths={"Factor": 60, "Aspect": 26})
    ws.freeze_panes(top + 1, 0)


def _models(sh: _Sheets, wb, ws, result: BatchResult) -> None:
    top = _heading(sh, ws, "Commissioning models across councils",
                   "Mean fit (0-100) across councils and how often each model is in a council's short list of three. "
                   "A short list allows a blend of models; it is not a single answer for any council.")
    df = models_frame(result)
    first, last = sh.table(ws, df, top, "Models", widths={"Model": 44})
    if not len(result.councils):
        sh.line(ws, last + 2, "No council's return could be counted yet.")
        return
    sheet = ws.get_name()
    # One above the other, each on a page of its own: side by side, the second would print on another page across.
    at = last + 2
    at = _bar(sh, wb, ws, (sheet, first, last, 2), (at + 1, 0), "Mean fit", "Mean fit of each model across councils",
              {"min": 0, "max": 100, "name": "Fit (0-100)"}, "#1d70b8",
              "Bar chart of the mean fit of each of the commissioning models across councils, highest at the top. "
              "The same figures are in the table above.")
    ws.set_h_pagebreaks([last + 2, at])
    _bar(sh, wb, ws, (sheet, first, last, 5), (at + 1, 0), "In a council's top three",
         "How many councils have each model in their top three", {"min": 0, "major_unit": 1, "name": "Councils"},
         "#5e3c99", "Bar chart of how many councils have each commissioning model among their three best-fitting "
         "models. The same figures are in the table above.")


def _bar(sh: _Sheets, wb, ws, data: tuple[str, int, int, int], at: tuple[int, int], series: str, title: str,
         x_axis: dict, colour: str, description: str) -> int:
    """A horizontal bar chart of one column of a table against its first column (the model names), tall enough for
    every name; returns the first row below it."""
    sheet, first, last, col = data
    chart = wb.add_chart({"type": "bar"})
    chart.add_series({"name": series, "categories": [sheet, first, 0, last, 0],
                      "values": [sheet, first, col, last, col], "fill": {"color": colour}})
    chart.set_title({"name": title, "name_font": {"size": 12}})
    chart.set_x_axis(x_axis)
    chart.set_y_axis({"reverse": True})
    chart.set_legend({"none": True})
    size = bar_chart_size(last - first + 1)
    chart.set_size(size)
    ws.insert_chart(*at, chart, {"description": description})
    below = at[0] + size["height"] // 20 + 2
    sh.extend(ws, below)
    return below


def _issues(sh: _Sheets, ws, result: BatchResult) -> None:
    top = _heading(sh, ws, "Every issue in every file",
                   "Errors must be fixed; queries are unusual answers to fix or explain. Each is at its sheet and "
                   "cell, with what to do. The feedback letters say the same to each council.")
    sh.table(ws, issues_frame(result.files), top, "Issues", widths={"What to do": 60, "Found": 30, "Expected": 30,
                                                                    "Problem": 36})
    ws.freeze_panes(top + 1, 1)


def _tracker(sh: _Sheets, ws, result: BatchResult, register: Sequence[Council]) -> None:
    top = _heading(sh, ws, "Who has returned",
                   "Every council on the register: returned or missing, and the state of its returns (matched on the "
                   "ONS code, or on the name where a return has no code). Duplicates and superseded returns are not "
                   "counted again. \"Could not be read\": the council's contact sent only files that could not be "
                   "read, so it has replied but has no return yet.")
    councils, by_region, stray = tracker_frames(result, register)
    ws.write_string(top, 0, "By region", sh.st["heading"])
    _, last = sh.table(ws, by_region, top + 1, "Regions", widths={"Region": 26})
    row = last + 2
    ws.write_string(row, 0, "By council", sh.st["heading"])
    _, last = sh.table(ws, councils, row + 1, "Tracker", widths={"Council": 28, "Region": 26, "Files": 50})
    row = last + 2
    ws.write_string(row, 0, "Returns naming a council that is not on the register", sh.st["heading"])
    if len(stray):
        sh.table(ws, stray, row + 1, "NotOnRegister")
    else:
        sh.line(ws, row + 1, "None.")


ABOUT_WIDTHS = (46, 90)


def _about(sh: _Sheets, ws, result: BatchResult, register: Sequence[Council] | None) -> None:
    st = sh.st
    spec = result.spec
    files = result.files
    n = len(files)
    read = sum(f.readable for f in files)
    failed = result.count(Status.UNREADABLE)
    skipped = result.count(Status.SKIPPED)
    counted = sum(f.counted for f in files)
    other = [f for f in files if f.readable and f.spec_version and f.spec_version != spec.version]
    other_versions = sorted({f.spec_version for f in other})
    widths = ABOUT_WIDTHS
    for col, width in enumerate(widths):
        sh.set_width(ws, col, width)
    ws.write_string(0, 0, f"{spec.title}: summary of returns", st["title"])
    partial = []
    if failed:
        partial.append(f"{failed} file{'s' if failed != 1 else ''} could not be read")
    if skipped:
        partial.append(f"{skipped} file{'s were' if skipped != 1 else ' was'} skipped as not a return")
    left_out = sum(f.readable and not f.counted for f in files)
    if left_out:
        partial.append(f"{left_out} readable return{'s are' if left_out != 1 else ' is'} not counted in the figures "
                       "(invalid, another form version, duplicates or superseded)")
    if partial:
        line = "This summary is partial: " + "; ".join(partial) + ". The Returns sheet lists every file and why."
    else:
        line = "Every file found was read and is counted."
    for i, text in enumerate(text_lines(line, widths)[:2]):
        ws.write_string(1 + i, 0, text, st["note"])
    rows: list[tuple[str, object]] = [
        ("Run started", result.started.isoformat(sep=" ")),
        ("Run took (seconds)", round(result.seconds, 1)),
        ("Folder of returns", str(result.folder)),
        ("Form", f"{spec.id} version {spec.version} (fingerprint {spec.fingerprint})"),
        ("Register", result.register.name if result.register else "none given (no Tracker sheet)"),
        ("Files found", n),
        ("Returns read", read),
        ("Files that could not be read (failed)", failed),
        ("Files skipped (not a return)", skipped),
        ("Duplicates (identical copies)", result.count(Status.DUPLICATE)),
        ("Superseded (replaced by a later return)", result.count(Status.SUPERSEDED)),
        ("Valid", result.count(Status.VALID)),
        ("With queries", result.count(Status.QUERIES)),
        ("Invalid", result.count(Status.INVALID)),
        ("Returns counted in the figures", counted),
        ("Councils counted in the figures", len(result.councils)),
        # A count, then the versions in words: "0.9" alone reads as a number of returns.
        ("Returns made from another form version (not counted)",
         f"{len(other)} (form version{'s' if len(other_versions) != 1 else ''} {', '.join(other_versions)})"
         if other else "0"),
        ("Plans written", sum(bool(f.plan) for f in files)),
        ("Feedback letters written", sum(bool(f.feedback) for f in files)),
        ("Worker processes", result.jobs),
        ("Tool version", f"scoa_xl {_tool_version()}"),
    ]
    if register is not None:
        rows.insert(5, ("Councils on the register", len(register)))
    r = 3
    for label, value in rows:
        ws.write_string(r, 0, label, st["label"])
        sh.cell(ws, r, 1, value, fmt=st["text"])
        fit_row(ws, r, [(label, widths[0]), (value if isinstance(value, str) else "", widths[1])])
        r += 1
    r += 1
    ws.write_string(r, 0, "The sheets", st["heading"])
    r += 1
    for name, what in (
        ("Returns", "Every file found, with its status, who it is from, and what became of it."),
        ("Scores", "Each counted return's room for manoeuvre per aspect and overall, and controllability, with a "
                   "combined row where a council has several respondents. Sorted by council name."),
        ("Cohort", "The spread of councils for each aspect: lowest, quartiles, median, highest, with a chart."),
        ("Constraints", "The factors that most often hold councils back, and the mix of control categories."),
        ("Models", "Mean fit of each commissioning model and how often it is in a council's top three."),
        ("Partners", "Councils with several respondents: the factors they rate 2 or more points apart."),
        ("Issues", "Every error and query in every file, at its sheet and cell, with what to do."),
        ("Tracker", "Who on the register has returned, and the state of their returns, by council and region."),
    ):
        if name == "Tracker" and register is None:
            continue
        ws.write_url(r, 0, f"internal:'{name}'!A1", st["link"], name)  # each name a link to its sheet
        ws.write_string(r, 1, what, st["text"])
        fit_row(ws, r, [(what, widths[1])])
        r += 1
    r += 1
    sh.line(ws, r, "Scores are for learning and improvement, not for ranking councils: every table of councils is "
                   "in name order.")
