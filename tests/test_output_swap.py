"""All-or-nothing output folders (issue 11): a run is staged beside the target and swapped in whole."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from kmrv_geo import outputs
from kmrv_geo.cli.main import cli
from kmrv_geo.outputs import MANIFEST, STAGING_MARK, OutputFolder, sha256_file
from kmrv_geo.sample import make_sample


def files_of(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): sha256_file(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def test_overwrite_leaves_no_stale_files(tmp_path):
    first = OutputFolder(tmp_path / "out")
    first.write_text("tables/old_only.csv", "a\n")
    first.finish()
    second = OutputFolder(tmp_path / "out", overwrite=True)
    assert not (second.root / "tables").exists()  # a fresh staging folder
    second.write_text("tables/new.csv", "b\n")
    second.finish()
    assert sorted(files_of(tmp_path / "out")) == [MANIFEST, "tables/new.csv"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging or old folder left


def test_a_failed_run_keeps_the_previous_results(tmp_path):
    first = OutputFolder(tmp_path / "out")
    first.write_text("a.txt", "1")
    first.finish()
    before = files_of(tmp_path / "out")
    second = OutputFolder(tmp_path / "out", overwrite=True)
    second.write_text("a.txt", "2")
    second.abandon()
    assert files_of(tmp_path / "out") == before


def test_a_folder_of_other_files_is_not_replaced(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "my_notes.docx").write_text("x")
    with pytest.raises(outputs.OutputError, match="not kmrv results"):
        OutputFolder(tmp_path / "out")


def test_a_locked_file_on_replace_is_a_clear_error_and_the_results_stay(tmp_path, monkeypatch):
    """Windows: Excel/WPS/QGIS holding report.xlsx open makes the replace fail (simulated: PermissionError)."""
    first = OutputFolder(tmp_path / "out")
    first.write_text("report.xlsx", "old")
    first.finish()
    before = files_of(tmp_path / "out")
    second = OutputFolder(tmp_path / "out", overwrite=True)
    second.write_text("report.xlsx", "new")
    real_replace = os.replace

    def locked(src, dst, *args, **kwargs):
        if Path(src) == tmp_path / "out":
            raise PermissionError(13, "The process cannot access the file because it is being used", str(src))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(outputs.os, "replace", locked)
    monkeypatch.setattr(outputs, "REPLACE_WAIT_S", 0.01)
    monkeypatch.setattr(outputs, "_can_open", lambda path: path.name != "report.xlsx")
    with pytest.raises(outputs.OutputError, match=r"report.xlsx is open in another program .* close it"):
        second.finish()
    assert files_of(tmp_path / "out") == before


def test_a_locked_output_is_exit_2_in_the_cli(tmp_path, monkeypatch):
    # any seed: the sample never has overlapping parcels
    sample = make_sample(tmp_path / "data", n_parcels=1000, seed=3)
    out = tmp_path / "out"
    assert CliRunner().invoke(cli, ["violations", str(sample.config_path), "--out", str(out)]).exit_code == 0
    real_replace = os.replace

    def locked(src, dst, *args, **kwargs):
        if Path(src) == out:
            raise PermissionError(13, "locked", str(src))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(outputs.os, "replace", locked)
    monkeypatch.setattr(outputs, "REPLACE_WAIT_S", 0.01)
    result = CliRunner().invoke(cli, ["violations", str(sample.config_path), "--out", str(out), "--overwrite"])
    assert result.exit_code == 2, result.output
    assert "内部错误" not in result.output and "close it" in result.output


@pytest.mark.slow
def test_a_killed_run_leaves_the_previous_complete_results(tmp_path):
    """Kill -9 once the first new result file appears: every file still matches the previous manifest."""
    sample = make_sample(tmp_path / "data", n_parcels=1000, seed=5)
    out = tmp_path / "out"
    kmrv = [sys.executable, "-m", "kmrv_geo"]
    subprocess.run([*kmrv, "run", str(sample.config_path), "--out", str(out), "--basemap", "none"], check=True,
                   capture_output=True)
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    before = files_of(out)
    assert ({k: v for k, v in before.items() if k != MANIFEST}
            == {k: v["sha256"] for k, v in manifest["outputs"].items()})
    process = subprocess.Popen([*kmrv, "run", str(sample.config_path), "--out", str(out), "--overwrite",
                                "--basemap", "none"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            staged = [p for d in tmp_path.glob(f".out{STAGING_MARK}*") for p in d.rglob("*") if p.is_file()]
            if staged:
                break
            time.sleep(0.01)
        else:
            pytest.fail("the second run wrote no result file within 120 s")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert files_of(out) == before  # nothing new, nothing missing, nothing changed
    # the next run clears what the killed one left and completes
    subprocess.run([*kmrv, "violations", str(sample.config_path), "--out", str(out), "--overwrite"], check=True,
                   capture_output=True)
    assert not list(tmp_path.glob(f".out{STAGING_MARK}*"))
