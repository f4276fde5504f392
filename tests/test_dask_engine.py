"""The dask engine gives the local engine's change patches: same ids, same areas (2-worker LocalCluster)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import shapely

from kmrv_geo.analysis import steps
from kmrv_geo.config import load_config
from kmrv_geo.project import load_project

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(sample_dir):
    return load_project(load_config(sample_dir / "demo.yml"))


def test_dask_engine_equals_local_engine(project):
    local = steps.run_violations(project)
    # Two worker processes, four spatial partitions (two per worker by default): patches that cross
    # partition edges must still merge into the same patches.
    distributed = steps.run_violations(project, engine="dask", n_workers=2)
    pieces, expected = distributed.pieces, local.pieces
    assert len(pieces) == len(expected)
    np.testing.assert_array_equal(pieces["t0_pos"], expected["t0_pos"])
    np.testing.assert_array_equal(pieces["t1_pos"], expected["t1_pos"])
    assert shapely.equals_identical(pieces.geometry.values, expected.geometry.values).all()

    for a, b in ((local.patches, distributed.patches), (local.below_min, distributed.below_min)):
        assert a["patch_id"].tolist() == b["patch_id"].tolist()
        np.testing.assert_allclose(b["area_m2"], a["area_m2"], rtol=1e-9)
        pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"), rtol=1e-9)
    assert distributed.farmland == pytest.approx(local.farmland, rel=1e-12)


def test_unknown_engine_is_refused(project):
    with pytest.raises(ValueError, match="unknown engine"):
        steps.run_violations(project, engine="spark")


def test_unreachable_scheduler_is_one_clear_error(sample_dir, tmp_path):
    from click.testing import CliRunner

    from kmrv_geo.cli.main import cli

    result = CliRunner().invoke(cli, ["violations", str(sample_dir / "demo.yml"), "--out", str(tmp_path / "o"), "-q",
                                      "--engine", "dask", "--scheduler", "tcp://127.0.0.1:9"])
    assert result.exit_code == 2, result.output
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.output
    assert "Traceback" not in result.output


@pytest.fixture(scope="module")
def partitions_dir(project, tmp_path_factory):
    """The sample's land use written as seven spatial partitions of at most 300 parcels each (about 2,000 parcels)."""
    from kmrv_geo.partitions import write_partitions

    out = tmp_path_factory.mktemp("parts") / "landuse"
    manifest = write_partitions(project, out, parcels_per_partition=300)
    assert manifest["roles"]["landuse_t0"]["partitions"] == 7
    return out


def test_partitioned_dask_engine_reads_land_use_on_the_workers_and_equals_the_local_engine(project, sample_dir,
                                                                                           partitions_dir):
    """The client never loads the land use; the 2-worker LocalCluster reads the GeoParquet partitions and the
    patches (ids, areas, every column) are the local engine's exactly.
    """
    from kmrv_geo.partitions import open_partitions

    config = load_config(sample_dir / "demo.yml")
    client_side = load_project(config, partitions=open_partitions(partitions_dir, config))
    assert "landuse_t0" not in client_side.vectors and "landuse_t1" not in client_side.vectors
    assert list(client_side.reports) == list(project.reports)  # the checks made at partitioning, in order
    assert client_side.feature_counts() == project.feature_counts()
    local = steps.run_violations(project)
    distributed = steps.run_violations(client_side, engine="dask", n_workers=2)
    for a, b in ((local.patches, distributed.patches), (local.below_min, distributed.below_min)):
        assert len(a) and a["patch_id"].tolist() == b["patch_id"].tolist()
        pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"), check_exact=True)
        assert shapely.equals_identical(a.geometry.values, b.geometry.values).all()
    changed = local.pieces[local.pieces["change_class"] != "kept"].reset_index(drop=True)
    np.testing.assert_array_equal(distributed.pieces["t0_pos"], changed["t0_pos"])
    assert distributed.farmland == pytest.approx(local.farmland, rel=1e-12)


def test_partitioned_run_writes_the_local_runs_tables(sample_dir, partitions_dir, tmp_path):
    """``kmrv violations --engine dask --partitions`` writes byte-identical tables to a local run."""
    from click.testing import CliRunner

    from kmrv_geo.cli.main import cli

    config = str(sample_dir / "demo.yml")
    runs = {"local": [], "dask": ["--engine", "dask", "--partitions", str(partitions_dir)]}
    for name, extra in runs.items():
        result = CliRunner().invoke(cli, ["violations", config, "--out", str(tmp_path / name), "-q", *extra])
        assert result.exit_code == 0, result.output
    tables = sorted(p.name for p in (tmp_path / "local" / "tables").glob("*.csv"))
    assert "violations_by_county.csv" in tables
    for name in tables:
        assert (tmp_path / "dask" / "tables" / name).read_bytes() == (tmp_path / "local" / "tables" / name).read_bytes()
    import json

    engine = json.loads((tmp_path / "dask" / "manifest.json").read_text(encoding="utf-8"))["engine"]
    assert engine["partitions"]["partitions"]["landuse_t0"] == 7


def test_partitions_made_from_other_inputs_are_refused(sample_dir, partitions_dir, tmp_path):
    """A changed land-use file (or the --partitions of a local run, or other steps) is one clear error, exit 2."""
    import shutil

    from click.testing import CliRunner

    from kmrv_geo.cli.main import cli

    copy = tmp_path / "project"
    shutil.copytree(sample_dir, copy)
    parts = tmp_path / "parts"
    shutil.copytree(partitions_dir, parts)
    gpkg = next(p for p in copy.glob("*.gpkg") if p.name.startswith("demo"))
    with open(gpkg, "ab") as handle:  # any change of the file's bytes
        handle.write(b"\0")
    cases = {
        "changed": (["violations", str(copy / "demo.yml"), "--engine", "dask", "--partitions", str(parts)],
                    "do not match the project file: the file(s) "),
        "local": (["violations", str(sample_dir / "demo.yml"), "--partitions", str(parts)], "add --engine dask"),
        "steps": (["run", str(sample_dir / "demo.yml"), "--engine", "dask", "--partitions", str(parts)],
                  "run them without --partitions"),
        "missing": (["violations", str(sample_dir / "demo.yml"), "--engine", "dask", "--partitions",
                     str(tmp_path / "none")], "holds no land-use partitions"),
    }
    for name, (args, expected) in cases.items():
        result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / f"out-{name}"), "-q"])
        assert result.exit_code == 2, (name, result.output)
        assert expected in result.output and "Traceback" not in result.output, (name, result.output)
        assert not (tmp_path / f"out-{name}").exists()
    refused = CliRunner().invoke(cli, ["partition", str(sample_dir / "demo.yml"), "--out", str(parts), "-q"])
    assert refused.exit_code == 2 and "--overwrite" in refused.output


def test_missing_or_damaged_partition_files_are_refused_not_counted_short(sample_dir, partitions_dir, tmp_path):
    """A partition file lost or cut short in a copy must never give smaller figures: one clear error, exit 2,
    naming the file (sizes and sha256 are recorded when the partitions are written).
    """
    import shutil

    from click.testing import CliRunner

    from kmrv_geo.cli.main import cli

    for name, spoil in (("missing", lambda p: p.unlink()), ("cut", lambda p: p.write_bytes(p.read_bytes()[:2000])),
                        ("changed", lambda p: p.write_bytes(p.read_bytes()[:-1] + b"x"))):
        parts = tmp_path / f"parts-{name}"
        shutil.copytree(partitions_dir, parts)
        spoil(parts / "landuse_t1" / "part.3.parquet")
        result = CliRunner().invoke(cli, ["violations", str(sample_dir / "demo.yml"), "--engine", "dask",
                                          "--partitions", str(parts), "--out", str(tmp_path / f"out-{name}"), "-q"])
        assert result.exit_code == 2, (name, result.output)
        assert "incomplete or damaged: landuse_t1/part.3.parquet" in result.output, (name, result.output)
        assert "Traceback" not in result.output and not (tmp_path / f"out-{name}").exists()


def test_partition_writes_into_an_empty_existing_folder(project, tmp_path):
    from kmrv_geo.partitions import write_partitions

    (tmp_path / "parts").mkdir()
    manifest = write_partitions(project, tmp_path / "parts", parcels_per_partition=1000)
    assert set(manifest["roles"]["landuse_t0"]["files"]) == {"part.0.parquet", "part.1.parquet"}


def test_the_load_matches_identical_parcels_once_for_the_change_overlay(project):
    """The twins the load found (second date's parcels as read against the checked first date) are the ones the
    change overlay would match itself, and the local engine's pieces do not depend on which it takes.
    """
    from kmrv_geo.analysis.changes import change_pieces
    from kmrv_geo.overlay import identical_twins

    t0, t1 = project.vectors["landuse_t0"], project.vectors["landuse_t1"]
    matched_here = identical_twins(np.asarray(t0.geometry.values), np.asarray(t1.geometry.values))
    twins = project.landuse_twins()
    assert twins is not None and (twins >= 0).sum() > len(t0) // 2
    np.testing.assert_array_equal(twins, matched_here)
    reused, fresh = change_pieces(t0, t1, partitions=True, twins=twins), change_pieces(t0, t1, partitions=True)
    pd.testing.assert_frame_equal(reused.drop(columns="geometry"), fresh.drop(columns="geometry"))
    # a layer replaced after the load (rows no longer those matched): the twins are not offered
    replaced = dataclasses.replace(project, vectors={**project.vectors, "landuse_t1": t1.iloc[::2]})
    assert replaced.landuse_twins() is None


def test_farmland_since_from_twins_equals_the_overlay_with_dissolved_t0_farmland(project):
    """New T1 farmland (not farmland at T0) is told apart by identical parcels first, then by the area inside T0
    farmland parcels; the same answer as measuring every parcel inside dissolved T0 farmland.
    """
    import shapely

    from kmrv_geo import landuse
    from kmrv_geo.analysis.steps import _farmland_since
    from kmrv_geo.overlay import area_inside, dissolve_zones

    t0, t1 = project.vectors["landuse_t0"], project.vectors["landuse_t1"]
    is_farm = (t1["category"] == landuse.FARMLAND).to_numpy()
    farmland = t1[is_farm].reset_index(drop=True)
    since = _farmland_since(project, farmland, np.flatnonzero(is_farm))
    t0_farm = np.asarray(t0.geometry.values, dtype=object)[(t0["category"] == landuse.FARMLAND).to_numpy()]
    geoms = np.asarray(farmland.geometry.values, dtype=object)
    inside = area_inside(geoms, dissolve_zones(t0_farm), dissolved=True)
    expected = np.where(inside >= 0.5 * shapely.area(geoms), 0, project.config.layers["landuse_t1"].year)
    np.testing.assert_array_equal(since, expected)
    assert (since > 0).sum() > 0 and (since == 0).sum() > 0  # both kinds in the sample
    no_twins = dataclasses.replace(project, _landuse_twins=None)
    np.testing.assert_array_equal(_farmland_since(no_twins, farmland, np.flatnonzero(is_farm)), expected)
