"""Small helpers to build tiny layers in EPSG:4543 metres near Kunming and write them to real files."""

from __future__ import annotations

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
