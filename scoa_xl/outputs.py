"""A batch's results → the files it leaves in OUT: each plan under its council's name, a feedback letter per
file, and the manifest of what the run wrote (so the next run into the same folder can tidy up after it).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .errors import Code, Issue
from .fileio import safe_filename, write_atomic
from .model import Spec
from .render import render
from .results import FileRecord

MANIFEST = ".scoa-batch-manifest.json"
PLANS, FEEDBACK = "plans", "feedback"


def place_outputs(results: list[FileRecord], out: Path, spec: Spec) -> set[str]:
    """Move each staged plan to its final name and write every feedback letter; return what was written."""
    plans_dir, feedback_dir = out / PLANS, out / FEEDBACK
    plans_dir.mkdir(parents=True, exist_ok=True)
    feedback_dir.mkdir(parents=True, exist_ok=True)
    used_plans: set[str] = set()
    used_letters: set[str] = set()
    written: set[str] = set()
    for r in results:
        who = " - ".join(x for x in (r.council_name, r.respondent) if x)
        if r.staged_plan:
            if r.live:
                name = safe_filename(who or Path(r.file).stem, used_plans) + ".xlsx"
                target = plans_dir / name
                if target.resolve().parent == plans_dir.resolve():
                    os.replace(r.staged_plan, target)
                    r.plan = f"{PLANS}/{name}"
                    written.add(r.plan)
            Path(r.staged_plan).unlink(missing_ok=True)
            r.staged_plan = ""
        # A live return's letter is named after who sent it; a copy, an old or a broken file after the file.
        base = who if r.live and who else r.file.replace("/", " - ")
        name = safe_filename(base, used_letters, fallback="file") + ".txt"
        target = feedback_dir / name
        if target.resolve().parent != feedback_dir.resolve():
            continue
        r.feedback = f"{FEEDBACK}/{name}"
        write_atomic(target, render("feedback.txt.j2", **feedback_context(r, spec)))
        written.add(r.feedback)
    return written


def feedback_context(r: FileRecord, spec: Spec) -> dict[str, Any]:
    """What the feedback letter template needs for one file."""
    def item(i: Issue) -> dict:
        return {"where": i.location or "the whole file", "title": i.title, "found": i.found, "expected": i.expected,
                "fix": i.fix, "code": i.code.value}



    return {
        "file": r.file, "status": r.status.value if r.status else "", "council": r.council_name,
        "respondent": r.respondent, "reason": r.reason,
        "errors": [item(i) for i in r.issues if i.severity.value == "error"],
        "queries": [item(i) for i in r.issues if i.severity.value == "query"],
        "duplicate_of": r.duplicate_of, "superseded_by": r.superseded_by, "supersedes": r.supersedes,
        "decided_by": r.decided_by,
        "plan": Path(r.plan).name if r.plan else "", "counted": r.counted, "current": r.current,
        "spec": spec, "spec_version": r.spec_version, "completeness": r.completeness,
        "overall": r.overall,
        "new_form": any(i.code in (Code.SPEC_001, Code.SPEC_002) for i in r.issues),
    }


def tidy(out: Path, written: set[str]) -> None:
    """Remove plans and letters that an earlier run into the same folder wrote and this run did not."""
    manifest = out / MANIFEST
    try:
        before = set(json.loads(manifest.read_text(encoding="utf-8")).get("written", []))
    except (OSError, ValueError, AttributeError):
        before = set()
    for rel in sorted(before - written):
        parts = Path(rel).parts
        if len(parts) == 2 and parts[0] in (PLANS, FEEDBACK) and ".." not in parts:
            (out / rel).unlink(missing_ok=True)
    write_atomic(manifest, json.dumps({"written": sorted(written)}, indent=1))
