"""The benchmark script works at a tiny size and its agreement check holds (the timings are not tested)."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def load_bench():
    """Import scripts/bench.py as ``bench`` (importable by name: its measurements run in spawned processes)."""
    scripts = str(Path(__file__).parents[1] / "scripts")
    if scripts not in sys.path:
        sys.path.insert(0, scripts)
    return importlib.import_module("bench")


def test_bench_runs_and_the_engines_agree(tmp_path):
    bench = load_bench()
    out = tmp_path / "bench"
    assert bench.main(["--sizes", "1000", "2000", "--engines", "kmrv", "baseline", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    for size in ("1000", "2000"):
        row = results["sizes"][size]
        assert row["agreement"]["kmrv"]["agrees"], row["agreement"]
        assert row["kmrv"]["totals"]["patches"] > 0 and row["kmrv"]["seconds"] > 0
        assert row["kmrv"]["totals"]["illegal"]["illegal_mu"] > 0
    assert "kmrv" in results["scaling"] and "baseline" in results["scaling"]
    table = (out / "results.md").read_text(encoding="utf-8")
    assert "| 2,000 | kmrv |" in table and "faster" in table


def test_agreement_check_catches_a_difference():
    bench = load_bench()
    a = {"patches": 2, "illegal": {"area_mu": 10.0, "approved_mu": 0.0, "illegal_mu": 10.0, "pbf_mu": 1.0}}
    b = {"patches": 2, "illegal": {"area_mu": 10.0, "approved_mu": 0.0, "illegal_mu": 10.001, "pbf_mu": 1.0}}
    ok, worst = bench.agree(a, b)
    assert not ok and worst == pytest.approx(0.001 / 10.001)
    assert bench.agree(a, a) == (True, 0.0)
