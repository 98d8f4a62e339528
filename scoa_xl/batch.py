"""A folder of returns → a status for every file, a plan per readable return, a feedback letter per file and
the programme team's summary. `run_batch` ties the stages together; each stage has its own module:

    inbox.py    find every file, sort out what to read, spot copies and resubmissions
    workers.py  open each email and archive, read each file, write each plan (tasks.py): in worker
                processes, each with a time limit
    consolidate.py  combine each council's respondents
    outputs.py  place plans and letters;  summary.py  write summary.xlsx

One bad file never stops the rest. The input folder is only ever read; every output is written whole.
Progress is reported through a callback, so the library never writes to the terminal.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from .consolidate import Respondent, consolidate
from .errors import InputError, issue, worker_failed
from .fileio import is_inside, make_dir
from .inbox import classify, discover, expand, fingerprint, mark_duplicates, parse_date, resolve_copies, to_open
from .model import CONTROL_IDS, Spec, Status
from .outputs import (
    FEEDBACK,
    PLANS,
    SUMMARY,
    StagedRun,
    fault_point,
    output_error,
    place_outputs,
    recover,
    write_drafts,
    write_letters,
    write_manifest,
)
from .register import Council, Register
from .results import BatchResult, FileRecord, Spool
from .tasks import OpenTask, PeekTask, PlanDone, PlanTask, ReadTask, WorkerState, failed_read, handle, plan_tasks
from .validate import status_of
from .workers import DEFAULT_JOBS, TIME_LIMIT, Beside, Pool, TaskFailed

Progress = Callable[[str, int, int], None]  # (stage, done, total): "Opening emails and archives", "Reading returns",
# "Writing plans"
OPENED_PER_LIMIT = 50 * 1024 * 1024  # bytes of email an opening is allowed the time limit for (measured: 0.17 s a MB)


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


def check_folders(folder: Path, out: Path) -> None:
    """Refuse folders that would make a batch read its own outputs or write into its inputs."""
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; give the folder that holds the returns")
    if is_inside(out, folder):
        raise InputError(f"the output folder {out} is inside the folder of returns {folder}; choose an output "
                         "folder outside it, so the returns are never changed")
    for sub in (PLANS, FEEDBACK):
        if is_inside(folder, out / sub):
            raise InputError(f"the folder of returns {folder} is inside {out / sub}, which the batch writes to; "
                             "choose another output folder")


def run_batch(folder: Path, out: Path, spec: Spec, *, register: Path | None, jobs: int = DEFAULT_JOBS,
              progress: Progress | None = None, previous: Path | None = None,
              time_limit: float = TIME_LIMIT, drafts: bool = False) -> BatchResult:
    """Read every file of `folder`, write plans, feedback and summary.xlsx into `out` (and, with `drafts`, an
    unsent email per letter and a reminder per council on the register that has not returned); never stop on a
    file."""
    report = progress or _no_progress
    started = dt.datetime.now().replace(microsecond=0)
    clock = time.monotonic()
    folder, out = Path(folder), Path(out)
    check_folders(folder, out)
    if previous is not None and not Path(previous).is_dir():
        raise InputError(f"{previous} is not a folder; give the folder of last year's returns")
    reg = Register.load(register)

    try:
        make_dir(out)
        recovered = recover(out)
        run = StagedRun(out)
    except OSError as exc:
        raise output_error(exc, None, out) from None
    jobs = max(1, jobs)
    spool = Spool()
    try:
        results = discover(folder)
        for r in results:
            classify(r)
        prev_index = _index_previous(Path(previous), spec, jobs, time_limit, run.work / "previous") \
            if previous else {}
        from . import check, plan  # noqa: F401 - loaded once here, so every forked worker starts with them

        state = WorkerState(spec, str(run.work), prev_index, started.date(), reg)
        # As many workers as there are files to read, at most one a core; an email may hold any number of returns.
        candidates, containers = sum(r.status is None for r in results), to_open(results)
        pool = Pool(jobs if containers else min(jobs, candidates), handle, state) if candidates else None
        try:
            if pool is not None and containers:
                results = _open_containers(pool, results, containers, run.work / "attachments", time_limit, report)
            fingerprint(results)
            originals = mark_duplicates(results)
            tasks = [ReadTask(i, str(r.path), r.file) for i, r in enumerate(results) if r.status is None]
            if pool is not None and tasks:
                report("Reading returns", 0, len(tasks))
                for n, (task, res, failure) in enumerate(pool.run(tasks, time_limit), 1):
                    settled = _settle(results[task.index], task, res, failure, time_limit)
                    results[task.index] = _keep(settled, spool, spec)
                    report("Reading returns", n, len(tasks))
                    fault_point("reading")
            _resolve(results, originals, reg)
            if pool is not None and tasks:
                _write_plans(pool, results, time_limit, report)
        finally:
            if pool is not None:
                pool.close()
        respondents = [Respondent(r.council_name, r.code, r.respondent, r.organisation, r.file, r.rooms,
                                  r.controllability, r.fits, r.ratings) for r in results if r.counted]
        councils = consolidate(respondents, spec)
        written = place_outputs(results, run.dir)
        expected = reg.councils if register else ()
        # The letters (and drafts) are written on the other core while this one writes the summary.
        letters = Beside(_write_letters, results, run.dir, spec, reg, expected if drafts else None)
        try:
            result = BatchResult(folder, out, spec, results, councils, started, register=register,
                                 previous=previous, jobs=jobs, spool=spool)
            if recovered:
                result.notes.append(recovered)
            result.seconds = time.monotonic() - clock
            from .summary import write_summary

            write_summary(result, run.dir / SUMMARY, reg.councils if register else None)
            written |= letters.wait()
        finally:
            letters.close()
        written.add(SUMMARY)
        write_manifest(run.dir, written)
        fault_point("summary")
        run.commit()
        result.summary = out / SUMMARY
        return result
    except OSError as exc:
        spool.close()
        raise output_error(exc, run, out) from None
    except BaseException:
        spool.close()
        raise
    finally:
        run.discard()


def _write_letters(results: list[FileRecord], where: Path, spec: Spec, reg: Register,
                   expected: Sequence[Council] | None) -> set[str]:
    """Every feedback letter, and with `expected` (the councils a reminder may go to) the drafts; returns the
    drafts written."""
    write_letters(results, where, spec)
    return write_drafts(results, where, spec, reg, expected) if expected is not None else set()


def _open_containers(pool: Pool, results: list[FileRecord], where: list[int], scratch: Path, limit: float,
                     report: Progress) -> list[FileRecord]:
    """The emails, mailboxes and archives at `where` (inbox.to_open) opened by the workers, each in place of its
    attachments and members (as inbox.expand splices them): parsing a message costs as much as reading the return
    inside it, so it is shared between the cores, and one that hangs or crashes the parser is reported and the rest
    go on. A container's time limit grows with the largest (a mailbox is read a message at a time)."""
    largest = max(_size(results[i].path) for i in where)
    limit *= 1 + largest // OPENED_PER_LIMIT
    opened: dict[int, list[FileRecord]] = {}
    report("Opening emails and archives", 0, len(where))
    tasks = [OpenTask(i, results[i], str(scratch)) for i in where]
    for n, (task, res, failure) in enumerate(pool.run(tasks, limit), 1):
        assert isinstance(task, OpenTask)
        if isinstance(res, TaskFailed) and isinstance(res.error, OSError):
            raise res.error  # copying an attachment out: the disk filled or a folder refused, so the run fails
        if failure or not isinstance(res, list):
            r = results[task.index]
            error = res.name if isinstance(res, TaskFailed) else ""
            r.status, r.issues = Status.UNREADABLE, [*r.issues, worker_failed(failure or "crash", limit, error,
                                                                              what="container")]
            res = [r]
        opened[task.index] = res
        report("Opening emails and archives", n, len(where))
    return expand(results, opened)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _write_plans(pool: Pool, results: list[FileRecord], limit: float, report: Progress) -> None:
    """Run the plan tasks; a task that fails or overruns leaves its returns without a plan, saying why."""
    tasks = plan_tasks(results)
    if not tasks:
        return
    largest = max(len(t.members) for t in tasks)
    total, done = sum(len(t.members) for t in tasks), 0
    report("Writing plans", 0, total)
    # Each return of a task is read again and its plan written: allow for that, per return of the largest.
    for task, res, failure in pool.run(tasks, limit * (1 + largest)):
        assert isinstance(task, PlanTask)
        if isinstance(res, TaskFailed) and isinstance(res.error, OSError):
            raise res.error  # the disk filled or a folder refused: the whole run fails, nothing is placed
        if failure or res is None:
            why = "it took too long" if failure == "timeout" else "the program writing it stopped"
            res = [PlanDone(i, "", f"its plan could not be written ({why})") for i, _ in task.members]
        for d in res:
            staged = d.staged
            if failure == "timeout" and staged:
                Path(staged).unlink(missing_ok=True)
                staged = ""
            results[d.index].staged_plan = staged
            if d.reason:
                results[d.index].reason = d.reason
        done += len(task.members)
        report("Writing plans", done, total)
        fault_point("plans")


def _resolve(results: list[FileRecord], originals: dict[str, int], reg: Register) -> None:
    """Once every file is read: copies take their original's answers, councils are matched on the register,
    and resubmissions are found."""
    for r in results:
        if r.status == Status.DUPLICATE:
            _copy_from(r, results[originals[r.sha256]])
    for r in results:
        if r.status not in (Status.SKIPPED, Status.UNREADABLE):
            c = reg.match(r.code, r.council)
            if c is not None:
                r.code, r.register_name = r.code or c.code, c.name
    resolve_copies(results)


def _settle(r: FileRecord, task: ReadTask, res: object, failure: str, limit: float) -> FileRecord:
    """Fold a worker's answer (or its failure) into the file's record."""
    if failure == "timeout":
        if isinstance(res, FileRecord) and res.staged_plan:
            Path(res.staged_plan).unlink(missing_ok=True)
        res = FileRecord(r.file, r.path, Status.UNREADABLE, [worker_failed(failure, limit)])
    elif isinstance(res, TaskFailed):
        res = failed_read(task, worker_failed("error", limit, res.name))
    elif not isinstance(res, FileRecord):
        res = failed_read(task, worker_failed("crash", limit))
    res.path, res.file, res.sha256 = r.path, r.file, r.sha256 or res.sha256
    res.mtime_ns, res.source = r.mtime_ns, r.source
    if r.issues:  # found when its email or archive was opened (MAIL_009): kept before what reading it found
        res.issues = [*r.issues, *res.issues]
        if res.status in (Status.VALID, Status.QUERIES):
            res.status = status_of(res.issues)
    return res


def _keep(r: FileRecord, spool: Spool, spec: Spec) -> FileRecord:
    """Make a record small for keeping: full scores to the spool, ids and catalogue text shared, not copied."""
    if r.payload is not None:
        r.score_at, r.score_len = spool.put(r.payload)
        r.payload, r.spool = None, spool
    if r.ratings:
        r.ratings = {f.id: r.ratings.get(f.id) for f in spec.factors}
    if r.controls:
        ids = {c: c for c in CONTROL_IDS}
        r.controls = {f.id: ids.get(r.controls[f.id] or "", r.controls[f.id]) for f in spec.factors
                      if f.id in r.controls}
    r.issues = [issue(i.code, found=i.found, expected=i.expected, sheet=i.sheet, cell=i.cell) for i in r.issues]
    return r


_COPIED = ("issues", "council", "code", "respondent", "organisation", "date", "workbook_id", "spec_version",
           "migrated_from", "read_by", "file_format", "completeness", "score_at", "score_len", "spool", "rooms",
           "controllability", "overall", "fits", "ratings", "controls")


def _copy_from(r: FileRecord, original: FileRecord) -> None:
    """An identical copy says what its original says (it was not read again)."""
    for name in _COPIED:
        value = getattr(original, name)
        setattr(r, name, list(value) if isinstance(value, list) else value)
    r.current = False


def _index_previous(previous: Path, spec: Spec, jobs: int, limit: float, scratch: Path) -> dict[str, str]:
    """Last year's returns by council and respondent (the latest where there are several), those that came by
    email or in an archive included: their spreadsheets are copied into `scratch` (this run's own, kept until it
    ends), and last year's return is read from there when its plan is written."""
    found = discover(previous)
    for r in found:
        classify(r)
    containers = to_open(found)
    candidates = sum(r.status is None for r in found)
    if not candidates:
        return {}
    best: dict[str, tuple[dt.date | None, str]] = {}
    with Pool(jobs if containers else min(jobs, candidates), handle, WorkerState(spec)) as pool:
        if containers:
            found = _open_containers(pool, found, containers, scratch, limit, _no_progress)
        tasks = [PeekTask(str(r.path)) for r in found if r.status is None]
        for _task, res, failure in pool.run(tasks, limit):
            if failure or not isinstance(res, tuple):
                continue
            key, date, path = res
            when, held = parse_date(date), best.get(key)
            if held is None or (when is not None and (held[0] is None or when > held[0])):
                best[key] = (when, path)
    return {k: v[1] for k, v in best.items()}
