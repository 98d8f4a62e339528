"""Where every field sits in the workbook, and the defined name that finds it.

The generator writes to these cells, `scoa fields` lists them and the reader falls back on
them when an application has dropped the defined names. One place, so the three never drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .model import FieldKind, Spec

COVER = "Cover"
MODELS = "Models"
SCORES = "Your scores"
HOW = "How scores are calculated"
LISTS = "Lists"

# Aspect sheets: one row per factor from FIRST_FACTOR_ROW (0-based row index).
HEADER_ROW = 3
FIRST_FACTOR_ROW = 4
COL_ID, COL_STATEMENT, COL_RATING, COL_IMPORTANCE, COL_CONTROL, COL_BOOST, COL_NOTES, COL_GUIDE, \
    COL_SCORE, COL_WEIGHT, COL_POINTS, COL_CARRIED = range(12)
ASPECT_HEADERS = (
    "Factor id", "Factor", "Rating", "Importance", "If it holds you back: control",
    "If it supports you: could you boost it?", "Evidence and notes", "What good evidence looks like",
    "Factor score (0-100)", "Weight counted", "Weighted points", "To confirm",
)
# Added after the columns above (which the reader finds by position), so returns from either layout read alike:
# the answer check in words, then hidden helpers holding each dropdown answer's place on its list ("x" if off it).
COL_CHECK = 12
CHECK_HEADER = "Answer check"
COL_RATING_VALUE, COL_IMPORTANCE_VALUE, COL_CONTROL_VALUE, COL_BOOST_VALUE = range(13, 17)
OFF_LIST = "x"  # what a helper cell holds for an entry that is not on its list

# Cover: identity inputs in column B.
IDENTITY_FIELDS = (
    ("council", "Council"),
    ("council_code", "Council code (ONS)"),
    ("respondent", "Respondent (name)"),
    ("organisation", "Organisation"),
    ("role", "Role"),
    ("date", "Date completed"),
)
IDENTITY_FIRST_ROW = 3

# Models sheet.
MODEL_HEADER_ROW = 3
MODEL_FIRST_ROW = 4
M_COL_ID, M_COL_NAME, M_COL_FOCUS, M_COL_PRIORITY, M_COL_READINESS, M_COL_PRIORITY_FIT, M_COL_FIT, \
    M_COL_RANK = range(8)
M_COL_CHECK = 8  # the answer check in words
M_COL_PROFILE = 9  # then one column per aspect, then the hidden helper for the priority fit's place on its list

# Scores sheet.
SCORES_HEADER_ROW = 2
SCORES_FIRST_ROW = 3
SCORES_COL_OFF_LIST = 5

# Lists sheet: one column per dropdown list, metadata as key/value pairs in columns H:I.
LIST_COLUMNS = ("rating", "importance", "control", "boost", "priority")
META_KEY_COL = 7
META_KEYS = ("spec_id", "spec_version", "spec_fingerprint", "workbook_id", "generated_at", "prefilled_from")
# Then, per list, every spelling the reader accepts for an entry (column ACCEPTED_COL + 2k) and the entry's
# place on its list (the column after): what the live formulas match against.
ACCEPTED_COL = 10


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    sheet: str
    row: int  # 0-based
    col: int  # 0-based
    label: str
    kind: FieldKind
    aspect: str | None = None
    factor: str | None = None
    model: str | None = None
    measure: str | None = None
    prompt: str | None = None

    @property
    def cell(self) -> str:
        return a1(self.row, self.col)

    @property
    def absolute(self) -> str:
        return f"='{self.sheet}'!${col_letter(self.col)}${self.row + 1}"


def a1(row: int, col: int) -> str:
    return f"{col_letter(col)}{row + 1}"


def col_letter(col: int) -> str:
    # Written here rather than imported from xlsxwriter: importing it cost `scoa check` a tenth of its start-up.
    name = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        name = chr(65 + rem) + name
    return name


@dataclass(slots=True)
class Layout:
    spec: Spec
    fields: list[Field] = field(default_factory=list)

    def by_name(self) -> dict[str, Field]:
        return {f.name.casefold(): f for f in self.fields}

    def text_row(self, aspect_index: int, prompt_index: int) -> int:
        n = len(self.spec.aspects[aspect_index].factors)
        return FIRST_FACTOR_ROW + n + 2 + prompt_index


def name_of(kind: str, *ids: str) -> str:
    return "_".join((kind, *ids))


def build_layout(spec: Spec) -> Layout:
    """Every input and computed cell of the workbook, in the order a user meets them."""
    lay = Layout(spec)
    add = lay.fields.append
    for i, (key, label) in enumerate(IDENTITY_FIELDS):
        add(Field(name_of("identity", key), COVER, IDENTITY_FIRST_ROW + i, 1, label, FieldKind.IDENTITY))
    for ai, aspect in enumerate(spec.aspects):
        for fi, f in enumerate(aspect.factors):
            row = FIRST_FACTOR_ROW + fi
            s = aspect.sheet
            add(Field(name_of("rating", f.id), s, row, COL_RATING, f.statement, FieldKind.RATING, aspect.id, f.id))
            add(Field(name_of("importance", f.id), s, row, COL_IMPORTANCE, f"Importance: {f.statement}",
                      FieldKind.IMPORTANCE, aspect.id, f.id))
            add(Field(name_of("control", f.id), s, row, COL_CONTROL, f"Control: {f.statement}",
                      FieldKind.CONTROL, aspect.id, f.id))
            add(Field(name_of("boost", f.id), s, row, COL_BOOST, f"Could we boost it: {f.statement}",
                      FieldKind.BOOST, aspect.id, f.id))
            add(Field(name_of("notes", f.id), s, row, COL_NOTES, f"Evidence and notes: {f.statement}",
                      FieldKind.TEXT, aspect.id, f.id))
            add(Field(name_of("score", f.id), s, row, COL_SCORE, f"Factor score: {f.statement}",
                      FieldKind.COMPUTED, aspect.id, f.id, measure="factor_score"))
            add(Field(name_of("weight", f.id), s, row, COL_WEIGHT, f"Weight counted: {f.statement}",
                      FieldKind.COMPUTED, aspect.id, f.id, measure="weight"))
        for pi, prompt in enumerate(spec.text_prompts):
            add(Field(name_of("text", aspect.id, prompt.id), aspect.sheet, lay.text_row(ai, pi), COL_STATEMENT,
                      f"{aspect.name}: {prompt.label}", FieldKind.TEXT, aspect.id, prompt=prompt.id))
    for mi, m in enumerate(spec.models):
        row = MODEL_FIRST_ROW + mi
        add(Field(name_of("priority", m.id), MODELS, row, M_COL_PRIORITY, m.name, FieldKind.PRIORITY, model=m.id))
        for col, measure, label in ((M_COL_READINESS, "readiness", "Readiness"),
                                    (M_COL_PRIORITY_FIT, "priority_fit", "Priority fit"),
                                    (M_COL_FIT, "fit", "Fit")):
            add(Field(name_of(measure, m.id), MODELS, row, col, f"{label}: {m.name}", FieldKind.COMPUTED,
                      model=m.id, measure=measure))
        add(Field(name_of("rank", m.id), MODELS, row, M_COL_RANK, f"Rank: {m.name}", FieldKind.COMPUTED,
                  model=m.id, measure="rank"))
    for ai, aspect in enumerate(spec.aspects):
        row = SCORES_FIRST_ROW + ai
        for col, measure, label in ((1, "room_for_manoeuvre", "Room for manoeuvre"),
                                    (2, "answered", "Factors answered"),
                                    (4, "controllability", "Controllability"),
                                    (SCORES_COL_OFF_LIST, "not_on_list", "Entries not on the list")):
            add(Field(name_of(_short(measure), aspect.id), SCORES, row, col, f"{label}: {aspect.name}",
                      FieldKind.COMPUTED, aspect.id, measure=measure))
    overall_row = SCORES_FIRST_ROW + len(spec.aspects)
    add(Field("rfm_overall", SCORES, overall_row, 1, "Overall room for manoeuvre", FieldKind.COMPUTED,
              measure="room_for_manoeuvre"))
    add(Field("answered_overall", SCORES, overall_row, 2, "Factors answered, all aspects", FieldKind.COMPUTED,
              measure="answered"))
    add(Field("offlist_overall", SCORES, overall_row, SCORES_COL_OFF_LIST,
              "Entries not on the list, all sheets", FieldKind.COMPUTED, measure="not_on_list"))
    return lay


_LAYOUTS: dict[int, tuple[Spec, Layout]] = {}


def layout_for(spec: Spec) -> Layout:
    """build_layout(spec), made once per spec: a batch or a register run asks for it hundreds of times.
    Shared, so treat it as read-only."""
    hit = _LAYOUTS.get(id(spec))
    if hit is None or hit[0] is not spec:  # the spec is held here, so its id cannot pass to another object
        if len(_LAYOUTS) >= 16:
            _LAYOUTS.clear()
        hit = _LAYOUTS[id(spec)] = (spec, build_layout(spec))
    return hit[1]


def _short(measure: str) -> str:
    return {"room_for_manoeuvre": "rfm", "answered": "answered", "controllability": "controllability",
            "not_on_list": "offlist"}[measure]


def overall_row(spec: Spec) -> int:
    return SCORES_FIRST_ROW + len(spec.aspects)
