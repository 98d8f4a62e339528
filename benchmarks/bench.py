#!/usr/bin/env python3
"""Speed and memory at a programme team's scale: one command, figures against the targets.

    python3 benchmarks/bench.py            # 1,000 returns, 3 repetitions (a few minutes)
    python3 benchmarks/bench.py --quick    # 10 returns, 1 repetition: a smoke run (about 10 seconds)

It builds N filled returns (a handful of distinct fills, each copy made byte-distinct by giving it its
own council and respondent, so the batch reads and plans every one), then measures, interleaved,
repetition by repetition, and reports medians:

  (a) `scoa check` over every return, as a whole process (Python start-up and imports included), as it runs
      (a worker per core) and in one process (`--jobs 1`), with the CPU time of each;
  (b) the floor: a bare python-calamine read of every cell of every sheet of the same files, as a whole
      process (the a/b ratio uses this, so both sides pay start-up) and as an in-process loop;
  (c) the peer: pandas.read_excel(sheet_name=None, engine="openpyxl") in-process, on a sample, scaled to N
      (pandas is imported before the clock starts, which favours the peer);
  (d) the full `scoa batch` (plans, feedback letters and summary, with the register), ms per return;
  (e) the peak memory (RSS) of that batch at N/10 and at N returns (the largest process of each run:
      os.wait4 reports the child's own rusage, which covers the workers it waited for; every command is started
      by a small launcher, so no run inherits the benchmark's own size);
  (f) `scoa generate --register ... --out-dir ...`: one personalised workbook per council, ms per workbook;
  (g) the same N returns arriving by email: each attached to its own .eml, a tenth in one .mbox (a message
      each) and a tenth in one .zip, through the same full `scoa batch`, ms per return and as a ratio to (d);
  (h) writing the plan of each sampled return in one process, against the writer's floor: xlsxwriter writing the
      same cell values bare (no formats, charts or tables). The bare read (b) plus this bare write is the least a
      batch could cost a return with these libraries, and the batch is shown as a ratio to it.

Timings are wall-clock on a machine that may be busy; compare the ratios, measured in the same run.
Figures are printed and written as JSON to OUT/results.json (default bench-out/results.json).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
REGISTER = ROOT / "data" / "councils-england.csv"
CLI = "import sys; from scoa_xl.cli import main; sys.exit(main())"
FLOOR = """\
import sys
from python_calamine import CalamineWorkbook
cells = 0
for path in sys.argv[1:]:
    wb = CalamineWorkbook.from_path(path)
    for name in wb.sheet_names:
        cells += sum(len(row) for row in wb.get_sheet_by_name(name).to_python(skip_empty_area=False))
print(cells)
"""
# Placeholders written into the base fills and replaced in each copy (all XML parts: cells and properties).
COUNCIL, CODE, RESPONDENT = "@@COUNCIL@@", "@@CODE@@", "@@RESPONDENT@@"
FILLS = 6

TARGETS = {
    "check_over_floor": ("<=", 2.0, "scoa check / calamine floor (both whole processes)"),
    "peer_over_check": (">=", 10.0, "pandas+openpyxl peer / scoa check"),
    "batch_ms_per_return": ("<=", 20.0, "full scoa batch, ms per return"),
    "memory_large_over_small": ("<=", 1.2, "batch peak RSS at N / at N/10"),
    "generate_ms_per_workbook": ("<=", 25.0, "scoa generate --register, ms per workbook"),
    "mail_over_plain": ("<=", 1.5, "batch of emailed returns / of the same as files"),
}


# ------------------------------------------------------------------------------------------ the returns


def build_returns(folder: Path, n: int, seed: int = 20250113) -> list[Path]:
    """N byte-distinct returns in `folder`, copied from FILLS distinct fills."""
    sys.path.insert(0, str(ROOT))
    from scoa_xl.examples import _answers
    from scoa_xl.generate import Prefill, generate
    from scoa_xl.model import Identity
    from scoa_xl.register import load_register
    from scoa_xl.spec import load_spec

    spec = load_spec()
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    bases: list[dict[str, bytes]] = []
    # A realistic mix: complete returns of different climates, one half-filled, one with queries.
    shapes = [dict(climate=3.4), dict(climate=2.6), dict(climate=3.0, no_category=2), dict(climate=3.8),
              dict(climate=2.9, share=0.6), dict(climate=2.3)]
    for i in range(FILLS):
        kw = dict(shapes[i % len(shapes)])
        climate = kw.pop("climate")
        factors, texts, priorities = _answers(spec, rng, climate, **kw)
        identity = Identity(council=COUNCIL, council_code=CODE, respondent=RESPONDENT,
                            organisation="Adult social care", role="Head of commissioning", date="2025-02-14")
        path = generate(spec, folder / f".base-{i}.xlsx", identity,
                        prefill=Prefill(factors=factors, texts=texts, priorities=priorities, carried=False),
                        generated_at=dt.date(2025, 1, 13))
        with zipfile.ZipFile(path) as zf:
            bases.append({info.filename: zf.read(info) for info in zf.infolist()})
        path.unlink()
    councils = load_register(REGISTER)
    paths = []
    for k in range(n):
        c = councils[k % len(councils)]
        swap = {COUNCIL: escape(c.name), CODE: c.code, RESPONDENT: f"Respondent {k + 1:05d}"}
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zout:
            for name, data in bases[k % FILLS].items():
                if name.endswith(".xml") and b"@@" in data:
                    text = data.decode("utf-8")
                    for old, new in swap.items():
                        text = text.replace(old, new)
                    data = text.encode("utf-8")
                zout.writestr(name, data)
        path = folder / f"return-{k + 1:05d}.xlsx"
        path.write_bytes(buf.getvalue())
        paths.append(path)
    return paths


def build_mailed(folder: Path, paths: list[Path]) -> None:
    """The same returns as they arrive by email: each attached to its own .eml, but a tenth in one mailbox export
    (a message each) and a tenth in one zip."""
    import mailbox
    from email.message import EmailMessage
    from email.utils import format_datetime

    folder.mkdir(parents=True, exist_ok=True)
    tenth = max(1, len(paths) // 10)
    boxed, zipped, single = paths[:tenth], paths[tenth:2 * tenth], paths[2 * tenth:]
    when = dt.datetime(2025, 2, 14, 9, 0, tzinfo=dt.UTC)

    def message(k: int, path: Path) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = f"Respondent {k:05d} <respondent{k:05d}@council.example.org>"
        msg["To"], msg["Subject"] = "scoa@programme.example.org", f"SCOA return {k:05d}"
        msg["Date"] = format_datetime(when + dt.timedelta(minutes=k))
        msg.set_content("Please find our return attached.\n")
        msg.add_attachment(path.read_bytes(), maintype="application",
                           subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet", filename=path.name)
        return msg

    for k, p in enumerate(single, 2 * tenth + 1):
        (folder / f"{p.stem}.eml").write_bytes(message(k, p).as_bytes())
    box = mailbox.mbox(folder / "Inbox.mbox")
    for k, p in enumerate(boxed, 1):
        box.add(message(k, p))
    box.flush()
    box.close()
    with zipfile.ZipFile(folder / "partners.zip", "w", zipfile.ZIP_DEFLATED) as z:
        for p in zipped:
            z.write(p, p.name)


def small_register(path: Path, count: int) -> Path:
    """The first `count` councils of the register (for a quick run)."""
    with open(REGISTER, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows[:count + 1])
    return path


# ------------------------------------------------------------------------------------------ measuring


ENV = dict(os.environ)


# Every measured command is started by a small launcher process, itself started before the benchmark loads anything.
# A child forked from a large process inherits its memory until it execs, and Linux keeps that high-water mark in the
# child's peak RSS: started from the benchmark itself (which by then holds pandas, openpyxl and plans), every run
# would report at least the benchmark's own size, and a small batch would look as large as a big one.
LAUNCHER = """\
import json, os, subprocess, sys, tempfile, time
for line in sys.stdin:
    job = json.loads(line)
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        proc = subprocess.Popen(job["cmd"], stdout=subprocess.DEVNULL, stderr=errors, cwd=job["cwd"], env=job["env"])
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        errors.seek(0)
        err = errors.read().decode("utf-8", "replace")
    print(json.dumps([seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, os.waitstatus_to_exitcode(status),
                      err[-4000:]]), flush=True)
"""
_launcher: subprocess.Popen | None = None


def start_launcher() -> None:
    global _launcher
    _launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 text=True, cwd=ROOT)


def run(cmd: list[str]) -> tuple[float, float, int]:
    """Run a command; return (wall seconds, CPU seconds, peak RSS in KB), each for it and the children it waited
    for (a batch's workers). wait4, not wait: it gives this child's own rusage (peak RSS), not the sum over every
    child so far."""
    if _launcher is None or _launcher.stdin is None or _launcher.stdout is None:
        raise RuntimeError("start_launcher() first")
    _launcher.stdin.write(json.dumps({"cmd": cmd, "cwd": str(ROOT), "env": ENV}) + "\n")
    _launcher.stdin.flush()
    seconds, cpu, rss, code, err = json.loads(_launcher.stdout.readline())
    if code not in (0, 1):
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed ({code}):\n{err}")
    return seconds, cpu, rss


def floor_in_process(paths: list[Path]) -> float:
    from python_calamine import CalamineWorkbook

    warm = CalamineWorkbook.from_path(str(paths[0]))  # warm up, untimed
    warm.get_sheet_by_name(warm.sheet_names[0]).to_python()
    started = time.perf_counter()
    for p in paths:
        wb = CalamineWorkbook.from_path(str(p))
        for name in wb.sheet_names:
            wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
    return time.perf_counter() - started


def plan_sample(paths: list[Path], folder: Path) -> tuple[list, list[Path]]:
    """The sample's returns checked (untimed) and a plan written from each into `folder`: for (h)."""
    sys.path.insert(0, str(ROOT))
    from scoa_xl.check import check_return
    from scoa_xl.plan import write_plan
    from scoa_xl.spec import load_spec

    spec = load_spec()
    checked = [check_return(p, spec) for p in paths]
    folder.mkdir(parents=True, exist_ok=True)
    return checked, [write_plan(a, folder / f"plan-{i}.xlsx") for i, a in enumerate(checked)]


def plan_in_process(checked: list, folder: Path) -> float:
    from scoa_xl.plan import write_plan

    started = time.perf_counter()
    for i, a in enumerate(checked):
        write_plan(a, folder / f"again-{i}.xlsx")
    return time.perf_counter() - started


def writer_floor(plans: list[Path]) -> float:
    """The writer's floor: xlsxwriter (which writes the plans) writing the same cell values as these plans, sheet
    by sheet, in memory, with no formats, charts, tables or row heights."""
    import xlsxwriter
    from python_calamine import CalamineWorkbook

    contents = []
    for p in plans:
        wb = CalamineWorkbook.from_path(str(p))
        contents.append([(name, wb.get_sheet_by_name(name).to_python(skip_empty_area=False))
                         for name in wb.sheet_names])
    started = time.perf_counter()
    for sheets in contents:
        book = xlsxwriter.Workbook(io.BytesIO(), {"in_memory": True})
        for name, rows in sheets:
            ws = book.add_worksheet(name)
            for r, row in enumerate(rows):
                for c, v in enumerate(row):
                    if isinstance(v, str):
                        if v:
                            ws.write_string(r, c, v)
                    elif isinstance(v, (int, float)) and not isinstance(v, bool):
                        ws.write_number(r, c, v)
                    else:
                        ws.write_string(r, c, str(v))
        book.close()
    return time.perf_counter() - started


def peer(paths: list[Path]) -> float:
    import pandas as pd

    pd.read_excel(paths[0], sheet_name=None, engine="openpyxl")  # warm up (imports, first-call costs), untimed
    started = time.perf_counter()
    for p in paths:
        pd.read_excel(p, sheet_name=None, engine="openpyxl")
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="returns to build (default 1000)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions; medians are reported (default 3)")
    ap.add_argument("--peer-sample", type=int, default=50, help="returns the peer reads, scaled to N (default 50)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench-out", help="working folder (default bench-out/)")
    ap.add_argument("--keep", action="store_true", help="keep the returns and outputs in OUT/work (removed by default)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 10 returns, 1 repetition, 5 councils "
                    "to generate (figures too small to judge the targets by)")
    args = ap.parse_args(argv)
    start_launcher()  # first, while this process is small (see LAUNCHER)
    if args.quick:
        args.n, args.reps, args.peer_sample = 10, 1, 3
    n, small_n = args.n, max(1, args.n // 10)
    out = args.out.resolve()
    py = sys.executable
    work = out / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    # Every process runs as an installed package does, with its compiled bytecode cached (some environments set
    # PYTHONDONTWRITEBYTECODE, which makes every start-up compile the whole package again); the cache is kept in
    # the working folder, not beside the source.
    ENV.pop("PYTHONDONTWRITEBYTECODE", None)
    ENV["PYTHONPYCACHEPREFIX"] = str(out / "pycache")

    t0 = time.perf_counter()
    print(f"Building {n} returns from {FILLS} distinct fills ...", file=sys.stderr)
    paths = build_returns(work / "returns", n)
    small = work / "returns-small"
    small.mkdir()
    for p in paths[:small_n]:
        shutil.copyfile(p, small / p.name)
    register = small_register(work / "register.csv", 5) if args.quick else REGISTER
    with open(register, newline="", encoding="utf-8") as fh:
        councils = sum(1 for _ in csv.DictReader(fh))
    sample = paths[:: max(1, n // max(1, args.peer_sample))][: args.peer_sample]
    build_mailed(work / "returns-mail", paths)
    print(f"  built in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    files = [str(p) for p in paths]

    raw: dict[str, list[float]] = {k: [] for k in (
        "check_s", "floor_process_s", "floor_in_process_s", "peer_s_scaled", "batch_s", "batch_small_s",
        "batch_rss_kb", "batch_small_rss_kb", "generate_s", "batch_mail_s", "batch_mail_cpu_s",
        "check_cpu_s", "check_one_s", "check_one_cpu_s", "floor_process_cpu_s", "batch_cpu_s", "generate_cpu_s",
        "plan_s", "writer_floor_s")}
    checked, plans = plan_sample(sample, work / "plans-sample")

    def timed(key: str, cmd: list[str]) -> int:
        wall, cpu, rss = run(cmd)
        raw[key + "_s"].append(wall)
        if key + "_cpu_s" in raw:
            raw[key + "_cpu_s"].append(cpu)
        return rss

    def check() -> None:
        timed("check", [py, "-c", CLI, "check", *files])

    def check_one() -> None:
        timed("check_one", [py, "-c", CLI, "check", "--jobs", "1", *files])

    def floor() -> None:
        timed("floor_process", [py, "-c", FLOOR, *files])
        raw["floor_in_process_s"].append(floor_in_process(paths))

    def peer_read() -> None:
        raw["peer_s_scaled"].append(peer(sample) * n / len(sample))

    def plan_write() -> None:
        raw["plan_s"].append(plan_in_process(checked, work / "plans-sample"))
        raw["writer_floor_s"].append(writer_floor(plans))

    def batch() -> None:
        dest = work / "batch-out"
        shutil.rmtree(dest, ignore_errors=True)
        raw["batch_rss_kb"].append(timed("batch", [py, "-c", CLI, "batch", str(work / "returns"), "-o", str(dest),
                                               "-q", "--register", str(REGISTER)]))

    def batch_mail() -> None:
        dest = work / "batch-mail-out"
        shutil.rmtree(dest, ignore_errors=True)
        timed("batch_mail", [py, "-c", CLI, "batch", str(work / "returns-mail"), "-o", str(dest), "-q",
                             "--register", str(REGISTER)])

    def batch_small() -> None:
        dest = work / "batch-small-out"
        shutil.rmtree(dest, ignore_errors=True)
        raw["batch_small_rss_kb"].append(timed("batch_small", [py, "-c", CLI, "batch", str(small), "-o", str(dest),
                                                           "-q", "--register", str(REGISTER)]))

    def generate() -> None:
        dest = work / "issued"
        shutil.rmtree(dest, ignore_errors=True)
        timed("generate", [py, "-c", CLI, "generate", "--register", str(register), "--out-dir", str(dest),
                           "--date", "2025-01-13"])

    # Warm up, untimed: bytecode compiled and cached, files in the page cache.
    run([py, "-c", CLI, "check", *files[:2]])
    run([py, "-c", CLI, "generate", "-o", str(work / "warm.xlsx")])
    run([py, "-c", FLOOR, *files[:2]])
    steps = [check, check_one, floor, peer_read, plan_write, batch_small, batch, batch_mail, generate]
    for rep in range(args.reps):
        # Rotate the order each repetition, so no measure always runs on a machine warmed (or tired) by another.
        order = steps[rep % len(steps):] + steps[:rep % len(steps)]
        for step in order:
            print(f"  repetition {rep + 1}/{args.reps}: {step.__name__}", file=sys.stderr)
            step()

    med = {k: statistics.median(v) for k, v in raw.items()}
    figures = {
        "check_ms_per_return": med["check_s"] / n * 1000,
        "floor_process_ms_per_return": med["floor_process_s"] / n * 1000,
        "floor_in_process_ms_per_return": med["floor_in_process_s"] / n * 1000,
        "peer_ms_per_return": med["peer_s_scaled"] / n * 1000,
        "batch_ms_per_return": med["batch_s"] / n * 1000,
        "batch_small_ms_per_return": med["batch_small_s"] / small_n * 1000,
        "batch_peak_rss_mb": med["batch_rss_kb"] / 1024,
        "batch_small_peak_rss_mb": med["batch_small_rss_kb"] / 1024,
        "generate_ms_per_workbook": med["generate_s"] / councils * 1000,
        "batch_mail_ms_per_return": med["batch_mail_s"] / n * 1000,
        "plan_in_process_ms_per_plan": med["plan_s"] / len(sample) * 1000,
        "writer_floor_ms_per_plan": med["writer_floor_s"] / len(sample) * 1000,
    }
    # What a batch cannot go below with these libraries: a bare read of every cell of a return and a bare write of
    # its plan's cells, both in one process (a batch also writes a letter per file and the summary).
    figures["batch_floor_ms_per_return"] = figures["floor_in_process_ms_per_return"] + \
        figures["writer_floor_ms_per_plan"]
    # CPU time (the process and its workers), to read the wall-clock figures by on a machine others are using:
    # a batch's or generation's CPU per return over its wall time shows how many cores it actually had.
    cpu = {
        "check_cpu_ms_per_return": med["check_cpu_s"] / n * 1000,
        "check_one_process_ms_per_return": med["check_one_s"] / n * 1000,
        "check_one_process_cpu_ms_per_return": med["check_one_cpu_s"] / n * 1000,
        "check_cores_used": med["check_cpu_s"] / med["check_s"],
        "floor_process_cpu_ms_per_return": med["floor_process_cpu_s"] / n * 1000,
        "batch_cpu_ms_per_return": med["batch_cpu_s"] / n * 1000,
        "batch_mail_cpu_ms_per_return": med["batch_mail_cpu_s"] / n * 1000,
        "generate_cpu_ms_per_workbook": med["generate_cpu_s"] / councils * 1000,
        "batch_cores_used": med["batch_cpu_s"] / med["batch_s"],
        "generate_cores_used": med["generate_cpu_s"] / med["generate_s"],
    }
    ratios = {
        "check_over_floor": med["check_s"] / med["floor_process_s"],
        "check_over_floor_in_process": med["check_s"] / med["floor_in_process_s"],
        "check_one_process_over_floor": med["check_one_s"] / med["floor_process_s"],
        "check_cpu_over_floor_cpu": med["check_cpu_s"] / med["floor_process_cpu_s"],
        "peer_over_check": med["peer_s_scaled"] / med["check_s"],
        "batch_ms_per_return": figures["batch_ms_per_return"],
        "memory_large_over_small": med["batch_rss_kb"] / med["batch_small_rss_kb"],
        "generate_ms_per_workbook": figures["generate_ms_per_workbook"],
        "mail_over_plain": med["batch_mail_s"] / med["batch_s"],
        "batch_over_floor": figures["batch_ms_per_return"] / figures["batch_floor_ms_per_return"],
        "batch_cpu_over_floor": cpu["batch_cpu_ms_per_return"] / figures["batch_floor_ms_per_return"],
        "plan_over_writer_floor": med["plan_s"] / med["writer_floor_s"],
    }
    met = {k: (ratios[k] <= t if op == "<=" else ratios[k] >= t) for k, (op, t, _) in TARGETS.items()}
    result = {
        "when": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()},
        "n": n, "small_n": small_n, "reps": args.reps, "peer_sample": len(sample), "councils_generated": councils,
        "figures": figures, "cpu": cpu, "ratios": ratios,
        "targets": {k: {"op": op, "target": t, "what": what, "met": met[k]} for k, (op, t, what) in TARGETS.items()},
        "raw": raw,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\n{n} returns ({small_n} for the small batch), {args.reps} repetition(s), medians; "
          f"peer on {len(sample)} returns, scaled; {councils} workbooks generated.")
    print(f"  (a) scoa check            {figures['check_ms_per_return']:8.2f} ms/return  (whole process; "
          f"CPU {cpu['check_cpu_ms_per_return']:.2f}, {cpu['check_cores_used']:.2f} cores busy; in one process "
          f"{cpu['check_one_process_ms_per_return']:.2f}, CPU {cpu['check_one_process_cpu_ms_per_return']:.2f})")
    print(f"      ratios to the floor: {ratios['check_over_floor']:.2f}x as it runs, "
          f"{ratios['check_one_process_over_floor']:.2f}x in one process, "
          f"{ratios['check_cpu_over_floor_cpu']:.2f}x in CPU time")
    print(f"  (b) calamine floor        {figures['floor_process_ms_per_return']:8.2f} ms/return  (whole process; "
          f"CPU {cpu['floor_process_cpu_ms_per_return']:.2f}; "
          f"in-process {figures['floor_in_process_ms_per_return']:.2f})")
    print(f"  (c) pandas+openpyxl peer  {figures['peer_ms_per_return']:8.2f} ms/return  (in-process, sample)")
    print(f"  (d) scoa batch            {figures['batch_ms_per_return']:8.2f} ms/return  "
          f"({figures['batch_small_ms_per_return']:.2f} at {small_n}; CPU {cpu['batch_cpu_ms_per_return']:.2f}, "
          f"{cpu['batch_cores_used']:.2f} cores busy)")
    print(f"  (e) batch peak RSS        {figures['batch_peak_rss_mb']:8.1f} MB at {n}, "
          f"{figures['batch_small_peak_rss_mb']:.1f} MB at {small_n}")
    print(f"  (f) scoa generate         {figures['generate_ms_per_workbook']:8.2f} ms/workbook  "
          f"(CPU {cpu['generate_cpu_ms_per_workbook']:.2f}, {cpu['generate_cores_used']:.2f} cores busy)")
    print(f"  (g) scoa batch, by email  {figures['batch_mail_ms_per_return']:8.2f} ms/return  "
          f"(CPU {cpu['batch_mail_cpu_ms_per_return']:.2f}; {ratios['mail_over_plain']:.2f}x the same as files)")
    print(f"  (h) plan, in one process  {figures['plan_in_process_ms_per_plan']:8.2f} ms/plan  (the writer's floor, "
          f"the same cells bare: {figures['writer_floor_ms_per_plan']:.2f}; "
          f"{ratios['plan_over_writer_floor']:.2f}x)")
    print(f"      batch floor (bare read + bare write) {figures['batch_floor_ms_per_return']:.2f} ms/return: batch "
          f"is {ratios['batch_over_floor']:.2f}x it as it runs, {ratios['batch_cpu_over_floor']:.2f}x in CPU time")
    print("\nTargets:")
    for k, (op, t, what) in TARGETS.items():
        print(f"  {'met    ' if met[k] else 'NOT MET'}  {what:52} {ratios[k]:8.2f} (target {op} {t:g})")
    print(f"\nWritten {out / 'results.json'}")
    if _launcher is not None and _launcher.stdin is not None:
        _launcher.stdin.close()
        _launcher.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
