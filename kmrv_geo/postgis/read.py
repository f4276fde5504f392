"""Reading a PostGIS table as a layer: the same :class:`~kmrv_geo.layers.ReadResult` a file gives.

Read through SQLAlchemy + psycopg with :func:`geopandas.read_postgis` (the GDAL inside pyogrio's wheel has no
PostgreSQL driver). The table is found in the catalog first, so a wrong name, a table without geometry, an
unknown column or a geometry column without SRID stops with a message that names the connection (without
password), the table and the fix. Then every load check of a file applies unchanged
(:func:`kmrv_geo.checks.check_vector`).

Column types are read as GDAL reads them: integers as integers, ``numeric`` as float (``numeric(p, 0)`` as
integer), text as text, dates and timestamps as such, anything else (json, uuid, arrays) as its text. Curved
geometries are linearised (``ST_CurveToLine``), ``geography`` is read as geometry in its SRID.

Feature ids (``_fid``, shown in the accounting): a single-column integer primary key; else the row's position
(1, 2, …) in the table's physical order (a view without key: in the order the server returns).
"""

from __future__ import annotations

import hashlib
import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from ..errors import DatabaseError, LayerError
from ..layers import FID, ReadResult
from . import connection as pgconn

logger = logging.getLogger(__name__)

GEOMETRY = "geometry"
"""Name of the geometry column in the frame read (as pyogrio names it)."""
_INTEGER = ("int2", "int4", "int8")
_AS_IS = (*_INTEGER, "float8", "bool", "text", "date", "timestamp", "timestamptz")
_TO_TEXT = ("varchar", "bpchar", "name", "char")
_RELKINDS = {"r": "table", "p": "table", "v": "view", "m": "materialized view", "f": "foreign table"}


def frame_checksum(frame: pd.DataFrame) -> str:
    """Hex sha256 of a frame's content: column names and types, every value, geometries as WKB.

    The same rows and values give the same checksum, whichever database or file they came from (the
    manifest records it for every table read and written).
    """
    digest = hashlib.sha256()
    for name in frame.columns:
        column = frame[name]
        digest.update(f"\x1e{name}\x1f".encode())
        if isinstance(column.dtype, gpd.array.GeometryDtype):
            wkb = shapely.to_wkb(np.asarray(column.values, dtype=object))
            digest.update(b"\x1f".join(b"" if w is None else w for w in wkb))
        else:
            text = column.astype("object").map(lambda v: "\x00" if v is None or (isinstance(v, float) and
                                                                              np.isnan(v)) else repr(v))
            digest.update("\x1f".join(text).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def split_layer(layer: str, default_schema: str | None) -> tuple[str | None, str, str | None]:
    """``schema.table(geom)`` → (schema or the default, table, geometry column or None).

    Quoted parts (``"My Schema"."DLTB"``) keep dots and case.
    """
    text = layer.strip()
    geom = None
    if text.endswith(")") and "(" in text:
        text, geom = text[:-1].rsplit("(", 1)
        geom = geom.strip().strip('"')
    parts, current, quoted = [], "", False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif ch == "." and not quoted:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    if len(parts) == 1:
        return default_schema, parts[0], geom
    return ".".join(parts[:-1]), parts[-1], geom


def _find_relation(cur, schema: str | None, table: str):
    """(oid, schema, name, kind) of the relation, matched exactly, else case-insensitively; None if absent."""
    where = "n.nspname = %(schema)s" if schema else "n.nspname = ANY(current_schemas(false))"
    for test in ("c.relname = %(table)s", "lower(c.relname) = lower(%(table)s)"):
        cur.execute(f"SELECT c.oid, n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n "
                    f"ON n.oid = c.relnamespace WHERE {where} AND {test} AND c.relkind IN ('r','p','v','m','f') "
                    "ORDER BY array_position(current_schemas(false), n.nspname::text) NULLS LAST LIMIT 2",
                    {"schema": schema, "table": table})
        rows = cur.fetchall()
        if rows:
            return rows[0]
    return None


def _spatial_tables(cur, schema: str | None) -> list[str]:
    """The tables with a geometry column (those of ``schema`` first), at most 31."""
    cur.execute("SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r','p','v','m','f') AND n.nspname NOT IN ('pg_catalog', 'information_schema', "
                "'topology', 'tiger') AND EXISTS (SELECT 1 FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
                "WHERE a.attrelid = c.oid AND t.typname IN ('geometry', 'geography') AND a.attnum > 0 AND NOT "
                "a.attisdropped) ORDER BY n.nspname IS DISTINCT FROM %s, 1, 2 LIMIT 31", (schema,))
    return [pgconn.quoted_name(s, t) for s, t in cur.fetchall()]


def _columns(cur, oid: int) -> list[tuple[str, str, str]]:
    """(name, type name, formatted type) of every column, in table order."""
    cur.execute("SELECT a.attname, t.typname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                "JOIN pg_type t ON t.oid = a.atttypid WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped "
                "ORDER BY a.attnum", (oid,))
    return cur.fetchall()


def _primary_key(cur, oid: int) -> str | None:
    """The single integer primary-key column, if the table has one."""
    cur.execute("SELECT a.attname, t.typname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND "
                "a.attnum = ANY(i.indkey) JOIN pg_type t ON t.oid = a.atttypid WHERE i.indrelid = %s AND "
                "i.indisprimary", (oid,))
    rows = cur.fetchall()
    return rows[0][0] if len(rows) == 1 and rows[0][1] in _INTEGER else None


def _select_expression(name: str, typname: str, formatted: str):
    from psycopg import sql

    ident = sql.Identifier(name)
    if typname in _AS_IS:
        return ident
    if typname == "float4":
        return sql.SQL("{}::float8").format(ident)
    if typname == "numeric":
        scale0 = formatted.startswith("numeric(") and formatted.rstrip(")").endswith(",0")
        precision = int(formatted[8:].split(",")[0]) if scale0 else 0
        return sql.SQL("{}::int8" if scale0 and precision <= 18 else "{}::float8").format(ident)
    if typname in _TO_TEXT:
        return sql.SQL("{}::text").format(ident)
    return sql.SQL("{}::text").format(ident)  # json, uuid, arrays, …: their text, as GDAL gives them


def _srid(cur, rel, geom: str, typname: str, where: str) -> int:
    """The one SRID of the geometry column (0: none)."""
    from psycopg import sql

    if typname == "geography":
        return 4326
    cur.execute(sql.SQL("SELECT DISTINCT ST_SRID({g}) FROM {r} WHERE {g} IS NOT NULL LIMIT 3").format(
        g=sql.Identifier(geom), r=rel))
    srids = sorted(r[0] for r in cur.fetchall())
    if len(srids) > 1:
        raise LayerError(f"{where}: the geometries of column {geom} are in several SRIDs "
                         f"({', '.join(map(str, srids))}); bring them into one (UPDATE … SET {geom} = "
                         f"ST_Transform({geom}, 4543)) and set the column's SRID (SELECT UpdateGeometrySRID(…))")
    return srids[0] if srids else 0


def _crs_of(cur, srid: int, where: str) -> CRS:
    cur.execute("SELECT auth_name, auth_srid, srtext FROM spatial_ref_sys WHERE srid = %s", (srid,))
    row = cur.fetchone()
    if row is None:
        raise LayerError(f"{where}: SRID {srid} is not in the database's spatial_ref_sys; set the column's SRID to an "
                         "EPSG code (SELECT UpdateGeometrySRID(…, 4543)) or give crs: in the config")
    auth, code, wkt = row
    if str(auth).upper() == "EPSG" and code:
        return CRS.from_epsg(int(code))
    return CRS.from_wkt(wkt)


def read_table(path: str, *, layer: str | None = None, columns: list[str] | None = None,
               allow_empty: bool = False) -> ReadResult:
    """Read one PostGIS table (or view) as a layer with its feature ids.

    Parameters
    ----------
    path : str
        The connection: ``postgresql://USER@HOST:PORT/DB`` or ``PG:host=… dbname=…`` (no password).
    layer : str, optional
        ``schema.table``, ``table`` (the connection's ``active_schema``, else the search path) or
        ``schema.table(geom)`` to pick one of several geometry columns; optional only when a ``PG:`` string
        names its table (``tables=``).
    columns : list of str, optional
        Attribute columns to read (default all).
    allow_empty : bool, default False
        Accept a table without rows (otherwise an error, as for files).

    Returns
    -------
    ReadResult
        ``frame`` (columns ``_fid``, the attributes, ``geometry`` in the column's CRS; ``crs`` None for SRID
        0), ``path`` the connection label, ``layer`` ``schema.table``, ``driver`` ``PostgreSQL``,
        ``checksum`` (sha256 of what was read: :func:`frame_checksum`).

    Raises
    ------
    DatabaseError
        The server cannot be reached, refuses the login, has no such database or no PostGIS.
    LayerError
        No such table (the message lists the spatial tables there are), no geometry column, an unknown
        column, mixed SRIDs, or no rows (unless ``allow_empty``).
    """
    from psycopg import sql

    conn = pgconn.parse(path, where="layer path")
    if layer is None and conn.table is None:
        raise LayerError(f"{conn.label}: no table named; set `layer: schema.table` in the config")
    schema, table, geom = split_layer(layer or conn.table, conn.schema)
    with pgconn.connect(conn) as db, db.cursor() as cur:
        found = _find_relation(cur, schema, table)
        if found is None:
            there = _spatial_tables(cur, schema)
            listing = ", ".join(there[:30]) + (" …" if len(there) > 30 else "") if there else "none"
            raise LayerError(f"{conn.label} has no table {pgconn.quoted_name(schema, table)}; its tables with "
                             f"geometry are: {listing}; set `layer:` in the config to one of them (schema.table)")
        oid, schema, table, kind = found
        name = pgconn.quoted_name(schema, table)
        where = f"{conn.label} (table {name})"
        rel = sql.Identifier(schema, table)
        all_columns = _columns(cur, oid)
        geometries = [(n, t) for n, t, _ in all_columns if t in ("geometry", "geography")]
        if geom is not None:
            geometries = [(n, t) for n, t in geometries if n == geom] or geometries
            if not any(n == geom for n, _ in geometries):
                raise LayerError(f"{where} has no geometry column {geom!r}; its geometry columns are: "
                                 f"{', '.join(n for n, _ in geometries) or 'none'}")
        if not geometries:
            fields = ", ".join(n for n, _, _ in all_columns) or "none"
            raise LayerError(f"{where} is a {_RELKINDS.get(kind, 'table')} without geometry (columns: {fields}); "
                             "give a spatial table (one with a PostGIS geometry column)")
        geom, geom_type = geometries[0]
        srid = _srid(cur, rel, geom, geom_type, where)
        crs = _crs_of(cur, srid, where) if srid else None
        attributes = [(n, t, f) for n, t, f in all_columns if t not in ("geometry", "geography")]
        if columns is not None:
            unknown = [c for c in columns if c not in {n for n, _, _ in attributes}]
            if unknown:
                raise LayerError(f"{where} has no column(s) {', '.join(unknown)}; its columns are: "
                                 f"{', '.join(n for n, _, _ in attributes) or 'none'}; fix the field names in the "
                                 "config")
            attributes = [a for a in attributes if a[0] in columns]
        key = _primary_key(cur, oid) if kind in ("r", "p") else None
        cur.execute(sql.SQL("SELECT count(*) FROM {}").format(rel))
        n_rows = cur.fetchone()[0]
        if n_rows == 0 and not allow_empty:
            raise LayerError(f"{where} has no rows; check it is the right table")
        g = sql.Identifier(geom)
        if geom_type == "geography":
            g = sql.SQL("{}::geometry").format(g)
        linear = sql.SQL("ST_AsBinary(CASE WHEN ST_HasArc({g}) THEN ST_CurveToLine({g}) ELSE {g} END)").format(g=g)
        select = [sql.SQL("{} AS {}").format(_select_expression(n, t, f), sql.Identifier(n)) for n, t, f in attributes]
        fid = sql.SQL("{}::int8").format(sql.Identifier(key)) if key else sql.SQL("NULL::int8")
        order = sql.SQL(" ORDER BY {}").format(sql.Identifier(key)) if key else \
            sql.SQL(" ORDER BY ctid") if kind in ("r", "p", "m") else sql.SQL("")
        query = sql.SQL("SELECT {fid} AS {fid_name}, {cols}{sep}{geom} AS {geom_name} FROM {rel}{order}").format(
            fid=fid, fid_name=sql.Identifier(FID), cols=sql.SQL(", ").join(select),
            sep=sql.SQL(", ") if select else sql.SQL(""), geom=linear, geom_name=sql.Identifier(GEOMETRY), rel=rel,
            order=order).as_string(db)
    frame = _read_frame(conn, query, crs=crs, where=where)
    if not key:
        frame[FID] = np.arange(1, len(frame) + 1, dtype="int64")
    frame[FID] = frame[FID].astype("int64")
    crs_fix = None if srid else (
        f"its geometry column {geom} has no SRID (0): set it in the database (SELECT UpdateGeometrySRID("
        f"'{schema}', '{table}', '{geom}', 4543) for CGCS2000 GK CM 102°E; 4490 for lon/lat degrees) or give "
        "crs: in the config")
    result = ReadResult(frame=frame, path=conn.label, layer=name, driver="PostgreSQL", crs_fix=crs_fix,
                        checksum=frame_checksum(frame))
    logger.info("read %d rows of %s", len(frame), where)
    return result


def table_fingerprint(path: str, layer: str | None) -> str:
    """A fingerprint of a table's rows computed by the server: the row count and the sum of a 64-bit hash of each
    row's text (every column, geometry as EWKB hex) — any insert, delete or change of a value changes it, and
    nothing but two numbers leaves the server.

    Used to tell whether a table changed since land-use partitions were made from it (the client of a partitioned
    run never reads the land use). Row order does not matter (a VACUUM does not change it).

    Raises
    ------
    DatabaseError, LayerError
        As :func:`read_table` for an unreachable server or an unknown table.
    """
    from psycopg import sql

    conn = pgconn.parse(path, where="layer path")
    schema, table, _geom = split_layer(layer or conn.table, conn.schema)
    with pgconn.connect(conn) as db, db.cursor() as cur:
        found = _find_relation(cur, schema, table)
        if found is None:
            raise LayerError(f"{conn.label} has no table {pgconn.quoted_name(schema, table)} any more; set `layer:` "
                             "in the config to the table the partitions were made from, or run kmrv partition again")
        _oid, schema, table, _kind = found
        cur.execute(sql.SQL("SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)::numeric), 0) "
                            "FROM {} AS t").format(sql.Identifier(schema, table)))
        rows, total = cur.fetchone()
    return f"rows={rows};hash={total}"


def _read_frame(conn: pgconn.Connection, query: str, *, crs, where: str) -> gpd.GeoDataFrame:
    """Run the SELECT through SQLAlchemy and geopandas; the frame has ``_fid`` first and ``geometry`` last."""
    import sqlalchemy

    eng = pgconn.engine(conn)
    try:
        with eng.connect() as con:
            frame = gpd.read_postgis(query, con, geom_col=GEOMETRY, crs=crs)
    except sqlalchemy.exc.OperationalError as exc:
        raise pgconn.connection_error(conn, exc) from None
    except sqlalchemy.exc.DBAPIError as exc:
        detail = " ".join(str(exc.orig).split())
        raise DatabaseError(f"{where} cannot be read (server said: {detail})") from None
    finally:
        eng.dispose()
    return frame.reset_index(drop=True)
