"""Atomic writes and the manifest."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from kmrv_geo.errors import OutputError
from kmrv_geo.outputs import STAGING_MARK, OutputFolder, atomic_write, sha256_file


def test_write_killed_midway_leaves_old_file_intact(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old,complete\n1,2\n", encoding="utf-8")
    script = textwrap.dedent(
        f"""
        import os, signal
        from kmrv_geo.outputs import atomic_write

        def write(tmp):
            with open(tmp, "w") as fh:
                fh.write("new,half")
                fh.flush()
                os.kill(os.getpid(), signal.SIGKILL)

        atomic_write({str(target)!r}, write)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -9
    assert target.read_text(encoding="utf-8") == "old,complete\n1,2\n"
    leftovers = [p for p in tmp_path.iterdir() if p.name != "table.csv"]
    assert len(leftovers) == 1 and ".tmp-" in leftovers[0].name
    # a run writes into a staging folder beside its target; the next run into that target removes
    # what a killed run left there
    staging = tmp_path / f".out{STAGING_MARK}99999"
    staging.mkdir()
    leftovers[0].rename(staging / leftovers[0].name)
    OutputFolder(tmp_path / "out")
    assert not staging.exists()


def test_failed_write_removes_temporary_and_keeps_old(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old", encoding="utf-8")

    def broken(tmp):
        tmp.write_text("partial", encoding="utf-8")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_output_folder_records_files_and_refuses_overwrite(tmp_path):
    out = tmp_path / "out"
    folder = OutputFolder(out)
    folder.write_table("tables/t.csv", pd.DataFrame({"区县": ["官渡区"], "面积(亩)": [1.5]}))
    layer = gpd.GeoDataFrame({"a": [1]}, geometry=[box(0, 0, 1, 1)], crs="EPSG:4543")
    folder.write_layers("results.gpkg", {"one": layer, "two": layer.iloc[:0]})
    folder.finish(config={"name": "x"}, inputs={"in.gpkg": "abc"}, counts={"pbf": {"in": 1}})
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["outputs"]["tables/t.csv"]["sha256"] == sha256_file(out / "tables/t.csv")
    assert manifest["outputs"]["results.gpkg"]["layers"] == {"one": 1, "two": 0}
    assert manifest["versions"]["geopandas"] == gpd.__version__
    assert manifest["feature_counts"] == {"pbf": {"in": 1}}
    # UTF-8 with BOM so that Excel/WPS show Chinese headings
    assert (out / "tables/t.csv").read_bytes().startswith("\ufeff区县".encode())
    with pytest.raises(OutputError, match="--overwrite"):
        OutputFolder(out)
    OutputFolder(out, overwrite=True)


def test_a_file_written_meanwhile_is_recorded_once_done_and_a_failed_one_leaves_nothing(tmp_path):
    """report.xlsx is written in a forked process while the run goes on: recorded with its checksum when waited for
    (finish waits at the latest); an error there stops the run, and the abandoned run leaves no staging folder.
    """
    import time

    def slow(tmp):
        time.sleep(0.5)
        tmp.write_text("报告", encoding="utf-8")

    folder = OutputFolder(tmp_path / "out")
    folder.write_later("report.txt", slow, kind="report")
    folder.write_text("a.txt", "a")
    assert folder.pending_files() == ["report.txt"]  # the run page links it while it is being written
    assert not folder.path("report.txt").exists()
    folder.wait_pending()
    assert folder.pending_files() == []
    assert folder.files["report.txt"]["kind"] == "report"
    assert folder.files["report.txt"]["sha256"] == sha256_file(folder.path("report.txt"))
    folder.write_later("late.txt", lambda tmp: tmp.write_text("late", encoding="utf-8"))
    folder.finish()
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert {"report.txt", "a.txt", "late.txt"} <= set(manifest["outputs"])
    assert (tmp_path / "out" / "late.txt").read_text(encoding="utf-8") == "late"

    def broken(tmp):
        raise OutputError("disk full")

    failed = OutputFolder(tmp_path / "failed")
    failed.write_later("report.xlsx", broken)
    with pytest.raises(OutputError, match="disk full"):
        failed.wait_pending()
    failed.abandon()
    assert not any(p.name.startswith(".failed") for p in tmp_path.iterdir()) and not (tmp_path / "failed").exists()
