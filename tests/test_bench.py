"""The benchmark script works at a tiny size and its agreement check holds (the timings are not tested)."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import box

pytestmark = pytest.mark.slow


def load_bench():
    """Import scripts/bench.py as ``bench`` (importable by name: its measurements run in spawned processes)."""
    scripts = str(Path(__file__).parents[1] / "scripts")
    if scripts not in sys.path:
        sys.path.insert(0, scripts)
    return importlib.import_module("bench")


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    """``scripts/bench.py --sizes 1000 2000 --engines kmrv baseline dask`` run once: (bench module, output folder).

    ``dask`` is the partitioned engine on a 2-worker LocalCluster (the sample partitioned first).
    """
    bench = load_bench()
    out = tmp_path_factory.mktemp("bench") / "bench"
    assert bench.main(["--sizes", "1000", "2000", "--engines", "kmrv", "baseline", "dask", "--out", str(out)]) == 0
    return bench, out


def test_bench_runs_and_the_engines_agree(bench_run):
    bench, out = bench_run
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    for size in ("1000", "2000"):
        row = results["sizes"][size]
        dask = row["agreement"]["dask"]  # the partitioned Dask engine: the same patches again
        assert dask["agrees"] and dask["max_relative_difference"] == 0.0
        assert dask["symmetric_difference_m2"] == row["agreement"]["kmrv"]["symmetric_difference_m2"]
        assert row["dask"]["totals"] == row["kmrv"]["totals"]
        assert (Path(out) / "data" / f"n{size}-s2023" / "partitions" / "partitions.json").exists()
        agreement = row["agreement"]["kmrv"]
        # same patches: as many per status, the same land per status, the same totals of every figure
        assert agreement["agrees"], agreement
        assert agreement["counts_agree"] and agreement["totals_agree"] and agreement["geometry_agrees"]
        assert agreement["counts"]["engine"] == agreement["counts"]["baseline"]
        assert row["kmrv"]["totals"]["counts"] == row["baseline"]["totals"]["counts"]
        assert row["kmrv"]["totals"]["patches"] == row["baseline"]["totals"]["patches"] > 0
        assert agreement["count_difference"] == {} and agreement["explanation"] == []
        assert agreement["max_relative_difference"] <= 1e-9
        assert agreement["symmetric_difference_m2"] < 1e-6
        for status, geometry in agreement["geometry"].items():
            assert geometry["area_m2"] > 0 and geometry["relative"] <= 1e-12, status
        assert row["kmrv"]["seconds"] > 0 and row["kmrv"]["area_kind"] == "ellipsoidal"
        sums = row["kmrv"]["totals"]["sums"]
        assert sums["illegal"]["illegal_mu"] > 0 and sums["illegal"]["illegal_pbf_mu"] > 0
        assert set(bench.TOTAL_COLUMNS) <= set(row["baseline"]["totals"]["sums"]["illegal"])
        for status, figures in sums.items():
            for column in bench.TOTAL_COLUMNS:
                base = row["baseline"]["totals"]["sums"][status][column]
                assert figures[column] == pytest.approx(base, rel=1e-9, abs=1e-6), (status, column)
    assert "kmrv" in results["scaling"] and "baseline" in results["scaling"]
    table = (out / "results.md").read_text(encoding="utf-8")
    assert "| 2,000 | kmrv |" in table and ("× faster" in table or "× slower" in table)
    assert "| yes |" in table and "NO" not in table and "Patches per status" in table


def test_baseline_matches_kmrv_where_t1_has_gaps(bench_run, tmp_path):
    """T0 farmland that no T1 parcel covers (``no_t1_data``): the sample has none, so drop 5 % of T1."""
    import numpy as np

    from kmrv_geo.analysis import steps
    from kmrv_geo.config import load_config
    from kmrv_geo.project import load_project

    bench, out = bench_run
    project = load_project(load_config(out / "data" / "n1000-s2023" / "demo.yml"))
    t1 = project.vectors["landuse_t1"]
    drop = np.random.default_rng(1).choice(len(t1), len(t1) // 20, replace=False)
    project.vectors["landuse_t1"] = t1.drop(index=t1.index[drop])
    runs = {}
    for name, patches in (("kmrv", steps.run_violations(project).patches),
                          ("baseline", bench.baseline_violations(project))):
        assert (patches["change_class"] == "no_t1_data").sum() >= 5, name
        path = tmp_path / f"{name}.parquet"
        patches[bench.PATCH_FILE_COLUMNS].to_parquet(path)
        runs[name] = {"totals": bench.totals(patches), "patch_file": str(path), "area_kind": "ellipsoidal"}
    agreement = bench.compare(runs["kmrv"], runs["baseline"])
    assert agreement["agrees"], {k: v for k, v in agreement.items() if k != "geometry"}


def test_ellipsoidal_areas_densify_ring_by_ring():
    """GEOS 3.14's polygon segmentize turned this valid sample polygon (16,910 m²) into a 7e-9 m² one."""
    import shapely

    bench = load_bench()
    polygon = shapely.from_wkt(
        "POLYGON ((582152.367249451 2745037.76386193, 582098.7603924666 2745038.2194747557, "
        "582027.9353657265 2745174.5231697983, 582211.4694084262 2745393.0317992712, "
        "582063.3080302819 2745216.636514762, 582193.6901895729 2745139.6706339833, "
        "582274.5178551234 2745339.0002669804, 582152.367249451 2745037.76386193))")
    series = gpd.GeoSeries([polygon, box(0, 0, 100, 50), None], crs="EPSG:4543")
    dense = bench.densify_rings(series, 20.0)
    assert dense.area.iloc[0] == pytest.approx(polygon.area, rel=1e-9)  # (a thin spike: not valid, same area)
    assert shapely.get_num_coordinates(dense.iloc[1]) == 5 + 2 * 4 + 2 * 2  # 100 m edges in 5 pieces, 50 m in 3
    assert dense.iloc[2] is None


def _totals(bench, frame):
    return bench.totals(frame.assign(**{c: frame["area_mu"] for c in bench.TOTAL_COLUMNS if c not in frame}))


def test_agreement_check_catches_a_difference():
    bench = load_bench()
    figures = {"area_mu": 10.0, "approved_mu": 0.0, "illegal_mu": 10.0, "pbf_mu": 1.0, "illegal_pbf_mu": 1.0}
    a = {"patches": 2, "counts": {"illegal": 2}, "sums": {"illegal": figures}}
    b = {"patches": 2, "counts": {"illegal": 2}, "sums": {"illegal": {**figures, "illegal_mu": 10.001}}}
    ok, worst = bench.agree(a, b)
    assert not ok and worst == pytest.approx(0.001 / 10.001)
    assert bench.agree(a, a) == (True, 0.0)
    c = {"patches": 3, "counts": {"illegal": 3}, "sums": {"illegal": figures}}
    assert bench.agree(a, c) == (True, 0.0)  # the same totals …
    assert bench.counts_agree(a, c) == (False, {"illegal": -1})  # … yet not the same patches
    assert bench.counts_agree(a, a) == (True, {})


def _patches(boxes, status="illegal"):
    frame = gpd.GeoDataFrame(
        {"status": status, "change_class": "nonagri", "t0_code": "0103", "t1_code": "0702", "county_code": "530111",
         "township": "", "village": "", "area_mu": [g.area / (10000 / 15) for g in boxes]},
        geometry=list(boxes), crs="EPSG:4543")
    for column in ("area_mu_planar", "area_mu_ellipsoidal", "illegal_mu"):
        frame[column] = frame["area_mu"]
    for column in ("approved_mu", "pbf_mu", "illegal_pbf_mu"):
        frame[column] = 0.0
    return frame


def test_geometry_and_count_differences_are_found_and_explained(tmp_path):
    bench = load_bench()
    whole = _patches([box(0, 0, 100, 100), box(500, 0, 600, 100)])
    # the same land cut in two at x = 50, plus a sliver the other engine does not have
    cut = _patches([box(0, 0, 50, 100), box(50, 0, 100, 100), box(500, 0, 600, 100), box(700, 0, 700.000001, 0.5)])
    assert bench.geometry_agrees(bench.geometry_difference(whole, cut))
    reasons = {(r["engine"], r["reason"]): r["patches"] for r in bench.explain(whole, cut)}
    assert reasons == {("kmrv", "same land, cut differently"): 1, ("baseline", "same land, cut differently"): 2,
                       ("baseline", "sliver"): 1}
    # land one engine has and the other has not, or has under another verdict
    missing = _patches([box(0, 0, 100, 100)])
    diff = bench.geometry_difference(whole, missing)
    assert diff["illegal"]["symmetric_difference_m2"] == pytest.approx(10000) and not bench.geometry_agrees(diff)
    assert [(r["engine"], r["reason"]) for r in bench.explain(whole, missing)] == [("kmrv", "only in this engine")]
    other = _patches([box(0, 0, 100, 100)]).assign(status="approved")
    pairs = {(r["engine"], r["reason"]) for r in bench.explain(missing, other)}
    assert pairs == {("kmrv", "other verdict"), ("baseline", "other verdict")}

    # compare() and the markdown: never "yes" where the counts differ, and the reason is written out
    files = {}
    for name, frame in (("kmrv", whole), ("baseline", cut)):
        files[name] = tmp_path / f"{name}.parquet"
        frame.to_parquet(files[name])
    runs = {name: {"seconds": 1.0, "peak_rss_mb": 1.0, "totals": _totals(bench, f), "patch_file": str(files[name]),
                   "area_kind": "ellipsoidal"} for name, f in (("kmrv", whole), ("baseline", cut))}
    agreement = bench.compare(runs["kmrv"], runs["baseline"])
    assert agreement["geometry_agrees"] and not agreement["counts_agree"] and not agreement["agrees"]
    assert agreement["count_difference"] == {"illegal": -2}
    table = bench.markdown({"sizes": {"1000": {**runs, "agreement": {"kmrv": agreement}}}, "postgis": "not reachable"})
    assert "| yes |" not in table and "NO: counts differ" in table
    assert "same land, cut differently" in table and "sliver" in table and "kmrv − baseline: illegal -2" in table
