"""One file → a checked return: read, matched to its form version, validated and scored.

This is what `scoa check`, `scoa score`, the plan and the batch all call; it never raises for a
problem with the file itself, it reports it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import Code, Issue, IssueCounts, ReturnUnreadable, issue
from .fileio import display_name, file_sha256
from .layout import COVER
from .model import Return, Scores, Spec, Status
from .read import locate, peek_meta
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

    def check_json(self, name: str | None = None) -> dict:
        """The object `scoa check --json` prints for this file."""
        return {"file": display_name(name or self.file), "status": self.status.value,
                "issues": [i.to_json() for i in self.issues], "read_by": self.read_by or None}


# Where a commissioner can see the form version: the line under the cover's title (the stamp itself
# also sits on the hidden Lists sheet and in the document properties).
_STAMP = {"sheet": COVER, "cell": "A2"}


def resolve_spec(meta: dict[str, str], default: Spec) -> tuple[Spec | None, dict[str, str], list[Issue], str]:
    """The spec to read a return against, any factor renames, issues about its version, and the old version."""
    spec_id, version = meta.get("spec_id", ""), meta.get("spec_version", "")
    if not spec_id or not version:
        return None, {}, [issue(Code.SPEC_001, **_STAMP, found="no form version stamped in the workbook",
                                expected=f"form {default.id} version {default.version}")], ""
    if spec_id != default.id:
        return None, {}, [issue(Code.SPEC_002, **_STAMP, found=f'form "{spec_id}" version {version}',
                                expected=f'form "{default.id}" version {default.version}')], ""
    # Where the current spec says how to carry a version forward, do so even if that version's own spec is
    # still bundled: returns then all land on the current version and a summary never mixes the two.
    migrates = version != default.version and any(mg.from_version == version for mg in default.migrations)
    exact = None if migrates else find_spec(spec_id, version, default)
    if exact is not None:
        issues = []
        if meta.get("spec_fingerprint") and meta["spec_fingerprint"] != exact.fingerprint:
            issues.append(issue(Code.SPEC_004, **_STAMP, found=f"fingerprint {meta['spec_fingerprint']}",
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
            return default, dict(mg.renamed), [issue(Code.SPEC_003, **_STAMP, found=found,
                                                     expected=f"version {default.version}")], version
    return None, {}, [issue(Code.SPEC_002, **_STAMP, found=f"version {version}",
                            expected=f"version {default.version}"
                            + "".join(f" or {m.from_version}" for m in default.migrations))], ""


def check_return(path: Path | str, default: Spec) -> CheckedReturn:
    """Read, check and score one return; problems become issues, never exceptions."""
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
        ret, issues = validate(raw, issues)
    except ReturnUnreadable as exc:  # a sheet the reader could not lay out
        return CheckedReturn(path, Status.UNREADABLE, [exc.issue], sha256=digest)
    except Exception as exc:  # a damaged sheet deep inside: report it, never crash a batch
        return CheckedReturn(path, Status.UNREADABLE, [issue(Code.FILE_001, found=f"a workbook we could not read "
                                                           f"({type(exc).__name__})", expected="an .xlsx or .ods "
                                                           "workbook")], sha256=digest)
    if spec is None and len(raw.missing_factors) * 2 > len(read_spec.factors):
        # Not our form at all (or far from it): the version problem is the one thing worth saying.
        issues = [i for i in issues if i.code.value.startswith(("SPEC_", "FILE_"))]
    scores = score_return(ret) if spec is not None else None
    return CheckedReturn(path, status_of(issues), issues, ret, scores, digest, raw.read_by,
                      meta.get("spec_version", ""), old)


__all__ = ["CheckedReturn", "check_return", "resolve_spec"]
