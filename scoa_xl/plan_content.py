"""A checked return → what its development plan says: each aspect's factors sorted into what holds the council
back and what supports it, grouped by how far each is in its control, and the action rows that follow.

The plan workbook (plan.py) only lays this out; keeping the content apart lets it be tested and reused without
a workbook.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import CONTROL_IDS, Aspect, AspectScore, Factor, FactorAnswer, Return, Scores, Spec
from .score import weight_of

BOOST_CATEGORY = "Supporter to boost"
NO_CATEGORY = "Control category not given"
NO_CATEGORY_APPROACH = ("Decide first how far this is in your control (on the aspect sheet of the self-assessment); "
                        "the approach follows from that.")
BOOST_APPROACH = "Make more of it: spread what works, give it time and money, and use it to ease the constraints."


@dataclass(frozen=True, slots=True)
class PlanFactor:
    """A rated factor as the plan shows it, with how hard it pulls (distance from "neither" × importance)."""

    factor: Factor
    answer: FactorAnswer
    weight: int
    pull: int


@dataclass(frozen=True, slots=True)
class AspectPlan:
    """The plan questions for one aspect, answered from the return."""

    aspect: Aspect
    score: AspectScore
    holding_back: tuple[PlanFactor, ...]  # worst first, weighted by importance
    supporting: tuple[PlanFactor, ...]  # strongest first
    to_boost: tuple[PlanFactor, ...]
    by_control: dict[str | None, tuple[PlanFactor, ...]]  # CONTROL_IDS, then None for "not given"
    unrated: tuple[tuple[Factor, bool], ...]  # with whether the answer was "Don't know"
    texts: dict[str, str]


def plan_aspects(ret: Return, scores: Scores) -> list[AspectPlan]:
    """Group each aspect's rated factors the way the development plan asks about them."""
    plans = []
    for aspect in ret.spec.aspects:
        s = scores.aspect(aspect.id)

        def entry(f: Factor) -> PlanFactor:
            a = ret.factors[f.id]
            return PlanFactor(f, a, weight_of(a, f.weight), abs(3 - (a.rating or 3)) * weight_of(a, f.weight))

        order = {f.id: i for i, f in enumerate(aspect.factors)}
        # Worst first: the furthest from "neither" and the most important; ties keep the form's order.
        inhibitors = sorted((entry(ret.spec.factor(fid)) for fid in s.inhibitors),
                            key=lambda p: (-p.pull, p.answer.rating, order[p.factor.id]))
        supporters = sorted((entry(ret.spec.factor(fid)) for fid in s.supporters),
                            key=lambda p: (-p.pull, -(p.answer.rating or 0), order[p.factor.id]))
        by_control: dict[str | None, tuple[PlanFactor, ...]] = {
            c: tuple(p for p in inhibitors if p.answer.control == c) for c in CONTROL_IDS}
        by_control[None] = tuple(p for p in inhibitors if p.answer.control not in CONTROL_IDS)
        unrated = tuple((f, f.id in ret.factors and ret.factors[f.id].dont_know) for f in aspect.factors
                        if f.id not in ret.factors or ret.factors[f.id].rating is None)
        plans.append(AspectPlan(aspect, s, tuple(inhibitors), tuple(supporters),
                                tuple(p for p in supporters if p.answer.boost is True), by_control, unrated,
                                dict(ret.texts.get(aspect.id, {}))))
    return plans


@dataclass(frozen=True, slots=True)
class ActionRow:
    aspect: str
    factor_id: str
    factor: str
    rating: str
    category: str
    approach: str


def action_rows(spec: Spec, plans: list[AspectPlan]) -> list[ActionRow]:
    """One row per factor holding the council back and per supporter it said it could boost."""
    approach = {c.value: c.approach for c in spec.control}
    rows = []
    for ap in plans:
        for p in ap.holding_back:
            control = p.answer.control
            rows.append(ActionRow(ap.aspect.name, p.factor.id, p.factor.statement, rating_label(spec, p.answer),
                                  spec.control_label(control) if control in CONTROL_IDS else NO_CATEGORY,
                                  approach.get(control, NO_CATEGORY_APPROACH)))
        for p in ap.to_boost:
            rows.append(ActionRow(ap.aspect.name, p.factor.id, p.factor.statement, rating_label(spec, p.answer),
                                  BOOST_CATEGORY, BOOST_APPROACH))
    return rows


def rating_label(spec: Spec, answer: FactorAnswer | None) -> str:
    if answer is None:
        return ""
    if answer.dont_know:
        return spec.rating[-1].label
    return next((c.label for c in spec.rating if c.value == answer.rating), "")
