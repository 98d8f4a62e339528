"""The `scoa` command: a thin layer over the library. Parse options, call, print, exit.

The only module that knows about the terminal (click, progress bars, exit codes). Exit codes: 0 fine (queries
allowed), 1 a return or input has errors, 2 a usage error. A library error (ScoaError) or a problem with a file
(OSError) prints one line; anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import datetime as dt
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .errors import ScoaError

if TYPE_CHECKING:
    from .results import BatchResult

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Stopped(BaseException):
    """A termination signal (SIGTERM, SIGHUP), raised in the main process so a run cleans up as after Ctrl-C."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _stop_on(signum: int, frame: object) -> None:
    raise Stopped(signum)


STOPPED = ("Stopped before the end: nothing this command had not finished was put in place, and earlier "
           "outputs are as they were.")


class ScoaGroup(click.Group):
    def invoke(self, ctx: click.Context):
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _stop_on)
        try:
            return super().invoke(ctx)
        except BrokenPipeError:  # output piped into `head` and the like: stop quietly
            sys.stderr.close()
            ctx.exit(0)
        except KeyboardInterrupt:
            click.echo(f"\n{STOPPED}", err=True)
            ctx.exit(130)
        except Stopped as exc:
            click.echo(f"\n{STOPPED}", err=True)
            ctx.exit(128 + exc.signum)
        except (ScoaError, OSError) as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"Error: {_said(exc)}", err=True)
            ctx.exit(1)


def _said(exc: Exception) -> str:
    """A library error as one line; an OSError with the path it is about and what happened, in words."""
    if isinstance(exc, OSError) and not isinstance(exc, ScoaError):
        from .fileio import display_name
        from .outputs import FAULTS

        what = FAULTS.get(exc.errno or 0) or exc.strerror or str(exc)
        return f"{display_name(exc.filename)}: {what}" if exc.filename else what
    return str(exc)


@click.group(cls=ScoaGroup, context_settings=CONTEXT)
@click.option("--debug", is_flag=True, help="Show full tracebacks (for reporting a bug).")
@click.version_option(package_name="scoa_xl", prog_name="scoa")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Strategic Commissioning Options Appraisal: generate the self-assessment workbook, check and
    score returns, write each council's development plan, and summarise a folder of returns.

    \b
    Example:
      scoa generate -o blank.xlsx
      scoa check returns/*.xlsx
      scoa demo demo-out
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


spec_option = click.option("--spec", "spec_path", type=click.Path(dir_okay=False, path_type=Path),
                           help="Spec file (default: the bundled workbook_specs/scoa.yaml).")

# The default is workers.TIME_LIMIT, written out so start-up does not import the worker pool.
time_limit_option = click.option("--time-limit", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
                                 help="Seconds allowed to read one file before it is reported as taking too long "
                                      "(an email, mailbox or archive: to open it, and more for every 50 MB).")


def _spec(path: Path | None):
    from .spec import load_spec
    return load_spec(path)


def _emit_json(data: object) -> None:
    from .results import json_text

    click.echo(json_text(data))


class _ProgressBars:
    """The library's progress callback as click progress bars on stderr (so --json on stdout stays clean)."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._stage = ""
        self._done = 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self._stage:
            self.close()
            self._stage, self._done = stage, 0
            self._bar = click.progressbar(length=total, label=stage, file=sys.stderr)
            self._bar.__enter__()
        if done > self._done:
            self._bar.update(done - self._done)
            self._done = done

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


@main.command(context_settings=CONTEXT)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Workbook to write (one council).")
@click.option("--council", default="", help="Council name, as on the register.")
@click.option("--council-code", default="", help="Council's ONS code (looked up from the register if omitted).")
@click.option("--respondent", default="", help="Who is answering (a person or group).")
@click.option("--organisation", default="", help="The respondent's organisation (council, NHS, provider...).")
@click.option("--role", default="", help="The respondent's role.")
@click.option("--date", "on", type=click.DateTime(["%Y-%m-%d"]), help="Date stamped as generated (default today).")
@click.option("--register", "register_csv", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A register of councils (CSV with name, code, region): one workbook per council, into --out-dir. "
                   "An alternative to -o.")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the workbooks made from --register, with an issue-log.csv.")
@click.option("--drafts", is_flag=True,
              help="With --register: also write OUT-DIR/drafts/, one unsent email (.eml) per council with its "
                   "workbook attached, to the register's email column. Nothing is ever sent: open each draft "
                   "(desktop Outlook opens it as a draft), review it and send it yourself.")
@click.option("--prefill", "last_year", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Last year's return: carry every answer forward, marked for confirmation.")
@click.option("--from-returns", "from_returns", is_flag=True,
              help="Make an agreed return from the RETURNS given: prefilled where respondents agree, flagged "
                   "where they differ.")
@click.argument("returns", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@spec_option
def generate(output: Path | None, council: str, council_code: str, respondent: str, organisation: str, role: str,
             on: dt.datetime | None, register_csv: Path | None, out_dir: Path | None, last_year: Path | None,
             from_returns: bool, returns: tuple[Path, ...], spec_path: Path | None, drafts: bool) -> None:
    """Write the self-assessment workbook, blank or personalised, or one per council on a register.

    \b
    Example:
      scoa generate -o scoa.xlsx
      scoa generate -o leeds.xlsx --council Leeds --respondent "Jo Bloggs" --organisation "Leeds City Council"
      scoa generate --register data/example-register.csv --out-dir issued/
      scoa generate --register councils.csv --out-dir issued/ --drafts
      scoa generate --prefill leeds-2025.xlsx -o leeds-2026.xlsx
      scoa generate --from-returns council.xlsx nhs.xlsx -o leeds-agreed.xlsx
    """
    from .generate import generate as write
    from .model import Identity
    from .register import find_council

    if register_csv is not None or out_dir is not None:
        if output is not None:
            raise click.UsageError("-o and --register are alternatives: give -o FILE for one workbook, or "
                                   "--register CSV --out-dir DIR for one per council")
        if register_csv is None or out_dir is None:
            raise click.UsageError("--register CSV and --out-dir DIR go together")
        if council or council_code:
            raise click.UsageError("--council and --council-code come from the register when --register is given")
        from .issuing import issue_workbooks

        spec = _spec(spec_path)
        issued = issue_workbooks(spec, register_csv, out_dir, day=on.date() if on else None, respondent=respondent,
                                 organisation=organisation, role=role, drafts=drafts)
        click.echo(f"Wrote {len(issued)} workbooks (form {spec.id} version {spec.version}) to {out_dir}, "
                   f"and the list of who got which in {out_dir / 'issue-log.csv'}")
        if drafts:
            click.echo(f"Drafts to review and send: {out_dir / 'drafts'}/ ({len(issued)}; nothing has been sent)")
        return
    if drafts:
        raise click.UsageError("--drafts goes with --register CSV --out-dir DIR")
    if returns and not from_returns:
        raise click.UsageError("return files are only taken with --from-returns")
    if output is None:
        raise click.UsageError("say where to write the workbook with -o FILE (or use --register CSV --out-dir DIR)")
    if from_returns or last_year is not None:
        from .prefill import agreed_return, next_year

        if from_returns and last_year is not None:
            raise click.UsageError("--prefill and --from-returns are alternatives")
        spec = _spec(spec_path)
        day = on.date() if on else None
        if from_returns:
            path, assessed = agreed_return(returns, spec, output, day)
            click.echo(f"Wrote {path}: an agreed return from {len(assessed)} respondents; where they differ the "
                       "rating is left blank and marked in the \"To confirm\" column")
        else:
            ident = Identity(council=council, council_code=council_code, respondent=respondent,
                             organisation=organisation, role=role)
            assert last_year is not None  # --prefill, the other way here
            path, _ = next_year(last_year, spec, output, ident, day)
            click.echo(f"Wrote {path} (form {spec.id} version {spec.version}), prefilled from {last_year}; each "
                       "carried answer is marked for confirmation")
        return
    spec = _spec(spec_path)
    if council and not council_code:
        match = find_council(council)
        council_code = match.code if match else ""
    identity = Identity(council=council, council_code=council_code, respondent=respondent,
                        organisation=organisation, role=role)
    path = write(spec, output, identity, generated_at=on.date() if on else None)
    click.echo(f"Wrote {path} (form {spec.id} version {spec.version})")


@main.command(context_settings=CONTEXT)
@click.argument("workbook", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the dictionary as JSON.")
@spec_option
def fields(workbook: Path | None, as_json: bool, spec_path: Path | None) -> None:
    """List every named input and computed cell: the workbook's data dictionary.

    Without WORKBOOK, lists the cells of a workbook generated from the spec.

    \b
    Example:
      scoa fields scoa.xlsx --json > fields.json
    """
    from .errors import ReturnUnreadable
    from .fields import spec_fields, workbook_fields

    spec = _spec(spec_path)
    try:
        rows = workbook_fields(workbook, spec) if workbook else spec_fields(spec)
    except ReturnUnreadable as exc:
        click.echo(f"Error: {workbook}: {exc.issue.message}", err=True)
        sys.exit(1)
    if as_json:
        _emit_json(rows)
        return
    click.echo(f"{'Name':34} {'Cell':32} {'Kind':10} Label")
    for r in rows:
        where = f"'{r['sheet']}'!{r['cell']}"
        click.echo(f"{r['name']:34} {where:32} {r['kind']:10} {r['label'][:70]}")


@main.command(context_settings=CONTEXT)
@click.argument("returns", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("--jobs", type=click.IntRange(1, 64), default=None,
              help="Worker processes checking the returns when there are many (default: one per core, at most 4).")
@click.option("--register", "register_csv", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A register of councils (CSV with name, code, region) to check each return's council against, "
                   "instead of the bundled register.")
@time_limit_option
@spec_option
def check(returns: tuple[Path, ...], as_json: bool, jobs: int | None, register_csv: Path | None, time_limit: float,
          spec_path: Path | None) -> None:
    """Validate returns: every error (must fix) and query (fix or explain), at its cell.

    Exit status 0 when no return has an error, 1 otherwise.

    \b
    Example:
      scoa check returns/*.xlsx
      scoa check leeds.xlsx --json
    """
    from .check import check_paths
    from .register import Register

    spec = _spec(spec_path)
    register = Register.load(register_csv) if register_csv is not None else None
    results = list(check_paths(returns, spec, jobs=jobs, time_limit=time_limit, register=register))
    if as_json:
        from .results import json_lines

        click.echo(json_lines([a.check_json(name) for name, a in results]))
    else:
        for name, a in results:
            how = f", read by {a.read_by}" if a.read_by else ""
            click.echo(f"{name}: {a.status.value} ({a.errors} errors, {a.queries} queries{how})")
        rows = [(name, i.location, i.severity.value, i.code.value, i.message) for name, a in results for i in a.issues]
        if rows:
            click.echo("")
            click.echo(" | ".join(("File", "Sheet!Cell", "Severity", "Code", "Message")))
            for row in rows:
                click.echo(" | ".join(row))
    sys.exit(1 if any(a.status.is_failure for _, a in results) else 0)


@main.command(context_settings=CONTEXT)
@click.option("--markdown", is_flag=True, help="Print the catalogue as a Markdown table (docs/issue-codes.md).")
def codes(markdown: bool) -> None:
    """List every issue code a check can report: its severity, what it means and what to do.

    \b
    Example:
      scoa codes
      scoa codes --markdown > docs/issue-codes.md
    """
    from .errors import CATALOGUE, catalogue_markdown

    if markdown:
        click.echo(catalogue_markdown(), nl=False)
        return
    for code, entry in CATALOGUE.items():
        click.echo(f"{code.value:10} {entry.severity.value:6} {entry.title}")
        click.echo(f"{'':17} {entry.fix}")


@main.command(context_settings=CONTEXT)
@click.argument("return_file", metavar="RETURN", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON (numbers unrounded).")
@spec_option
def score(return_file: Path, as_json: bool, spec_path: Path | None) -> None:
    """Score a return: room for manoeuvre per aspect and overall, controllability, model fit.

    \b
    Example:
      scoa score leeds.xlsx
      scoa score leeds.xlsx --json
    """
    from .check import check_return

    spec = _spec(spec_path)
    a = check_return(return_file, spec)
    if a.scores is None:
        for i in a.issues:
            if i.severity.value == "error":
                click.echo(f"Error: {return_file}: {i.location} {i.code.value}: {i.message}", err=True)
        sys.exit(1)
    if as_json:
        _emit_json(a.scores.to_json())
        return
    s = a.scores
    from .figures import shown as fmt
    click.echo(f"{s.council or '(no council named)'} - form {s.spec_id} {s.spec_version}")
    click.echo(f"{'Aspect':38} {'Room':>6} {'Control%':>9} Answered")
    for asp in s.aspects:
        click.echo(f"{asp.name:38} {fmt(asp.room_for_manoeuvre):>6} {fmt(asp.controllability):>9} "
                   f"{asp.answered}/{asp.factors}")
    click.echo(f"{'Overall room for manoeuvre':38} {fmt(s.overall_room_for_manoeuvre):>6}")
    click.echo("")
    click.echo(f"{'Rank':>4} {'Model':48} {'Ready':>6} {'Prio':>6} {'Fit':>6}")
    for m in s.models:
        flag = "  (sensitive)" if m.sensitive else ""
        click.echo(f"{m.rank or '-':>4} {m.name:48} {fmt(m.readiness):>6} {fmt(m.priority_fit):>6} "
                   f"{fmt(m.fit):>6}{flag}")
    if a.status.value == "invalid":
        click.echo(f"\nThis return has errors; run `scoa check {return_file}` to see them.", err=True)


@main.command(context_settings=CONTEXT)
@click.argument("return_file", metavar="RETURN", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Plan workbook to write (.xlsx).")
@click.option("--previous", "previous_file", type=click.Path(path_type=Path),
              help="Last year's return from the same council, to show the change since then.")
@spec_option
def plan(return_file: Path, output: Path | None, previous_file: Path | None, spec_path: Path | None) -> None:
    """Write a council's commissioning development plan from its return.

    The plan groups what holds the council back and what supports it, aspect by aspect, with an
    action table to fill in, the fit of every commissioning model and what to confirm. A return with
    errors or queries still gets a plan; they are listed in it.

    \b
    Example:
      scoa plan leeds.xlsx -o leeds-plan.xlsx
      scoa plan leeds-2026.xlsx -o leeds-plan.xlsx --previous leeds-2025.xlsx
    """
    from .check import check_return
    from .plan import CONFIRM, write_plan

    if output is None:
        raise click.UsageError("say where to write the plan with -o FILE")
    if output.exists() and output.resolve() == return_file.resolve():
        raise click.UsageError("the plan would overwrite the return; choose another -o FILE")
    spec = _spec(spec_path)
    a = check_return(return_file, spec)
    if a.scores is None:
        errors = [i for i in a.issues if i.severity.value == "error"] or a.issues
        for i in errors:
            click.echo(f"Error: {return_file}: {i.location or '(whole file)'} {i.code.value}: {i.message}", err=True)
        click.echo(f"No plan written: {return_file} could not be read as a return.", err=True)
        sys.exit(1)
    previous = None
    if previous_file is not None:
        previous = check_return(previous_file, spec)
        if previous.scores is None:
            click.echo(f"Warning: {previous_file} could not be read as a return, so the plan does not show the "
                       "change since last year.", err=True)
            previous = None
        elif (previous.scores.council and a.scores.council
              and previous.scores.council.casefold() != a.scores.council.casefold()):
            click.echo(f"Warning: {previous_file} is for {previous.scores.council}, not {a.scores.council}; "
                       "the change since last year compares the two anyway.", err=True)
    path = write_plan(a, output, previous=previous)
    if a.issues:
        parts = [f"{n} {one if n == 1 else many}" for n, one, many in ((a.errors, "error", "errors"),
                                                                      (a.queries, "query", "queries")) if n]
        click.echo(f"Note: {return_file} has {' and '.join(parts)}; the plan lists "
                   f"them on its \"{CONFIRM}\" sheet (run `scoa check {return_file}` to see them here).", err=True)
    click.echo(f"Wrote {path}")


@main.command(context_settings=CONTEXT)
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write summary.xlsx, plans/ and feedback/ into (outside FOLDER).")
@click.option("--register", "register_csv", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The councils expected to return (CSV with name, code, region): each return's council is "
                   "checked against it (instead of the bundled register), and it adds the Tracker sheet.")
@click.option("--jobs", type=click.IntRange(1, 64), default=None,
              help="Worker processes reading the returns and writing plans (default: one per core, at most 4).")
@click.option("--json", "as_json", is_flag=True, help="Print every file's status, issues and scores, and each "
              "council's combined scores, as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no closing message.")
@click.option("--previous", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of last year's returns: each plan then shows the change since last year.")
@time_limit_option
@click.option("--drafts", is_flag=True,
              help="Also write OUT/drafts/: one unsent email (.eml) per feedback letter, to the address the return "
                   "came from (else the register's email), with the plan attached; with --register, a reminder for "
                   "each council that has not returned. Nothing is ever sent: open each draft (desktop Outlook "
                   "opens it as a draft), review it and send it yourself.")
@spec_option
def batch(folder: Path, out: Path, register_csv: Path | None, jobs: int | None, as_json: bool, quiet: bool,
          previous: Path | None, time_limit: float, drafts: bool, spec_path: Path | None) -> None:
    """Check, score and summarise a folder of returns; write each council's plan and feedback letter.

    Every file in FOLDER (and its subfolders) gets a row in OUT/summary.xlsx, whatever it holds: lock
    files and other non-returns are listed as skipped, identical copies as duplicates, and an older
    return from the same council and respondent as superseded. Saved emails (.eml, .msg), mailboxes
    (.mbox) and .zip archives are opened: each attachment or member gets a row of its own, with who sent
    it and when. FOLDER is never changed, and OUT holds one whole run: see the README.

    Exit status 0 when no return has an error, 1 when any is invalid or could not be read.

    \b
    Example:
      scoa batch returns/ -o results/
      scoa batch returns/ -o results/ --register data/example-register.csv --json > results.json
      scoa batch inbox/ -o results/ --register councils.csv --drafts
    """
    from .batch import run_batch
    from .workers import DEFAULT_JOBS

    spec = _spec(spec_path)
    bars = _ProgressBars()
    try:
        result = run_batch(folder, out, spec, register=register_csv, jobs=jobs or DEFAULT_JOBS,
                           progress=None if quiet else bars, previous=previous, time_limit=time_limit,
                           drafts=drafts)
    finally:
        bars.close()
    if not quiet:
        for note in result.notes:
            click.echo(note, err=True)
    if as_json:
        result.write_json(sys.stdout)
        sys.stdout.flush()
    elif not quiet:
        _batch_report(result)
    sys.exit(1 if result.failed else 0)


def _batch_report(result: BatchResult) -> None:
    from .model import Status

    words = ((Status.VALID, "valid"), (Status.QUERIES, "with queries"), (Status.INVALID, "invalid"),
             (Status.UNREADABLE, "could not be read"), (Status.DUPLICATE, "duplicate"),
             (Status.SUPERSEDED, "superseded"), (Status.SKIPPED, "skipped (not a return)"))
    counts = ", ".join(f"{result.count(s)} {w}" for s, w in words if result.count(s))
    click.echo(f"{len(result.files)} files found: {counts or 'none'}.")
    for f in result.files:
        if f.status is not None and f.status.is_failure:
            click.echo(f"  {f.status.value}: {f.file} ({f.errors} error{'s' if f.errors != 1 else ''}; "
                       f"see {result.out / f.feedback})")
    click.echo(f"Summary: {result.summary}")
    click.echo(f"Plans: {result.plans_dir}/ ({sum(bool(f.plan) for f in result.files)})")
    click.echo(f"Feedback letters: {result.feedback_dir}/ ({sum(bool(f.feedback) for f in result.files)})")
    if result.drafts_dir.is_dir():
        n = sum(1 for _ in result.drafts_dir.glob("*.eml"))
        click.echo(f"Drafts to review and send: {result.drafts_dir}/ ({n}; nothing has been sent)")


@main.command(context_settings=CONTEXT)
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def demo(out: Path, quiet: bool) -> None:
    """Run the whole journey on example returns: make a messy inbox, batch it, show where to look.

    Writes a dozen example returns from councils on the example register (with errors, queries, a
    duplicate, a resubmission, a broken file, a lock file and a note) into OUT/returns, some of them
    as they arrive by email (an .eml, a .msg, an .mbox with a forwarded return, a .zip), then runs
    `scoa batch --drafts` on them into OUT. Nothing is ever sent.

    \b
    Example:
      scoa demo demo-out
    """
    from .examples import run_demo

    spec = _spec(None)
    bars = _ProgressBars()
    try:
        examples, result = run_demo(out, spec, progress=None if quiet else bars)
    finally:
        bars.close()
    click.echo(f"Made {len(examples)} example files in {out / 'returns'} and ran the batch on them.")
    _batch_report(result)
    click.echo("")
    click.echo("Where to look:")
    click.echo(f"  {result.summary}  - the programme team's summary: start with the About and Returns sheets,")
    click.echo("    then Scores, Cohort, Constraints, Models, Partners, Issues and Tracker.")
    click.echo(f"  {result.plans_dir}/  - each council's development plan workbook.")
    click.echo(f"  {result.feedback_dir}/  - a feedback letter per file, ready to paste into an email.")
    click.echo(f"  {result.drafts_dir}/  - the letters as unsent emails (.eml) with each plan attached, and a")
    click.echo("    reminder to each council that has not returned: open, review and send them yourself.")

