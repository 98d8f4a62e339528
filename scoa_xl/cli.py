"""The `scoa` command: a thin layer over the library. Parse options, call, print, exit.

Exit codes: 0 fine (queries allowed), 1 a return or input has errors, 2 a usage error.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click

from .errors import SpecError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class ScoaGroup(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (SpecError, OSError, ValueError) as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(1)


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


def _spec(path: Path | None):
    from .spec import load_spec
    return load_spec(path)


def _emit_json(data) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@main.command(context_settings=CONTEXT)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Workbook to write (one council).")
@click.option("--council", default="", help="Council name, as on the register.")
@click.option("--council-code", default="", help="Council's ONS code (looked up from the register if omitted).")
@click.option("--respondent", default="", help="Who is answering (a person or group).")
@click.option("--organisation", default="", help="The respondent's organisation (council, NHS, provider...).")
@click.option("--role", default="", help="The respondent's role.")
@click.option("--date", "on", type=click.DateTime(["%Y-%m-%d"]), help="Date stamped as generated (default today).")
@spec_option
def generate(output: Path | None, council: str, council_code: str, respondent: str, organisation: str, role: str,
             on: dt.datetime | None, spec_path: Path | None) -> None:
    """Write the self-assessment workbook, blank or personalised.

    \b
    Example:
      scoa generate -o scoa.xlsx
      scoa generate -o leeds.xlsx --council Leeds --respondent "Jo Bloggs" --organisation "Leeds City Council"
    """
    from .generate import generate as write
    from .model import Identity
    from .register import find_council

    if output is None:
        raise click.UsageError("say where to write the workbook with -o FILE")
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
@spec_option
def check(returns: tuple[Path, ...], as_json: bool, spec_path: Path | None) -> None:
    """Validate returns: every error (must fix) and query (fix or explain), at its cell.

    Exit status 0 when no return has an error, 1 otherwise.

    \b
    Example:
      scoa check returns/*.xlsx
      scoa check leeds.xlsx --json
    """
    from .assess import assess

    spec = _spec(spec_path)
    results = [assess(p, spec) for p in returns]
    if as_json:
        _emit_json([a.check_json(str(p)) for a, p in zip(results, returns, strict=True)])
    else:
        for a, p in zip(results, returns, strict=True):
            how = f", read by {a.read_by}" if a.read_by else ""
            click.echo(f"{p}: {a.status.value} ({a.errors} errors, {a.queries} queries{how})")
        rows = [(str(p), i.location, i.severity.value, i.code.value, i.message)
                for a, p in zip(results, returns, strict=True) for i in a.issues]
        if rows:
            click.echo("")
            click.echo(" | ".join(("File", "Sheet!Cell", "Severity", "Code", "Message")))
            for row in rows:
                click.echo(" | ".join(row))
    sys.exit(1 if any(a.status.value in ("invalid", "unreadable") for a in results) else 0)


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
    from .assess import assess

    spec = _spec(spec_path)
    a = assess(return_file, spec)
    if a.scores is None:
        for i in a.issues:
            if i.severity.value == "error":
                click.echo(f"Error: {return_file}: {i.location} {i.code.value}: {i.message}", err=True)
        sys.exit(1)
    if as_json:
        _emit_json(a.scores.to_json())
        return
    s = a.scores
    fmt = lambda v: "-" if v is None else f"{v:.1f}"  # noqa: E731
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
