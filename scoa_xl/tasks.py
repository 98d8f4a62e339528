"""What a batch's workers do: read one file into a small record, note who last year's return is from, and write
the plans of one council's returns. Each runs inside a worker process (workers.Pool) with the batch's spec.
"""

from __future__ import annotations

import datetime as dt
import io
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .check import CheckedReturn, check_return
from .errors import Issue
from .fileio import display_name
from .inbox import open_one
from .model import Identity, Spec, Status
from .outputs import FAULTS as OUTPUT_FAULTS
from .register import Register, council_key, respondent_key
from .results import FileRecord


@dataclass(frozen=True, slots=True)
class ReadTask:
    index: int
    path: str
    file: str


@dataclass(frozen=True, slots=True)
class OpenTask:
    index: int  # of the container in the batch's list of files
    record: FileRecord  # the email, mailbox or archive
    scratch: str  # where its spreadsheets are copied


@dataclass(frozen=True, slots=True)
class PeekTask:
    path: str


@dataclass(frozen=True, slots=True)
class PlanTask:
    members: tuple[tuple[int, str], ...]  # (index of the file in the batch, its path), one council's returns


@dataclass(frozen=True, slots=True)
class PlanDone:
    index: int
    staged: str  # the plan written into the staging folder, or ""
    reason: str = ""  # why there is no plan


@dataclass(slots=True)
class WorkerState:
    """What every worker of one batch shares: the spec, where to stage, last year's returns, the run's date, and
    the register councils are checked against (None: the bundled one)."""

    spec: Spec
    staging: str = ""
    previous: dict[str, str] = field(default_factory=dict)
    made_on: dt.date | None = None
    register: Register | None = None


def handle(task: Any, state: WorkerState) -> Any:
    """The worker's side of workers.Pool for a batch."""
    if isinstance(task, ReadTask):
        return read_one(task, state.spec, state.staging, state.register)
    if isinstance(task, OpenTask):
        return open_one(task.record, Path(task.scratch))
    if isinstance(task, PeekTask):
        return peek(task.path, state.spec)
    if isinstance(task, PlanTask):
        return plan_group(task, state)
    raise TypeError(f"not a batch task: {type(task).__name__}")


def failed_read(task: ReadTask, problem: Issue) -> FileRecord:
    return FileRecord(task.file, Path(task.path), Status.UNREADABLE, [problem])


def previous_key(ident: Identity) -> str:
    """Who a return is from, as last year's returns are matched to this year's (the one respondent rule)."""
    who = respondent_key(ident.council_code, ident.council, ident.respondent, ident.organisation)
    return "|".join(who or (council_key(ident.council_code, ident.council), "", ""))


def peek(path: str, spec: Spec) -> tuple[str, str, str] | None:
    """Who last year's return is from (for --previous): respondent key, date completed, path."""
    a = check_return(path, spec)
    if a.ret is None or a.status == Status.UNREADABLE:
        return None
    return previous_key(a.ret.identity), a.ret.identity.date, path


def read_one(task: ReadTask, spec: Spec, staging: str = "", register: Register | None = None) -> FileRecord:
    """Read, check and score one file into a small record (its plan is written later, by plan_group)."""
    a = check_return(task.path, spec, register=register)
    if staging and a.scores is not None:
        _hand_over(a, spec, Path(staging) / f"{task.index}.assessment")
    r = FileRecord(task.file, Path(task.path), a.status, list(a.issues), sha256=a.sha256, read_by=a.read_by,
                   spec_version=a.spec_version, migrated_from=a.migrated_from)
    if a.ret is None:
        return r
    ret = a.ret
    ident = ret.identity
    r.council, r.code, r.respondent = ident.council, ident.council_code, ident.respondent
    r.organisation, r.date, r.workbook_id, r.file_format = ident.organisation, ident.date, ret.workbook_id, \
        ret.file_format
    r.ratings = {fid: fa.rating for fid, fa in ret.factors.items()}
    r.controls = {fid: fa.control for fid, fa in ret.factors.items() if fa.control}
    total = len(ret.spec.factors)
    r.completeness = sum(v is not None for v in r.ratings.values()) / total * 100 if total else None
    if a.scores is None:
        return r
    r.payload = a.scores.to_json()
    r.current = ret.spec.id == spec.id and ret.spec.version == spec.version
    by_aspect = {x.id: x for x in a.scores.aspects}
    r.rooms = tuple(by_aspect[x.id].room_for_manoeuvre if x.id in by_aspect else None for x in spec.aspects)
    r.controllability = tuple(by_aspect[x.id].controllability if x.id in by_aspect else None for x in spec.aspects)
    r.overall = a.scores.overall_room_for_manoeuvre
    fits = {m.id: m.fit for m in a.scores.models}
    r.fits = tuple(fits.get(m.id) for m in spec.models)
    return r


def plan_tasks(results: list[FileRecord]) -> list[PlanTask]:
    """One task per plan to write, except that a council with several counted respondents is one task: each of
    its plans also shows where the partners differ and agree, so they are read together.

    Plans are written once every file has been read (and copies and resubmissions are known), by the same
    workers: writing each plan once and in parallel, rather than again in the main process for every council
    with partners, is what keeps a programme team's batch fast."""
    groups: dict[str, list[int]] = {}
    tasks: list[PlanTask] = []
    for i, r in enumerate(results):
        if not r.live or not r.scored:
            continue
        if r.counted:
            groups.setdefault(council_key(r.code, r.council_name), []).append(i)
        else:
            tasks.append(PlanTask(((i, str(r.path)),)))
    tasks.extend(PlanTask(tuple((i, str(results[i].path)) for i in members)) for members in groups.values())
    tasks.sort(key=lambda t: t.members[0][0])  # in the folder's order, as the files were read
    return tasks


def plan_group(task: PlanTask, state: WorkerState) -> list[PlanDone]:
    """Write the plans of one task's returns into the staging folder."""
    from .plan import write_plan

    spec, staging = state.spec, Path(state.staging)
    checked = []
    for index, path in task.members:
        a = _taken_over(staging / f"{index}.assessment", spec) or check_return(path, spec, register=state.register)
        a.file = a.file.with_name(display_name(a.file.name))  # the plan names its source: as text it can hold
        checked.append((index, a))
    done = []
    for index, a in checked:
        if a.ret is None or a.scores is None:
            done.append(PlanDone(index, "", "its plan could not be written (the file could not be read a second "
                                            "time)"))
            continue
        partners = [b for _, b in checked if b is not a] if len(checked) > 1 else None
        out = staging / f"{index}.xlsx"
        previous_path = state.previous.get(previous_key(a.ret.identity))
        try:
            prev = check_return(previous_path, spec, register=state.register) if previous_path else None
            write_plan(a, out, previous=prev if prev is not None and prev.ret is not None else None,
                       partners=partners, made_on=state.made_on)
            done.append(PlanDone(index, str(out)))
        except OSError as exc:
            if exc.errno in OUTPUT_FAULTS:  # the disk, not the return: the run as a whole cannot finish
                raise
            done.append(PlanDone(index, "", f"its plan could not be written ({type(exc).__name__}: "
                                            f"{str(exc)[:120]})"))
        except Exception as exc:  # a plan that cannot be written must not lose the return's status
            done.append(PlanDone(index, "", f"its plan could not be written ({type(exc).__name__}: "
                                            f"{str(exc)[:120]})"))
    return done


class _Pickler(pickle.Pickler):
    """Pickles a checked return without its spec (shared by every return of the batch): the spec is named, and
    put back on loading."""

    def __init__(self, fh: io.BytesIO, spec: Spec):
        super().__init__(fh, protocol=pickle.HIGHEST_PROTOCOL)
        self._spec = spec

    def persistent_id(self, obj: object) -> str | None:
        return "spec" if obj is self._spec else None


class _Unpickler(pickle.Unpickler):
    def __init__(self, fh: io.BytesIO, spec: Spec):
        super().__init__(fh)
        self._spec = spec

    def persistent_load(self, pid: object) -> Spec:
        if pid != "spec":
            raise pickle.UnpicklingError(f"unknown reference {pid!r}")
        return self._spec


def _hand_over(a: CheckedReturn, spec: Spec, where: Path) -> None:
    """Keep the first reading of a return on disk for its plan (reading it again cost ten times as long as this;
    kept on disk, not in memory, so a batch of thousands stays small). Best effort: without it the plan re-reads."""
    if a.ret is None or a.ret.spec is not spec:  # only a return read against the batch's own spec is kept
        return
    try:
        buf = io.BytesIO()
        _Pickler(buf, spec).dump(a)
        where.write_bytes(buf.getvalue())
    except Exception:  # a return that cannot be kept this way is simply read again
        where.unlink(missing_ok=True)


def _taken_over(where: Path, spec: Spec) -> CheckedReturn | None:
    """The first reading kept by _hand_over (this batch's own file in its private staging folder), or None."""
    try:
        a = _Unpickler(io.BytesIO(where.read_bytes()), spec).load()
        where.unlink()
    except Exception:  # missing or incomplete: read the return again instead
        return None
    return a if isinstance(a, CheckedReturn) else None
