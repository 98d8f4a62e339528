"""The benchmark (benchmarks/bench.py) runs to the end and reports every figure. Its values are never asserted:
timings belong to the benchmark, not to the tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench.py"


def test_quick_benchmark_reports_every_figure(tmp_path):
    done = subprocess.run([sys.executable, str(BENCH), "--quick", "--out", str(tmp_path)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert set(results["figures"]) == {
        "check_ms_per_return", "floor_process_ms_per_return", "floor_in_process_ms_per_return", "peer_ms_per_return",
        "batch_ms_per_return", "batch_small_ms_per_return", "batch_peak_rss_mb", "batch_small_peak_rss_mb",
        "generate_ms_per_workbook", "batch_mail_ms_per_return", "plan_in_process_ms_per_plan",
        "writer_floor_ms_per_plan", "batch_floor_ms_per_return"}
    assert all(isinstance(v, float) and v > 0 for v in results["figures"].values())
    assert set(results["targets"]) == {"check_over_floor", "peer_over_check", "batch_ms_per_return",
                                       "memory_large_over_small", "generate_ms_per_workbook", "mail_over_plain"}
    assert all(isinstance(t["met"], bool) for t in results["targets"].values())
    for line in ("(a) scoa check", "(b) calamine floor", "(c) pandas+openpyxl peer", "(d) scoa batch",
                 "(e) batch peak RSS", "(f) scoa generate", "(g) scoa batch, by email", "(h) plan, in one process",
                 "batch floor (bare read + bare write)"):
        assert line in done.stdout
