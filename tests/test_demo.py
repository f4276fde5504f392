"""`kmrv demo` end to end on a small sample, and kmrv's findings against the sample's ground truth."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from openpyxl import load_workbook

from kmrv_geo.units import M2_PER_MU

PATCH_FIELDS = ["patch_id", "change_class", "status", "t0_code", "t1_code", "county_code", "county_name", "township",
                "village", "area_m2", "area_mu", "area_mu_ellipsoidal", "pbf_mu", "approved_mu", "illegal_mu"]


def patches(demo_out, source="vector"):
    """Change patches and below-minimum patches of one source (vector survey or land-cover raster)."""
    found = [gpd.read_file(demo_out / "results.gpkg", layer=layer, engine="pyogrio")
             for layer in ("change_patches", "below_min_patches")]
    found = pd.concat(found, ignore_index=True)
    return found[found["source"] == source].reset_index(drop=True)


def truth(demo_out):
    return gpd.read_file(demo_out / "data" / "demo.gpkg", layer="truth_changes", engine="pyogrio")


def test_demo_writes_every_output(demo_out):
    manifest = json.loads((demo_out / "manifest.json").read_text(encoding="utf-8"))
    written = set(manifest["outputs"])
    for name in ["results.gpkg", "report.xlsx", "check_report.json", "maps/overview.html",
                 "tables/violations_by_county.csv", "tables/violations_by_village.csv",
                 "tables/balances_by_county.csv", "tables/feature_accounting.csv"]:
        assert name in written, name
        assert (demo_out / name).stat().st_size > 0, name
    layers = {name for name, _ in pyogrio.list_layers(demo_out / "results.gpkg")}
    assert {"change_patches", "below_min_patches"} <= layers
    # the sample is made inside the run: every file names it where it ended up, not in the staging folder
    for name in ("check_report.json", "manifest.json", "tables/feature_accounting.csv", "cli_output.txt"):
        assert ".kmrv-staging" not in (demo_out / name).read_text(encoding="utf-8-sig"), name


def test_demo_patches_have_the_promised_fields_and_invariants(demo_out):
    found = gpd.read_file(demo_out / "results.gpkg", layer="change_patches", engine="pyogrio")
    assert set(PATCH_FIELDS) <= set(found.columns)
    assert set(found["source"]) == {"vector", "raster"}
    assert found["patch_id"].is_unique
    np.testing.assert_allclose(found["area_mu_planar"], found.area / M2_PER_MU, rtol=1e-9)
    np.testing.assert_allclose(found["area_mu"], found["area_mu_ellipsoidal"], rtol=1e-12)  # area: default
    nonagri = found[found["change_class"] == "nonagri"]
    np.testing.assert_allclose(nonagri["approved_mu"] + nonagri["illegal_mu"], nonagri["area_mu"], rtol=1e-9, atol=1e-9)
    by_county = pd.read_csv(demo_out / "tables" / "violations_by_county.csv", encoding="utf-8-sig", dtype=str)
    assert len(by_county) >= 1


def illegal_recall_and_false_share(demo_out):
    """Recall and false share of illegal construction, by area, as regions (patch minus approvals)."""
    approvals = gpd.read_file(demo_out / "data" / "demo.gpkg", layer="approvals", engine="pyogrio")
    approved = shapely.union_all(approvals.geometry.values)
    injected = truth(demo_out)
    injected = shapely.union_all(injected.loc[injected["illegal_m2"] > 0].geometry.values).difference(approved)
    found = patches(demo_out)
    found = shapely.union_all(found.loc[found["illegal_mu"] > 0].geometry.values).difference(approved)
    hit = injected.intersection(found).area
    return hit / injected.area, found.difference(injected).area / found.area, injected.area / M2_PER_MU


def test_demo_finds_the_injected_illegal_construction(demo_out):
    """≥ 99 % of the injected illegal 亩 are found as illegal, and ≤ 1 % of what is called illegal is not."""
    recall, false_share, injected_mu = illegal_recall_and_false_share(demo_out)
    assert injected_mu > 100  # the sample at 1,500 parcels injects a few hundred 亩
    assert recall >= 0.99
    assert false_share <= 0.01
    found = patches(demo_out)
    injected = truth(demo_out)
    assert found["illegal_mu"].sum() == pytest.approx(injected["illegal_m2"].sum() / M2_PER_MU, rel=0.01)


@pytest.mark.parametrize("status", ["illegal", "approved", "partly_approved", "nongrain_on_pbf", "nongrain",
                                    "supplement"])
def test_demo_statuses_match_the_truth_piece_by_piece(demo_out, status):
    """Each injected piece is found as one patch (largest overlap) with the injected status."""
    injected = truth(demo_out)
    injected = injected[(injected["status"] == status) & ~injected["below_min"].astype(bool)].reset_index(drop=True)
    found = patches(demo_out)
    if injected.empty:
        pytest.skip(f"no injected {status} piece at this size")
    tree = shapely.STRtree(found.geometry.values)
    ti, fi = tree.query(injected.geometry.values, predicate="intersects")
    overlap = shapely.area(shapely.intersection(injected.geometry.values[ti], found.geometry.values[fi]))
    pairs = pd.DataFrame({"truth": ti, "found": fi, "overlap": overlap}).sort_values("overlap", ascending=False)
    best = pairs.drop_duplicates("truth").set_index("truth").reindex(range(len(injected)))
    assert best["found"].notna().all(), "an injected piece was not found at all"
    matched = found.iloc[best["found"].astype(int).to_numpy()]
    assert (matched["status"].to_numpy() == status).mean() >= 0.99
    np.testing.assert_allclose(best["overlap"].to_numpy(), injected["area_m2"].to_numpy(), rtol=1e-6)


def test_demo_specks_are_below_min_not_dropped(demo_out):
    injected = truth(demo_out)
    specks = injected[injected["below_min"].astype(bool)]
    below = gpd.read_file(demo_out / "results.gpkg", layer="below_min_patches", engine="pyogrio")
    below = below[below["source"] == "vector"]
    assert len(specks) > 0
    assert len(below) >= len(specks)
    assert below.area.sum() == pytest.approx(specks.area.sum(), rel=1e-6)


def test_demo_report_has_the_handover_sheets(demo_out):
    book = load_workbook(demo_out / "report.xlsx", read_only=True)
    names = book.sheetnames
    assert any("卫片" in name for name in names), names
    assert any("区县" in name or "县" in name for name in names), names


def test_cli_violations_on_the_sample_prints_the_summary(demo_out, tmp_path):
    """`kmrv violations` alone: only the violation outputs, and a summary whose total matches the layer."""
    from click.testing import CliRunner

    from kmrv_geo.cli.main import cli

    out = tmp_path / "violations"
    result = CliRunner().invoke(cli, ["violations", str(demo_out / "data" / "demo.yml"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    found = gpd.read_file(out / "results.gpkg", layer="change_patches", engine="pyogrio")  # specks not counted
    assert set(found["source"]) == {"vector"}
    illegal_mu = found["illegal_mu"].sum()
    assert f"违法占用耕地 {illegal_mu:.2f} 亩" in result.output
    assert "违法面积前三区县" in result.output
    assert (out / "tables" / "balances_by_county.csv").exists() and (out / "report.xlsx").exists()
    assert not (out / "maps").exists()
    # Deterministic: the same inputs give byte-identical tables in this run and in the demo's.
    for table in ["violations_by_county.csv", "violations_by_village.csv", "balances_by_county.csv"]:
        assert (out / "tables" / table).read_bytes() == (demo_out / "tables" / table).read_bytes(), table


def test_demo_has_a_profile_row_for_each_of_the_183_villages(demo_out):
    villages = gpd.read_file(demo_out / "data" / "demo.gpkg", layer="villages", engine="pyogrio")
    profiles = gpd.read_file(demo_out / "results.gpkg", layer="villages_profile", engine="pyogrio")
    assert len(profiles) == 183
    assert sorted(profiles["village"]) == sorted(villages["CMC"])
    assert profiles["category"].value_counts().to_dict() == {"绿美村庄": 137, "重点村": 46}
    table = pd.read_csv(demo_out / "tables" / "villages_profile.csv", encoding="utf-8-sig")
    assert len(table) == 183 and "村" in table.columns and "违法面积(亩·椭球)" in table.columns
    # Villages lie around the lake: some reach the shore (distance 0), most lie back from it.
    assert (profiles["distance_to_shore_m"] >= 0).all() and (profiles["distance_to_shore_m"] > 0).mean() > 0.8
    # The village illegal 亩 add up to the illegal 亩 of the patches located in a village.
    found = gpd.read_file(demo_out / "results.gpkg", layer="change_patches", engine="pyogrio")
    found = found[found["source"] == "vector"]  # the profiles take the vector survey where there is one
    in_villages = found.loc[found["village"].fillna("") != "", "illegal_mu"].sum()
    assert profiles["illegal_mu"].sum() == pytest.approx(in_villages, rel=1e-9)
    # parts of a block inside a village never exceed its farmland (1e-9 relative: ellipsoidal measuring noise)
    assert (profiles["facility_sites_mu"] <= profiles["farmland_mu"] * (1 + 1e-9) + 1e-6).all()
    book = load_workbook(demo_out / "report.xlsx", read_only=True)
    assert "村庄档案" in book.sheetnames


@pytest.mark.parametrize(("step", "layers", "absent"), [
    ("coverage", {"hsf_gaps", "hsf_outside_farmland", "hsf_to_construction", "change_patches"}, {"facility_sites"}),
    ("sites", {"facility_sites"}, {"change_patches", "villages_profile"}),
    ("villages", {"villages_profile", "village_construction", "change_patches", "facility_sites"}, {"hsf_gaps"}),
])  # fmt: skip
def test_cli_step_commands_write_their_layers_and_prerequisites(demo_out, tmp_path, step, layers, absent):
    from click.testing import CliRunner

    from kmrv_geo.cli.main import cli

    out = tmp_path / step
    result = CliRunner().invoke(cli, [step, str(demo_out / "data" / "demo.yml"), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    written = {name for name, _ in pyogrio.list_layers(out / "results.gpkg")}
    assert layers <= written and not (absent & written), written
    # The same layer from a single step and from the whole demo run is identical.
    name = sorted(layers - {"change_patches"})[0]
    a = gpd.read_file(out / "results.gpkg", layer=name, engine="pyogrio")
    b = gpd.read_file(demo_out / "results.gpkg", layer=name, engine="pyogrio")
    pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"))


PIXEL_M2 = 30.0 * 30.0


def covered_share(features: gpd.GeoDataFrame, by: gpd.GeoDataFrame) -> np.ndarray:
    """Share of each feature's area covered by the union of ``by``."""
    fi, bi = shapely.STRtree(by.geometry.values).query(features.geometry.values, predicate="intersects")
    overlap = shapely.area(shapely.intersection(features.geometry.values[fi], by.geometry.values[bi]))
    total = pd.Series(overlap).groupby(fi).sum().reindex(range(len(features)), fill_value=0.0).to_numpy()
    return total / features.area.to_numpy()


def test_demo_landcover_change_recall_and_precision(demo_out):
    """Raster change patches against the injected changes, for pieces and patches larger than 4 pixels."""
    injected = truth(demo_out)
    injected = injected[(injected["basis"] == "land_use") & (injected.area > 4 * PIXEL_M2)].reset_index(drop=True)
    everything = truth(demo_out)
    found = gpd.read_file(demo_out / "results.gpkg", layer="change_patches", engine="pyogrio")
    found = found[found["source"] == "raster"].reset_index(drop=True)
    big = found[found.area > 4 * PIXEL_M2].reset_index(drop=True)
    recall = (covered_share(injected, found) >= 0.5).mean()
    precision = (covered_share(big, everything) >= 0.5).mean()
    assert len(injected) >= 20 and len(big) >= 20
    assert recall >= 0.9 and precision >= 0.9, (recall, precision)
    assert found["patch_id"].str.contains("-R").all()
    assert set(found["t1_name"]) <= {"不透水面（遥感）", "林地（遥感）", "灌木（遥感）", "草地（遥感）", "水体（遥感）",
                                     "湿地（遥感）", "裸地（遥感）", "冰雪（遥感）", "耕地（遥感）"}


def test_demo_abandoned_parcels_recall_and_precision(demo_out):
    injected = gpd.read_file(demo_out / "data" / "demo.gpkg", layer="truth_abandoned", engine="pyogrio")
    found = gpd.read_file(demo_out / "results.gpkg", layer="abandoned_parcels", engine="pyogrio")
    truly = set(injected.loc[injected["abandoned"].astype(bool) & (injected.area > 4 * PIXEL_M2), "BSM"])
    decoys = set(injected.loc[~injected["abandoned"].astype(bool), "BSM"])
    called = set(found.loc[found.area > 4 * PIXEL_M2, "parcel_id"])
    assert len(truly) >= 5
    assert len(truly & called) / len(truly) >= 0.9
    assert len(truly & called) / len(called) >= 0.9
    assert not decoys & called  # one low year (fallow) is never abandonment
    assert {"years_low", "area_mu", "county_name", "village", "pbf_mu", "ndvi_2023"} <= set(found.columns)
    by_county = pd.read_csv(demo_out / "tables" / "abandoned_by_county.csv", encoding="utf-8-sig")
    assert by_county["撂荒(亩·椭球)"].iloc[-1] == pytest.approx(found["area_mu"].sum(), rel=1e-9)
    profiles = gpd.read_file(demo_out / "results.gpkg", layer="villages_profile", engine="pyogrio")
    in_villages = found.loc[found["village"].fillna("") != "", "area_mu"].sum()
    assert profiles["abandoned_mu"].sum() == pytest.approx(in_villages, rel=1e-9)


@pytest.mark.parametrize(("step", "layer"), [("landcover", "change_patches"), ("abandonment", "abandoned_parcels")])
def test_cli_raster_steps(demo_out, tmp_path, step, layer):
    from click.testing import CliRunner

    from kmrv_geo.cli.main import cli

    out = tmp_path / step
    result = CliRunner().invoke(cli, [step, str(demo_out / "data" / "demo.yml"), "--out", str(out), "--lang", "en"])
    assert result.exit_code == 0, result.output
    written = {name for name, _ in pyogrio.list_layers(out / "results.gpkg")}
    assert layer in written
    a = gpd.read_file(out / "results.gpkg", layer=layer, engine="pyogrio")
    b = gpd.read_file(demo_out / "results.gpkg", layer=layer, engine="pyogrio")
    if step == "landcover":
        assert set(a["source"]) == {"raster"} and "land-cover rasters" in result.output
        b = b[b["source"] == "raster"].reset_index(drop=True)
    else:
        assert "suspected abandoned farmland" in result.output
    pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"))


def test_demo_judged_monitoring_patches_match_the_truth(demo_out):
    """卫片执法 on the sample: every monitoring patch judged, its verdict and leading reason as injected."""
    judged = gpd.read_file(demo_out / "results.gpkg", layer="judged_patches", engine="pyogrio")
    expected = gpd.read_file(demo_out / "data" / "demo.gpkg", layer="truth_patches", engine="pyogrio")
    both = expected.merge(judged, left_on="JCBH", right_on="patch_id", how="left", validate="1:1")
    assert both["verdict"].notna().all()  # nothing lost
    illegal = both[both["expected_verdict"] == "illegal"]
    recall = (illegal["verdict"] == "illegal").mean()
    precision = (both.loc[both["verdict"] == "illegal", "expected_verdict"] == "illegal").mean()
    assert len(illegal) > 0 and recall == 1.0 and precision == 1.0
    assert (both["verdict"] == both["expected_verdict"]).all(), both.loc[
        both["verdict"] != both["expected_verdict"], ["JCBH", "expected_reason", "reasons"]]
    assert all(r.expected_reason in r.reasons.split(";") for r in both.itertuples())
    # every verdict cites the document it rests on
    cited = both[both["document"].fillna("") != ""]
    columns = ["approval_refs", "facility_refs", "temporary_refs", "supplement_refs"]
    refs = cited[columns].fillna("").agg("；".join, axis=1)
    erl = cited["expected_reason"] == "construction_in_erl"  # the ERL's name is no document number
    assert all(doc in text for doc, text in zip(cited.loc[~erl, "document"], refs[~erl], strict=True))
    package = demo_out / "fieldcheck"
    assert (package / "核查表.xlsx").exists() and (package / "index.html").exists()
    assert len(pyogrio.read_dataframe(package / "图斑.kml")) == len(judged)


def test_raster_change_patches_are_judged_the_same_way(demo_out, tmp_path):
    """`kmrv judge` on the `change_patches` a run wrote (land-cover raster patches included): every patch is
    judged or listed, under its own id, its current use taken from the T1 survey.
    """
    from click.testing import CliRunner

    from kmrv_geo.cli.main import cli

    out = tmp_path / "judged"
    result = CliRunner().invoke(cli, ["judge", str(demo_out / "data" / "demo.yml"), str(demo_out / "results.gpkg"),
                                      "--layer", "change_patches", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    source = gpd.read_file(demo_out / "results.gpkg", layer="change_patches", engine="pyogrio")
    judged = gpd.read_file(out / "results.gpkg", layer="judged_patches", engine="pyogrio")
    listed = pyogrio.list_layers(out / "results.gpkg")[:, 0]
    not_judged = (gpd.read_file(out / "results.gpkg", layer="patches_not_judged", engine="pyogrio")
                  if "patches_not_judged" in listed else judged.iloc[:0])
    assert sorted([*judged["patch_id"], *not_judged["patch_id"]]) == sorted(source["patch_id"])
    raster = judged[judged["patch_id"].isin(source.loc[source["source"] == "raster", "patch_id"])]
    assert len(raster) and (raster["after_source"] == "t1").all()


def test_demo_village_review_finds_every_injected_conflict(demo_out):
    """Recall against the sample's ground truth: every injected finding is found, whole; and the findings
    the truth does not list (houses outside a boundary that were not injected, existing construction planned
    inside the UDB) equal an independent plain-geopandas recomputation.
    """
    import oracle

    found = gpd.read_file(demo_out / "results.gpkg", layer="village_review", engine="pyogrio")
    truth = gpd.read_file(demo_out / "data" / "demo.gpkg", layer="truth_village_review", engine="pyogrio")
    assert len(truth) > 0
    got = found.groupby(["village_key", "finding"])["area_mu"].sum() * M2_PER_MU
    expected = truth.groupby(["CUNDM", "finding"])["area_m2"].sum()
    for (key, finding), m2 in expected.items():
        # ellipsoidal 亩 against planar m²: within 0.05 %; more where other findings of the kind share the village
        assert got.get((key, finding), 0.0) >= m2 * 0.9995, (key, finding)
        if finding not in ("built_outside_boundary", "planned_in_udb", "planned_farmland_loss"):
            assert got[(key, finding)] == pytest.approx(m2, rel=5e-4), (key, finding)
    independent = oracle.village_review(oracle.load_project(demo_out / "data" / "demo.yml"))
    for row in independent.itertuples():
        assert got.get((row.village_key, row.finding), 0.0) == pytest.approx(row.area_m2, rel=5e-4), row
    checked = found[found["finding"].isin(independent["finding"].unique())]
    assert len(checked) == len(independent)  # nothing found that the recomputation does not find
    profile = gpd.read_file(demo_out / "results.gpkg", layer="villages_profile", engine="pyogrio")
    meta = gpd.read_file(demo_out / "data" / "demo.gpkg", layer="truth_village_plan_meta", engine="pyogrio")
    has_plan = dict(zip(profile["village_key"], profile["has_plan"], strict=True))
    assert all(has_plan[k] == bool(v) for k, v in zip(meta["CUNDM"], meta["has_plan"], strict=True))
    missing_theme = set(profile.loc[profile["theme_missing"].astype(bool), "village_key"])
    assert missing_theme == set(meta.loc[(meta["LX"] == "重点村") & (meta["ZT"].fillna("") == ""), "CUNDM"])


def test_demo_run_page_figures_equal_the_tables(demo_out):
    """index.html of the demo: listed in the manifest, its headline figures equal the tables' totals."""
    import re

    manifest = json.loads((demo_out / "manifest.json").read_text(encoding="utf-8"))
    assert "index.html" in manifest["outputs"]
    page = (demo_out / "index.html").read_text(encoding="utf-8")
    figures = {k: float(v) for k, v in re.findall(r'data-figure="([a-z_]+)" data-value="([-0-9.eE+]+)"', page)}
    by_county = pd.read_csv(demo_out / "tables" / "violations_by_county.csv")
    total = by_county[by_county["区县"] == "合计"].iloc[0]
    assert figures["illegal_mu"] == pytest.approx(total["违法面积(亩·椭球)"], rel=1e-9)
    assert figures["illegal_on_pbf_mu"] == pytest.approx(total["违法占永久基本农田(亩·椭球)"], rel=1e-9)
    assert "maps/violations.html" in page and "report.xlsx" in page and "<script src" not in page
