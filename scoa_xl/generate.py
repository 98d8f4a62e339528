"""Spec (+ identity, + earlier answers) → the self-assessment workbook, written with xlsxwriter.

The same inputs give a byte-identical file: the creation date is pinned to the generation date
and every id is derived from the inputs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import io
import re
import tempfile
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from . import layout as L
from .clean import DONT_KNOW, match_choice, match_rating
from .fileio import TEMP_PREFIX, atomic_output
from .model import CONTROLLABLE, Choice, FactorAnswer, Identity, Spec
from .render import paragraphs
from .score import MIN_SCORED_ASPECTS, SENSITIVITY_STEP, factor_score, score_answers, weight_of
from .styles import Styles
from .writer import ZipWriter, fit_row, new_workbook, page_setup, radar_chart, row_height, text_lines

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


# ---------------------------------------------------------------- one form, many councils

# What a template holds in place of the council's name and code; "@" and ":" together appear in no form text.
_MARKS = {"council": "@@scoa:council@@", "council_code": "@@scoa:code@@"}
_SHARED_TEXT = re.compile(rb"<si><t(?: xml:space=\"preserve\")?>(.*?)</t></si>", re.S)


def template_key(spec: Spec, day: dt.date, identity: Identity) -> tuple:
    """What a council's copy of the form shares with every other copy its template can fill: all but the filled
    fields' text, which shows only in the heights of their rows."""
    heights = tuple(row_height(_identity_cells(label, getattr(identity, key))) for key, label in L.IDENTITY_FIELDS
                    if key in _MARKS)
    return (spec.fingerprint, day, identity.respondent, identity.organisation, identity.role, identity.date, heights)


@dataclass(frozen=True, slots=True)
class FormTemplate:
    """The workbook generate() writes for a spec, a day and an issuing identity, with marks where the council's
    name and code and the workbook id go. Filling them in gives, byte for byte, the file generate() writes for that
    council (tested over the register), in a fraction of the time: the form is written once for a register, not
    once per council.

    A council whose name or code the file would hold in any other way than as plain text (an empty field, spaces
    at either end, a control character, text the form already holds elsewhere) is not filled in: fill() says so by
    returning None, and the caller generates that council's workbook in full."""

    key: tuple
    spec: Spec
    day: dt.date
    parts: tuple[tuple[str, bytes], ...]  # every part of the file, in order
    texts: frozenset[str]  # every other text of the form's shared strings
    marked_id: str  # the workbook id of the marked form, replaced by each council's own

    @classmethod
    def make(cls, spec: Spec, day: dt.date, identity: Identity, scratch: Path | None = None) -> FormTemplate:
        """The template for `identity`'s shape of the form (written once, in a temporary folder in `scratch`: the
        folder the workbooks go to, so that nothing but it need be writable)."""
        marked = replace(identity, **_MARKS)
        with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX, dir=scratch) as tmp:
            path = Path(tmp) / "form.xlsx"
            _write(spec, path, marked, None, day, sized_for=identity)
            with zipfile.ZipFile(path) as zf:
                parts = tuple((info.filename, zf.read(info)) for info in zf.infolist())
        shared = dict(parts).get("xl/sharedStrings.xml", b"")
        texts = {html.unescape(t.decode("utf-8")) for t in _SHARED_TEXT.findall(shared)} - set(_MARKS.values())
        return cls(template_key(spec, day, identity), spec, day, parts, frozenset(texts),
                   workbook_id(spec, marked, day.isoformat()))

    def fill(self, identity: Identity) -> bytes | None:
        """This council's workbook, or None where only generate() can write it exactly."""
        values = {key: getattr(identity, key) for key in _MARKS}
        if template_key(self.spec, self.day, identity) != self.key or len(set(values.values())) < len(values):
            return None
        if not all(_plain(v) and v not in self.texts for v in values.values()):
            return None
        swap = {_MARKS[k].encode(): xml_escape(v).encode("utf-8") for k, v in values.items()}
        swap[self.marked_id.encode()] = workbook_id(self.spec, identity, self.day.isoformat()).encode()
        pattern = re.compile(b"|".join(re.escape(m) for m in swap))
        buf = io.BytesIO()
        with ZipWriter(buf, "w", zipfile.ZIP_DEFLATED) as zout:  # as new_workbook zips a workbook in memory
            for name, data in self.parts:
                info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zout.writestr(info, pattern.sub(lambda m: swap[m.group(0)], data) if b"@@scoa:" in data
                              or self.marked_id.encode() in data else data)
        return buf.getvalue()


def _plain(value: str) -> bool:
    """Text the file holds as it is typed, bar XML's escapes (no _xHHHH_ codes, no preserved spaces)."""
    return bool(value) and value.isprintable() and value == value.strip() and "_x" not in value \
        and not value.startswith("<r>") and len(value) < 8000


def _write(spec: Spec, path: Path, identity: Identity, prefill: Prefill | None, day: dt.date, *,
           sized_for: Identity | None = None) -> None:
    """`sized_for`: the identity whose answers set the heights of the identity rows, when another (a template's
    placeholders, FormTemplate) is written into them."""
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

    list_refs, places = _write_lists(lists_ws, spec, st, wid, day, pre.source)
    _write_cover(cover, spec, st, identity, pre, sized_for or identity)
    for ai, ws in enumerate(aspect_sheets):
        _write_aspect(ws, spec, ai, st, list_refs, places, pre, lay)
    _write_models(models_ws, spec, st, list_refs, places, pre, scores)
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


def accepted_spellings(choices: tuple[Choice, ...], *, rating: bool = False) -> list[tuple[str, int]]:
    """Every spelling of an entry that the reader takes as that entry, with the entry's place on its list (1 for the
    first; 0 for "don't know"). The live formulas match a cell against these, so they count exactly what the
    reader counts: the label, the value itself, yes/no words, in any case. The reader's own rule decides."""
    match = (lambda v: match_rating(v, choices)) if rating else (lambda v: match_choice(v, choices))  # noqa: E731
    out: list[tuple[str, int]] = []
    seen: set[str] = set()
    for place, c in enumerate(choices, start=1):
        want = DONT_KNOW if c.value is None else c.value
        candidates = [c.label, c.label.replace("'", "\u2019"), c.label.replace(" - ", " \u2013 ")]
        if c.value is not None:
            candidates.append(str(c.value))
        if isinstance(c.value, bool):
            candidates += ["y", "yes", "true", "1"] if c.value else ["n", "no", "false", "0"]
        if c.value is None:
            candidates += ["dont know", "don't know", "do not know", "dk", "n/a"]
        for text in candidates:
            if text.casefold() not in seen and match(text) == want:
                seen.add(text.casefold())
                out.append((text, 0 if c.value is None else place))
    return out


def _write_lists(ws, spec: Spec, st: Styles, wid: str, day: dt.date,
                 source: str) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """The dropdown lists, the stamp and the accepted spellings; returns the lists' ranges and, per list, the
    expression for a cell's place on it (text "x" when off it, "" when blank)."""
    scales = {"rating": spec.rating, "importance": spec.importance, "control": spec.control,
              "boost": spec.boost, "priority": spec.priority}
    refs: dict[str, str] = {}
    places: dict[str, tuple[str, str]] = {}
    for col, key in enumerate(L.LIST_COLUMNS):
        items = scales[key]
        ws.write_string(0, col, key, st["label"])
        for i, c in enumerate(items):
            ws.write_string(1 + i, col, c.label)
        letter = L.col_letter(col)
        refs[key] = f"='{L.LISTS}'!${letter}${2}:${letter}${1 + len(items)}"
        accepted = accepted_spellings(items, rating=key == "rating")
        text_col = L.ACCEPTED_COL + 2 * col
        ws.write_string(0, text_col, f"{key}: accepted")
        ws.write_string(0, text_col + 1, f"{key}: place")
        for i, (text, place) in enumerate(accepted):
            ws.write_string(1 + i, text_col, text)
            ws.write_number(1 + i, text_col + 1, place)
        t, p = L.col_letter(text_col), L.col_letter(text_col + 1)
        end = 1 + len(accepted)
        places[key] = f"'{L.LISTS}'!${t}$2:${t}${end}", f"'{L.LISTS}'!${p}$2:${p}${end}"
    meta = {"spec_id": spec.id, "spec_version": spec.version, "spec_fingerprint": spec.fingerprint,
            "workbook_id": wid, "generated_at": day.isoformat(), "prefilled_from": source}
    for i, key in enumerate(L.META_KEYS):
        ws.write_string(i, L.META_KEY_COL, key)
        ws.write_string(i, L.META_KEY_COL + 1, meta[key])
    ws.set_column(0, L.ACCEPTED_COL + 2 * len(L.LIST_COLUMNS), 24)
    ws.hide()
    _protect(ws)
    return refs, places


def place_formula(cell: str, accepted: tuple[str, str]) -> str:
    """A cell's place on its list, matched exactly (any case, spaces trimmed) against the accepted spellings:
    "" for a blank cell, "x" for an entry off the list. Plain cell references only, and no wildcards: MATCH and
    COUNTIF would take "4*" for "4 - Supports us"."""
    texts, place = accepted
    hit = f"({texts}=TRIM({cell}))"
    return (f'=IFERROR(IF(TRIM({cell})="","",IF(SUMPRODUCT(--{hit})=0,"{L.OFF_LIST}",'
            f'SUMPRODUCT({hit}*{place}))),"{L.OFF_LIST}")')


COVER_WIDTHS = (28, 76)


def _identity_values(identity: Identity) -> dict[str, str]:
    return {"council": identity.council, "council_code": identity.council_code, "respondent": identity.respondent,
            "organisation": identity.organisation, "role": identity.role, "date": identity.date}


def _identity_cells(label: str, value: str) -> list[tuple[str, float]]:
    """An identity row's (text, column width) pairs, by which its height is set."""
    return [(label, COVER_WIDTHS[0]), (value, COVER_WIDTHS[1])]


def _write_cover(ws, spec: Spec, st: Styles, identity: Identity, pre: Prefill, sized_for: Identity) -> None:
    page_setup(ws, spec.title, landscape=False, widths=COVER_WIDTHS)
    for col, width in enumerate(COVER_WIDTHS):
        ws.set_column(col, col, width)
    ws.write_string(0, 0, spec.title, st["title"])
    ws.write_string(1, 0, f"Self-assessment workbook - form {spec.id} version {spec.version}", st["subtitle"])
    ws.write_string(2, 0, "About you", st["heading"])
    values, sizes = _identity_values(identity), _identity_values(sized_for)
    for i, (key, label) in enumerate(L.IDENTITY_FIELDS):
        row = L.IDENTITY_FIRST_ROW + i
        ws.write_string(row, 0, label, st["label"])
        ws.write_string(row, 1, values[key], st["input"])
        fit_row(ws, row, _identity_cells(label, sizes[key]))
    ws.data_validation(L.IDENTITY_FIRST_ROW, 1, L.IDENTITY_FIRST_ROW, 1, {
        "validate": "length", "criteria": ">", "value": 0, "input_title": "Council",
        "input_message": "The council this assessment is for.", "ignore_blank": True})
    row = L.IDENTITY_FIRST_ROW + len(L.IDENTITY_FIELDS) + 1
    for line in pre.notes:
        ws.write_string(row, 0, "Note", st["label"])
        ws.write_string(row, 1, line, st["text"])
        fit_row(ws, row, [(line, COVER_WIDTHS[1])])
        row += 1
    if pre.notes:
        row += 1
    for para in paragraphs("instructions.txt.j2", spec=spec, models_sheet=L.MODELS, scores_sheet=L.SCORES,
                           how_sheet=L.HOW, check_header=L.CHECK_HEADER):
        if para.startswith("## "):
            row += 1
            ws.write_string(row, 0, para[3:], st["heading"])
        else:
            ws.write_string(row, 1, para, st["text"])
            fit_row(ws, row, [(para, COVER_WIDTHS[1])])
        row += 1
    ws.write_string(row + 1, 0, "Sheets in this workbook", st["heading"])
    row += 2
    for a in spec.aspects:
        ws.write_url(row, 0, f"internal:'{a.sheet}'!A1", st["link"], a.sheet)
        ws.write_string(row, 1, a.covers, st["text"])
        fit_row(ws, row, [(a.covers, COVER_WIDTHS[1]), (a.sheet, COVER_WIDTHS[0])])
        row += 1
    for name, what in ((L.MODELS, "How well each commissioning model fits your local priorities."),
                       (L.SCORES, "Your room for manoeuvre, as you go."),
                       (L.HOW, "How every figure is worked out.")):
        ws.write_url(row, 0, f"internal:'{name}'!A1", st["link"], name)
        ws.write_string(row, 1, what, st["text"])
        row += 1
    ws.print_area(0, 0, row, 1)
    _protect(ws)


ASPECT_WIDTHS = {L.COL_ID: 26, L.COL_STATEMENT: 44, L.COL_RATING: 26, L.COL_IMPORTANCE: 13, L.COL_CONTROL: 22,
                 L.COL_BOOST: 16, L.COL_NOTES: 30, L.COL_GUIDE: 30, L.COL_SCORE: 11, L.COL_WEIGHT: 9,
                 L.COL_CARRIED: 18, L.COL_CHECK: 30}
HELPER_WIDTH = 9
INPUT_LINES = 3  # an answer row has room for three lines of notes before it needs to grow


def _check_words(r: int) -> str:
    """The answer check of factor row `r` in words: what is off its list, missing or not needed."""
    rv, iv, cv, bv = (L.a1(r, c) for c in (L.COL_RATING_VALUE, L.COL_IMPORTANCE_VALUE, L.COL_CONTROL_VALUE,
                                           L.COL_BOOST_VALUE))
    control, boost = L.a1(r, L.COL_CONTROL), L.a1(r, L.COL_BOOST)
    low, high = f"OR({rv}=1,{rv}=2)", f"OR({rv}=4,{rv}=5)"
    parts = [
        (f'{rv}="{L.OFF_LIST}"', "Rating not on the list."),
        (f'{iv}="{L.OFF_LIST}"', "Importance not on the list."),
        (f'{cv}="{L.OFF_LIST}"', "Control not on the list."),
        (f'{bv}="{L.OFF_LIST}"', "Boost answer not on the list."),
        (f'AND({low},TRIM({control})="")', "Control needed (rated 1 or 2)."),
        (f'AND({high},TRIM({boost})="")', "Boost answer needed (rated 4 or 5)."),
        (f"AND(ISNUMBER({cv}),OR({rv}=3,{high}))", "Control is only for ratings 1 or 2."),
        (f"AND(ISNUMBER({bv}),OR({rv}=3,{low}))", "Boost is only for ratings 4 or 5."),
    ]
    return "=TRIM(" + "&".join(f'IF({test},"{words} ","")' for test, words in parts) + ")"


def _check_text(a: FactorAnswer | None) -> str:
    """What _check_words shows for a prefilled answer (always on its lists), so the file opens showing it."""
    if a is None:
        return ""
    words = []
    if a.rating in (1, 2) and a.control is None:
        words.append("Control needed (rated 1 or 2).")
    if a.rating in (4, 5) and a.boost is None:
        words.append("Boost answer needed (rated 4 or 5).")
    if a.control is not None and a.rating in (3, 4, 5):
        words.append("Control is only for ratings 1 or 2.")
    if a.boost is not None and a.rating in (1, 2, 3):
        words.append("Boost is only for ratings 4 or 5.")
    return " ".join(words)


def _write_aspect(ws, spec: Spec, ai: int, st: Styles, refs: dict[str, str], places: dict[str, tuple[str, str]],
                  pre: Prefill, lay: L.Layout) -> None:
    aspect = spec.aspects[ai]
    n = len(aspect.factors)
    first, last = L.FIRST_FACTOR_ROW, L.FIRST_FACTOR_ROW + n - 1
    # Wide: it prints at full size over three pages across, the factor id repeated on each.
    printed = [w for c, w in sorted(ASPECT_WIDTHS.items())]
    page_setup(ws, f"{spec.title}: {aspect.name}", repeat=L.HEADER_ROW, widths=printed,
               repeat_cols=(L.COL_ID, L.COL_ID))
    for col, width in ASPECT_WIDTHS.items():
        ws.set_column(col, col, width)
    ws.set_column(L.COL_POINTS, L.COL_POINTS, HELPER_WIDTH, None, {"hidden": True})
    ws.set_column(L.COL_RATING_VALUE, L.COL_BOOST_VALUE, HELPER_WIDTH, None, {"hidden": True})
    ws.write_string(0, 0, aspect.name, st["title"])
    # What the aspect covers, as lines that run on across the empty cells (no merged cells, nothing cut).
    for i, line in enumerate(text_lines(aspect.covers, printed)[:2]):
        ws.write_string(1 + i, 0, line, st["note"])
    sc = lambda r, c: L.a1(r, c)  # noqa: E731
    rng = lambda c: f"{sc(first, c)}:{sc(last, c)}"  # noqa: E731
    headers = [*L.ASPECT_HEADERS, L.CHECK_HEADER, "Rating: place on list", "Importance: place on list",
               "Control: place on list", "Boost: place on list"]
    # Marked up as a table, so that a screen reader announces the headers with each cell.
    ws.add_table(L.HEADER_ROW, 0, last, len(headers) - 1, {
        "name": f"Factors_{aspect.id}", "style": None, "autofilter": False,
        "columns": [{"header": h, "header_format": st["header"]} for h in headers]})
    fit_row(ws, L.HEADER_ROW, [(t, ASPECT_WIDTHS.get(c, HELPER_WIDTH)) for c, t in enumerate(headers)
                               if c in ASPECT_WIDTHS], bold=True)
    dv = {"rating": ("Rating", "How far does this factor hold you back or support you? Choose from the list."),
          "importance": ("Importance", "Optional. Leave blank for the usual weight."),
          "control": ("Control", "Only for factors rated 1 or 2: how far can you change it?"),
          "boost": ("Boost", "Only for factors rated 4 or 5: could you make more of it?")}
    labels = {"rating": {c.value: c.label for c in spec.rating},
              "importance": {c.value: c.label for c in spec.importance},
              "control": {c.value: c.label for c in spec.control},
              "boost": {c.value: c.label for c in spec.boost}}
    helpers = ((L.COL_RATING, L.COL_RATING_VALUE, "rating"), (L.COL_IMPORTANCE, L.COL_IMPORTANCE_VALUE, "importance"),
               (L.COL_CONTROL, L.COL_CONTROL_VALUE, "control"), (L.COL_BOOST, L.COL_BOOST_VALUE, "boost"))
    place_of = {"rating": lambda a: (0 if a.dont_know else a.rating),
                "importance": lambda a: a.importance,
                "control": lambda a: [c.value for c in spec.control].index(a.control) + 1 if a.control else None,
                "boost": lambda a: None if a.boost is None else [c.value for c in spec.boost].index(a.boost) + 1}
    for fi, f in enumerate(aspect.factors):
        r = first + fi
        a = pre.factors.get(f.id)
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
        for col, helper, key in helpers:
            place = place_of[key](a) if a and values[col] else None
            ws.write_formula(r, helper, place_formula(sc(r, col), places[key]), st["computed_int"],
                             "" if place is None else place)
        rv = sc(r, L.COL_RATING_VALUE)
        s = factor_score(a.rating if a else None)
        ws.write_formula(r, L.COL_SCORE, f'=IF(ISNUMBER({rv}),IF({rv}>0,({rv}-1)/4*100,""),"")',
                         st["computed"], "" if s is None else s)
        iv = sc(r, L.COL_IMPORTANCE_VALUE)
        ws.write_formula(r, L.COL_WEIGHT, f"=IF(ISNUMBER({iv}),{iv},{f.weight})", st["computed_int"],
                         weight_of(a, f.weight))
        ws.write_formula(r, L.COL_POINTS, f"=IF(ISNUMBER({sc(r, L.COL_SCORE)}),"
                         f"{sc(r, L.COL_SCORE)}*{sc(r, L.COL_WEIGHT)},0)", st["computed"],
                         0 if s is None else s * weight_of(a, f.weight))
        mark = pre.flagged.get(f.id, CARRIED_MARK if pre.carried and a is not None else "")
        ws.write_string(r, L.COL_CARRIED, mark, st["carried"] if mark else st["input"])
        ws.write_formula(r, L.COL_CHECK, _check_words(r), st["check"], _check_text(a))
        fit_row(ws, r, [(f.statement, ASPECT_WIDTHS[L.COL_STATEMENT]), (f.evidence, ASPECT_WIDTHS[L.COL_GUIDE]),
                        (values[L.COL_NOTES], ASPECT_WIDTHS[L.COL_NOTES]), (mark, ASPECT_WIDTHS[L.COL_CARRIED])],
                minimum=INPUT_LINES)
    for key, col in (("rating", L.COL_RATING), ("importance", L.COL_IMPORTANCE), ("control", L.COL_CONTROL),
                     ("boost", L.COL_BOOST)):
        title, msg = dv[key]
        ws.data_validation(first, col, last, col, {
            "validate": "list", "source": refs[key], "input_title": title, "input_message": msg,
            "error_title": "Not on the list", "error_type": "stop",
            "error_message": "Please choose one of the options in the dropdown list."})
    # Amber as well as words: an answer off its list, or an inhibitor with no control category, or a supporter
    # with no boost answer. The tests are on the helpers' places, never on the first character of the text.
    row1 = first + 1
    rv, cv = f"${L.col_letter(L.COL_RATING_VALUE)}{row1}", f"${L.col_letter(L.COL_CONTROL_VALUE)}{row1}"
    control, boost = f"${L.col_letter(L.COL_CONTROL)}{row1}", f"${L.col_letter(L.COL_BOOST)}{row1}"
    ws.conditional_format(first, L.COL_CONTROL, last, L.COL_CONTROL, {
        "type": "formula", "format": st["warn"], "criteria": f'=AND(OR({rv}=1,{rv}=2),TRIM({control})="")'})
    ws.conditional_format(first, L.COL_BOOST, last, L.COL_BOOST, {
        "type": "formula", "format": st["warn"], "criteria": f'=AND(OR({rv}=4,{rv}=5),TRIM({boost})="")'})
    for col, helper, _ in helpers:
        ws.conditional_format(first, col, last, col, {
            "type": "formula", "format": st["warn"],
            "criteria": f'=${L.col_letter(helper)}{row1}="{L.OFF_LIST}"'})
    del cv
    # Under the table, in words: how many factors are answered and how many entries are off their lists.
    values_rng = f"{sc(first, L.COL_RATING_VALUE)}:{sc(last, L.COL_BOOST_VALUE)}"
    ws.write_formula(last + 1, 0, f'=COUNT({rng(L.COL_SCORE)})&" of {n} factors answered"&'
                     f'IF(COUNTIF({values_rng},"{L.OFF_LIST}")>0,"; "&COUNTIF({values_rng},"{L.OFF_LIST}")&'
                     f'" entries not on the list (see {L.CHECK_HEADER})","")', st["label_line"],
                     f"{sum(1 for f in aspect.factors if pre.factors.get(f.id) and pre.factors[f.id].rating)}"
                     f" of {n} factors answered")
    ws.write_string(last + 2, 0, "Your notes on this aspect", st["heading"])
    for pi, prompt in enumerate(spec.text_prompts):
        r = lay.text_row(ai, pi)
        text = pre.texts.get(aspect.id, {}).get(prompt.id, "")
        ws.write_string(r, L.COL_ID, prompt.label, st["label"])
        ws.write_string(r, L.COL_STATEMENT, text, st["input_text"])
        ws.write_string(r, L.COL_RATING, prompt.help, st["guide"])
        fit_row(ws, r, [(text, ASPECT_WIDTHS[L.COL_STATEMENT]), (prompt.help, ASPECT_WIDTHS[L.COL_RATING]),
                        (prompt.label, ASPECT_WIDTHS[L.COL_ID])], minimum=4)
    ws.freeze_panes(L.HEADER_ROW + 1, 2)
    ws.print_area(0, 0, lay.text_row(ai, len(spec.text_prompts) - 1), L.COL_CHECK)
    _protect(ws)


MODEL_WIDTHS = (22, 30, 44, 22, 11, 11, 11, 7, 24)
PROFILE_WIDTH = 15  # as wide as the longest word in an aspect's name, so no header word is cut


def _write_models(ws, spec: Spec, st: Styles, refs: dict[str, str], places: dict[str, tuple[str, str]],
                  pre: Prefill, scores) -> None:
    n_aspects = len(spec.aspects)
    widths = [*MODEL_WIDTHS, *[PROFILE_WIDTH] * n_aspects]
    page_setup(ws, f"{spec.title}: models", repeat=L.MODEL_HEADER_ROW, widths=widths,
               repeat_cols=(L.M_COL_ID, L.M_COL_ID))
    ws.write_string(0, 0, "Commissioning models: how well does each fit your place?", st["title"])
    intro = ("Rate how well each model fits your local priorities and values. Readiness comes from your aspect "
             "scores, weighted by how much the model relies on each aspect (0 to 3, on the right). Fit blends the "
             f"two: {spec.readiness_share:.0%} readiness and {spec.priority_share:.0%} priority fit. Treat the best "
             "few as a short list to blend, not a single answer.")
    for i, line in enumerate(text_lines(intro, widths)[:2]):
        ws.write_string(1 + i, 0, line, st["note"])
    heads = ["Model id", "Model", "What it focuses on", "Priority fit (your rating)", "Readiness",
             "Priority fit score", "Fit", "Rank", L.CHECK_HEADER] + [f"Relies on: {a.name}" for a in spec.aspects]
    n = len(spec.models)
    ws.add_table(L.MODEL_HEADER_ROW, 0, L.MODEL_FIRST_ROW + n - 1, L.M_COL_PROFILE + n_aspects, {
        "name": "Models", "style": None, "autofilter": False,
        "columns": [{"header": h, "header_format": st["header"]} for h in [*heads, "Priority fit: place on list"]]})
    fit_row(ws, L.MODEL_HEADER_ROW, list(zip(heads, widths, strict=True)), bold=True)
    for col, width in enumerate(widths):
        ws.set_column(col, col, width)
    helper = L.M_COL_PROFILE + n_aspects
    ws.set_column(helper, helper, HELPER_WIDTH, None, {"hidden": True})
    helper_row = L.MODEL_FIRST_ROW + n + 1  # aspect scores used for readiness, as rows
    p0, p1 = L.M_COL_PROFILE, L.M_COL_PROFILE + n_aspects - 1
    score_rng = f"${L.col_letter(p0)}${helper_row + 1}:${L.col_letter(p1)}${helper_row + 1}"
    count_rng = f"${L.col_letter(p0)}${helper_row + 2}:${L.col_letter(p1)}${helper_row + 2}"
    fit_letter = L.col_letter(L.M_COL_FIT)
    top = L.MODEL_FIRST_ROW + 1
    fit_rng = f"${fit_letter}${top}:${fit_letter}${L.MODEL_FIRST_ROW + n}"
    fits = {m.id: m for m in scores.models}
    prio_labels = {c.value: c.label for c in spec.priority}
    for mi, m in enumerate(spec.models):
        r = L.MODEL_FIRST_ROW + mi
        ws.write_string(r, 0, m.id, st["id"])
        ws.write_string(r, 1, m.name, st["bold_cell"])
        ws.write_string(r, 2, m.focus, st["statement"])
        given = pre.priorities.get(m.id)
        ws.write_string(r, 3, prio_labels.get(given, ""), st["input"])
        fit_row(ws, r, [(m.focus, widths[2]), (m.name, widths[1])], minimum=2)
        prof = f"{L.a1(r, p0)}:{L.a1(r, p1)}"
        mf = fits[m.id]
        ws.write_formula(r, L.M_COL_READINESS, f'=IF(SUMPRODUCT({prof},{count_rng})=0,"",'
                         f"SUMPRODUCT({prof},{score_rng})/SUMPRODUCT({prof},{count_rng}))", st["computed"],
                         _cached(mf.readiness))
        pv = L.a1(r, helper)
        ws.write_formula(r, helper, place_formula(L.a1(r, L.M_COL_PRIORITY), places["priority"]),
                         st["computed_int"], "" if given is None else given)
        ws.write_formula(r, L.M_COL_PRIORITY_FIT, f'=IF(ISNUMBER({pv}),({pv}-1)/4*100,"")', st["computed"],
                         _cached(mf.priority_fit))
        rd, pf = L.a1(r, L.M_COL_READINESS), L.a1(r, L.M_COL_PRIORITY_FIT)
        ws.write_formula(r, L.M_COL_FIT, f'=IF({rd}="","",IF({pf}="",{rd},'
                         f"{spec.readiness_share}*{rd}+{spec.priority_share}*{pf}))", st["computed"],
                         _cached(mf.fit))
        fc = L.a1(r, L.M_COL_FIT)
        # Python's rank: best fit first, a tie going to the model earlier in the form; 1, 2, 3... with no gaps.
        # Numbers compared as numbers (no text criteria), and blanks left out.
        above = f"${fit_letter}${top}:{fit_letter}{r}"
        earlier = f"+SUMPRODUCT(ISNUMBER({above})*({above}={fc}))" if mi else ""
        ws.write_formula(r, L.M_COL_RANK, f'=IF(ISNUMBER({fc}),SUMPRODUCT(ISNUMBER({fit_rng})*({fit_rng}>{fc}))'
                         f'{earlier}+1,"")', st["computed_int"], _cached(mf.rank))
        ws.write_formula(r, L.M_COL_CHECK, f'=IF({pv}="{L.OFF_LIST}","Priority fit not on the list.","")',
                         st["check"], "")
        for ai, a in enumerate(spec.aspects):
            ws.write_number(r, p0 + ai, m.profile[a.id], st["int"])
    last = L.MODEL_FIRST_ROW + n - 1
    ws.data_validation(L.MODEL_FIRST_ROW, L.M_COL_PRIORITY, last, L.M_COL_PRIORITY, {
        "validate": "list", "source": refs["priority"], "input_title": "Priority fit",
        "input_message": "How well does this model fit your local priorities and values? 1 very poor, 5 very good.",
        "error_title": "Not on the list", "error_type": "stop",
        "error_message": "Please choose a fit from 1 to 5 from the dropdown list."})
    ws.conditional_format(L.MODEL_FIRST_ROW, L.M_COL_PRIORITY, last, L.M_COL_PRIORITY, {
        "type": "formula", "format": st["warn"], "criteria": f'=${L.col_letter(helper)}{top}="{L.OFF_LIST}"'})
    ws.write_string(helper_row, L.M_COL_FOCUS, "Aspect scores used for readiness (blank counts as not scored)",
                    st["note"])
    ws.write_string(helper_row + 1, L.M_COL_FOCUS, "Aspect has a score (1) or not (0)", st["note"])
    rooms = {a.id: a.room_for_manoeuvre for a in scores.aspects}
    for ai, a in enumerate(spec.aspects):
        # A plain reference, not the rfm_ name: an application that drops defined names keeps the figures.
        rfm = f"'{L.SCORES}'!$B${L.SCORES_FIRST_ROW + ai + 1}"
        ws.write_formula(helper_row, p0 + ai, f"=IF(ISNUMBER({rfm}),{rfm},0)", st["computed"],
                         rooms[a.id] or 0)
        ws.write_formula(helper_row + 1, p0 + ai, f"=IF(ISNUMBER({rfm}),1,0)", st["computed_int"],
                         0 if rooms[a.id] is None else 1)
    ws.freeze_panes(L.MODEL_FIRST_ROW, 2)
    ws.print_area(0, 0, helper_row + 1, p1)
    _protect(ws)


def _cached(value):
    return "" if value is None else value


SCORES_WIDTHS = (34, 15, 15, 15, 15, 15)


def _write_scores(wb, ws, spec: Spec, st: Styles, scores) -> None:
    page_setup(ws, f"{spec.title}: your scores", landscape=False, widths=SCORES_WIDTHS)
    ws.write_string(0, 0, "Your scores, as you go", st["title"])
    ws.write_string(1, 0, "0: every factor strongly holds you back; 100: every factor strongly supports you; "
                    "blank: too few answers yet.", st["note"])
    heads = ("Aspect", "Room for manoeuvre (0 to 100)", "Factors answered", "Factors", "Controllability (%)",
             "Entries not on the list")
    ws.add_table(L.SCORES_HEADER_ROW, 0, L.SCORES_FIRST_ROW + len(spec.aspects) - 1, len(heads) - 1, {
        "name": "Scores", "style": None, "autofilter": False,
        "columns": [{"header": h, "header_format": st["header"]} for h in heads]})
    fit_row(ws, L.SCORES_HEADER_ROW, list(zip(heads, SCORES_WIDTHS, strict=True)), bold=True)
    for n, width in enumerate(SCORES_WIDTHS):
        ws.set_column(n, n, width)
    controllable = [i for i, c in enumerate(spec.control, start=1) if c.value in CONTROLLABLE]
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
        # Inhibitors (score 0 or 25) whose control answer is on the list as a controllable category.
        ctrl = col(L.COL_CONTROL_VALUE)
        held = " + ".join(f'COUNTIFS({scored},"<=25",{ctrl},{i})' for i in controllable)
        ws.write_formula(r, 4, f'=IF(COUNTIFS({scored},"<=25")=0,"",({held})/COUNTIFS({scored},"<=25")*100)',
                         st["computed"], _cached(s.controllability))
        values = f"'{sheet}'!${L.col_letter(L.COL_RATING_VALUE)}${first}:${L.col_letter(L.COL_BOOST_VALUE)}${last}"
        ws.write_formula(r, L.SCORES_COL_OFF_LIST, f'=COUNTIF({values},"{L.OFF_LIST}")', st["computed_int"], 0)
    r = L.overall_row(spec)
    top, bottom = L.SCORES_FIRST_ROW + 1, L.SCORES_FIRST_ROW + len(spec.aspects)
    ws.write_string(r, 0, "Overall room for manoeuvre", st["bold_cell"])
    ws.write_formula(r, 1, f'=IF(COUNT(B{top}:B{bottom})<{MIN_SCORED_ASPECTS},"",AVERAGE(B{top}:B{bottom}))',
                     st["computed_big"], _cached(scores.overall_room_for_manoeuvre))
    ws.write_formula(r, 2, f"=SUM(C{top}:C{bottom})", st["computed_int"], sum(a.answered for a in scores.aspects))
    ws.write_formula(r, 3, f"=SUM(D{top}:D{bottom})", st["int"], len(spec.factors))
    ws.write_blank(r, 4, None, st["computed"])
    helper = L.col_letter(L.M_COL_PROFILE + len(spec.aspects))
    priorities = f"'{L.MODELS}'!${helper}${L.MODEL_FIRST_ROW + 1}:${helper}${L.MODEL_FIRST_ROW + len(spec.models)}"
    off = L.col_letter(L.SCORES_COL_OFF_LIST)
    ws.write_formula(r, L.SCORES_COL_OFF_LIST, f'=SUM({off}{top}:{off}{bottom})+COUNTIF({priorities},'
                     f'"{L.OFF_LIST}")', st["computed_int"], 0)
    ws.write_string(r + 1, 0, f"The overall figure appears once {MIN_SCORED_ASPECTS} of the "
                    f"{len(spec.aspects)} aspects have a score.", st["note"])
    ws.write_string(r + 2, 0, "Entries not on the list count as unanswered; the total includes the priority "
                    f"fits on the {L.MODELS} sheet.", st["note"])
    chart = radar_chart(wb, L.SCORES, top, bottom)
    ws.insert_chart(r + 4, 0, chart, {"description": "Radar chart of the room for manoeuvre score of each aspect, "
                                                    "0 to 100; the same figures are in the table above."})
    ws.print_area(0, 0, r + 26, len(SCORES_WIDTHS) - 1)
    _protect(ws)


HOW_WIDTH = 90


def _write_how(ws, spec: Spec, st: Styles) -> None:
    page_setup(ws, f"{spec.title}: how scores are calculated", landscape=False, widths=(HOW_WIDTH,))
    ws.set_column(0, 0, HOW_WIDTH)
    row = 0
    for para in paragraphs("how_scores.txt.j2", spec=spec, scores_sheet=L.SCORES, models_sheet=L.MODELS,
                           min_aspects=MIN_SCORED_ASPECTS, step=int(SENSITIVITY_STEP)):
        if para.startswith("## "):
            ws.write_string(row, 0, para[3:], st["title"] if row == 0 else st["heading"])
        else:
            ws.write_string(row, 0, para, st["text"])
            fit_row(ws, row, [(para, HOW_WIDTH)])
        row += 1
    ws.print_area(0, 0, row, 0)
    _protect(ws)
