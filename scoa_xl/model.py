"""The domain objects every stage passes along: the spec, a return, and its scores.

The bottom layer: it imports nothing of the package, and every rule about these objects that more than one
stage needs (which statuses are live, what makes a rating an inhibitor) is written here once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    QUERY = "query"


class Status(StrEnum):
    VALID = "valid"
    QUERIES = "queries"
    INVALID = "invalid"
    UNREADABLE = "unreadable"
    SKIPPED = "skipped"
    DUPLICATE = "duplicate"
    SUPERSEDED = "superseded"

    @property
    def is_live(self) -> bool:
        """A return whose answers stand (valid, with queries, or with errors): not a copy, an old or a broken file."""
        return self in _LIVE

    @property
    def is_usable(self) -> bool:
        """A live return with no errors: its figures can be counted."""
        return self in (Status.VALID, Status.QUERIES)

    @property
    def is_failure(self) -> bool:
        """A return that must be fixed (an error) or could not be read: exit status 1."""
        return self in (Status.INVALID, Status.UNREADABLE)


_LIVE = frozenset({Status.VALID, Status.QUERIES, Status.INVALID})


class ContainerKind(StrEnum):
    EML = "eml"
    MSG = "msg"
    MBOX = "mbox"
    ZIP = "zip"

    @property
    def what(self) -> str:
        return {"eml": "an email message", "msg": "an Outlook message", "mbox": "a mailbox",
                "zip": "a zip archive"}[self.value]


@dataclass(frozen=True, slots=True)
class Source:
    """Where an item came from: `files[].source` in `scoa batch --json`."""

    container: str  # the outermost file, as the caller names it
    kind: ContainerKind  # the outermost file's kind
    sender: str | None  # "Name <address>" of the nearest message holding the item
    sent: str | None  # its Date header as ISO 8601, timezone kept
    subject: str | None
    attachment: str | None  # the item's own name; None for the outermost file itself

    def to_json(self) -> dict[str, str | None]:
        return {"container": self.container, "kind": self.kind.value, "from": self.sender, "sent": self.sent,
                "subject": self.subject, "attachment": self.attachment}


class FieldKind(StrEnum):
    IDENTITY = "identity"
    RATING = "rating"
    IMPORTANCE = "importance"
    CONTROL = "control"
    BOOST = "boost"
    TEXT = "text"
    PRIORITY = "priority"
    COMPUTED = "computed"


CONTROL_IDS = ("in_control", "influenceable", "out_of_control", "needs_innovation")
CONTROLLABLE = ("in_control", "influenceable")
INHIBITING = (1, 2)  # ratings that hold a commissioner back
SUPPORTING = (4, 5)  # ratings that support them


def is_inhibitor(rating: int | None) -> bool:
    """A factor rated 1-2 holds the commissioner back (and takes a control category)."""
    return rating in INHIBITING


def is_supporter(rating: int | None) -> bool:
    """A factor rated 4-5 supports the commissioner (and takes a yes/no "could we boost it?")."""
    return rating in SUPPORTING


@dataclass(frozen=True, slots=True)
class Choice:
    """One entry of a dropdown: the label the user sees and the value it stands for."""

    label: str
    value: object
    approach: str = ""  # for control categories: how to tackle an inhibitor of this kind


@dataclass(frozen=True, slots=True)
class Factor:
    id: str
    aspect_id: str
    statement: str
    weight: int
    evidence: str


@dataclass(frozen=True, slots=True)
class TextPrompt:
    id: str
    label: str
    help: str


@dataclass(frozen=True, slots=True)
class Aspect:
    id: str
    name: str
    sheet: str
    covers: str
    factors: tuple[Factor, ...]


@dataclass(frozen=True, slots=True)
class Risk:
    risk: str
    mitigation: str


@dataclass(frozen=True, slots=True)
class CommissioningModel:
    id: str
    name: str
    focus: str
    profile: dict[str, int]
    risks: tuple[Risk, ...]


@dataclass(frozen=True, slots=True)
class Migration:
    """How a return made from an earlier version of the spec maps onto this one."""

    from_version: str
    renamed: dict[str, str] = field(default_factory=dict)  # old factor id -> new factor id
    retired: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Spec:
    id: str
    version: str
    title: str
    purpose: str
    rating: tuple[Choice, ...]
    importance: tuple[Choice, ...]
    control: tuple[Choice, ...]
    boost: tuple[Choice, ...]
    priority: tuple[Choice, ...]
    text_prompts: tuple[TextPrompt, ...]
    aspects: tuple[Aspect, ...]
    models: tuple[CommissioningModel, ...]
    readiness_share: float
    priority_share: float
    migrations: tuple[Migration, ...]
    fingerprint: str
    source: str
    # Every factor in the form's order, and each by its id: made once, as every return and plan asks for them.
    _factors: tuple[Factor, ...] = field(init=False, repr=False, compare=False)
    _by_id: dict[str, Factor] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        factors = tuple(f for a in self.aspects for f in a.factors)
        object.__setattr__(self, "_factors", factors)
        object.__setattr__(self, "_by_id", {f.id: f for f in factors})  # ids are unique: spec.py checks

    @property
    def factors(self) -> tuple[Factor, ...]:
        return self._factors

    def aspect(self, aspect_id: str) -> Aspect:
        return next(a for a in self.aspects if a.id == aspect_id)

    def factor(self, factor_id: str) -> Factor:
        return self._by_id[factor_id]

    def control_label(self, control_id: str) -> str:
        return next(c.label for c in self.control if c.value == control_id)


@dataclass(frozen=True, slots=True)
class Cell:
    """Where a value was read from, as a commissioner would look for it."""

    sheet: str
    ref: str  # A1 style, no $

    def __str__(self) -> str:
        return f"'{self.sheet}'!{self.ref}"


@dataclass(frozen=True, slots=True)
class Raw:
    """A value as found in the workbook, with its cell (cell is None when the field was not found).

    `formula` is the formula the cell holds, as typed ("=2+2"), when it holds one: `value` is then only
    what an application last computed from it (or None where the saving tool kept no result)."""

    value: object
    cell: Cell | None
    formula: str | None = None


@dataclass(frozen=True, slots=True)
class FactorAnswer:
    factor_id: str
    rating: int | None  # 1-5; None = unanswered or "don't know"
    importance: int | None  # 1-3 as chosen; None = spec default applies
    control: str | None  # one of CONTROL_IDS
    boost: bool | None
    evidence: str
    dont_know: bool = False
    carried: bool = False  # carried forward from last year, not yet confirmed

    @property
    def is_inhibitor(self) -> bool:
        return is_inhibitor(self.rating)

    @property
    def is_supporter(self) -> bool:
        return is_supporter(self.rating)


@dataclass(frozen=True, slots=True)
class Identity:
    council: str = ""
    council_code: str = ""
    respondent: str = ""
    organisation: str = ""
    role: str = ""
    date: str = ""


@dataclass(frozen=True, slots=True)
class Return:
    """A completed workbook, cleaned and typed, with the spec it was read against."""

    spec: Spec
    identity: Identity
    factors: dict[str, FactorAnswer]
    texts: dict[str, dict[str, str]]  # aspect id -> prompt id -> text
    priorities: dict[str, int | None]  # model id -> 1-5
    spec_id: str
    spec_version: str
    fingerprint: str
    workbook_id: str
    read_by: str  # "defined names" or "factor ids in the rows"
    file_format: str  # xlsx / ods / xls


@dataclass(frozen=True, slots=True)
class AspectScore:
    id: str
    name: str
    room_for_manoeuvre: float | None
    controllability: float | None
    answered: int
    factors: int
    inhibitors: tuple[str, ...]
    supporters: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ModelFit:
    id: str
    name: str
    readiness: float | None
    priority_fit: float | None
    fit: float | None
    rank: int | None
    sensitive: bool
    reasons: tuple[str, ...]
    carried_by: tuple[str, ...]
    held_back_by: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Scores:
    council: str
    spec_id: str
    spec_version: str
    aspects: tuple[AspectScore, ...]
    overall_room_for_manoeuvre: float | None
    models: tuple[ModelFit, ...]
    factor_scores: dict[str, float | None]

    def aspect(self, aspect_id: str) -> AspectScore:
        return next(a for a in self.aspects if a.id == aspect_id)

    def to_json(self) -> dict:
        """The object `scoa score --json` prints."""
        return {
            "council": self.council,
            "spec": {"id": self.spec_id, "version": self.spec_version},
            "aspects": [
                {
                    "id": a.id,
                    "name": a.name,
                    "room_for_manoeuvre": a.room_for_manoeuvre,
                    "controllability": a.controllability,
                    "answered": a.answered,
                    "factors": a.factors,
                }
                for a in self.aspects
            ],
            "overall_room_for_manoeuvre": self.overall_room_for_manoeuvre,
            "models": [
                {
                    "id": m.id,
                    "name": m.name,
                    "readiness": m.readiness,
                    "priority_fit": m.priority_fit,
                    "fit": m.fit,
                    "rank": m.rank,
                    "sensitive": m.sensitive,
                    "reasons": list(m.reasons),
                }
                for m in self.models
            ],
        }
