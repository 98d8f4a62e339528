"""Scoring exactly as PRODUCT.md defines it: hand-computed examples, then properties (hypothesis)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoa_xl.model import CONTROL_IDS, CommissioningModel, Factor, FactorAnswer
from scoa_xl.score import priority_fit, readiness, score_answers, sensitive_models
from scoa_xl.spec import load_spec

SPEC = load_spec()
ASPECTS = {a.id: a for a in SPEC.aspects}
SD, REL = ASPECTS["system_design"], ASPECTS["relationships"]  # default weights 3,2,2,3,2,2 and 2,2,3,3,3,2,2


def ans(factor_id: str, rating: int | None, importance: int | None = None, control: str | None = None,
        boost: bool | None = None, dont_know: bool = False) -> FactorAnswer:
    return FactorAnswer(factor_id, rating, importance, control, boost, "", dont_know)


def rate(aspect, ratings, importances=None) -> dict[str, FactorAnswer]:
    """Answers for an aspect's factors in order; None leaves a factor unanswered."""
    importances = importances or [None] * len(ratings)
    return {f.id: ans(f.id, r, i) for f, r, i in zip(aspect.factors, ratings, importances, strict=False)
            if r is not None or i is not None}


def uniform(ratings_by_aspect: dict[str, int | None]) -> dict[str, FactorAnswer]:
    """Every factor of each aspect given the same rating: room = (rating - 1) x 25 exactly."""
    out: dict[str, FactorAnswer] = {}
    for aid, r in ratings_by_aspect.items():
        if r is not None:
            out |= rate(ASPECTS[aid], [r] * len(ASPECTS[aid].factors))
    return out


def room(answers, aspect_id, spec=SPEC, priorities=None):
    return score_answers(spec, answers, priorities or {}).aspect(aspect_id).room_for_manoeuvre


# --- aspect room for manoeuvre ------------------------------------------------------------------------------------


def test_aspect_is_the_weighted_mean_of_answered_factor_scores():
    # Ratings 5,4,3,2,1 and one unanswered; importance High on the second, Low on the third, others blank
    # so the spec's default weights (3, -, -, 3, 2) apply. Scores 100, 75, 50, 25, 0; weights 3, 3, 1, 3, 2.
    answers = rate(SD, [5, 4, 3, 2, 1, None], [None, 3, 1, None, None, None])
    assert room(answers, SD.id) == pytest.approx((300 + 225 + 50 + 75 + 0) / 12)
    assert score_answers(SPEC, answers, {}).aspect(SD.id).answered == 5


def test_blank_importance_takes_the_specs_default_weight():
    answers = rate(SD, [5, 4, 3, 2, 1, None])  # weights 3, 2, 2, 3, 2 from the spec
    assert room(answers, SD.id) == pytest.approx((300 + 150 + 100 + 75 + 0) / 12)
    spelled_out = rate(SD, [5, 4, 3, 2, 1, None], [3, 2, 2, 3, 2, None])
    assert room(spelled_out, SD.id) == room(answers, SD.id)


def test_fewer_than_half_answered_is_none_never_zero():
    assert room(rate(SD, [5, 1]), SD.id) is None  # 2 of 6
    assert room(rate(SD, [5, 1, 3]), SD.id) == pytest.approx((300 + 0 + 100) / 7)  # 3 of 6: exactly half counts
    assert room(rate(REL, [1, 1, 1]), REL.id) is None  # 3 of 7
    assert room(rate(REL, [1, 1, 1, 1]), REL.id) == 0.0  # 4 of 7: a real zero
    dont_know = {f.id: ans(f.id, None, dont_know=True) for f in SD.factors[2:]}
    assert room(rate(SD, [5, 1]) | dont_know, SD.id) is None  # "don't know" is unanswered
    s = score_answers(SPEC, {}, {})
    assert all(a.room_for_manoeuvre is None and a.answered == 0 for a in s.aspects)
    assert s.overall_room_for_manoeuvre is None
    assert all(m.fit is None and m.rank is None for m in s.models)
    assert s.to_json()["aspects"][0]["room_for_manoeuvre"] is None


def test_overall_needs_six_scored_aspects():
    ids = [a.id for a in SPEC.aspects]
    five = uniform(dict(zip(ids[:5], [5, 4, 3, 2, 1], strict=True)))
    assert score_answers(SPEC, five, {}).overall_room_for_manoeuvre is None
    six = uniform(dict(zip(ids[:6], [5, 4, 3, 2, 1, 3], strict=True)))  # 100, 75, 50, 25, 0, 50
    assert score_answers(SPEC, six, {}).overall_room_for_manoeuvre == 50.0
    eight = uniform(dict(zip(ids, [5, 4, 3, 2, 1, 3, 5, 5], strict=True)))
    assert score_answers(SPEC, eight, {}).overall_room_for_manoeuvre == (100 + 75 + 50 + 25 + 0 + 50 + 100 + 100) / 8


def test_controllability_is_the_share_of_inhibitors_we_can_act_on():
    f = SD.factors
    answers = {f[0].id: ans(f[0].id, 1, control="in_control"), f[1].id: ans(f[1].id, 2, control="out_of_control"),
               f[2].id: ans(f[2].id, 1, control="needs_innovation"), f[3].id: ans(f[3].id, 4, boost=True),
               f[4].id: ans(f[4].id, 3, control="influenceable")}  # a neutral factor is not an inhibitor
    s = score_answers(SPEC, answers, {}).aspect(SD.id)
    assert s.controllability == pytest.approx(100 / 3)
    assert s.inhibitors == (f[0].id, f[1].id, f[2].id) and s.supporters == (f[3].id,)
    answers[f[1].id] = ans(f[1].id, 2, control="influenceable")
    assert score_answers(SPEC, answers, {}).aspect(SD.id).controllability == pytest.approx(200 / 3)
    answers[f[2].id] = ans(f[2].id, 1)  # an inhibitor with no category is not one we can act on
    assert score_answers(SPEC, answers, {}).aspect(SD.id).controllability == pytest.approx(200 / 3)
    no_inhibitors = rate(SD, [3, 4, 5, 3])
    assert score_answers(SPEC, no_inhibitors, {}).aspect(SD.id).controllability is None


# --- model fit ------------------------------------------------------------------------------------------------------

# Rooms: system design 100, relationships 75, capacity 50, user focus 25, insight 0, policy 50, process 50,
# models and tactics 100.
ROOMS_RATINGS = {"system_design": 5, "relationships": 4, "capacity_capability": 3, "user_outcome_focus": 2,
                 "insight_inspiration": 1, "policy": 3, "process": 3, "models_tactics": 5}


def test_readiness_is_the_profile_weighted_mean_of_aspect_scores():
    s = score_answers(SPEC, uniform(ROOMS_RATINGS), {})
    fits = {m.id: m for m in s.models}
    # prevention relies 3,2,2,3,2,1,1,2: (300 + 150 + 100 + 75 + 0 + 50 + 50 + 200) / 16
    assert fits["prevention"].readiness == 925 / 16
    # contestability relies 0,1,1,1,1,2,3,2: system design does not count at all
    assert fits["contestability"].readiness == (0 + 75 + 50 + 25 + 0 + 100 + 150 + 200) / 11
    # An unscored aspect drops out of the mean (with its weight), rather than counting as zero.
    partial = dict(ROOMS_RATINGS, user_outcome_focus=None)
    fits = {m.id: m for m in score_answers(SPEC, uniform(partial), {}).models}
    assert fits["prevention"].readiness == (925 - 75) / 13
    assert readiness({"a": 2, "b": 0}, {"a": None, "b": 80.0}) is None


def test_priority_fit_maps_one_to_five_onto_zero_to_hundred():
    assert [priority_fit(p) for p in (1, 2, 3, 4, 5, None)] == [0.0, 25.0, 50.0, 75.0, 100.0, None]


def test_fit_blends_readiness_and_priority_sixty_forty():
    s = score_answers(SPEC, uniform(ROOMS_RATINGS), {"prevention": 4})
    prevention = next(m for m in s.models if m.id == "prevention")
    assert prevention.priority_fit == 75.0
    assert prevention.fit == pytest.approx(0.6 * 925 / 16 + 0.4 * 75)
    # No priority given: the fit rests on readiness alone, and says so.
    other = next(m for m in s.models if m.id == "system_leadership")
    assert other.priority_fit is None and other.fit == other.readiness
    assert any("readiness alone" in r for r in other.reasons)
    # A spec may set another blend.
    spec = dataclasses.replace(SPEC, readiness_share=0.5, priority_share=0.5)
    prevention = next(m for m in score_answers(spec, uniform(ROOMS_RATINGS), {"prevention": 4}).models
                      if m.id == "prevention")
    assert prevention.fit == pytest.approx(0.5 * 925 / 16 + 0.5 * 75)


def test_models_are_ranked_best_first():
    s = score_answers(SPEC, uniform(ROOMS_RATINGS), {"contestability": 5, "prevention": 1})
    fits = [m.fit for m in s.models]
    assert fits == sorted(fits, reverse=True)
    assert [m.rank for m in s.models] == list(range(1, 14))
    assert s.models[0].id == "contestability"  # 0.6 x 54.5 + 0.4 x 100 = 72.7
    assert [m["id"] for m in s.to_json()["models"]] == [m.id for m in s.models]


def test_reasons_name_the_aspects_that_carry_and_hold_back_a_model():
    s = score_answers(SPEC, uniform(ROOMS_RATINGS), {"prevention": 4})
    prevention = next(m for m in s.models if m.id == "prevention")
    # Relied on (weight 2 or 3): system design 3x100, models and tactics 2x100, relationships 2x75,
    # capacity 2x50 carry it; user focus 3x25 and insight 2x0 hold it back. Policy and process (weight 1) do not count.
    assert prevention.carried_by == ("system_design", "models_tactics", "relationships", "capacity_capability")
    assert prevention.held_back_by == ("user_outcome_focus", "insight_inspiration")
    r = prevention.reasons
    assert r[0].startswith("Carried by System design (100.0)") and "heavily" in r[0]
    assert r[1].startswith("Carried by Models and tactics (100.0)") and "moderately" in r[1]
    assert r[2].startswith("Carried by Relationships (75.0)")
    assert r[3].startswith("Held back by User and outcome focus (25.0)") and "heavily" in r[3]
    assert r[4].startswith("Held back by Insight and inspiration (0.0)")
    assert "75.0" in r[5]
    assert s.to_json()["models"][[m.id for m in s.models].index("prevention")]["reasons"] == list(r)


# A variant of the spec whose four models each rely on one aspect only: a model's fit is that aspect's score.
SINGLE = dataclasses.replace(SPEC, models=tuple(
    CommissioningModel(f"only_{aid}", f"Only {aid}", "", {a.id: 3 if a.id == aid else 0 for a in SPEC.aspects}, ())
    for aid in ("system_design", "relationships", "capacity_capability", "insight_inspiration")))


def test_sensitivity_flags_models_whose_top_three_place_turns_on_ten_points():
    steady = {"system_design": 80.0, "relationships": 60.0, "capacity_capability": 55.0, "insight_inspiration": 20.0}
    assert sensitive_models(SINGLE, steady, {}) == set()  # 35 points between third and fourth
    close = dict(steady, insight_inspiration=50.0)  # +10 lifts insight (60) past capacity (55)
    assert sensitive_models(SINGLE, close, {}) == {"only_capacity_capability", "only_insight_inspiration"}


def test_sensitivity_reported_on_each_model():
    # Uniform ratings give system design 100, relationships 75, capacity 50, insight 0: no 10-point move matters.
    steady = score_answers(SINGLE, uniform({"system_design": 5, "relationships": 4, "capacity_capability": 3,
                                            "insight_inspiration": 1}), {})
    assert [m.sensitive for m in steady.models] == [False] * 4
    # Capacity 50 and insight 40.9 (ratings 3,3,2,3,2,2 weighted 3,2,1,2,2,1): 9.1 points apart.
    ins = ASPECTS["insight_inspiration"]
    close_answers = uniform({"system_design": 5, "relationships": 4, "capacity_capability": 3}) | rate(
        ins, [3, 3, 2, 3, 2, 2])
    close = score_answers(SINGLE, close_answers, {})
    assert close.aspect(ins.id).room_for_manoeuvre == pytest.approx((150 + 100 + 25 + 100 + 50 + 25) / 11)
    assert {m.id: m.sensitive for m in close.models} == {
        "only_system_design": False, "only_relationships": False,
        "only_capacity_capability": True, "only_insight_inspiration": True}


# --- properties ---------------------------------------------------------------------------------------------------

ratings = st.one_of(st.none(), st.integers(1, 5))
importances = st.one_of(st.none(), st.integers(1, 3))
controls = st.one_of(st.none(), st.sampled_from(CONTROL_IDS))


@st.composite
def answer_sets(draw) -> dict[str, FactorAnswer]:
    out = {}
    for f in SPEC.factors:
        r, i, c = draw(ratings), draw(importances), draw(controls)
        if r is not None or i is not None or draw(st.booleans()):
            out[f.id] = ans(f.id, r, i, c if r in (1, 2) else None, draw(st.booleans()) if r in (4, 5) else None,
                            dont_know=r is None)
    return out


priority_sets = st.fixed_dictionaries({}, optional={m.id: st.integers(1, 5) for m in SPEC.models})


def _in_range(x: float | None) -> bool:
    return x is None or 0.0 <= x <= 100.0


@settings(max_examples=60, deadline=None)
@given(answer_sets(), priority_sets)
def test_property_every_score_is_within_0_and_100(answers, priorities):
    s = score_answers(SPEC, answers, priorities)
    assert _in_range(s.overall_room_for_manoeuvre)
    for a in s.aspects:
        assert _in_range(a.room_for_manoeuvre) and _in_range(a.controllability)
        assert 0 <= a.answered <= a.factors
    for m in s.models:
        assert _in_range(m.readiness) and _in_range(m.priority_fit) and _in_range(m.fit)
    assert all(_in_range(v) for v in s.factor_scores.values())


@settings(max_examples=40, deadline=None)
@given(answer_sets(), priority_sets, st.randoms(use_true_random=False))
def test_property_factor_order_does_not_matter(answers, priorities, rnd):
    shuffled_aspects = []
    for a in SPEC.aspects:
        factors = list(a.factors)
        rnd.shuffle(factors)
        shuffled_aspects.append(dataclasses.replace(a, factors=tuple(factors)))
    shuffled = dataclasses.replace(SPEC, aspects=tuple(shuffled_aspects))
    items = list(answers.items())
    rnd.shuffle(items)
    assert score_answers(shuffled, dict(items), priorities).to_json() == score_answers(SPEC, answers,
                                                                                       priorities).to_json()


@settings(max_examples=60, deadline=None)
@given(answer_sets(), st.sampled_from(SPEC.factors), st.integers(1, 4))
def test_property_raising_a_rating_never_lowers_its_aspect(answers, factor, before):
    lower = dict(answers)
    old = answers.get(factor.id) or ans(factor.id, None)
    lower[factor.id] = dataclasses.replace(old, rating=before, dont_know=False)
    base = score_answers(SPEC, lower, {})
    for after in range(before + 1, 6):
        higher = dict(lower)
        higher[factor.id] = dataclasses.replace(lower[factor.id], rating=after)
        raised = score_answers(SPEC, higher, {})
        was, now = base.aspect(factor.aspect_id).room_for_manoeuvre, raised.aspect(factor.aspect_id).room_for_manoeuvre
        assert (was is None) == (now is None)
        if was is not None:
            assert now >= was
        if base.overall_room_for_manoeuvre is not None:
            assert raised.overall_room_for_manoeuvre >= base.overall_room_for_manoeuvre


@settings(max_examples=60, deadline=None)
@given(answer_sets(), st.sampled_from(SPEC.aspects), st.integers(1, 3), st.booleans())
def test_property_an_unanswered_factor_is_never_counted_as_zero(answers, aspect, weight, dont_know):
    extra = Factor("zz_extra", aspect.id, "An extra factor nobody answered.", weight, "")
    grown = dataclasses.replace(SPEC, aspects=tuple(
        dataclasses.replace(a, factors=a.factors + (extra,)) if a.id == aspect.id else a for a in SPEC.aspects))
    with_extra = dict(answers)
    if dont_know:
        with_extra[extra.id] = ans(extra.id, None, importance=3, dont_know=True)
    before = score_answers(SPEC, answers, {}).aspect(aspect.id)
    after = score_answers(grown, with_extra, {}).aspect(aspect.id)
    assert after.answered == before.answered
    if after.answered * 2 >= len(aspect.factors) + 1:
        assert after.room_for_manoeuvre == before.room_for_manoeuvre  # the extra factor changes nothing
    else:
        assert after.room_for_manoeuvre is None  # too few answered now: missing, not zero


@settings(max_examples=60, deadline=None)
@given(answer_sets())
def test_property_overall_is_the_mean_of_the_scored_aspects(answers):
    s = score_answers(SPEC, answers, {})
    scored = [a.room_for_manoeuvre for a in s.aspects if a.room_for_manoeuvre is not None]
    if len(scored) >= 6:
        assert s.overall_room_for_manoeuvre == pytest.approx(sum(scored) / len(scored))
    else:
        assert s.overall_room_for_manoeuvre is None
