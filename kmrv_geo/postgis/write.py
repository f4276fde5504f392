"""Writing a run's results into a PostGIS schema, all or nothing.

``--out postgresql://USER@HOST:5432/DB?schema=kmrv_2023 --maps-out DIR``: every result layer (the layers of
``results.gpkg``) and every table (``tables/*.csv``) goes into the schema under the same name; the maps, pages,
``report.xlsx``, the CSV tables and ``manifest.json`` go to the local folder ``DIR`` (an
:class:`~kmrv_geo.outputs.OutputFolder`, staged and swapped in as always).

All or nothing: the run writes into a staging schema ``<schema>_kmrv_staging_<pid>``; when the run is complete,
one transaction renames the previous schema aside and the staging schema to the target, the local folder is
swapped in, and only then is the previous schema dropped (if the folder cannot be swapped in, the previous schema
is put back). A run that fails or is killed leaves the previous schema as it was; its staging schema is dropped
(or by the next run). Two runs into one schema at once are refused (an advisory lock). The readers' grants of
the previous schema (``USAGE`` on it, ``SELECT`` on its tables) carry over.

Columns are typed from the frames (bigint, double precision, boolean, text, date, timestamp; geometry with the
analysis CRS's EPSG SRID and a GiST index; layers mixing polygons and multipolygons are written as
multipolygons). Rows go in with ``COPY`` through psycopg, so an empty text stays empty and a missing value
becomes NULL. Each table and column gets a comment (:mod:`.comments`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import __version__
from ..errors import DatabaseError, OutputError
from ..outputs import MANIFEST, OutputFolder
from ..text import clean_frame
from . import comments
from . import connection as pgconn
from .read import GEOMETRY, frame_checksum

logger = logging.getLogger(__name__)

SCHEMA_MARK = "kmrv-geo results"
"""How the comment on a schema written by kmrv starts (a schema holding results may be replaced)."""
MANIFEST_TABLE = "kmrv_manifest"
MAX_SCHEMA = 40
"""Longest target schema name (bytes): the staging and previous schemas add a suffix within PostgreSQL's 63."""
MAX_IDENTIFIER = 63
RESERVED_SCHEMAS = ("public", "pg_catalog", "information_schema", "topology", "tiger", "tiger_data")
_MULTI = {"Polygon": "MultiPolygon", "LineString": "MultiLineString", "Point": "MultiPoint"}


def _is_missing(value) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and np.isnan(value))


def _object_type(values: list) -> str:
    """SQL type of an object column from its values (text when mixed)."""
    present = [v for v in values if not _is_missing(v)]
    if not present:
        return "text"
    if all(isinstance(v, str) for v in present):
        return "text"
    if all(isinstance(v, (bool, np.bool_)) for v in present):
        return "boolean"
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in present):
        return "bigint"
    if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
           for v in present):
        return "double precision"
    if all(isinstance(v, dt.datetime) for v in present):
        return "timestamp"
    if all(isinstance(v, dt.date) for v in present):
        return "date"
    return "text"


def _column(series: pd.Series) -> tuple[str, list]:
    """(SQL type, values as Python objects with None for missing) of one attribute column."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean", [None if _is_missing(v) else bool(v) for v in series.astype(object)]
    if pd.api.types.is_integer_dtype(dtype):
        return "bigint", [None if _is_missing(v) else int(v) for v in series.astype(object)]
    if pd.api.types.is_float_dtype(dtype):
        return "double precision", [None if _is_missing(v) else float(v) for v in series.astype(object)]
    if pd.api.types.is_datetime64_any_dtype(dtype):
        kind = "timestamptz" if getattr(dtype, "tz", None) is not None else "timestamp"
        return kind, [None if _is_missing(v) else v.to_pydatetime() for v in series.astype(object)]
    values = [None if _is_missing(v) else v for v in series.astype(object)]
    kind = _object_type(values)
    if kind == "text":
        values = [v if v is None or isinstance(v, str) else str(v) for v in values]
    elif kind == "bigint":
        values = [None if v is None else int(v) for v in values]
    elif kind == "double precision":
        values = [None if v is None else float(v) for v in values]
    return kind, values


_TYPE_NAMES = {0: "Point", 1: "LineString", 2: "LineString", 3: "Polygon", 4: "MultiPoint", 5: "MultiLineString",
               6: "MultiPolygon", 7: "GeometryCollection"}
_PROMOTE = {"Point": shapely.multipoints, "LineString": shapely.multilinestrings, "Polygon": shapely.multipolygons}


def _geometry_column(frame: gpd.GeoDataFrame) -> tuple[str, int, list]:
    """(PostGIS type name, SRID, hex EWKB per row) of the frame's geometry; single parts promoted to multi where
    a layer mixes them (QGIS shows one layer per geometry type).
    """
    crs = frame.crs
    srid = crs.to_epsg() if crs is not None else None
    if srid is None:
        raise OutputError(f"the results are in a CRS without EPSG code ({crs}); set the project's crs: to an EPSG "
                          "code (e.g. EPSG:4543) to write them into PostGIS")
    geoms = np.asarray(frame.geometry.values, dtype=object).copy()
    present = ~shapely.is_missing(geoms)
    names = np.array([_TYPE_NAMES.get(t, "Geometry") for t in shapely.get_type_id(geoms)], dtype=object)
    kinds = set(names[present].tolist())
    if not kinds:
        kind = "MultiPolygon"  # an empty layer keeps a polygon type (as in results.gpkg)
    elif len(kinds) == 1:
        kind = kinds.pop()
    elif len(kinds) == 2 and any(_MULTI.get(k) in kinds for k in kinds):
        single = next(k for k in kinds if k in _MULTI)
        kind = _MULTI[single]
        promote = present & (names == single)
        geoms[promote] = [_PROMOTE[single]([g]) for g in geoms[promote]]
    else:
        kind = "Geometry"
    ewkb = shapely.to_wkb(shapely.set_srid(geoms, srid), hex=True, include_srid=True)
    return kind, srid, list(ewkb)


def _check_identifier(name: str, where: str) -> None:
    if len(name.encode("utf-8")) > MAX_IDENTIFIER:
        raise OutputError(f"{where}: the name {name!r} is longer than PostgreSQL's {MAX_IDENTIFIER} bytes; it would be "
                          "cut and could clash with another (please report it)")


def write_frame(db, frame: pd.DataFrame, schema: str, name: str, *, comment: str | None = None) -> str:
    """Create table ``schema.name`` from a frame and fill it (``COPY``); a GeoDataFrame gets a GiST index.

    Parameters
    ----------
    db : psycopg.Connection
    frame : DataFrame or GeoDataFrame
        n rows; the active geometry column is written as ``geometry`` (typed, EPSG SRID), other columns as
        their SQL type (see the module notes).
    schema, name : str
    comment : str, optional
        ``COMMENT ON TABLE``; every column known to :func:`~.comments.column_comment` gets its comment.

    Returns
    -------
    str
        sha256 of the frame written (:func:`~kmrv_geo.postgis.read.frame_checksum`).

    Raises
    ------
    OutputError
        A column name longer than 63 bytes, or a CRS without EPSG code.
    """
    from psycopg import sql

    _check_identifier(name, f"table {name}")
    spatial = isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame
    geometry_name = frame.geometry.name if spatial else None
    columns, types, values = [], [], []
    for column in frame.columns:
        if column == geometry_name:
            continue
        _check_identifier(str(column), f"table {name}")
        kind, data = _column(frame[column])
        columns.append(str(column))
        types.append(sql.SQL(kind))
        values.append(data)
    if spatial:
        kind, srid, data = _geometry_column(frame)
        columns.append(GEOMETRY)
        types.append(sql.SQL("geometry({}, {})").format(sql.SQL(kind), sql.Literal(srid)))
        values.append(data)
    table = sql.Identifier(schema, name)
    with db.transaction(), db.cursor() as cur:
        cur.execute(sql.SQL("CREATE TABLE {} ({})").format(table, sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(c), t) for c, t in zip(columns, types, strict=True))))
        if columns:
            copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(table, sql.SQL(", ").join(map(sql.Identifier,
                                                                                                 columns)))
            with cur.copy(copy_sql) as copy:
                for row in zip(*values, strict=True):
                    copy.write_row(row)
        if spatial:
            cur.execute(sql.SQL("CREATE INDEX {} ON {} USING GIST ({})").format(
                sql.Identifier(f"{name}_geometry_gist"[:MAX_IDENTIFIER]), table, sql.Identifier(GEOMETRY)))
        if comment:
            cur.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(table, sql.Literal(comment)))
        for column in columns:
            text = comments.column_comment(column) if column != GEOMETRY else \
                "the feature's geometry (analysis CRS)"
            if text:
                cur.execute(sql.SQL("COMMENT ON COLUMN {}.{} IS {}").format(table, sql.Identifier(column),
                                                                            sql.Literal(text)))
        cur.execute(sql.SQL("ANALYZE {}").format(table))
    return frame_checksum(frame)


class DatabaseOutput(OutputFolder):
    """A run's output: result layers and tables into a PostGIS schema, everything else into a local folder.

    Parameters
    ----------
    url : str
        ``postgresql://USER@HOST:PORT/DB?schema=NAME`` (or ``PG:… active_schema=NAME``), without password.
    maps_out : str or Path
        The local folder of the maps, pages, report, CSV tables and manifest (``--maps-out``).
    overwrite : bool, default False
        Whether results of an earlier run in the schema (and the folder) may be replaced.

    Raises
    ------
    OutputError
        ``--maps-out`` missing, no or a reserved schema, a schema holding earlier results without
        ``overwrite``, a schema holding tables that are not kmrv results, another run writing into it;
        the folder's own refusals (:class:`~kmrv_geo.outputs.OutputFolder`).
    DatabaseError
        The server cannot be reached or refuses the login, or the database has no PostGIS.
    ConfigError
        A password in ``url``.
    """

    def __init__(self, url: str, *, maps_out, overwrite: bool = False):
        self.connection = pgconn.parse(url, where="--out")
        label = self.connection.label
        if not maps_out:
            raise OutputError(f"--out {label} writes the result layers and tables into the database; the maps, pages, "
                              "report.xlsx and manifest.json need a local folder too: add --maps-out DIR")
        schema = self.connection.schema
        if not schema:
            raise OutputError(f"--out {label} names no schema; add ?schema=NAME (e.g. {label}?schema=kmrv_2023): a "
                              "run replaces that whole schema with its results")
        if schema in RESERVED_SCHEMAS or schema.startswith("pg_"):
            raise OutputError(f"--out: schema {schema!r} is not for results (a run replaces its whole schema); give a "
                              "schema of their own, e.g. ?schema=kmrv_2023")
        if len(schema.encode("utf-8")) > MAX_SCHEMA:
            raise OutputError(f"--out: schema name {schema!r} is longer than {MAX_SCHEMA} bytes; give a shorter one")
        self.schema = schema
        self.staging = f"{schema}_kmrv_staging_{os.getpid()}"
        self.previous = f"{schema}_kmrv_old_{os.getpid()}"
        self.tables: dict[str, dict] = {}
        self.db = pgconn.connect(self.connection, autocommit=True)
        try:
            self._check_target(overwrite)
            super().__init__(maps_out, overwrite=overwrite, option="--maps-out")
        except BaseException:
            self.db.close()
            raise
        try:
            self._execute("DROP SCHEMA IF EXISTS {} CASCADE", self.staging)
            self._execute("CREATE SCHEMA {}", self.staging)
        except BaseException:
            self.abandon()
            raise

    @property
    def where(self) -> str:
        """``postgresql://user@host:port/db schema NAME`` for messages."""
        return f"{self.connection.label} schema {self.schema}"

    @property
    def database(self) -> str:
        """Where the result layers and tables go: :attr:`where`."""
        return self.where

    def _execute(self, statement: str, *names: str, params=None):
        from psycopg import sql

        query = sql.SQL(statement).format(*map(sql.Identifier, names))
        with self.db.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall() if cur.description else None

    def _check_target(self, overwrite: bool) -> None:
        import psycopg

        try:
            if not self._execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'"):
                raise DatabaseError(f"{self.connection.label} has no PostGIS; run CREATE EXTENSION postgis in that "
                                    "database (as its owner or a superuser), or give a database that has it")
            lock = self._execute("SELECT pg_try_advisory_lock(hashtext(%s))", params=(f"kmrv-geo:{self.schema}",))
            if not lock[0][0]:
                raise OutputError(f"another kmrv run is writing into {self.where}; wait for it to finish")
            row = self._execute("SELECT obj_description(n.oid, 'pg_namespace'), (SELECT count(*) FROM pg_class c "
                                "WHERE c.relnamespace = n.oid AND c.relkind IN ('r','p','v','m','f')), "
                                "(SELECT string_agg(relname, ', ' ORDER BY relname) FROM (SELECT relname FROM "
                                "pg_class c WHERE c.relnamespace = n.oid AND c.relkind IN ('r','p','v','m','f') "
                                "ORDER BY relname LIMIT 8) t) FROM pg_namespace n WHERE n.nspname = %s",
                                params=(self.schema,))
            for prefix in (f"{self.schema}_kmrv_staging_", f"{self.schema}_kmrv_old_"):  # left by killed runs
                for (stale,) in self._execute("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)",
                                              params=(prefix,)):
                    self._execute("DROP SCHEMA IF EXISTS {} CASCADE", stale)
                    logger.info("dropped schema %s left by an interrupted run", stale)
        except psycopg.Error as exc:
            raise DatabaseError(f"{self.where}: {' '.join(str(exc).split())}") from None
        if not row:
            return
        note, count, names = row[0]
        ours = bool(note and note.startswith(SCHEMA_MARK))
        if ours and not overwrite:
            raise OutputError(f"{self.where} already holds results of an earlier run; pass --overwrite to replace "
                              "them, or choose another ?schema=")
        if not ours and count:
            raise OutputError(f"{self.where} holds tables that are not kmrv results ({names}); a run replaces its "
                              "whole schema, so give a new or empty schema with ?schema=")

    def write_layers(self, relpath: str, layers: dict, *, styles_lang: str | None = None, **info):
        """Write result layers into the staging schema (not into a local GeoPackage).

        A table of the same name written before (the layer's attribute table, e.g. ``hsf_gaps``) is replaced by
        the layer, which holds the same rows with their geometry. ``styles_lang`` is not used: QGIS keeps
        database styles in a ``layer_styles`` table of its own choosing, which kmrv leaves alone.
        """
        for name, frame in layers.items():
            frame = clean_frame(frame)[0]
            self._execute("DROP TABLE IF EXISTS {}.{}", self.staging, name)
            checksum = write_frame(self.db, frame, self.staging, name,
                                   comment=comments.table_comment(name, kind="layer"))
            self.tables[name] = {"kind": "layer", "rows": int(len(frame)), "sha256": checksum, "as": relpath}
        return None

    def write_table(self, relpath: str, frame: pd.DataFrame, **info):
        """Write a CSV table into the local folder and, for ``tables/NAME.csv``, table ``NAME`` into the schema."""
        path = super().write_table(relpath, frame, **info)
        match = re.fullmatch(r"tables/([^/]+)\.csv", relpath)
        if match:
            name = match.group(1)
            table = self.public_frame(frame)
            checksum = write_frame(self.db, table, self.staging, name,
                                   comment=comments.table_comment(name, kind="table"))
            self.tables[name] = {"kind": "table", "rows": int(len(table)), "sha256": checksum, "as": relpath}
        return path

    def finish(self, *, config: dict | None = None, inputs: dict | None = None, counts: dict | None = None,
               extra: dict | None = None):
        """Record the database output in the manifest, then swap schema and folder in (see the module notes)."""
        database = {"connection": self.connection.label, "schema": self.schema,
                    "tables": dict(sorted(self.tables.items()))}
        return super().finish(config=config, inputs=inputs, counts=counts, extra={**(extra or {}),
                                                                                   "database": database})

    def _swap_in(self) -> None:
        manifest = json.loads(self.path(MANIFEST).read_text(encoding="utf-8"))
        table = pd.DataFrame({"written_at": [manifest.get("written_at")], "kmrv_version": [__version__],
                              "manifest": [json.dumps(manifest, ensure_ascii=False, default=str)]})
        write_frame(self.db, table, self.staging, MANIFEST_TABLE, comment=comments.TABLE_NOTES[MANIFEST_TABLE])
        mark = (f"{SCHEMA_MARK} (kmrv-geo {__version__}, written {manifest.get('written_at')}; see table "
                f"{MANIFEST_TABLE})")
        from psycopg import sql

        with self.db.transaction():
            self.db.execute(sql.SQL("COMMENT ON SCHEMA {} IS {}").format(sql.Identifier(self.staging),
                                                                         sql.Literal(mark)))
            self._carry_grants()
            existed = bool(self._execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", params=(self.schema,)))
            if existed:
                self._execute("ALTER SCHEMA {} RENAME TO {}", self.schema, self.previous)
            self._execute("ALTER SCHEMA {} RENAME TO {}", self.staging, self.schema)
        try:
            super()._swap_in()
        except BaseException:
            with self.db.transaction():  # the folder keeps its previous results: so does the schema
                self._execute("ALTER SCHEMA {} RENAME TO {}", self.schema, self.staging)
                if existed:
                    self._execute("ALTER SCHEMA {} RENAME TO {}", self.previous, self.schema)
            self.abandon()
            raise
        if existed:
            self._execute("DROP SCHEMA {} CASCADE", self.previous)
        self._close()

    def _carry_grants(self) -> None:
        """Give the new schema the readers of the previous one: USAGE on the schema, SELECT on its tables."""
        users = self._execute("SELECT DISTINCT grantee FROM information_schema.role_table_grants WHERE "
                              "table_schema = %s AND privilege_type = 'SELECT' AND grantee <> current_user",
                              params=(self.schema,)) or []
        usage = self._execute("SELECT DISTINCT a.grantee::regrole::text FROM pg_namespace n, aclexplode(n.nspacl) a "
                              "WHERE n.nspname = %s AND a.privilege_type = 'USAGE' AND a.grantee <> 0 AND "
                              "a.grantee <> n.nspowner", params=(self.schema,)) or []
        for (role,) in usage:
            self._execute("GRANT USAGE ON SCHEMA {} TO {}", self.staging, role)
        for (role,) in users:
            self._execute("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}", self.staging, role)

    def _close(self) -> None:
        try:
            self._execute("SELECT pg_advisory_unlock_all()")
        except Exception:  # the connection may be gone; closing it releases the lock anyway
            pass
        self.db.close()

    def abandon(self) -> None:
        """Drop the staging schema of a failed run (the target schema keeps its previous results) and the
        local staging folder.
        """
        try:
            if not self.db.closed:
                self._execute("DROP SCHEMA IF EXISTS {} CASCADE", self.staging)
        except Exception as exc:  # the server may be gone: the next run drops it
            logger.warning("could not drop the staging schema %s (%s); the next run drops it", self.staging, exc)
        finally:
            if not self.db.closed:
                self._close()
            super().abandon()

    def summary_lines(self, lang: str = "zh") -> list[str]:
        """Where the layers and tables went."""
        n = len(self.tables)
        if lang == "zh":
            return [f"成果图层和表已写入数据库 {self.where}（{n} 个表，见表 {MANIFEST_TABLE}）"]
        return [f"result layers and tables written to {self.where} ({n} tables, see table {MANIFEST_TABLE})"]
