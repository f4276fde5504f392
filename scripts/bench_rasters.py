"""Peak memory of the raster land-cover analysis on a raster too large to load whole.

Usage::

    python scripts/bench_rasters.py [--size 20000] [--res 10] [--parcels 40000] [--workdir DIR]

Writes two synthetic (示例数据) uint8 class rasters of SIZE × SIZE pixels block by block (never whole in
memory; 20000² = 400 MB per raster as bytes), T1 with scattered changed blocks, and a grid of farmland
parcels over them; then runs :func:`kmrv_geo.analysis.landcover.detect_landcover_change` and prints
the wall time and the peak resident memory of the process (``ru_maxrss``) next to the size of one
raster held whole. A benchmark, not a test: run it by hand and quote the numbers.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from affine import Affine
from rasterio.windows import Window

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kmrv_geo import landuse  # noqa: E402
from kmrv_geo.extract import ClassRaster, detect_landcover_change  # noqa: E402
from kmrv_geo.rasters import CLCD_CLASSES  # noqa: E402

CRS = "EPSG:4543"
X0, Y0 = 500_000.0, 2_700_000.0


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def write_rasters(folder: Path, size: int, res: float, block: int = 2048) -> tuple[Path, Path]:
    """T0 all cropland; T1 cropland with a 20 × 20-pixel changed square every 500 pixels."""
    transform = Affine(res, 0, X0, 0, -res, Y0 + size * res)
    profile = {"driver": "GTiff", "width": size, "height": size, "count": 1, "dtype": "uint8", "crs": CRS,
               "transform": transform, "nodata": 0, "tiled": True, "blockxsize": 512, "blockysize": 512,
               "compress": "deflate", "BIGTIFF": "YES"}
    paths = folder / "bench_t0.tif", folder / "bench_t1.tif"
    rng = np.random.default_rng(1)
    with rasterio.open(paths[0], "w", **profile) as t0, rasterio.open(paths[1], "w", **profile) as t1:
        for row in range(0, size, block):
            for col in range(0, size, block):
                w = Window(col, row, min(block, size - col), min(block, size - row))
                crop = np.ones((w.height, w.width), dtype=np.uint8)
                t0.write(crop, 1, window=w)
                rows = np.arange(row, row + w.height)[:, None]
                cols = np.arange(col, col + w.width)[None, :]
                changed = ((rows % 500) < 20) & ((cols % 500) < 20)
                later = np.where(changed, rng.choice(np.array([2, 4, 8], dtype=np.uint8)), crop)
                t1.write(later.astype(np.uint8), 1, window=w)
    return paths


def parcel_grid(size: int, res: float, n: int) -> gpd.GeoDataFrame:
    """About ``n`` square farmland parcels covering the rasters."""
    side = size * res
    k = max(1, int(round(np.sqrt(n))))
    step = side / k
    xs, ys = np.meshgrid(np.arange(k) * step + X0, np.arange(k) * step + Y0)
    geoms = shapely.box(xs.ravel(), ys.ravel(), xs.ravel() + step, ys.ravel() + step)
    frame = gpd.GeoDataFrame({"code": "0101", "BSM": np.arange(1, geoms.size + 1)}, geometry=geoms, crs=CRS)
    frame["category"] = landuse.DEFAULT_CLASSES.classify(frame["code"])
    return frame


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--res", type=float, default=10.0)
    parser.add_argument("--parcels", type=int, default=40_000)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="kmrv-bench-") as tmp:
        start = time.perf_counter()
        t0, t1 = write_rasters(Path(tmp), args.size, args.res)
        written = time.perf_counter() - start
        before = peak_rss_mb()
        parcels = parcel_grid(args.size, args.res, args.parcels)
        start = time.perf_counter()
        result = detect_landcover_change(parcels, ClassRaster(t0, CLCD_CLASSES), ClassRaster(t1, CLCD_CLASSES),
                                         analysis_crs=CRS, min_pixels=3, id_column="BSM", workdir=Path(tmp))
        seconds = time.perf_counter() - start
    expected_m2 = ((args.size + 499) // 500) ** 2 * 400 * args.res**2
    summary = {
        "raster_pixels": f"{args.size} x {args.size}",
        "one_raster_whole_mb": round(args.size**2 / 2**20, 1),
        "parcels": len(parcels),
        "write_seconds": round(written, 1),
        "analysis_seconds": round(seconds, 1),
        "peak_rss_mb_before_analysis": round(before, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "change_pieces": len(result.pieces),
        "changed_m2": round(float(result.pieces["area_m2"].sum()), 1),
        "expected_changed_m2": expected_m2,
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
