"""The dask engine gives the local engine's change patches: same ids, same areas (2-worker LocalCluster)."""

from __future__ import annotations

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
