"""Small helpers to build tiny layers in EPSG:4543 metres near Kunming and write them to real files."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import box

X0, Y0 = 560000.0, 2760000.0
"""A point in EPSG:4543 near Dianchi (≈ 102.6°E, 24.95°N)."""


def square(i: int, size: float = 100.0):
    """The i-th square of a row of squares starting at (X0, Y0)."""
    return box(X0 + i * size, Y0, X0 + (i + 1) * size, Y0 + size)


@pytest.fixture
def write_layer(tmp_path):
    """Write a GeoDataFrame to ``tmp_path/name`` (driver from the suffix) and return the path."""

    def write(frame: gpd.GeoDataFrame, name: str = "layer.gpkg", layer: str | None = None, **kwargs):
        path = tmp_path / name
        if name.endswith(".parquet"):
            frame.to_parquet(path)
        else:
            frame.to_file(path, layer=layer, engine="pyogrio", **kwargs)
        return path

    return write


SAMPLE_PARCELS = 1500
SAMPLE_SEED = 7


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory):
    """The synthetic sample at 1,500 parcels (seed 7), written once per test session."""
    from kmrv_geo.sample import make_sample

    out = tmp_path_factory.mktemp("sample")
    make_sample(out, n_parcels=SAMPLE_PARCELS, seed=SAMPLE_SEED)
    return out


@pytest.fixture(scope="session")
def demo_out(tmp_path_factory):
    """``kmrv demo`` at 1,500 parcels (seed 7) run once per test session; returns its output folder."""
    from click.testing import CliRunner

    from kmrv_geo.cli.main import cli

    out = tmp_path_factory.mktemp("demo") / "out"
    result = CliRunner().invoke(cli, ["demo", "--parcels", str(SAMPLE_PARCELS), "--seed", str(SAMPLE_SEED),
                                      "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    out.joinpath("cli_output.txt").write_text(result.output, encoding="utf-8")
    return out


@pytest.fixture(scope="session")
def abandoned_parcels(demo_out):
    """The demo's ``abandoned_parcels`` layer, as the abandonment analysis wrote it."""
    return gpd.read_file(demo_out / "results.gpkg", layer="abandoned_parcels", engine="pyogrio")


CHROMIUM = Path("/usr/bin/chromium")
"""Debian's Chromium: the browser tests drive it (never a downloaded browser)."""


def _missing(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the browser tests: .ci/run installs chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium with host names unresolvable (skipped with the reason when missing; under CI
    that is a failure).
    """
    if not CHROMIUM.exists():
        _missing("Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        _missing("playwright is not installed (pip install -e .[dev])")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=["--host-resolver-rules=MAP * ~NOTFOUND", "--no-proxy-server"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def postgis_server():
    """A throwaway PostgreSQL + PostGIS cluster on 127.0.0.1 for the session (``tests/pg_cluster.py``): yields the
    :class:`pg_cluster.Cluster` (``dsn`` without password; the password is in ``PGPASSFILE``, set for the session).
    Skipped with the reason when the server binaries or PostGIS are missing; under CI that is a failure.
    """
    import pg_cluster

    reason = pg_cluster.missing_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI must run the PostGIS tests: .ci/run installs postgresql and postgresql-postgis)")
        pytest.skip(reason)
    cluster = pg_cluster.start()
    saved = {key: os.environ.pop(key, None) for key in ("PGPASSWORD", "PGPASSFILE", "PGSERVICE")}
    os.environ["PGPASSFILE"] = str(cluster.pgpass)
    try:
        yield cluster
    finally:
        cluster.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
