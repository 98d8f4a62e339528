"""One file → a checked return: read, matched to its form version, validated and scored.

This is what `scoa check`, `scoa score`, the plan and the batch all call; it never raises for a
problem with the file itself, it reports it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .containers import iter_container, sniff_container, write_temporary
from .errors import Code, Issue, IssueCounts, ReturnUnreadable, issue, worker_failed
from .fileio import display_name, file_sha256
from .layout import COVER
from .model import Cell, Return, Scores, Severity, Spec, Status
from .preflight import SPREADSHEET_EXTS
from .read import locate, peek_meta
from .register import Register
from .score import score_return
from .spec import find_spec
from .validate import status_of, validate


@dataclass(slots=True)
class CheckedReturn(IssueCounts):
    """One file, checked: its status and issues, and its answers and scores where it could be read."""

    file: Path
    status: Status
    issues: list[Issue] = field(default_factory=list)
    ret: Return | None = None
    scores: Scores | None = None
    sha256: str = ""
    read_by: str = ""
    spec_version: str = ""
    migrated_from: str = ""

    def check_json(self, name: str | os.PathLike[str] | None = None) -> dict:
        """The object `scoa check --json` prints for this file."""
        return {"file": display_name(name or self.file), "status": self.status.value,
                "issues": [i.to_json() for i in self.issues], "read_by": self.read_by or None}


# Where a commissioner can see the form version: the line under the cover's title (the stamp itself
# also sits on the hidden Lists sheet and in the document properties).
_STAMP = Cell(COVER, "A2")


def _version_key(version: str) -> tuple[int, ...] | None:
    parts = version.strip().lstrip("vV").split(".")
    return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else None


def _newer(version: str, known: str) -> bool:
    """Whether a form version is later than the one this copy of scoa knows ("1.10" is later than "1.9")."""
    a, b = _version_key(version), _version_key(known)
    return a is not None and b is not None and a > b


def resolve_spec(meta: dict[str, str], default: Spec) -> tuple[Spec | None, dict[str, str], list[Issue], str]:
    """The spec to read a return against, any factor renames, issues about its version, and the old version."""
    spec_id, version = meta.get("spec_id", ""), meta.get("spec_version", "")
    if not spec_id or not version:
        return None, {}, [issue(Code.SPEC_001, _STAMP, found="no form version stamped in the workbook",
                                expected=f"form {default.id} version {default.version}")], ""
    if spec_id != default.id:
        return None, {}, [issue(Code.SPEC_002, _STAMP, found=f'form "{spec_id}" version {version}',
                                expected=f'form "{default.id}" version {default.version}')], ""
    # Where the current spec says how to carry a version forward, do so even if that version's own spec is
    # still bundled: returns then all land on the current version and a summary never mixes the two.
    migrates = version != default.version and any(mg.from_version == version for mg in default.migrations)
    exact = None if migrates else find_spec(spec_id, version, default)
    if exact is not None:
        issues = []
        if meta.get("spec_fingerprint") and meta["spec_fingerprint"] != exact.fingerprint:
            issues.append(issue(Code.SPEC_004, _STAMP, found=f"fingerprint {meta['spec_fingerprint']}",
                                expected=f"fingerprint {exact.fingerprint} for version {version}"))
        return exact, {}, issues, ""
    for mg in default.migrations:
        if mg.from_version == version:
            detail = []
            if mg.renamed:
                detail.append("renamed: " + ", ".join(f"{a} to {b}" for a, b in mg.renamed.items()))
            if mg.retired:
                detail.append("retired: " + ", ".join(mg.retired))
            found = f"version {version}" + (f" ({'; '.join(detail)})" if detail else "")
            return default, dict(mg.renamed), [issue(Code.SPEC_003, _STAMP, found=found,
                                                     expected=f"version {default.version}")], version
    if _newer(version, default.version):
        return None, {}, [issue(Code.SPEC_005, _STAMP, found=f"version {version}",
                                expected=f"version {default.version}, the newest this copy of scoa knows")], ""
    return None, {}, [issue(Code.SPEC_002, _STAMP, found=f"version {version}",
                            expected=f"version {default.version}"
                            + "".join(f" or {m.from_version}" for m in default.migrations))], ""


def check_return(path: Path | str, default: Spec, *, score: bool = True,
                 register: Register | None = None) -> CheckedReturn:
    """Read, check and (unless `score` is False) score one return; problems become issues, never exceptions.
    Its council is looked up on `register` (default: the bundled one)."""
    path = Path(path)
    try:
        meta, sniffed, data, grid, names = peek_meta(path)
    except ReturnUnreadable as exc:
        return CheckedReturn(path, Status.UNREADABLE, [exc.issue], sha256=file_sha256(path))
    digest = hashlib.sha256(data).hexdigest()
    spec, renamed, issues, old = resolve_spec(meta, default)
    if sniffed.macros:
        issues.append(issue(Code.FILE_004, found="a macro-enabled workbook", expected="an ordinary .xlsx workbook"))
    if sniffed.kind == "xls":
        issues.append(issue(Code.FILE_007, found="an .xls workbook", expected="an .xlsx workbook"))
    read_spec = spec or default
    try:
        raw = locate(path, grid, names, meta, read_spec, sniffed, renamed)
        ret, issues = validate(raw, issues, register)
    except ReturnUnreadable as exc:  # a sheet the reader could not lay out
        return CheckedReturn(path, Status.UNREADABLE, [exc.issue], sha256=digest)
    except Exception as exc:  # a damaged sheet deep inside: report it, never crash a batch
        return CheckedReturn(path, Status.UNREADABLE, [issue(Code.FILE_001, found=f"a workbook we could not read "
                                                           f"({type(exc).__name__})", expected="an .xlsx or .ods "
                                                           "workbook")], sha256=digest)
    if spec is None and len(raw.missing_factors) * 2 > len(read_spec.factors):
        # Not our form at all (or far from it): the version problem is the one thing worth saying.
        issues = [i for i in issues if i.code.value.startswith(("SPEC_", "FILE_"))]
    scores = score_return(ret) if spec is not None and score else None
    return CheckedReturn(path, status_of(issues), issues, ret, scores, digest, raw.read_by,
                      meta.get("spec_version", ""), old)


PARALLEL_FROM = 40  # fewer files are checked sooner in one process than workers can be started and fed


def check_paths(paths: Iterable[Path], default: Spec, jobs: int | None = 1, time_limit: float | None = None,
                register: Register | None = None) -> Iterator[tuple[str, CheckedReturn]]:
    """(name, checked return) for each path, in order, as `scoa check` shows them: a plain file as itself, an
    email, a mailbox or an archive as each spreadsheet attached to it ("Inbox.mbox > Leeds.xlsx"), plus anything
    inside that could not be opened. Only what a check reports is kept, so thousands of returns stay small.

    With `jobs` above 1 (None: one per core) and enough paths to repay starting them, files are checked in that
    many worker processes, each within `time_limit` seconds (a file that hangs or crashes its reader is reported
    as unreadable, and the rest go on). Councils are looked up on `register` (default: the bundled one)."""
    paths = [Path(p) for p in paths]
    if jobs == 1 or len(paths) < PARALLEL_FROM:
        for path in paths:
            yield from _check_one(path, default, register)
        return
    from .workers import DEFAULT_JOBS, TIME_LIMIT, Pool  # imported only when used: start-up stays small

    jobs, limit = jobs or DEFAULT_JOBS, TIME_LIMIT if time_limit is None else time_limit
    done: dict[int, list[tuple[str, CheckedReturn]]] = {}
    at = 0
    with Pool(min(jobs, len(paths)), _check_task, (default, register)) as pool:
        for (k, path), res, failure in pool.run(enumerate(paths), limit):
            if failure:
                error = res.name if failure == "error" else ""
                res = [(display_name(path), CheckedReturn(path, Status.UNREADABLE,
                                                          [worker_failed(failure, limit, error)]))]
            done[k] = res
            while at in done:  # in the order given, as soon as each is ready
                yield from done.pop(at)
                at += 1


def _check_task(task: tuple[int, Path], state: tuple[Spec, Register | None]) -> list[tuple[str, CheckedReturn]]:
    return list(_check_one(task[1], *state))


def _check_one(path: Path, default: Spec, register: Register | None = None) -> Iterator[tuple[str, CheckedReturn]]:
    try:
        kind = None if path.suffix.lower() in SPREADSHEET_EXTS else sniff_container(path)
    except OSError:
        kind = None
    if kind is None:
        yield display_name(path), _small(check_return(path, default, score=False, register=register))
        return
    with tempfile.TemporaryDirectory(prefix="scoa-check-") as scratch:
        for item in iter_container(path, display_name(path), kind):
            if item.is_spreadsheet:
                copy = write_temporary(item, Path(scratch))
                checked = _small(check_return(copy, default, score=False, register=register))
                if item.issue is not None:  # damaged on its way (MAIL_009): said before what reading found
                    checked.issues.insert(0, item.issue)
                    if checked.status in (Status.VALID, Status.QUERIES):
                        checked.status = status_of(checked.issues)
                yield item.name, checked
                copy.unlink()
            elif item.issue is not None and item.issue.severity == Severity.ERROR:
                yield item.name, CheckedReturn(path, Status.UNREADABLE, [item.issue])


def _small(a: CheckedReturn) -> CheckedReturn:
    return CheckedReturn(a.file, a.status, a.issues, read_by=a.read_by)


__all__ = ["CheckedReturn", "check_paths", "check_return", "resolve_spec"]
