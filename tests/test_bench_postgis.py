"""The benchmark's PostGIS variant (``scripts/bench_postgis.py``) at a tiny size agrees with the plain-geopandas
baseline (``scripts/bench.py``): the same patches per status, the same land, the same figures.
"""

from __future__ import annotations

import pytest
from test_bench import load_bench

from kmrv_geo.config import load_config
from kmrv_geo.project import load_project

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("area", ["ellipsoidal", "planar"])
def test_postgis_variant_agrees_with_the_baseline(sample_dir, postgis_server, area):
    bench = load_bench()
    from bench_postgis import postgis_violations  # scripts/ is on sys.path now

    config = load_config(sample_dir / "demo.yml")
    project = load_project(config.model_copy(update={"area": area}))
    base = bench.baseline_violations(project)
    patches = postgis_violations(project, postgis_server.dsn)
    assert list(patches.columns) == list(base.columns)
    assert patches.crs == base.crs and set(patches.attrs["seconds"]) == {"load", "sql"}
    ours, theirs = bench.totals(patches), bench.totals(base)
    assert ours["counts"] == theirs["counts"] and ours["patches"] > 0
    agrees, worst = bench.agree(ours, theirs)
    assert agrees and worst <= bench.AGREEMENT, worst
    geometry = bench.geometry_difference(patches, base)
    assert bench.geometry_agrees(geometry), geometry
    assert sorted(patches["pid"]) == list(range(len(patches)))
    # the scratch schema is gone
    import psycopg

    with psycopg.connect(postgis_server.dsn) as db:
        assert db.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'kmrv_bench_%'").fetchone()[0] == 0


def test_bench_measures_the_postgis_variant_side_by_side(postgis_server, tmp_path, monkeypatch):
    """``scripts/bench.py --engines kmrv baseline postgis`` at a tiny size: the PostGIS engine (server named by
    KMRV_BENCH_POSTGIS) is timed in the same run and agrees with the baseline like kmrv does.
    """
    import json

    bench = load_bench()
    monkeypatch.setenv(bench.POSTGIS_ENV, postgis_server.dsn)
    out = tmp_path / "bench"
    assert bench.main(["--sizes", "1000", "--engines", "kmrv", "baseline", "postgis", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    row = results["sizes"]["1000"]
    assert row["postgis"]["seconds"] > 0 and row["agreement"]["postgis"]["agrees"], row["agreement"]["postgis"]
    assert row["postgis"]["totals"]["counts"] == row["kmrv"]["totals"]["counts"]
    assert "| 1,000 | postgis |" in (out / "results.md").read_text(encoding="utf-8")
