"""What a batch finds and makes, as typed records: one per file, one per council, and the batch as a whole.

These cross every module boundary of a batch (the workers fill them, the inbox sorts them, the outputs and
the summary read them), so they live here, below all of those, and import only the domain model and errors.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .errors import Issue, IssueCounts
from .model import ContainerKind, Source, Spec, Status


class Spool:
    """Each return's full scores in a temporary file, so a batch of thousands does not hold them all in memory."""

    def __init__(self) -> None:
        self._fh = tempfile.TemporaryFile()

    def put(self, data: dict) -> tuple[int, int]:
        raw = json.dumps(data, ensure_ascii=False).encode("utf-8")
        self._fh.seek(0, os.SEEK_END)
        at = self._fh.tell()
        self._fh.write(raw)
        return at, len(raw)

    def get(self, at: int, length: int) -> dict:
        self._fh.seek(at)
        return json.loads(self._fh.read(length).decode("utf-8"))

    def close(self) -> None:
        self._fh.close()


@dataclass(slots=True)
class FileRecord(IssueCounts):
    """One file found in the folder: a small record, cheap to send between processes and to keep."""

    file: str  # path relative to the folder, with "/" separators, fit to show (fileio.display_name)
    path: Path
    status: Status | None = None
    issues: list[Issue] = field(default_factory=list)
    reason: str = ""  # why it was skipped, or what else happened to it
    sha256: str = ""
    mtime_ns: int = 0
    council: str = ""
    code: str = ""  # ONS code: from the return, else matched on the register by name
    register_name: str = ""  # the council's name on the register, when matched
    respondent: str = ""
    organisation: str = ""
    date: str = ""  # the "Date completed" answer
    workbook_id: str = ""
    spec_version: str = ""
    migrated_from: str = ""
    read_by: str = ""
    file_format: str = ""
    completeness: float | None = None  # share (0-100) of factors rated
    payload: dict | None = None  # Scores.to_json(), only while on its way from a worker to the spool
    score_at: int = -1  # where the full scores sit in the batch's spool
    score_len: int = 0
    spool: Spool | None = None
    rooms: tuple[float | None, ...] = ()  # room for manoeuvre per aspect, in the current spec's order
    controllability: tuple[float | None, ...] = ()
    overall: float | None = None
    fits: tuple[float | None, ...] = ()  # fit per model, in the current spec's order
    current: bool = False  # read against the current form version
    ratings: dict[str, int | None] = field(default_factory=dict)
    controls: dict[str, str | None] = field(default_factory=dict)
    duplicate_of: str = ""
    superseded_by: str = ""
    decided_by: str = ""  # the rule that made superseded_by the later return
    supersedes: list[str] = field(default_factory=list)
    same_workbook_as: list[str] = field(default_factory=list)  # forwarded to another respondent
    staged_plan: str = ""
    plan: str = ""  # relative to OUT
    feedback: str = ""  # relative to OUT
    source: Source | None = None  # None for a plain file
    container: ContainerKind | None = None  # an email or archive found in the folder, until it is opened

    @property
    def score(self) -> dict | None:
        """What `scoa score --json` prints for this file, or None; kept on disk, not in memory, between uses."""
        if self.payload is not None:
            return self.payload
        if self.spool is None or self.score_len == 0:
            return None
        return self.spool.get(self.score_at, self.score_len)

    @property
    def scored(self) -> bool:
        return self.payload is not None or self.score_len > 0

    @property
    def readable(self) -> bool:
        """Its answers could be read (whatever their state)."""
        return bool(self.read_by)

    @property
    def live(self) -> bool:
        return self.status is not None and self.status.is_live

    @property
    def counted(self) -> bool:
        """Counted in the cross-council figures: a usable return on the current form, not a copy."""
        return self.status is not None and self.status.is_usable and self.current and self.scored

    @property
    def council_name(self) -> str:
        return self.register_name or self.council

    @property
    def relation(self) -> str:
        """The `Duplicate of / Superseded by` entry: who supersedes whom."""
        parts = []
        if self.duplicate_of:
            parts.append(f"Duplicate of {self.duplicate_of}")
        if self.superseded_by:
            parts.append(f"Superseded by {self.superseded_by}"
                         + (f" (later by {self.decided_by})" if self.decided_by else ""))
        if self.supersedes:
            parts.append("Supersedes " + ", ".join(self.supersedes))
        if self.same_workbook_as:
            parts.append("Same issued workbook as " + ", ".join(self.same_workbook_as) + " (another respondent)")
        return "; ".join(parts)

    def to_json(self) -> dict:
        """One entry of `files` in `scoa batch --json`."""
        return {"file": self.file, "status": self.status.value if self.status else None,
                "issues": [i.to_json() for i in self.issues], "score": self.score,
                "source": self.source.to_json() if self.source else None}


# ---------------------------------------------------------------------------------------------------
# One council, its respondents combined


@dataclass(frozen=True, slots=True)
class RespondentRating:
    respondent: str
    rating: int | None


@dataclass(frozen=True, slots=True)
class Divergence:
    """A factor that respondents rate far apart: a conversation worth having."""

    factor: str
    aspect: str
    statement: str
    spread: int
    ratings: tuple[RespondentRating, ...]

    def to_json(self) -> dict:
        return {"factor": self.factor, "aspect": self.aspect, "statement": self.statement, "spread": self.spread,
                "ratings": [{"respondent": r.respondent, "rating": r.rating} for r in self.ratings]}


@dataclass(frozen=True, slots=True)
class Agreement:
    """A factor every respondent rated the same: common ground."""

    factor: str
    aspect: str
    statement: str
    rating: int

    def to_json(self) -> dict:
        return {"factor": self.factor, "aspect": self.aspect, "statement": self.statement, "rating": self.rating}


@dataclass(frozen=True, slots=True)
class CouncilAspect:
    id: str
    name: str
    room_for_manoeuvre: float | None
    controllability: float | None
    respondents_scored: int

    def to_json(self) -> dict:
        return {"id": self.id, "name": self.name, "room_for_manoeuvre": self.room_for_manoeuvre,
                "controllability": self.controllability, "respondents_scored": self.respondents_scored}


@dataclass(frozen=True, slots=True)
class CouncilModel:
    id: str
    name: str
    fit: float | None
    rank: int | None
    short_list: bool

    def to_json(self) -> dict:
        return {"id": self.id, "name": self.name, "fit": self.fit, "rank": self.rank, "short_list": self.short_list}


@dataclass(frozen=True, slots=True)
class CouncilSummary:
    """One council's counted respondents and their combined figures (`councils[]` in `scoa batch --json`)."""

    council: str
    code: str
    respondents: tuple[str, ...]
    organisations: tuple[str, ...]
    files: tuple[str, ...]
    combined: str  # how the figures were combined, in words
    aspects: tuple[CouncilAspect, ...]
    overall_room_for_manoeuvre: float | None
    models: tuple[CouncilModel, ...]  # best first
    divergence: tuple[Divergence, ...] = ()
    agreement: tuple[Agreement, ...] = ()

    def to_json(self) -> dict:
        return {"council": self.council, "code": self.code, "respondents": list(self.respondents),
                "organisations": list(self.organisations), "files": list(self.files), "combined": self.combined,
                "aspects": [a.to_json() for a in self.aspects],
                "overall_room_for_manoeuvre": self.overall_room_for_manoeuvre,
                "models": [m.to_json() for m in self.models],
                "divergence": [d.to_json() for d in self.divergence],
                "agreement": [a.to_json() for a in self.agreement]}


# ---------------------------------------------------------------------------------------------------
# The batch


@dataclass(slots=True)
class BatchResult:
    folder: Path
    out: Path
    spec: Spec
    files: list[FileRecord]
    councils: list[CouncilSummary]
    started: dt.datetime
    seconds: float = 0.0
    register: Path | None = None
    previous: Path | None = None
    jobs: int = 1
    summary: Path | None = None
    spool: Spool | None = None
    notes: list[str] = field(default_factory=list)  # what the run did besides its outputs, one line each

    @property
    def plans_dir(self) -> Path:
        return self.out / "plans"

    @property
    def feedback_dir(self) -> Path:
        return self.out / "feedback"

    @property
    def drafts_dir(self) -> Path:
        return self.out / "drafts"

    def count(self, *statuses: Status) -> int:
        return sum(f.status in statuses for f in self.files)

    @property
    def failed(self) -> bool:
        """Exit status 1: some return must be fixed (an error) or could not be read."""
        return any(f.status is not None and f.status.is_failure for f in self.files)

    def to_json(self) -> dict:
        """The object `scoa batch --json` prints."""
        return {"files": [f.to_json() for f in self.files], "councils": [c.to_json() for c in self.councils]}

    def write_json(self, fh: IO[str]) -> None:
        """Write to_json() to a text stream one file at a time (the same object, without building it whole)."""
        def block(obj: Any, pad: str) -> str:
            # JSON strings never hold a raw newline, so re-indenting by lines is safe.
            return json_text(obj).replace("\n", "\n" + pad)

        fh.write('{\n  "files": [')
        for i, f in enumerate(self.files):
            fh.write(("," if i else "") + "\n    " + block(f.to_json(), "    "))
        fh.write('\n  ],\n  "councils": ' + block([c.to_json() for c in self.councils], "  ") + "\n}\n")


def json_text(obj: Any) -> str:
    """The one way JSON is printed: indented, UTF-8 kept readable, and always valid (a stray surrogate from a
    name that is not UTF-8 is escaped, never written raw)."""
    text = json.dumps(obj, ensure_ascii=False, indent=2, default=str)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(obj, ensure_ascii=True, indent=2, default=str)
    return text


def json_lines(items: list[Any]) -> str:
    """A JSON list with one item a line: the same value as json_text, written by the C encoder (indenting makes
    Python's json fall back to its slow pure-Python encoder), and as valid whatever the names hold."""
    try:
        rows = [json.dumps(i, ensure_ascii=False, default=str) for i in items]
        text = "[\n" + ",\n".join(rows) + "\n]" if rows else "[]"
        text.encode("utf-8")
    except UnicodeEncodeError:
        rows = [json.dumps(i, ensure_ascii=True, default=str) for i in items]
        text = "[\n" + ",\n".join(rows) + "\n]"
    return text
