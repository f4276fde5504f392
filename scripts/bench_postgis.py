"""The violation analysis done by PostGIS: the benchmark's third engine beside kmrv and plain geopandas.

:func:`postgis_violations` loads the checked layers of a project into a scratch schema of a PostGIS database
(GiST index on every geometry), computes every overlay of :func:`bench.baseline_violations` in SQL with
``ST_Intersection``/``ST_Difference``/``ST_Union`` joined on ``ST_Intersects`` (so the GiST indexes pick the
candidate pairs), and returns the located, judged patches with the baseline's columns. Areas are measured in
Python from the geometries SQL produced, exactly as the baseline measures them (planar ``.area``; ellipsoidal:
rings split into pieces of at most 20 m, reprojected to the GRS80 Lambert azimuthal equal-area CRS centred on
the study area, then ``.area``: :func:`bench.densify_rings`), so the three engines differ only in how they cut.

Usage (from ``scripts/bench.py`` or alone)::

    from bench_postgis import postgis_violations
    patches = postgis_violations(project, "postgresql://USER@HOST:5432/DB")   # password: PGPASSWORD / ~/.pgpass

    python scripts/bench_postgis.py CONFIG.yml "postgresql://USER@HOST:5432/DB"

The database needs PostGIS (``CREATE EXTENSION postgis``) and the right to create a schema; the scratch schema
``kmrv_bench_<pid>`` is dropped afterwards. ``patches.attrs["seconds"]`` holds ``load`` (copying the layers into
the server, with their indexes) and ``sql`` (the analysis, including fetching and measuring).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for folder in (str(ROOT), str(Path(__file__).resolve().parent)):
    if folder not in sys.path:
        sys.path.insert(0, folder)


def _frame(db, query: str, params=None, *, crs):
    """Run a query returning (columns…, ``geometry`` as WKB) and give a GeoDataFrame."""
    import geopandas as gpd
    import pandas as pd
    import shapely

    cur = db.execute(query, params)
    names = [d.name for d in cur.description]
    rows = cur.fetchall()
    table = pd.DataFrame(rows, columns=names)
    geometry = shapely.from_wkb([bytes(w) if w is not None else None for w in table.pop("geometry")])
    return gpd.GeoDataFrame(table, geometry=geometry, crs=crs)


def postgis_violations(project, dsn: str):
    """Run the violation analysis in PostGIS; return the located, judged patches.

    Parameters
    ----------
    project : kmrv_geo.project.Project
        A loaded, checked project (layers in the analysis CRS, which must have an EPSG code).
    dsn : str
        libpq connection string or URI of a PostGIS database (``postgresql://USER@HOST:5432/DB``); the password
        comes from ``PGPASSWORD`` or ``~/.pgpass``.

    Returns
    -------
    GeoDataFrame
        One row per patch, the columns of :func:`bench.baseline_violations` in its order: ``change_class``,
        ``t0_code``, ``t1_code``, ``t0_category``, ``basis``, ``county_code``, ``county_name``, ``township``,
        ``village``, ``geometry`` (analysis CRS), ``pid``, ``area_m2`` (m², the project's area kind),
        ``area_mu``, ``area_mu_planar``, ``area_mu_ellipsoidal``, ``pbf_mu``, ``approved_mu``, ``illegal_mu``,
        ``illegal_pbf_mu`` (亩; NaN where a layer is missing, as in the baseline) and ``status``.
        ``attrs["seconds"]``: ``{"load": s, "sql": s}``.

    Raises
    ------
    psycopg.Error
        The database cannot be reached or has no PostGIS.
    """
    import geopandas as gpd
    import numpy as np
    import psycopg

    from bench import densify_rings
    from kmrv_geo.analysis.steps import zone_levels
    from kmrv_geo.postgis.write import write_frame
    from kmrv_geo.units import MAX_SEGMENT_M

    config = project.config
    x0, y0, x1, y1 = config.study_area.bbox
    laea = f"+proj=laea +lat_0={(y0 + y1) / 2:.6f} +lon_0={(x0 + x1) / 2:.6f} +ellps=GRS80 +units=m +no_defs"
    crs = project.vectors["landuse_t0"].crs

    def ellipsoidal_m2(frame) -> np.ndarray:  # as the baseline: edges followed in ≤ 20 m steps, equal-area CRS
        if not len(frame):
            return np.zeros(0)
        return densify_rings(frame.geometry, MAX_SEGMENT_M).to_crs(laea).area.fillna(0.0).to_numpy()

    def measured_m2(frame) -> np.ndarray:
        return ellipsoidal_m2(frame) if config.area == "ellipsoidal" else frame.area.to_numpy()

    t0, t1 = project.vectors["landuse_t0"], project.vectors["landuse_t1"]
    planting = "ZZSXDM" in t0 and "ZZSXDM" in t1
    schema = f"kmrv_bench_{os.getpid()}"
    seconds = {}
    start = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        db.execute(f"CREATE SCHEMA {schema}")
        try:
            def load(name, frame, columns):
                table = gpd.GeoDataFrame(frame[columns].reset_index(drop=True), geometry=frame.geometry.values,
                                         crs=frame.crs)
                table.insert(0, "rid", np.arange(len(table), dtype="int64"))
                write_frame(db, table, schema, name)

            cols = ["code", "category"] + (["ZZSXDM"] if planting else [])
            load("t0", t0, cols)
            load("t1", t1, cols)
            levels = zone_levels(project)
            for level, columns in (("county", ["county_code", "county_name"]), ("township", ["township"]),
                                   ("village", ["village"])):
                if level in levels:
                    load(f"zone_{level}", levels[level][0], columns)
            for role in ("pbf", "approvals"):
                if role in project.vectors:
                    load(role, project.vectors[role], [])
                    # dissolved: the union of the layer, in its parts (the baseline's union_all().explode())
                    db.execute(f"CREATE TABLE {schema}.{role}_parts AS SELECT (ST_Dump(ST_Union(geometry))).geom "
                               f"AS geometry FROM {schema}.{role}")
                    db.execute(f"CREATE INDEX ON {schema}.{role}_parts USING GIST (geometry)")
                    db.execute(f"ANALYZE {schema}.{role}_parts")
            seconds["load"] = time.perf_counter() - start
            start = time.perf_counter()
            patches = _patches(db, schema, project, planting, levels, crs=crs, measured_m2=measured_m2)
            patches = _figures(db, schema, project, patches, crs=crs, measured_m2=measured_m2,
                               ellipsoidal_m2=ellipsoidal_m2)
            seconds["sql"] = time.perf_counter() - start
        finally:
            db.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    patches.attrs["seconds"] = seconds
    return patches


def _patches(db, schema: str, project, planting: bool, levels: dict, *, crs, measured_m2):
    """Pieces, patches (dissolved, exploded, at least the minimum size) and their location, in SQL."""
    import numpy as np

    from bench import SLIVER_M2
    from kmrv_geo import landuse

    s = schema
    farm, built, other_agri = landuse.FARMLAND, landuse.CONSTRUCTION, landuse.OTHER_AGRICULTURAL
    fls = ("CASE WHEN b.category = %(farm)s AND upper(trim(b.\"ZZSXDM\")) = 'FLS' AND upper(trim(a.\"ZZSXDM\")) "
           "<> 'FLS' THEN true ELSE false END") if planting else "false"
    params = {"farm": farm, "built": built, "agri": other_agri, "sliver": SLIVER_M2}
    # T0 farmland ∩ T1, a piece per pair (the polygonal part of the intersection); slivers dropped
    db.execute(f"""CREATE UNLOGGED TABLE {s}.pieces AS
        SELECT * FROM (SELECT a.rid AS t0_row, a.code AS t0_code, a.category AS t0_category, b.code AS t1_code,
               b.category AS t1_category, {fls} AS fls,
               ST_CollectionExtract(ST_Intersection(a.geometry, b.geometry), 3) AS geometry
          FROM {s}.t0 a JOIN {s}.t1 b ON ST_Intersects(a.geometry, b.geometry)
         WHERE a.category = %(farm)s) q WHERE ST_Area(geometry) > %(sliver)s""", params)
    # T0 farmland no T1 parcel covers: a parcel whose pieces fall short of it, minus the union of its pieces
    db.execute(f"""CREATE UNLOGGED TABLE {s}.uncovered AS
        SELECT * FROM (SELECT a.code AS t0_code, a.category AS t0_category,
               ST_CollectionExtract(CASE WHEN q.n IS NULL THEN a.geometry
                                         ELSE ST_Difference(a.geometry, q.covered) END, 3) AS geometry
          FROM {s}.t0 a LEFT JOIN (SELECT t0_row, count(*) AS n, sum(ST_Area(geometry)) AS m2,
                                          ST_Union(geometry) AS covered FROM {s}.pieces GROUP BY t0_row) q
               ON q.t0_row = a.rid
         WHERE a.category = %(farm)s AND ST_Area(a.geometry) - coalesce(q.m2, 0)
               > greatest(%(sliver)s, 1e-9 * ST_Area(a.geometry))) u WHERE ST_Area(geometry) > %(sliver)s""",
               params)
    # T0 non-farmland ∩ T1 farmland: new farmland
    db.execute(f"""CREATE UNLOGGED TABLE {s}.gained AS
        SELECT * FROM (SELECT a.code AS t0_code, a.category AS t0_category, b.code AS t1_code,
               ST_CollectionExtract(ST_Intersection(a.geometry, b.geometry), 3) AS geometry
          FROM {s}.t0 a JOIN {s}.t1 b ON ST_Intersects(a.geometry, b.geometry)
         WHERE a.category <> %(farm)s AND b.category = %(farm)s) q WHERE ST_Area(geometry) > %(sliver)s""", params)
    # patches: the changed pieces dissolved by class, codes and basis, exploded into their parts
    db.execute(f"""CREATE UNLOGGED TABLE {s}.patches AS
        SELECT change_class, t0_code, t1_code, t0_category, basis, (ST_Dump(ST_Union(geometry))).geom AS geometry
          FROM (SELECT CASE WHEN fls THEN 'nongrain' WHEN t1_category = %(built)s THEN 'nonagri'
                            WHEN t1_category = %(agri)s THEN 'nongrain' ELSE 'other' END AS change_class,
                       coalesce(t0_code, '') AS t0_code, coalesce(t1_code, '') AS t1_code,
                       coalesce(t0_category, '') AS t0_category,
                       CASE WHEN fls THEN 'planting_attribute' ELSE 'land_use' END AS basis, geometry
                  FROM {s}.pieces WHERE t1_category IS DISTINCT FROM %(farm)s OR fls
                UNION ALL SELECT 'no_t1_data', coalesce(t0_code, ''), '', coalesce(t0_category, ''), 'no_t1_data',
                       geometry FROM {s}.uncovered
                UNION ALL SELECT 'supplement', coalesce(t0_code, ''), coalesce(t1_code, ''), coalesce(t0_category, ''),
                       'land_use', geometry FROM {s}.gained) c
         GROUP BY change_class, t0_code, t1_code, t0_category, basis""", params)
    db.execute(f"ALTER TABLE {s}.patches ADD COLUMN id bigserial")
    # minimum mapped size, measured in the project's area kind (in Python, as the baseline measures)
    patches = _read(db, f"SELECT id, t1_code, change_class, ST_AsBinary(geometry) AS geometry FROM {s}.patches "
                        "ORDER BY id", crs=crs)
    limits = project.config.thresholds.min_patch_m2
    by_class = {"nonagri": limits.construction, "nongrain": limits.agricultural, "supplement": limits.agricultural,
                "other": limits.other, "no_t1_data": limits.other}
    limit = patches["change_class"].map(by_class).where(~patches["t1_code"].isin(landuse.FACILITY_CODES),
                                                        limits.facility)
    keep = patches.loc[measured_m2(patches) >= limit.to_numpy(dtype=float), "id"].to_numpy(dtype=np.int64)
    db.execute(f"DELETE FROM {s}.patches WHERE NOT (id = ANY(%s))", (keep.tolist(),))
    db.execute(f"CREATE INDEX ON {s}.patches USING GIST (geometry)")
    # located: overlay "identity" with counties, townships and villages (each part keeps its zone; the rest of a
    # patch outside every zone gets blanks); slivers dropped
    located, carried = "patches", ["change_class", "t0_code", "t1_code", "t0_category", "basis"]
    for level, columns in (("county", ["county_code", "county_name"]), ("township", ["township"]),
                           ("village", ["village"])):
        keep_cols = ", ".join(f"p.{c}" for c in carried)
        if level in levels:
            zone_cols = ", ".join(f"coalesce(z.{c}::text, '') AS {c}" for c in columns)
            blanks = ", ".join(f"'' AS {c}" for c in columns)
            db.execute(f"""CREATE UNLOGGED TABLE {s}.at_{level} AS
                SELECT * FROM (
                  SELECT {keep_cols}, {zone_cols},
                         ST_CollectionExtract(ST_Intersection(p.geometry, z.geometry), 3) AS geometry
                    FROM {s}.{located} p JOIN {s}.zone_{level} z ON ST_Intersects(p.geometry, z.geometry)
                  UNION ALL
                  SELECT {keep_cols}, {blanks}, ST_CollectionExtract(CASE WHEN u.geometry IS NULL THEN p.geometry
                         ELSE ST_Difference(p.geometry, u.geometry) END, 3) AS geometry
                    FROM {s}.{located} p LEFT JOIN LATERAL (SELECT ST_Union(z.geometry) AS geometry
                         FROM {s}.zone_{level} z WHERE ST_Intersects(p.geometry, z.geometry)) u ON true) q
                 WHERE ST_Area(geometry) > %(sliver)s""", params)
        else:
            blanks = ", ".join(f"'' AS {c}" for c in columns)
            db.execute(f"CREATE UNLOGGED TABLE {s}.at_{level} AS SELECT {keep_cols}, {blanks}, p.geometry "
                       f"FROM {s}.{located} p")
        db.execute(f"CREATE INDEX ON {s}.at_{level} USING GIST (geometry)")
        located, carried = f"at_{level}", carried + columns
    db.execute(f"CREATE UNLOGGED TABLE {s}.located AS SELECT row_number() OVER () - 1 AS pid, * FROM {s}.{located}")
    db.execute(f"CREATE INDEX ON {s}.located USING GIST (geometry)")
    db.execute(f"ANALYZE {s}.located")
    out = _read(db, f"SELECT pid, {', '.join(carried)}, ST_AsBinary(geometry) AS geometry FROM {s}.located "
                    "ORDER BY pid", crs=crs)
    return out


def _read(db, query: str, params=None, *, crs):
    return _frame(db, query, params, crs=crs)


def _figures(db, schema: str, project, patches, *, crs, measured_m2, ellipsoidal_m2):
    """Areas of each patch and of its parts on PBF, inside approvals, outside them, and outside them on PBF."""
    import numpy as np

    from bench import SLIVER_M2, status_of
    from kmrv_geo.units import M2_PER_MU

    s = schema
    n = len(patches)
    pid = patches["pid"].to_numpy(dtype=np.int64)
    order = np.argsort(pid)
    patches = patches.iloc[order].reset_index(drop=True)
    area_m2 = measured_m2(patches)
    patches["area_m2"] = area_m2
    patches["area_mu"] = area_m2 / M2_PER_MU
    patches["area_mu_planar"] = patches.area.to_numpy() / M2_PER_MU
    patches["area_mu_ellipsoidal"] = ellipsoidal_m2(patches) / M2_PER_MU

    def per_patch(query: str) -> np.ndarray:
        """Measured area per pid of the (pid, geometry) parts a query gives (slivers dropped)."""
        parts = _read(db, query, crs=crs)
        parts = parts[parts.area > SLIVER_M2]
        out = np.zeros(n)
        np.add.at(out, parts["pid"].to_numpy(dtype=np.int64), measured_m2(parts))
        return out

    def inside(subject: str, zone: str, where: str = "") -> np.ndarray:
        return per_patch(f"SELECT p.pid, ST_AsBinary(ST_CollectionExtract(ST_Intersection(p.geometry, z.geometry), "
                         f"3)) AS geometry FROM {s}.{subject} p JOIN {s}.{zone} z ON ST_Intersects(p.geometry, "
                         f"z.geometry) {where}")

    has_pbf, has_approvals = "pbf" in project.vectors, "approvals" in project.vectors
    nonagri = (patches["change_class"] == "nonagri").to_numpy()
    pbf_m2 = inside("located", "pbf_parts") if has_pbf else np.full(n, np.nan)
    if has_approvals:
        approved_m2 = inside("located", "approvals_parts", "WHERE p.change_class = 'nonagri'")
        db.execute(f"""CREATE UNLOGGED TABLE {s}.illegal AS
            SELECT * FROM (SELECT p.pid, ST_CollectionExtract(CASE WHEN u.geometry IS NULL THEN p.geometry
                          ELSE ST_Difference(p.geometry, u.geometry) END, 3) AS geometry
                     FROM {s}.located p LEFT JOIN LATERAL (SELECT ST_Union(z.geometry) AS geometry
                          FROM {s}.approvals_parts z WHERE ST_Intersects(p.geometry, z.geometry)) u ON true
                    WHERE p.change_class = 'nonagri') q WHERE ST_Area(geometry) > {SLIVER_M2!r}""")
        db.execute(f"CREATE INDEX ON {s}.illegal USING GIST (geometry)")
        illegal_m2 = per_patch(f"SELECT pid, ST_AsBinary(geometry) AS geometry FROM {s}.illegal")
        illegal_pbf_m2 = inside("illegal", "pbf_parts") if has_pbf else np.full(n, np.nan)
    else:  # no approvals layer: conversions are unjudged
        approved_m2 = illegal_m2 = np.where(nonagri, np.nan, 0.0)
        illegal_pbf_m2 = np.where(nonagri | (not has_pbf), np.nan, 0.0)
    patches["pbf_mu"] = pbf_m2 / M2_PER_MU
    patches["approved_mu"] = approved_m2 / M2_PER_MU
    patches["illegal_mu"] = illegal_m2 / M2_PER_MU
    patches["illegal_pbf_mu"] = illegal_pbf_m2 / M2_PER_MU
    patches["status"] = status_of(patches["change_class"].to_numpy(), has_approvals=has_approvals,
                                  approved_m2=approved_m2, illegal_m2=illegal_m2, pbf_m2=pbf_m2)
    located = ["county_code", "county_name", "township", "village"]
    patches[located] = patches[located].astype(object)  # as the baseline's overlay leaves them
    columns = ["change_class", "t0_code", "t1_code", "t0_category", "basis", "county_code", "county_name", "township",
               "village", "geometry", "pid", "area_m2", "area_mu", "area_mu_planar", "area_mu_ellipsoidal", "pbf_mu",
               "approved_mu", "illegal_mu", "illegal_pbf_mu", "status"]
    return patches[columns]


def main(argv: list[str] | None = None) -> int:
    """Run the PostGIS variant on a project file and print the patches per status beside the baseline's."""
    import argparse

    from bench import baseline_violations, totals
    from kmrv_geo.config import load_config
    from kmrv_geo.project import load_project

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", help="project file (.yml)")
    parser.add_argument("dsn", help="PostGIS connection, e.g. postgresql://USER@HOST:5432/DB")
    args = parser.parse_args(argv)
    project = load_project(load_config(args.config))
    patches = postgis_violations(project, args.dsn)
    print("postgis", patches.attrs["seconds"], totals(patches)["counts"])
    print("baseline", totals(baseline_violations(project))["counts"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
