"""Several respondents for one council → one consolidated view of that council.

Each respondent's return stays a record of its own; this only combines their figures for the
cross-council outputs. Kept in one place so the way respondents are combined, and where they
disagree, is defined once for the JSON, the summary and the plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .model import Spec
from .register import council_key
from .results import Agreement, CouncilAspect, CouncilModel, CouncilSummary, Divergence, RespondentRating
from .score import MIN_SCORED_ASPECTS, SHORT_LIST, overall, ranks

COMBINED = ("mean of the respondents' scores: each aspect's room for manoeuvre and controllability is the "
            "plain average over the respondents whose return has a figure for it; overall room for manoeuvre is "
            "the average of those combined aspect scores (none if fewer than {min} are scored); each model's fit "
            "is the average of the respondents' fits. Only valid returns and returns with queries on form "
            "{spec} version {version} are counted; duplicates and superseded returns are left out.")


@dataclass(frozen=True, slots=True)
class Respondent:
    """One counted return, as consolidation needs it (figures in the spec's order of aspects and models)."""

    council: str
    code: str
    respondent: str
    organisation: str
    file: str
    rooms: tuple[float | None, ...]  # room for manoeuvre per aspect
    controllability: tuple[float | None, ...]  # per aspect
    fits: tuple[float | None, ...]  # per model
    ratings: dict[str, int | None] = field(default_factory=dict)  # factor id -> rating (None: unanswered)


DIVERGENCE_POINTS = 2  # ratings this far apart are a conversation worth having


def divergence(named: Sequence[tuple[str, dict[str, int | None]]], spec: Spec) -> list[Divergence]:
    """Factors where respondents' ratings differ by DIVERGENCE_POINTS or more, widest gap first."""
    out = []
    for a in spec.aspects:
        for f in a.factors:
            rated = [(name, ratings.get(f.id)) for name, ratings in named]
            values = [v for _, v in rated if v is not None]
            if len(values) >= 2 and max(values) - min(values) >= DIVERGENCE_POINTS:
                out.append(Divergence(f.id, a.id, f.statement, max(values) - min(values),
                                      tuple(RespondentRating(name, v) for name, v in rated)))
    out.sort(key=lambda d: -d.spread)
    return out


def agreement(named: Sequence[tuple[str, dict[str, int | None]]], spec: Spec) -> list[Agreement]:
    """Factors every respondent rated, all the same: common ground to build on."""
    out = []
    for a in spec.aspects:
        for f in a.factors:
            values = [ratings.get(f.id) for _, ratings in named]
            first = values[0] if values else None
            if len(values) >= 2 and first is not None and all(v == first for v in values):
                out.append(Agreement(f.id, a.id, f.statement, first))
    return out


def respondent_label(name: str, organisation: str, index: int) -> str:
    """How a respondent is named where partners are compared (never blank)."""
    label = name or f"Respondent {index + 1}"
    return f"{label} ({organisation})" if organisation and organisation not in label else label


def _mean(values: Iterable[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return sum(got) / len(got) if got else None


def consolidate(respondents: Sequence[Respondent], spec: Spec) -> list[CouncilSummary]:
    """One summary per council (sorted by name): its respondents, files and combined scores."""
    groups: dict[str, list[Respondent]] = {}
    for r in respondents:
        groups.setdefault(council_key(r.code, r.council), []).append(r)
    out = [_council(rs, spec) for rs in groups.values()]
    out.sort(key=lambda c: (c.council.casefold(), c.code))
    return out


def _council(rs: list[Respondent], spec: Spec) -> CouncilSummary:
    aspects = tuple(CouncilAspect(a.id, a.name, _mean(r.rooms[i] for r in rs),
                                  _mean(r.controllability[i] for r in rs), sum(r.rooms[i] is not None for r in rs))
                    for i, a in enumerate(spec.aspects))
    fits = {m.id: _mean(r.fits[k] for r in rs) for k, m in enumerate(spec.models)}
    rank = ranks(fits, [m.id for m in spec.models])
    last = len(spec.models) + 1
    models = tuple(CouncilModel(m.id, m.name, fits[m.id], rank[m.id], (rank[m.id] or last) <= SHORT_LIST)
                   for m in sorted(spec.models, key=lambda m: rank[m.id] or last))
    first = rs[0]
    named = [(respondent_label(r.respondent, r.organisation, i), r.ratings) for i, r in enumerate(rs)]
    return CouncilSummary(
        council=first.council, code=first.code,
        respondents=tuple(r.respondent for r in rs), organisations=tuple(r.organisation for r in rs),
        files=tuple(r.file for r in rs),
        combined=COMBINED.format(min=MIN_SCORED_ASPECTS, spec=spec.id, version=spec.version),
        aspects=aspects, overall_room_for_manoeuvre=overall([a.room_for_manoeuvre for a in aspects]),
        models=models,
        divergence=tuple(divergence(named, spec)) if len(rs) > 1 else (),
        agreement=tuple(agreement(named, spec)) if len(rs) > 1 else ())
