"""Earlier returns → answers for a new workbook: next year's form carried forward, or partners' agreed return."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from .consolidate import respondent_label
from .errors import InputError
from .generate import Prefill, generate
from .model import FactorAnswer, Identity, Return, Spec, is_inhibitor, is_supporter

if TYPE_CHECKING:
    from .check import CheckedReturn

T = TypeVar("T")

DIFFER_MARK = "Partners differ - please settle: "


def carry_forward(ret: Return, spec: Spec, source: str) -> Prefill:
    """Every answer of last year's return, matched by factor id to `spec`, marked for confirmation."""
    factors = {fid: a for fid, a in ret.factors.items() if fid in {f.id for f in spec.factors}
               and (a.rating is not None or a.dont_know or a.importance or a.control or a.boost is not None
                    or a.evidence)}
    texts = {aid: dict(t) for aid, t in ret.texts.items() if aid in {a.id for a in spec.aspects}}
    priorities = {mid: p for mid, p in ret.priorities.items() if mid in {m.id for m in spec.models}}
    notes = [f"Answers carried forward from {source} (form version {ret.spec_version or 'unknown'}). "
             "Check each one and clear its mark in the \"To confirm\" column once it still holds."]
    old_ids = set(ret.factors)
    new = [f for f in spec.factors if f.id not in old_ids]
    if new:
        notes.append("New factors this year, not answered before: " + "; ".join(f.statement for f in new))
    retired = [m for mg in spec.migrations if mg.from_version == ret.spec_version for m in mg.retired]
    if retired:
        notes.append("Factors retired since last year (their answers are not carried): " + ", ".join(retired))
    return Prefill(factors, texts, priorities, carried=True, source=source, notes=tuple(notes))


def _same(values: Sequence[T | None]) -> tuple[bool, T | None]:
    distinct = {v for v in values if v is not None}
    return len(distinct) == 1, (distinct.pop() if len(distinct) == 1 else None)


def _agreed(values: Sequence[T | None]) -> T | None:
    ok, value = _same(values)
    return value if ok else None


def agree(returns: Sequence[Return], spec: Spec, names: Sequence[str]) -> Prefill:
    """An agreed return: answers where the respondents agree, flags where they do not."""
    factors: dict[str, FactorAnswer] = {}
    flagged: dict[str, str] = {}
    labels = {c.value: c.label for c in spec.rating}
    for f in spec.factors:
        answers = [(n, r.factors.get(f.id)) for n, r in zip(names, returns, strict=True)]
        ratings = [a.rating if a else None for _, a in answers]
        agreed, rating = _same(ratings)
        if not agreed and any(r is not None for r in ratings):
            flagged[f.id] = DIFFER_MARK + "; ".join(
                f"{n}: {labels.get(a.rating, 'blank') if a and a.rating else 'blank'}" for n, a in answers)
            rating = None
        importance = _agreed([a.importance if a else None for _, a in answers])
        control = _agreed([a.control if a else None for _, a in answers])
        boost = _agreed([a.boost if a else None for _, a in answers])
        evidence = "\n".join(f"[{n}] {a.evidence}" for n, a in answers if a and a.evidence)
        if rating is not None or evidence or importance or control or boost is not None:
            factors[f.id] = FactorAnswer(f.id, rating, importance, control if is_inhibitor(rating) else None,
                                         boost if is_supporter(rating) else None, evidence)
    texts = {a.id: {p.id: "\n".join(f"[{n}] {r.texts.get(a.id, {}).get(p.id, '')}"
                                    for n, r in zip(names, returns, strict=True)
                                    if r.texts.get(a.id, {}).get(p.id))
                    for p in spec.text_prompts} for a in spec.aspects}
    priorities: dict[str, int | None] = {}
    notes = [f"Agreed return prepared from {len(returns)} respondents: {', '.join(names)}. Where they rated a "
             "factor differently it is left blank and marked in the \"To confirm\" column: settle it together, "
             "choose the rating and clear the mark."]
    for m in spec.models:
        ok, value = _same([r.priorities.get(m.id) for r in returns])
        priorities[m.id] = value if ok else None
        if not ok and any(r.priorities.get(m.id) for r in returns):
            notes.append(f"Priority fit for {m.name} differs: " + "; ".join(
                f"{n}: {r.priorities.get(m.id) or 'blank'}" for n, r in zip(names, returns, strict=True)))
    return Prefill(factors, texts, priorities, carried=False, source="agreed: " + ", ".join(names),
                   notes=tuple(notes), flagged=flagged)


def _readable(path: Path, spec: Spec) -> CheckedReturn:
    from .check import check_return

    a = check_return(path, spec)
    if a.ret is None or a.scores is None:
        errors = "; ".join(f"{i.location or 'file'}: {i.message}" for i in a.issues if i.severity.value == "error")
        raise InputError(f"{path}: cannot carry answers from this return ({errors or a.status.value})")
    return a


def next_year(last: Path, spec: Spec, out: Path, identity: Identity | None = None,
              day: dt.date | None = None) -> tuple[Path, CheckedReturn]:
    """Write next year's workbook from last year's return: every answer carried forward, marked to confirm."""
    a = _readable(Path(last), spec)
    assert a.ret is not None
    base = a.ret.identity
    given = identity or Identity()
    ident = Identity(**{k: getattr(given, k) or getattr(base, k) for k in ("council", "council_code", "respondent",
                                                                          "organisation", "role")})
    return generate(spec, out, ident, prefill=carry_forward(a.ret, spec, Path(last).name), generated_at=day), a


def agreed_return(paths: Sequence[Path], spec: Spec, out: Path, day: dt.date | None = None) -> tuple[Path, list]:
    """Write one workbook for the group: prefilled where the respondents agree, flagged where they do not."""
    if len(paths) < 2:
        raise InputError("an agreed return needs the returns of at least two respondents")
    assessed = [_readable(Path(p), spec) for p in paths]
    rets = [a.ret for a in assessed if a.ret is not None]
    councils = {(r.identity.council_code or r.identity.council.casefold()) for r in rets}
    if len(councils) > 1:
        raise InputError("these returns are from different councils: "
                         + ", ".join(sorted({r.identity.council or "(not named)" for r in rets})))
    names = [respondent_label(r.identity.respondent, r.identity.organisation, i) for i, r in enumerate(rets)]
    first = rets[0].identity
    ident = Identity(council=first.council, council_code=first.council_code,
                     respondent="Agreed: " + "; ".join(r.identity.respondent or "(not named)" for r in rets),
                     organisation="; ".join(dict.fromkeys(r.identity.organisation for r in rets if
                                                          r.identity.organisation)))
    return generate(spec, out, ident, prefill=agree(rets, spec, names), generated_at=day), assessed
