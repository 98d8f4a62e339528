"""RawReturn → Return and a report of issues: every problem at once, each at its cell."""

from __future__ import annotations

import dataclasses
import re
from typing import cast

from . import layout as L
from .biff import UNREADABLE
from .clean import DONT_KNOW, NOT_ON_LIST, clean_long_text, clean_text, match_choice, match_rating
from .errors import Code, Issue, issue, show
from .fileio import TEXT_LIMIT
from .model import Cell, FactorAnswer, Identity, Raw, Return, Severity, Spec, Status, is_inhibitor, is_supporter
from .read import RawReturn
from .register import Register, bundled_register, looks_like_ons_code, nearest, normal_name

_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# "=SUM(", "@cmd", "+cmd|...", "-2+3": the shapes that become formulas. A bullet ("- see p. 4") does not.
_FORMULA_LIKE = re.compile(r"^(?:[=@]|[+-](?=\S)[\w.$]*[(!|+\-*/^])")


def _identity_cell(key: str) -> Cell:
    row = L.IDENTITY_FIRST_ROW + [k for k, _ in L.IDENTITY_FIELDS].index(key)
    return Cell(L.COVER, L.a1(row, 1))


def status_of(issues: list[Issue]) -> Status:
    if any(i.severity == Severity.ERROR for i in issues):
        return Status.INVALID
    if issues:
        return Status.QUERIES
    return Status.VALID


def _labels(choices) -> str:
    return ", ".join(f'"{c.label}"' for c in choices)


def _formula_found(raw: Raw) -> str:
    """What a formula cell was found holding: the formula, and what an application last showed for it."""
    if raw.formula == UNREADABLE:
        found = "a formula (an old .xls file keeps it in a coded form, and this one could not be read back as text)"
    else:
        formula = raw.formula or "="
        found = "the formula " + (formula if len(formula) <= 120 else formula[:117] + "...")
    shown = clean_text(raw.value)
    if shown:
        found += f", which shows {show(shown)}"
    return found


def _formula_answer(raw: Raw, issues: list[Issue], expected: str) -> bool:
    """Whether a choice or cover cell holds a formula: if so it is reported and never taken as the answer."""
    if raw.formula is None:
        return False
    issues.append(issue(Code.FORMULA_002, raw.cell, found=_formula_found(raw), expected=expected))
    return True


def _text(raw: Raw, issues: list[Issue], clean=clean_long_text) -> str:
    """Typed text as a spreadsheet cell can hold it, with a query for whatever had to change or looks odd.
    A formula typed as an answer is kept as its own text (never what it computed) and reported; one whose text
    the file does not give back is reported and not taken."""
    if raw.formula == UNREADABLE:
        _formula_answer(raw, issues, "plain text")
        return ""
    value = raw.value if raw.formula is None else raw.formula
    length = len(value) if isinstance(value, str) else 0
    if isinstance(value, str) and length > 2 * TEXT_LIMIT:
        value = value[:2 * TEXT_LIMIT]  # no need to tidy megabytes that cannot be kept
    text = clean(value)
    if not text:
        return ""
    changed = []
    if _CONTROL_CHARS.search(text):
        text = _CONTROL_CHARS.sub("", text)
        changed.append("control characters (removed)")
    length = max(length, len(text))
    if length > TEXT_LIMIT:
        text = text[:TEXT_LIMIT]
        changed.append(f"{length:,} characters (the first {TEXT_LIMIT:,} were kept)")
    if changed:
        issues.append(issue(Code.TEXT_001, raw.cell, found=" and ".join(changed),
                            expected=f"plain text of at most {TEXT_LIMIT:,} characters"))
    if raw.formula is not None:
        issues.append(issue(Code.FORMULA_001, raw.cell, found=_formula_found(raw), expected="plain text"))
    elif _FORMULA_LIKE.match(text):
        issues.append(issue(Code.TEXT_002, raw.cell, found=show(text), expected="plain text"))
    return text


def _typed(raw: Raw) -> bool:
    """Whether anything was entered in a cell (a formula counts, even one that shows nothing)."""
    return raw.formula is not None or bool(clean_text(raw.value))


def _choice(raw: Raw, choices, code: Code, issues: list[Issue], also: str = "") -> object:
    """The value a dropdown cell holds; an entry off the list is reported (as `code`) and counts as blank."""
    if raw.formula is not None and _formula_answer(raw, issues, _labels(choices) + also):
        return None
    value = match_choice(raw.value, choices)
    if value is NOT_ON_LIST or value is DONT_KNOW:
        issues.append(issue(code, raw.cell, found=show(raw.value), expected=_labels(choices) + also))
        return None
    return value


_FORM_WORDS: dict[tuple[str, str, str], frozenset[str]] = {}


def _form_words(spec: Spec) -> frozenset[str]:
    """Text that belongs to the form itself: a council or respondent that reads like this is misplaced."""
    key = (spec.id, spec.version, spec.fingerprint)
    words = _FORM_WORDS.get(key)
    if words is None:
        texts = [f.statement for f in spec.factors] + [m.name for m in spec.models] + [a.name for a in spec.aspects]
        texts += [a.sheet for a in spec.aspects] + list(L.ASPECT_HEADERS)
        words = _FORM_WORDS[key] = frozenset(normal_name(w) for w in texts)
    return words


def council_issues(spec: Spec, ident: dict[str, str], cells: dict[str, Cell],
                   register: Register | None = None) -> list[Issue]:
    """A council is a council: not the form's own text, on the register (else the nearest names), with an ONS
    code of the right shape that is the named council's. Against the register given (--register), else the
    bundled register of councils."""
    out: list[Issue] = []
    form = _form_words(spec)
    for key in ("council", "respondent", "council_code"):
        if ident[key] and normal_name(ident[key]) in form:
            out.append(issue(Code.ID_006, cells[key], found=f'"{ident[key][:80]}", which is text from the form itself',
                             expected="the council's name and code, and who is answering"))
    if out:
        return out
    name, code = ident["council"], ident["council_code"]
    reg = register if register is not None else bundled_register()
    if not reg.councils:
        return out
    if code and not looks_like_ons_code(code):
        out.append(issue(Code.ID_004, cells["council_code"], found=f'"{code[:40]}"',
                         expected="E followed by eight digits, such as E08000035"))
        code = ""
    by_code = reg.match(code, "") if code else None
    by_name = reg.match("", name) if name else None
    if code and by_code is not None and name and by_name is not by_code:
        out.append(issue(Code.ID_005, cells["council_code"], found=f"{code}, which is {by_code.name}'s code, beside "
                         f'the name "{name[:80]}"', expected=f"the code of {name[:80]}" + (
                             f" ({by_name.code})" if by_name is not None and by_name.code else "")))
    elif name and by_name is None and by_code is None:
        near = nearest(name, reg.councils)
        hint = f"; did you mean {' or '.join(near)}?" if near else ""
        out.append(issue(Code.ID_003, cells["council"], found=f'"{name[:80]}"',
                         expected=f"a council on the register{hint}"))
    return out


def _quoted(text: str, limit: int = 300) -> str:
    return f'"{text if len(text) <= limit else text[:limit - 3] + "..."}"'


def _check_wording(raw: RawReturn, issues: list[Issue]) -> None:
    """Each factor statement and model name as the return shows it, against the spec's; and a fingerprint
    query names the factors whose wording differs. Skipped for a return carried over from an earlier version,
    whose wording was that version's."""
    spec = raw.spec
    if raw.meta.get("spec_version", spec.version) != spec.version:
        return
    changed: list[str] = []
    for kind, found, wanted in (("factor", raw.statements, {f.id: f.statement for f in spec.factors}),
                                ("model", raw.model_names, {m.id: m.name for m in spec.models})):
        for key, r in found.items():
            text, want = clean_text(r.value), wanted.get(key, "")
            if r.cell is None or not want or text == clean_text(want):
                continue
            issues.append(issue(Code.WORD_001, r.cell, found=_quoted(text) if text else "a blank cell",
                                expected=f"the form's wording: {_quoted(want)}"))
            if kind == "factor":
                changed.append(key)
    for n, i in enumerate(issues):
        if i.code == Code.SPEC_004:
            names = (f"the wording differs for factor{'s' if len(changed) > 1 else ''} {', '.join(changed)}"
                     if changed else "no factor statement in the return differs from this version's, so the change "
                     "is elsewhere (choices, weights or model profiles)")
            issues[n] = dataclasses.replace(i, found=f"{i.found}; {names}")


def validate(raw: RawReturn, preliminary: list[Issue] | None = None,
             register: Register | None = None) -> tuple[Return, list[Issue]]:
    """Judge every value of a return; unusable values count as unanswered and are reported. Its council is
    looked up on `register` (default: the bundled one)."""
    spec: Spec = raw.spec
    issues: list[Issue] = list(preliminary or [])
    v = raw.values
    for sheet in raw.missing_sheets:
        issues.append(issue(Code.SHEET_001, sheet=sheet, found=f'no sheet called "{sheet}"',
                            expected="every sheet of the workbook as issued"))

    # Names and roles are free text too: the same limits and the same formula check as the notes.
    ident = {}
    for key, label in L.IDENTITY_FIELDS:
        r = v[L.name_of("identity", key)]
        formula = _formula_answer(r, issues, f"the {label[0].lower()}{label[1:]} typed as plain text")
        ident[key] = "" if formula else _text(r, issues, clean_text)
    council_raw = v[L.name_of("identity", "council")]
    if not ident["council"] and L.COVER not in raw.missing_sheets and council_raw.formula is None:
        issues.append(issue(Code.ID_001, council_raw.cell or _identity_cell("council"), found="a blank cell",
                            expected="the council's name"))
    if not ident["respondent"] and L.COVER not in raw.missing_sheets \
            and v[L.name_of("identity", "respondent")].formula is None:
        issues.append(issue(Code.ID_002, v[L.name_of("identity", "respondent")].cell or _identity_cell("respondent"),
                            found="a blank cell", expected="a name"))
    issues.extend(council_issues(spec, ident, {k: v[L.name_of("identity", k)].cell or _identity_cell(k)
                                               for k in ("council", "council_code", "respondent")}, register))

    factors: dict[str, FactorAnswer] = {}
    for aspect in spec.aspects:
        if aspect.sheet in raw.missing_sheets:
            continue
        answered = 0
        first_cell = None
        for f in aspect.factors:
            r = v[L.name_of("rating", f.id)]
            if r.cell is None:
                if f.id in raw.missing_factors:
                    where = raw.missing_factors[f.id]
                    issues.append(issue(Code.SHEET_002, where, found=f'no row with factor id "{f.id}"',
                                        expected=f'a row for "{f.statement}"'))
                continue
            first_cell = first_cell or r.cell
            matched = None if _formula_answer(r, issues, _labels(spec.rating)) else match_rating(r.value, spec.rating)
            if matched is NOT_ON_LIST:
                issues.append(issue(Code.VAL_001, r.cell, found=show(r.value), expected=_labels(spec.rating)))
            dont_know = matched is DONT_KNOW
            # The spec's scales say what each holds: ratings and importance are whole numbers, control an id,
            # boost yes or no.
            rating = cast("int | None", None if matched is NOT_ON_LIST or dont_know else matched)
            importance = cast("int | None", _choice(v[L.name_of("importance", f.id)], spec.importance, Code.VAL_002,
                                                    issues, " or blank"))
            c_raw, b_raw = v[L.name_of("control", f.id)], v[L.name_of("boost", f.id)]
            control = cast("str | None", _choice(c_raw, spec.control, Code.VAL_003, issues))
            boost = cast("bool | None", _choice(b_raw, spec.boost, Code.VAL_004, issues))
            # A value off the list is reported once, as off the list, not again as a missing answer.
            if is_inhibitor(rating) and control is None and c_raw.cell and not _typed(c_raw):
                issues.append(issue(Code.ANS_001, c_raw.cell, found="a blank cell",
                                    expected=_labels(spec.control)))
            if is_supporter(rating) and boost is None and b_raw.cell and not _typed(b_raw):
                issues.append(issue(Code.ANS_002, b_raw.cell, found="a blank cell", expected='"Yes" or "No"'))
            if control is not None and rating in (3, 4, 5):
                issues.append(issue(Code.ANS_003, c_raw.cell, found=f"{show(c_raw.value)} with a rating of {rating}",
                                    expected="a control category only where the rating is 1 or 2"))
            if boost is not None and rating in (1, 2, 3):
                issues.append(issue(Code.ANS_004, b_raw.cell, found=f"{show(b_raw.value)} with a rating of {rating}",
                                    expected="a boost answer only where the rating is 4 or 5"))
            mark = raw.carried.get(f.id)
            carried = mark is not None and bool(clean_text(mark.value))
            if mark is not None and carried:
                issues.append(issue(Code.ANS_007, mark.cell, found=show(mark.value), expected="a blank cell once "
                                    "the answer is confirmed"))
            evidence = _text(v[L.name_of("notes", f.id)], issues)
            if rating is not None:
                answered += 1
            factors[f.id] = FactorAnswer(f.id, rating, importance, control, boost, evidence, dont_know, carried)
        if answered * 2 < len(aspect.factors):
            issues.append(issue(Code.ANS_005, first_cell, sheet=aspect.sheet,
                                found=f"{answered} of {len(aspect.factors)} factors rated",
                                expected=f"at least {(len(aspect.factors) + 1) // 2}"))

    texts: dict[str, dict[str, str]] = {}
    for aspect in spec.aspects:
        texts[aspect.id] = {p.id: _text(v[L.name_of("text", aspect.id, p.id)], issues) for p in spec.text_prompts}

    priorities: dict[str, int | None] = {}
    for m in spec.models:
        p_raw = v[L.name_of("priority", m.id)]
        if p_raw.cell is None:
            if m.id in raw.missing_models and L.MODELS not in raw.missing_sheets:
                issues.append(issue(Code.SHEET_002, raw.missing_models[m.id], found=f'no row with model id "{m.id}"',
                                    expected=f'a row for "{m.name}"'))
            priorities[m.id] = None
            continue
        value = cast("int | None", _choice(p_raw, spec.priority, Code.VAL_005, issues))
        if value is None and not _typed(p_raw) and L.MODELS not in raw.missing_sheets:
            issues.append(issue(Code.ANS_006, p_raw.cell, found=f"a blank cell for {m.name}",
                                expected=_labels(spec.priority)))
        priorities[m.id] = value

    _check_wording(raw, issues)

    ret = Return(
        spec=spec, identity=Identity(**ident), factors=factors, texts=texts, priorities=priorities,
        spec_id=raw.meta.get("spec_id", ""), spec_version=raw.meta.get("spec_version", ""),
        fingerprint=raw.meta.get("spec_fingerprint", ""), workbook_id=raw.meta.get("workbook_id", ""),
        read_by=raw.read_by, file_format=raw.file_format,
    )
    return ret, issues
