"""Silent wrong numbers from real bureau inputs (issue 11, part 5), on small synthetic projects (示例数据).

Parcels are 100 m × 100 m squares in EPSG:4543 (15 亩 planar); projects use ``area: planar`` so the
figures are the paper ones.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner
from shapely.geometry import Point, box

from kmrv_geo import pipeline
from kmrv_geo.cli.main import cli

X0, Y0, CRS = 575000.0, 2770000.0, "EPSG:4543"


def sq(i, j, w=1, h=1):
    return box(X0 + i * 100, Y0 + j * 100, X0 + (i + w) * 100, Y0 + (j + h) * 100)


def write_project(folder, *, villages=None, county=None, township=None, t1_changes=None, t0=None, hsf=None,
                  extra_layers="", t1_year=2023, with_approvals=True):
    """4 × 2 parcels of 0103; T1 turns the parcels in ``t1_changes`` ({BSM: code}); no approvals given."""
    parcels = t0 if t0 is not None else gpd.GeoDataFrame(
        {"BSM": range(1, 9), "DLBM": ["0103"] * 8}, geometry=[sq(i, j) for j in range(2) for i in range(4)], crs=CRS)
    t1 = parcels.copy()
    for bsm, code in (t1_changes or {}).items():
        t1.loc[t1["BSM"] == bsm, "DLBM"] = code
    county = county if county is not None else gpd.GeoDataFrame(
        {"XZQDM": ["530112"], "XZQMC": ["西山区"]}, geometry=[box(X0 - 1000, Y0 - 1000, X0 + 2000, Y0 + 2000)], crs=CRS)
    # approvals: two 1 m squares on unchanged parcels at opposite corners (their extent spans the project)
    approvals = gpd.GeoDataFrame({"PZWH": ["示例〔2023〕1号"]}, geometry=[
        box(X0 + 399, Y0, X0 + 400, Y0 + 1).union(box(X0, Y0 + 199, X0 + 1, Y0 + 200))], crs=CRS)
    layers = {"county": county, "t0": parcels, "t1": t1}
    if with_approvals:
        layers["approvals"] = approvals
    if villages is not None:
        layers["villages"] = villages
    if township is not None:
        layers["township"] = township
    if hsf is not None:
        layers["hsf"] = hsf
    for name, frame in layers.items():
        frame.to_file(folder / "data.gpkg", layer=name, driver="GPKG")
    lines = ["  county: {path: data.gpkg, layer: county, code: XZQDM, name: XZQMC}",
             f"  landuse_t0: {{path: data.gpkg, layer: t0, code: DLBM, year: {t1_year - 1}, id: BSM}}",
             f"  landuse_t1: {{path: data.gpkg, layer: t1, code: DLBM, year: {t1_year}, id: BSM}}"]
    if with_approvals:
        lines.append("  approvals: {path: data.gpkg, layer: approvals}")
    if villages is not None:
        lines.append("  villages: {path: data.gpkg, layer: villages, name: CMC, category: LX, code: CUNDM}")
    if township is not None:
        lines.append("  township: {path: data.gpkg, layer: township}")
    if hsf is not None:
        lines.append("  hsf: {path: data.gpkg, layer: hsf, year: JSND}")
    config = folder / "project.yml"
    config.write_text("name: 示例（合成数据）\nsynthetic: true\ncrs: EPSG:4543\narea: planar\nlayers:\n"
                      + "\n".join(lines) + "\n" + extra_layers, encoding="utf-8")
    return config


def test_two_villages_with_the_same_name_keep_their_own_figures(tmp_path):
    # 东村 (code …001) holds parcels x 0–200, 东村 (code …002) x 200–400; BSM 1 (in the first) is built on:
    # illegal 15 亩 in the first, 0 in the second — never 15 in each, never 30 in one.
    villages = gpd.GeoDataFrame({"CMC": ["东村", "东村"], "LX": ["重点村", "绿美村庄"],
                                 "CUNDM": ["530112001001", "530112001002"]},
                                geometry=[sq(0, 0, 2, 2), sq(2, 0, 2, 2)], crs=CRS)
    config = write_project(tmp_path, villages=villages, t1_changes={1: "0702"})
    result = pipeline.run(config, tmp_path / "out", steps=("violations", "villages"), lang="en")
    profile = pd.read_csv(tmp_path / "out" / "tables" / "villages_profile.csv", dtype={"village_key": str})
    assert profile["illegal (mu, planar)"].tolist() == pytest.approx([15.0, 0.0])
    assert profile["farmland (mu, planar)"].tolist() == pytest.approx([45.0, 60.0])
    by_village = pd.read_csv(tmp_path / "out" / "tables" / "violations_by_village.csv", dtype=str)
    assert "530112001001" in set(by_village.iloc[:, 3])
    assert any("duplicate names" in line and "东村" in line for line in result.summary)


def test_villages_given_as_points_have_empty_boundary_figures_and_no_rank(tmp_path):
    villages = gpd.GeoDataFrame({"CMC": ["甲村", "乙村"], "LX": ["重点村", "绿美村庄"], "CUNDM": ["1", "2"]},
                                geometry=[Point(X0 + 50, Y0 + 50), Point(X0 + 350, Y0 + 50)], crs=CRS)
    config = write_project(tmp_path, villages=villages, t1_changes={1: "0702"})
    result = pipeline.run(config, tmp_path / "out", steps=("violations", "villages"), lang="en")
    profile = gpd.read_file(tmp_path / "out" / "results.gpkg", layer="villages_profile")
    for column in ("illegal_mu", "nongrain_mu", "farmland_mu", "area_mu", "rank_illegal", "rank_gap"):
        assert profile[column].isna().all(), column  # empty (需要村界), never 0
    assert any("需要村界" in line for line in result.summary)


def test_numeric_county_codes_are_text_everywhere(tmp_path):
    county = gpd.GeoDataFrame({"XZQDM": [530112.0], "XZQMC": ["西山区"]},
                              geometry=[box(X0 - 1000, Y0 - 1000, X0 + 2000, Y0 + 2000)], crs=CRS)
    config = write_project(tmp_path, county=county, t1_changes={1: "0702"},
                           extra_layers="  pbf: {path: data.gpkg, layer: t0}\n")
    pipeline.run(config, tmp_path / "out", steps=("violations", "coverage", "maps"), lang="en")
    table = pd.read_csv(tmp_path / "out" / "tables" / "violations_by_county.csv", dtype=str)
    assert table["county code"].iloc[0] == "530112"
    patches = gpd.read_file(tmp_path / "out" / "results.gpkg", layer="change_patches")
    assert patches["patch_id"].tolist() == ["530112-00001"]
    assert (tmp_path / "out" / "maps" / "coverage.html").exists()


def test_a_township_layer_without_its_name_field_is_an_error(tmp_path):
    township = gpd.GeoDataFrame({"XZQDM": ["530112001"]}, geometry=[box(X0 - 500, Y0 - 500, X0 + 900, Y0 + 900)],
                                crs=CRS)
    config = write_project(tmp_path, township=township)
    result = CliRunner().invoke(cli, ["violations", str(config), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "township layer has no field XZQMC" in result.output and "XZQDM" in result.output


def test_kmrv_check_finds_overlapping_parcels_in_one_land_use_layer(tmp_path):
    parcels = gpd.GeoDataFrame({"BSM": [1, 2, 3], "DLBM": ["0103"] * 3},
                               geometry=[sq(0, 0), sq(1, 0), box(X0 + 150, Y0, X0 + 250, Y0 + 100)], crs=CRS)
    config = write_project(tmp_path, t0=parcels)
    result = CliRunner().invoke(cli, ["check", str(config), "--lang", "en"])
    assert result.exit_code == 2, result.output
    # parcel 3 (x 150–250) overlaps parcel 2 (x 100–200) by 50 × 100 = 5000 m²
    assert "landuse_t0" in result.output and "2 and 3 (5000.00 m²)" in result.output


def test_hsf_by_year_uses_the_datas_year_not_todays_date(tmp_path):
    # The survey is of 2023: an HSF project "built" in 2025 is implausible whatever today's date is.
    hsf = gpd.GeoDataFrame({"JSND": ["2021", "2025"]}, geometry=[sq(0, 0), sq(1, 0)], crs=CRS)
    config = write_project(tmp_path, hsf=hsf)
    pipeline.run(config, tmp_path / "out", steps=("coverage",), lang="en")
    table = pd.read_csv(tmp_path / "out" / "tables" / "hsf_by_year.csv")
    years = table.iloc[:, 0].tolist()
    assert years[0] == 2021 and pd.isna(years[1])  # 2025 counts as "not given"


def test_kmrv_check_refuses_what_kmrv_run_refuses_t0_t1_far_apart(tmp_path):
    t0 = gpd.GeoDataFrame({"BSM": [1, 2], "DLBM": ["0103", "0103"]}, geometry=[sq(0, 0), sq(1, 0)], crs=CRS)
    config = write_project(tmp_path, t0=t0)
    t1 = gpd.GeoDataFrame({"BSM": [1], "DLBM": ["0103"]}, geometry=[box(X0 + 150, Y0, X0 + 350, Y0 + 100)], crs=CRS)
    t1.to_file(tmp_path / "data.gpkg", layer="t1", driver="GPKG")
    result = CliRunner().invoke(cli, ["check", str(config), "--lang", "en"])
    assert result.exit_code == 2 and "min_overlap_share" in result.output, result.output


def test_each_zone_layer_is_dissolved_once_per_run(tmp_path, monkeypatch):
    """Derived geometry is computed once and shared: PBF used to be dissolved by every step (up to 7 times)."""
    from kmrv_geo import overlay
    from kmrv_geo.sample import make_sample

    info = make_sample(tmp_path / "data", n_parcels=1000, seed=11)
    sizes = {role: len(gpd.read_file(info.gpkg, layer=role)) for role in ("pbf", "hsf", "approvals")}
    calls = []
    real = overlay.dissolve_zones
    monkeypatch.setattr(overlay, "dissolve_zones", lambda zones: calls.append(len(zones)) or real(zones))
    pipeline.run(info.config_path, tmp_path / "out", steps=("violations", "coverage", "sites", "villages"))
    for role, size in sizes.items():
        assert calls.count(size) == 1, (role, size, calls)


def _raster(path, data, *, dtype):
    import numpy as np
    import rasterio
    from affine import Affine

    with rasterio.open(path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0], count=1, dtype=dtype,
                       crs=CRS, transform=Affine(30, 0, X0, 0, -30, Y0 + 200)) as dst:
        dst.write(np.asarray(data, dtype=dtype), 1)


@pytest.mark.parametrize(("layer", "dtype", "values", "expected"), [
    ("landcover", "float32", 1.0, "holds float32 values"),
    ("ndvi", "int16", 7000, "scale: 0.0001"),
])
def test_kmrv_check_refuses_raster_values_the_analyses_cannot_use(tmp_path, layer, dtype, values, expected):
    import numpy as np

    config = write_project(tmp_path)
    for year in (2022, 2023):
        _raster(tmp_path / f"{layer}_{year}.tif", np.full((8, 16), values), dtype=dtype)
    extra = ("  landcover_t0: {path: landcover_2022.tif}\n  landcover_t1: {path: landcover_2023.tif}\n"
             if layer == "landcover" else '  ndvi: {path: "ndvi_{year}.tif", years: [2022, 2023]}\n')
    config.write_text(config.read_text(encoding="utf-8") + extra, encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", str(config), "--lang", "en"])
    assert result.exit_code == 2, result.output
    assert expected in result.output and "内部错误" not in result.output


def test_without_approvals_illegal_is_unknown_not_zero(tmp_path):
    # BSM 1 (15 亩) built on, no approvals layer: 15 亩 converted, not judged — never "illegal 0".
    villages = gpd.GeoDataFrame({"CMC": ["甲村"], "LX": ["重点村"], "CUNDM": ["1"]}, geometry=[sq(0, 0, 4, 2)], crs=CRS)
    config = write_project(tmp_path, villages=villages, t1_changes={1: "0702"}, with_approvals=False)
    result = pipeline.run(config, tmp_path / "out", steps=("violations", "villages"), lang="en")
    county = pd.read_csv(tmp_path / "out" / "tables" / "violations_by_county.csv").iloc[0]
    assert county["to construction (mu, planar)"] == pytest.approx(15.0)
    assert pd.isna(county["illegal (mu, planar)"]) and pd.isna(county["approved (mu, planar)"])
    profile = gpd.read_file(tmp_path / "out" / "results.gpkg", layer="villages_profile")
    assert profile["illegal_mu"].isna().all() and profile["rank_illegal"].isna().all()
    assert any("farmland to construction 15.00 mu, not judged" in line for line in result.summary)
    assert not any("illegal conversion 0.00" in line for line in result.summary)


def test_map_popups_name_the_area_kind_like_the_tables(tmp_path):
    config = write_project(tmp_path, t1_changes={1: "0702"})  # area: planar
    pipeline.run(config, tmp_path / "out", steps=("violations", "maps"), basemap="none")
    html = (tmp_path / "out" / "maps" / "violations.html").read_text(encoding="utf-8")
    assert "面积(亩·平面)" in html and "面积(亩)" not in html


@pytest.mark.parametrize("extra, shown", [
    (lambda: sq(1, 0), "2 and 9 (10000.00 m²)"),  # a second copy of unchanged parcel 2
    (lambda: box(X0 + 150, Y0 + 100, X0 + 250, Y0 + 200), "6 and 9 (5000.00 m²)"),  # a new parcel over 6 and 7
])
def test_unchanged_parcels_skip_the_overlap_test_but_copies_and_new_overlaps_are_refused(tmp_path, extra, shown):
    """T1 parcels identical to distinct T0 parcels (which passed) are not tested against each other; a duplicate
    of one T0 parcel, or a new parcel over unchanged ones, still stops the run naming the parcels.
    """
    config = write_project(tmp_path)
    t0 = gpd.read_file(tmp_path / "data.gpkg", layer="t0")
    t1 = pd.concat([t0, gpd.GeoDataFrame({"BSM": [9], "DLBM": ["0103"]}, geometry=[extra()], crs=CRS)],
                   ignore_index=True)
    t1.to_file(tmp_path / "data.gpkg", layer="t1", driver="GPKG")
    result = CliRunner().invoke(cli, ["check", str(config), "--lang", "en"])
    assert result.exit_code == 2, result.output
    assert "landuse_t1" in result.output and shown in result.output, result.output


def test_unchanged_parcels_take_the_area_measured_at_the_other_date_and_tbmj_is_still_checked(tmp_path):
    """The TBMJ check measures each geometry once: a T1 parcel identical to a T0 parcel takes its ellipsoidal
    area (the same number as measuring it), and a wrong TBMJ on such a parcel is still listed.
    """
    from kmrv_geo.config import load_config
    from kmrv_geo.project import load_project
    from kmrv_geo.units import ELLIPSOIDAL_M2_COLUMN, AreaMeasure

    config = write_project(tmp_path)
    t0 = gpd.read_file(tmp_path / "data.gpkg", layer="t0")
    t0["TBMJ"] = AreaMeasure(CRS).ellipsoidal_m2(t0.geometry.values).round(2)
    t1 = t0.copy()
    t1.loc[t1["BSM"] == 3, "TBMJ"] = 9000.0  # geometry unchanged, attribute wrong
    t1.loc[t1["BSM"] == 8, "geometry"] = box(X0 + 300, Y0 + 100, X0 + 350, Y0 + 200)  # reshaped: measured
    t1.loc[t1["BSM"] == 8, "TBMJ"] = round(float(AreaMeasure(CRS).ellipsoidal_m2(t1.geometry.values[-1:])[0]), 2)
    t0.to_file(tmp_path / "data.gpkg", layer="t0", driver="GPKG")
    t1.to_file(tmp_path / "data.gpkg", layer="t1", driver="GPKG")
    project = load_project(load_config(config))
    got0 = project.vectors["landuse_t0"][ELLIPSOIDAL_M2_COLUMN].to_numpy()
    got1 = project.vectors["landuse_t1"][ELLIPSOIDAL_M2_COLUMN].to_numpy()
    measured1 = project.measure.ellipsoidal_m2(project.vectors["landuse_t1"].geometry.values)
    assert got1.tolist() == measured1.tolist() and got1[:7].tolist() == got0[:7].tolist()
    assert got1[7] == pytest.approx(5000.0, rel=1e-3)
    off = project.tbmj_mismatch["landuse_t1"]
    assert off["parcel_id"].astype(str).tolist() == ["3"]


def test_lower_case_sandiao_field_names_are_found(tmp_path):
    """ogr2ogr into PostgreSQL folds names to lower case: kcxs, zzsxdm and tbmj are still the 三调 fields (net of
    田坎, 种植属性 non-grain, TBMJ check), as KCXS, ZZSXDM and TBMJ would be; configured names stay as written.
    """
    from kmrv_geo.analysis import steps
    from kmrv_geo.config import load_config
    from kmrv_geo.project import load_project

    config = write_project(tmp_path)
    t0 = gpd.read_file(tmp_path / "data.gpkg", layer="t0")
    t0["kcxs"] = 0.1
    t0["zzsxdm"] = "LS"
    t0["tbmj"] = t0.geometry.area.round(2)
    t1 = t0.copy()
    t1.loc[t1["BSM"] == 3, "zzsxdm"] = "FLS"  # still 0103 farmland, planted with non-grain crops
    t0.to_file(tmp_path / "data.gpkg", layer="t0", driver="GPKG")
    t1.to_file(tmp_path / "data.gpkg", layer="t1", driver="GPKG")
    project = load_project(load_config(config))
    for role in ("landuse_t0", "landuse_t1"):
        assert {"KCXS", "ZZSXDM", "TBMJ"} <= set(project.vectors[role].columns)
        assert project.has_ridges(role) and project.ridge_fields[role].parcel_area == "TBMJ"
    patches = steps.run_violations(project).patches
    assert patches["basis"].tolist() == ["planting_attribute"] and patches["change_class"].tolist() == ["nongrain"]
    assert patches["area_m2"].iloc[0] == pytest.approx(10_000.0, rel=1e-3)


def test_without_an_hsf_layer_coverage_says_unknown_never_zero(tmp_path):
    """PBF and no HSF layer: the PBF figures are given; HSF built, coverage and the gap are unknown (empty), and
    the summary says there is no HSF layer instead of "built 0.00 亩 (0.0%)".
    """
    config = write_project(tmp_path)
    gpd.GeoDataFrame(geometry=[box(X0, Y0, X0 + 200, Y0 + 100)], crs=CRS).to_file(
        tmp_path / "data.gpkg", layer="pbf", driver="GPKG")
    config.write_text(config.read_text(encoding="utf-8") + "  pbf: {path: data.gpkg, layer: pbf}\n", encoding="utf-8")
    result = pipeline.run(config, tmp_path / "out", steps=("coverage",))
    table = pd.read_csv(tmp_path / "out" / "tables" / "coverage_by_county.csv")
    assert table.iloc[0, 2] == pytest.approx(30.0)  # 200 m × 100 m of PBF = 30 亩 (planar project)
    built, covered, gap = table.iloc[0, 3], table.iloc[0, 5], table.iloc[0, 6]
    assert pd.isna(built) and pd.isna(covered) and pd.isna(gap)
    assert any("未配置高标准农田图层" in line for line in result.summary)
    assert not any("已建成高标准农田 0.00" in line for line in result.summary)


def test_illegal_area_net_of_ridges_is_not_printed_as_zero_when_t0_has_no_shares(tmp_path):
    """T1 carries 田坎 shares, T0 none: the illegal land's net area is unknown, so the summary gives the gross
    area alone (before: "扣除田坎 0.00 亩", a sum that skipped the unknowns).
    """
    t0 = gpd.GeoDataFrame({"BSM": range(1, 9), "DLBM": ["0103", "0301"] + ["0103"] * 6},
                          geometry=[sq(i, j) for j in range(2) for i in range(4)], crs=CRS)
    # BSM 1 built on (illegal, T0 share unknown); BSM 2 forest → farmland (new farmland, T1 share known)
    config = write_project(tmp_path, t0=t0, t1_changes={1: "0702", 2: "0103"})
    t1 = gpd.read_file(tmp_path / "data.gpkg", layer="t1")
    t1["KCXS"] = 0.1
    t1.to_file(tmp_path / "data.gpkg", layer="t1", driver="GPKG")
    result = pipeline.run(config, tmp_path / "out", steps=("violations",))
    line = next(line for line in result.summary if "违法占用耕地" in line)
    assert "违法占用耕地 15.00 亩" in line and "扣除田坎" not in line, line


def test_quiet_runs_still_show_the_warnings(tmp_path):
    """-q hides progress bars and the summary, not warnings (as its help says): a wrong TBMJ is still shown."""
    config = write_project(tmp_path)
    t1 = gpd.read_file(tmp_path / "data.gpkg", layer="t1")
    t1["TBMJ"] = [10_000.0] * 7 + [9_000.0]  # parcel 8's recorded area is 10 % off its geometry
    t1.to_file(tmp_path / "data.gpkg", layer="t1", driver="GPKG")
    result = CliRunner().invoke(cli, ["violations", str(config), "--out", str(tmp_path / "out"), "-q"])
    assert result.exit_code == 0, result.output
    warned = [line for line in result.output.splitlines() if line.startswith("注意：[landuse_t1]")]
    assert len(warned) == 1 and "TBMJ" in warned[0] and "8 (" in warned[0], result.output
    assert "违法占用耕地" not in result.output  # the summary itself stays hidden


def test_tbmj_check_measures_farmland_and_doubtful_parcels_and_settles_the_rest_on_the_approximation(tmp_path):
    """For a run whose analyses take only farmland whole (``parcel_areas="farmland"``), non-farmland parcels whose
    TBMJ is surely within the tolerance are judged on the approximate area and left unmeasured (NaN); those near or
    over the tolerance are measured, so the list is the one exact areas give (as when every parcel is measured).
    ``measure_all_parcels`` then measures the rest; a T1 twin takes its T0 parcel's area.
    """
    import numpy as np

    from kmrv_geo.config import load_config
    from kmrv_geo.project import load_project
    from kmrv_geo.units import ELLIPSOIDAL_M2_COLUMN, AreaMeasure

    codes = ["0103", "0103", "0702", "0702", "0702", "0301", "0702", "0301"]
    t0 = gpd.GeoDataFrame({"BSM": range(1, 9), "DLBM": codes},
                          geometry=[sq(i, j) for j in range(2) for i in range(4)], crs=CRS)
    exact = AreaMeasure(CRS).ellipsoidal_m2(t0.geometry.values)
    factor = [1.0, 1.01, 1.0, 1.001001, 1.000999, np.nan, 0.95, 1.0009]
    t0["TBMJ"] = exact * np.array(factor)
    config = write_project(tmp_path, t0=t0)
    config.write_text(config.read_text(encoding="utf-8").replace("area: planar\n", ""), encoding="utf-8")
    every = load_project(load_config(config))  # (the default: every parcel measured at load)
    project = load_project(load_config(config), parcel_areas="farmland")
    for role in ("landuse_t0", "landuse_t1"):
        frame = project.vectors[role]
        measured = frame[ELLIPSOIDAL_M2_COLUMN].to_numpy()
        assert np.isnan(measured).tolist() == [False, False, True, False, False, True, False, True], role
        assert not np.isnan(every.vectors[role][ELLIPSOIDAL_M2_COLUMN].to_numpy()).any()
        assert every.tbmj_mismatch[role].equals(project.tbmj_mismatch[role])
        # the list exact areas give, worked out here: BSM 7 (−5 %), 2 (+1 %), 4 (+0.1001 %); 5 (+0.0999 %) is not
        off = project.tbmj_mismatch[role]
        assert off["parcel_id"].astype(int).tolist() == [7, 2, 4], role
        assert off["difference_share"].tolist() == pytest.approx([-0.05, 0.01, 0.001001], rel=1e-6)
        assert off["geometry_m2"].tolist() == pytest.approx(exact[[6, 1, 3]].tolist(), rel=1e-9)
    project.measure_all_parcels()
    t0_m2 = project.vectors["landuse_t0"][ELLIPSOIDAL_M2_COLUMN].to_numpy()
    assert t0_m2.tolist() == project.measure.ellipsoidal_m2(project.vectors["landuse_t0"].geometry.values).tolist()
    assert project.vectors["landuse_t1"][ELLIPSOIDAL_M2_COLUMN].tolist() == t0_m2.tolist()


def test_the_run_page_of_a_violation_run_links_report_xlsx_and_shows_the_layers_warnings(tmp_path):
    """The run page is made while report.xlsx is still being written: it links it, and it is there when done. A
    layer's check warning (a wrong TBMJ) is on the run page and in the manifest, not only on the console.
    """
    import json

    t0 = gpd.GeoDataFrame({"BSM": range(1, 9), "DLBM": ["0103"] * 8, "TBMJ": [10_000.0] * 7 + [9_000.0]},
                          geometry=[sq(i, j) for j in range(2) for i in range(4)], crs=CRS)
    config = write_project(tmp_path, t0=t0, t1_changes={1: "0702"})
    result = pipeline.run(config, tmp_path / "out", steps=("violations",), lang="zh")
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert 'href="report.xlsx"' in page and (tmp_path / "out" / "report.xlsx").stat().st_size > 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert "report.xlsx" in manifest["outputs"]
    tbmj = [w for w in manifest["warnings"] if w.startswith("[landuse_t0]") and "TBMJ" in w]
    assert len(tbmj) == 1 and "8 (" in tbmj[0] and tbmj[0] in result.warnings
    import html

    assert html.escape(tbmj[0].split(":")[0]) in page.split('id="rp-warnings"')[1]


def test_layer_hull_contains_every_feature_and_is_barely_larger():
    """The T0/T1 overlap check's hull, gathered from grid cells of bounding boxes, holds every feature of a scattered
    layer and is within 2 % of the features' own hull (worked out with a plain shapely union).
    """
    import numpy as np
    import shapely

    from kmrv_geo.project import _hull

    rng = np.random.default_rng(5)
    centres = rng.normal(0, 3000, size=(5000, 2)) + [X0, Y0]
    parcels = [shapely.Polygon(np.column_stack([x + 40 * np.cos(a), y + 25 * np.sin(a)]))
               for x, y in centres for a in [np.sort(rng.uniform(0, 2 * np.pi, 6))]]
    frame = gpd.GeoDataFrame(geometry=parcels + [None], crs=CRS)
    hull = _hull(frame)
    own = shapely.union_all(parcels).convex_hull
    assert hull.covers(shapely.union_all(parcels))
    assert own.area <= hull.area <= 1.02 * own.area
    assert _hull(gpd.GeoDataFrame(geometry=[None], crs=CRS)).is_empty


def test_every_input_file_is_hashed_even_when_hashing_is_slower_than_reading(tmp_path, monkeypatch):
    """Files are hashed on a thread while the layers are read; the load waits for every hash (none is dropped when
    the reads finish first), in the project file's order.
    """
    import time

    from kmrv_geo import project as project_module
    from kmrv_geo.config import load_config
    from kmrv_geo.outputs import sha256_file

    config = write_project(tmp_path)
    text = config.read_text(encoding="utf-8")
    for layer in ("t0", "t1"):  # each land-use layer in a file of its own
        gpd.read_file(tmp_path / "data.gpkg", layer=layer).to_file(tmp_path / f"{layer}.gpkg", driver="GPKG")
        text = text.replace(f"{{path: data.gpkg, layer: {layer},", f"{{path: {layer}.gpkg, layer: {layer},")
    config.write_text(text, encoding="utf-8")

    def slow(path, **kwargs):
        time.sleep(0.3)
        return sha256_file(path, **kwargs)

    monkeypatch.setattr(project_module, "sha256_file", slow)
    project = project_module.load_project(load_config(config))
    files = [tmp_path / "data.gpkg", tmp_path / "t0.gpkg", tmp_path / "t1.gpkg"]
    assert list(project.inputs) == [str(f) for f in files]
    assert list(project.inputs.values()) == [sha256_file(f) for f in files]


def test_kmrv_check_gives_every_tbmj_mismatch_in_its_json_and_says_where_the_lists_are(tmp_path):
    """A check writes no tables: its JSON holds the whole TBMJ list (all 7 parcels, where the warning shows 5) and
    the dates that cannot be read, and the text output says so.
    """
    import json

    config = write_project(tmp_path)
    t1 = gpd.read_file(tmp_path / "data.gpkg", layer="t1")
    t1["TBMJ"] = [10_000.0] + [9_000.0] * 7  # parcels 2–8 are 10 % off their geometry
    t1.to_file(tmp_path / "data.gpkg", layer="t1", driver="GPKG")
    result = CliRunner().invoke(cli, ["check", str(config), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    listed = report["tbmj_mismatch"]["landuse_t1"]
    assert sorted(int(row["parcel_id"]) for row in listed) == list(range(2, 9))
    assert all(abs(row["difference_share"]) > 0.001 for row in listed) and report["unreadable_dates"] == []
    assert "landuse_t0" not in report["tbmj_mismatch"]
    text = CliRunner().invoke(cli, ["check", str(config)])
    assert text.exit_code == 0 and "完整清单（tbmj_mismatch）：加 --json 输出" in text.output, text.output
