"""The kmrv command line: exit codes, one-paragraph errors, --json, run into a folder."""

from __future__ import annotations

import json
import subprocess
import sys

import geopandas as gpd
import pytest
from click.testing import CliRunner
from shapely.geometry import Point, box

from kmrv_geo.cli.main import cli
from kmrv_geo.errors import ConfigError

X0, Y0 = 560000.0, 2760000.0  # EPSG:4543, near Kunming (≈ 102.6°E, 24.95°N)


@pytest.fixture
def tiny_project(tmp_path):
    """A hand-made project: 2 counties, 4 land-use parcels (one invalid bow-tie), PBF, a village point."""
    gpkg = tmp_path / "tiny.gpkg"
    county = gpd.GeoDataFrame(
        {"XZQDM": ["530111", "530112"], "XZQMC": ["官渡区", "西山区"]},
        geometry=[box(X0, Y0, X0 + 200, Y0 + 200), box(X0 + 200, Y0, X0 + 400, Y0 + 200)], crs="EPSG:4543",
    )  # fmt: skip
    bowtie = gpd.GeoSeries.from_wkt(
        [f"POLYGON(({X0 + 200} {Y0}, {X0 + 400} {Y0 + 200}, {X0 + 400} {Y0}, {X0 + 200} {Y0 + 200}, {X0 + 200} {Y0}))"]
    )[0]
    landuse = gpd.GeoDataFrame(
        {"BSM": [1, 2, 3, 3], "DLBM": ["0101", "103", "0702", "9999"]},
        geometry=[box(X0, Y0, X0 + 100, Y0 + 200), box(X0 + 100, Y0, X0 + 200, Y0 + 200), bowtie, None],
        crs="EPSG:4543",
    )
    pbf = gpd.GeoDataFrame({"BSM": [1]}, geometry=[box(X0, Y0, X0 + 100, Y0 + 100)], crs="EPSG:4543")
    villages = gpd.GeoDataFrame({"CMC": ["<b>示例村</b>"], "LX": ["重点村"]}, geometry=[Point(X0 + 50, Y0 + 50)],
                                crs="EPSG:4543")
    for name, frame in {"county": county, "landuse": landuse, "pbf": pbf, "villages": villages}.items():
        frame.to_file(gpkg, layer=name, engine="pyogrio")
    config = tmp_path / "tiny.yml"
    config.write_text(
        "name: 小测试\nsynthetic: true\ncrs: auto\nlayers:\n"
        "  county: {path: tiny.gpkg, layer: county, code: XZQDM, name: XZQMC}\n"
        "  landuse_t0: {path: tiny.gpkg, layer: landuse, code: DLBM, id: BSM, year: 2022}\n"
        "  pbf: {path: tiny.gpkg, layer: pbf}\n"
        "  villages: {path: tiny.gpkg, layer: villages, name: CMC, category: LX}\n",
        encoding="utf-8",
    )
    return config


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_missing_file_is_one_paragraph_exit_2(tmp_path):
    result = invoke("check", tmp_path / "nope.gpkg", "--role", "pbf")
    assert result.exit_code == 2
    assert "nope.gpkg" in result.output and "Traceback" not in result.output


def test_bad_config_exit_2_and_debug_shows_the_exception(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("layerz: {}\n", encoding="utf-8")
    result = invoke("check", bad)
    assert result.exit_code == 2
    assert result.output.startswith("错误:") and "layerz: unknown key (did you mean layers?)" in result.output
    debug = invoke("check", bad, "--debug")
    assert isinstance(debug.exception, ConfigError)


def test_check_one_file_json_accounting(tiny_project):
    result = invoke("check", tiny_project.parent / "tiny.gpkg", "--layer", "landuse", "--role", "landuse_t0",
                    "--id", "BSM", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)["layers"]["landuse_t0"]
    assert (report["n_in"], report["n_kept"], report["n_repaired"], report["n_rejected"]) == (4, 3, 1, 1)


def test_check_project_summary(tiny_project):
    result = invoke("check", tiny_project, "-q")
    assert result.exit_code == 0, result.output
    assert "EPSG:4543" in result.output


def test_run_writes_outputs_and_refuses_to_overwrite(tiny_project, tmp_path):
    out = tmp_path / "out"
    result = invoke("run", tiny_project, "--out", out, "-q")
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["feature_counts"]["landuse_t0"] == {"in": 4, "kept": 3, "repaired": 1, "rejected": 1}
    assert set(manifest["outputs"]) >= {"check_report.json", "maps/overview.html", "tables/feature_accounting.csv",
                                        "tables/rejected_features.csv", "tables/repaired_features.csv"}
    html = (out / "maps" / "overview.html").read_text(encoding="utf-8")
    assert "示例数据" in html
    assert "<b>示例村</b>" not in html  # attribute text is escaped, never HTML
    again = invoke("run", tiny_project, "--out", out)
    assert again.exit_code == 2 and "--overwrite" in again.output
    assert invoke("run", tiny_project, "--out", out, "--overwrite", "-q").exit_code == 0


def test_python_dash_m_runs_the_cli():
    proc = subprocess.run([sys.executable, "-m", "kmrv_geo", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert "demo" in proc.stdout and "check" in proc.stdout and "run" in proc.stdout


def two_date_project(tmp_path, *, t1_shift: float = 0.0, with_pbf: bool = False):
    """T0: two 100 m × 100 m paddy parcels; T1: the same, the right one built on (0702), shifted by ``t1_shift`` m."""
    gpkg = tmp_path / "dates.gpkg"
    county = gpd.GeoDataFrame({"XZQDM": ["530111"], "XZQMC": ["官渡区"]},
                              geometry=[box(X0, Y0, X0 + 200, Y0 + 100)], crs="EPSG:4543")
    t0 = gpd.GeoDataFrame({"BSM": [1, 2], "DLBM": ["0101", "0101"]},
                          geometry=[box(X0, Y0, X0 + 100, Y0 + 100), box(X0 + 100, Y0, X0 + 200, Y0 + 100)],
                          crs="EPSG:4543")
    t1 = t0.assign(DLBM=["0101", "0702"])
    t1["geometry"] = t1.translate(xoff=t1_shift)
    layers = {"county": county, "t0": t0, "t1": t1}
    if with_pbf:
        layers["pbf"] = gpd.GeoDataFrame({"BSM": [1]}, geometry=[box(X0 + 150, Y0, X0 + 200, Y0 + 100)],
                                         crs="EPSG:4543")
    for name, frame in layers.items():
        frame.to_file(gpkg, layer=name, engine="pyogrio")
    config = tmp_path / "dates.yml"
    config.write_text(
        "name: 两期测试\ncrs: EPSG:4543\nlayers:\n"
        "  county: {path: dates.gpkg, layer: county, code: XZQDM, name: XZQMC}\n"
        "  landuse_t0: {path: dates.gpkg, layer: t0, code: DLBM, id: BSM, year: 2022}\n"
        "  landuse_t1: {path: dates.gpkg, layer: t1, code: DLBM, id: BSM, year: 2023}\n"
        + ("  pbf: {path: dates.gpkg, layer: pbf}\n" if with_pbf else ""),
        encoding="utf-8",
    )
    return config


def test_violations_t0_t1_not_overlapping_names_both_extents(tmp_path):
    config = two_date_project(tmp_path, t1_shift=5000.0)
    result = invoke("violations", config, "--out", tmp_path / "out", "-q")
    assert result.exit_code == 2
    assert f"landuse_t0 (x {X0:.0f}…{X0 + 200:.0f}" in result.output
    assert f"landuse_t1 (x {X0 + 5000:.0f}…{X0 + 5200:.0f}" in result.output
    assert "do not overlap" in result.output and "Traceback" not in result.output


def test_violations_t0_t1_overlapping_too_little_is_refused(tmp_path):
    # Shifted by 150 m, T1 covers only 50 m of T0's 200 m: 25 % of the extent.
    config = two_date_project(tmp_path, t1_shift=150.0)
    result = invoke("violations", config, "--out", tmp_path / "out", "-q")
    assert result.exit_code == 2
    assert "overlap on only 25.0%" in result.output and "min_overlap_share" in result.output
    assert f"x {X0:.0f}…{X0 + 200:.0f}" in result.output and f"x {X0 + 150:.0f}…{X0 + 350:.0f}" in result.output


def test_violations_without_approvals_says_which_verdicts_were_not_given(tmp_path):
    config = two_date_project(tmp_path, with_pbf=True)
    out = tmp_path / "out"
    result = invoke("violations", config, "--out", out, "--lang", "en")
    assert result.exit_code == 0, result.output
    # 100 m × 100 m built on = 15 亩 planar, not judged (no approvals), half of it (7.5 亩) on PBF.
    found = gpd.read_file(out / "results.gpkg", layer="change_patches")
    assert found["status"].tolist() == ["unverified"]
    assert found["area_mu_planar"].iloc[0] == pytest.approx(15.0, rel=1e-12)
    ratio = found["area_mu_ellipsoidal"].iloc[0] / 15.0  # the tables count ellipsoidal areas (default)
    assert found["area_mu"].iloc[0] == pytest.approx(15.0 * ratio, rel=1e-12)
    assert found["pbf_mu"].iloc[0] == pytest.approx(7.5 * ratio, rel=1e-6)
    assert found["illegal_mu"].isna().all() and found["approved_mu"].isna().all()  # unknown, not 0
    assert "no approvals layer: conversions not judged legal/illegal" in result.output
    assert "no PBF layer" not in result.output
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["verdicts_not_given"] == ["approvals"]


def test_every_analysis_shows_progress_unless_quiet(tiny_project, tmp_path, capfd):
    from kmrv_geo import pipeline

    pipeline.run(tiny_project, tmp_path / "loud", progress=True, steps=("villages",))
    loud = capfd.readouterr().err
    assert "分析 analyses" in loud and "villages" in loud and "检查图层" in loud
    pipeline.run(tiny_project, tmp_path / "quiet", progress=False, steps=("villages",))
    assert "分析 analyses" not in capfd.readouterr().err
