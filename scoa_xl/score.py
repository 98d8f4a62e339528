"""Return → Scores: room for manoeuvre per aspect and overall, controllability, and model fit.

This is the source of truth for every figure; the workbook's live formulas only mirror it.
"""

from __future__ import annotations

from collections.abc import Mapping

from .figures import shown
from .model import CONTROLLABLE, AspectScore, FactorAnswer, ModelFit, Return, Scores, Spec

MIN_SCORED_ASPECTS = 6
SHORT_LIST = 3
SENSITIVITY_STEP = 10.0


def factor_score(rating: int | None) -> float | None:
    """A rating of 1-5 as a score of 0-100; unanswered stays None, never zero."""
    return None if rating is None else (rating - 1) / 4 * 100


def weight_of(answer: FactorAnswer | None, default: int) -> int:
    return answer.importance if answer is not None and answer.importance is not None else default


def aspect_room(spec: Spec, aspect_id: str, answers: Mapping[str, FactorAnswer]) -> tuple[float | None, int]:
    """Weighted mean of answered factor scores, or None when fewer than half are answered."""
    aspect = spec.aspect(aspect_id)
    total = weights = 0.0
    answered = 0
    for f in aspect.factors:
        a = answers.get(f.id)
        s = factor_score(a.rating if a else None)
        if s is None:
            continue
        w = weight_of(a, f.weight)
        total += s * w
        weights += w
        answered += 1
    if answered * 2 < len(aspect.factors) or weights == 0:
        return None, answered
    return total / weights, answered


def controllability(spec: Spec, aspect_id: str, answers: Mapping[str, FactorAnswer]) -> float | None:
    """Share (0-100) of the aspect's inhibitors that are in our control or influenceable."""
    inhibitors = [answers[f.id] for f in spec.aspect(aspect_id).factors
                  if f.id in answers and answers[f.id].is_inhibitor]
    if not inhibitors:
        return None
    return sum(a.control in CONTROLLABLE for a in inhibitors) / len(inhibitors) * 100


def overall(aspect_scores: list[float | None]) -> float | None:
    scored = [s for s in aspect_scores if s is not None]
    return sum(scored) / len(scored) if len(scored) >= MIN_SCORED_ASPECTS else None


def readiness(profile: Mapping[str, int], rooms: Mapping[str, float | None]) -> float | None:
    """Mean of the scored aspects' room for manoeuvre, weighted by how much the model relies on each."""
    num = den = 0.0
    for aspect_id, w in profile.items():
        s = rooms.get(aspect_id)
        if s is None or w == 0:
            continue
        num += s * w
        den += w
    return num / den if den else None


def priority_fit(priority: int | None) -> float | None:
    return None if priority is None else (priority - 1) / 4 * 100


def blend(spec: Spec, ready: float | None, prio: float | None) -> float | None:
    """The spec's blend of readiness and priority fit; with no priority given, readiness alone."""
    if ready is None:
        return None
    if prio is None:
        return ready
    return spec.readiness_share * ready + spec.priority_share * prio


def _fits(spec: Spec, rooms: Mapping[str, float | None],
          priorities: Mapping[str, int | None]) -> dict[str, float | None]:
    return {m.id: blend(spec, readiness(m.profile, rooms), priority_fit(priorities.get(m.id))) for m in spec.models}


def _ranked(fits: Mapping[str, float | None], order: list[str]) -> list[str]:
    """Model ids best first; ties keep the spec's order; models with no fit last."""
    pos = {mid: i for i, mid in enumerate(order)}
    return sorted(order, key=lambda mid: (fits[mid] is None, -(fits[mid] or 0.0), pos[mid]))


def ranks(fits: Mapping[str, float | None], order: list[str]) -> dict[str, int | None]:
    """Each model's rank (1 = best fit; ties in the spec's order), or None where it has no fit.

    The one ranking rule: for one return, for a council's combined figures, and as the workbook shows it."""
    out: dict[str, int | None] = {mid: None for mid in order}
    for i, mid in enumerate(m for m in _ranked(fits, order) if fits[m] is not None):
        out[mid] = i + 1
    return out


def _top(fits: Mapping[str, float | None], order: list[str]) -> set[str]:
    return {mid for mid in _ranked(fits, order)[:SHORT_LIST] if fits[mid] is not None}


def sensitive_models(spec: Spec, rooms: Mapping[str, float | None], priorities: Mapping[str, int | None]) -> set[str]:
    """Models whose place in the top three changes when any one aspect score moves by 10 points."""
    order = [m.id for m in spec.models]
    base = _top(_fits(spec, rooms, priorities), order)
    flagged: set[str] = set()
    for aspect_id, s in rooms.items():
        if s is None:
            continue
        for step in (-SENSITIVITY_STEP, SENSITIVITY_STEP):
            moved = dict(rooms)
            moved[aspect_id] = min(100.0, max(0.0, s + step))
            flagged |= base ^ _top(_fits(spec, moved, priorities), order)
    return flagged


def _reasons(spec: Spec, model, rooms: Mapping[str, float | None], prio: float | None,
             ready: float | None) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    relied = [(a, model.profile[a.id], rooms.get(a.id)) for a in spec.aspects if model.profile[a.id] >= 2]
    carried = [(a, w, s) for a, w, s in relied if s is not None and s >= 50]
    held = [(a, w, s) for a, w, s in relied if s is not None and s < 50]
    carried.sort(key=lambda t: -(t[1] * t[2]))
    held.sort(key=lambda t: t[1] * (t[2] - 100))
    reasons: list[str] = []
    for a, w, s in carried[:3]:
        reasons.append(f"Carried by {a.name} ({shown(s)}), which this model relies on {_reliance(w)}")
    for a, w, s in held[:3]:
        reasons.append(f"Held back by {a.name} ({shown(s)}), which this model relies on {_reliance(w)}")
    unscored = [a.name for a, w, s in relied if s is None]
    if unscored:
        reasons.append("Not yet scored, though the model relies on them: " + ", ".join(unscored))
    if prio is None:
        reasons.append("No priority fit given, so the fit rests on readiness alone")
    elif ready is not None:
        reasons.append(f"Fit with local priorities and values rated {shown(prio)} out of 100")
    return tuple(reasons), tuple(a.id for a, _, _ in carried), tuple(a.id for a, _, _ in held)


def _reliance(weight: int) -> str:
    return "heavily" if weight >= 3 else "moderately"


def score_answers(spec: Spec, answers: Mapping[str, FactorAnswer], priorities: Mapping[str, int | None],
                  council: str = "") -> Scores:
    """Score a set of answers against a spec, exactly as the product defines it."""
    aspects: list[AspectScore] = []
    rooms: dict[str, float | None] = {}
    for aspect in spec.aspects:
        room, answered = aspect_room(spec, aspect.id, answers)
        rooms[aspect.id] = room
        inhibitors = tuple(f.id for f in aspect.factors if f.id in answers and answers[f.id].is_inhibitor)
        supporters = tuple(f.id for f in aspect.factors if f.id in answers and answers[f.id].is_supporter)
        aspects.append(AspectScore(aspect.id, aspect.name, room, controllability(spec, aspect.id, answers),
                                   answered, len(aspect.factors), inhibitors, supporters))
    fits = _fits(spec, rooms, priorities)
    order = [m.id for m in spec.models]
    ranked = _ranked(fits, order)
    rank_of = ranks(fits, order)
    flagged = sensitive_models(spec, rooms, priorities)
    by_id = {m.id: m for m in spec.models}
    models = []
    for mid in ranked:
        m = by_id[mid]
        ready = readiness(m.profile, rooms)
        prio = priority_fit(priorities.get(mid))
        fit = fits[mid]
        reasons, carried, held = _reasons(spec, m, rooms, prio, ready)
        models.append(ModelFit(mid, m.name, ready, prio, fit, rank_of[mid],
                               mid in flagged, reasons, carried, held))
    factor_scores = {f.id: factor_score(answers[f.id].rating if f.id in answers else None) for f in spec.factors}
    return Scores(council, spec.id, spec.version, tuple(aspects), overall(list(rooms.values())), tuple(models),
                  factor_scores)


def score_return(ret: Return) -> Scores:
    return score_answers(ret.spec, ret.factors, ret.priorities, ret.identity.council)
