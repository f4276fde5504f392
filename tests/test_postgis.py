"""PostGIS as input and output, against a real throwaway server (``postgis_server`` in conftest.py; no mocks).

- the hand-made project (``postgis_project.py``) read from PostGIS gives byte-identical tables to the same layers
  read from a GeoPackage;
- results written to a schema read back equal to ``results.gpkg`` and ``tables/*.csv``, with GiST indexes and
  comments, and the maps/report/manifest in ``--maps-out``;
- a run that fails mid-write (in the database, after it, or while swapping in) leaves the previous schema and
  folder as they were;
- bad input stops with one paragraph naming the connection (never the password), the table and the fix.
"""

from __future__ import annotations

import filecmp
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import postgis_project as golden
import psycopg
import pyogrio
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from shapely.geometry import box

from kmrv_geo import pipeline
from kmrv_geo.cli.main import cli
from kmrv_geo.errors import ConfigError, CrsError, DatabaseError, LayerError, OutputError
from kmrv_geo.layers import FID, read_vector
from kmrv_geo.outputs import OutputFolder
from kmrv_geo.postgis import write as pgwrite
from kmrv_geo.postgis.connection import parse, redact
from kmrv_geo.postgis.read import frame_checksum

pytestmark = pytest.mark.slow


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def sql(server, statement: str, params=None):
    with psycopg.connect(server.dsn, autocommit=True) as db:
        cur = db.execute(statement, params)
        return cur.fetchall() if cur.description else None


@pytest.fixture(scope="module")
def world(postgis_server, tmp_path_factory):
    """The golden project as a GeoPackage (``file.yml``) and as tables of schema ``src`` (``db.yml``), and the
    run of the GeoPackage project (``out_file``).
    """
    root = tmp_path_factory.mktemp("golden")
    gpkg = root / "data.gpkg"
    for name, frame in golden.layers().items():
        frame.to_file(gpkg, layer=name, engine="pyogrio")
    sql(postgis_server, "DROP SCHEMA IF EXISTS src CASCADE; CREATE SCHEMA src")
    with psycopg.connect(postgis_server.dsn, autocommit=True) as db:
        for name in golden.layers():  # loaded as read from the GeoPackage (the file's feature ids are its row order)
            pgwrite.write_frame(db, read_vector(gpkg, layer=name).frame.drop(columns=FID), "src", name)
    (root / "file.yml").write_text(golden.config_text("data.gpkg"), encoding="utf-8")
    (root / "db.yml").write_text(golden.config_text(postgis_server.dsn, table_prefix="src."), encoding="utf-8")
    pipeline.run(root / "file.yml", root / "out_file")
    return root


def test_postgis_input_gives_the_same_tables_as_the_geopackage(world, postgis_server):
    result = pipeline.run(world / "db.yml", world / "out_db")
    tables = sorted(p.name for p in (world / "out_file" / "tables").iterdir())
    assert tables == sorted(p.name for p in (world / "out_db" / "tables").iterdir())
    assert {"violations_by_county.csv", "judged_patches.csv", "coverage_by_county.csv"} <= set(tables)
    for name in tables:
        if name == "feature_accounting.csv":
            continue
        assert filecmp.cmp(world / "out_file" / "tables" / name, world / "out_db" / "tables" / name,
                           shallow=False), name
    # the accounting is the same but for where each layer came from: the connection without password, the table
    a = pd.read_csv(world / "out_file" / "tables" / "feature_accounting.csv")
    b = pd.read_csv(world / "out_db" / "tables" / "feature_accounting.csv")
    source = a.columns[2]
    pd.testing.assert_frame_equal(a.drop(columns=source), b.drop(columns=source))
    assert b[source].iloc[2] == f"{postgis_server.dsn} (table src.landuse_2022)"
    # the manifest records each table read with a checksum of what was read, and no password
    manifest = (world / "out_db" / "manifest.json").read_text(encoding="utf-8")
    inputs = json.loads(manifest)["inputs"]
    assert inputs[f"{postgis_server.dsn} (table src.pbf)"] == frame_checksum(
        read_vector(postgis_server.dsn, layer="src.pbf").frame)
    assert postgis_server.password not in manifest
    assert any("src.landuse_2023" in line for line in result.summary)


def _read_back(server, schema: str, name: str):
    engine = sa.create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(server.dsn))
    try:
        with engine.connect() as con:
            geometric = con.execute(sa.text("SELECT srid FROM geometry_columns WHERE f_table_schema = :s AND "
                                            "f_table_name = :t"), {"s": schema, "t": name}).first()
            query = f'SELECT * FROM "{schema}"."{name}"'
            if geometric:
                return gpd.read_postgis(query, con, geom_col="geometry", crs=f"EPSG:{geometric[0]}")
            return pd.read_sql(sa.text(query), con)
    finally:
        engine.dispose()


def _missing_as_none(frame: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame(frame).astype(object)
    return frame.where(frame.notna(), None)


def _assert_schema_holds_the_run(server, schema: str, out_file: Path) -> None:
    """Every layer of out_file's results.gpkg and every table of its tables/ is in ``schema``, equal."""
    for layer in pyogrio.list_layers(out_file / "results.gpkg")[:, 0]:
        if layer == "layer_styles":
            continue
        expected = gpd.read_file(out_file / "results.gpkg", layer=layer, engine="pyogrio")
        got = _read_back(server, schema, layer)
        assert list(got.columns) == list(expected.columns), layer
        columns = [c for c in expected.columns if c != "geometry"]
        pd.testing.assert_frame_equal(_missing_as_none(got[columns]), _missing_as_none(expected[columns]),
                                      check_dtype=False, obj=layer)
        assert got.geometry.geom_equals(expected.geometry).all(), layer
        assert got.crs == expected.crs
    layers = set(pyogrio.list_layers(out_file / "results.gpkg")[:, 0])
    for csv in sorted((out_file / "tables").glob("*.csv")):
        if csv.stem in layers or csv.stem == "feature_accounting":
            continue  # the layer holds these rows with their geometry; the accounting names other sources
        got = _read_back(server, schema, csv.stem)
        assert "\ufeff" + got.to_csv(index=False, lineterminator="\n") == csv.read_text(encoding="utf-8"), csv.stem


def test_results_written_to_a_schema_read_back_equal(world, postgis_server):
    out = f"{postgis_server.dsn}?schema=kmrv_2023"
    maps = world / "maps_2023"
    result = invoke("run", world / "db.yml", "--out", out, "--maps-out", maps, "-q")
    assert result.exit_code == 0, result.output
    _assert_schema_holds_the_run(postgis_server, "kmrv_2023", world / "out_file")
    # GiST index on every layer, comments on tables and columns, the run recorded in the schema
    gist = dict(sql(postgis_server, "SELECT c.relname, count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
                                    "JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam "
                                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'kmrv_2023' "
                                    "AND am.amname = 'gist' GROUP BY 1"))
    layers = [n for n in pyogrio.list_layers(world / "out_file" / "results.gpkg")[:, 0] if n != "layer_styles"]
    assert all(gist.get(name) == 1 for name in layers), gist
    comment = sql(postgis_server, "SELECT obj_description('kmrv_2023.change_patches'::regclass, 'pg_class')")[0][0]
    assert comment.startswith("kmrv-geo layer change_patches")
    columns = dict(sql(postgis_server, "SELECT a.attname, col_description(a.attrelid, a.attnum) FROM pg_attribute a "
                                       "WHERE a.attrelid = 'kmrv_2023.change_patches'::regclass AND a.attnum > 0"))
    assert "违法面积" in columns["illegal_mu"] and "part − approvals" in columns["illegal_mu"]
    heading = next(c for c in _read_back(postgis_server, "kmrv_2023", "violations_by_county").columns
                   if c.startswith("违法面积("))
    table_columns = dict(sql(postgis_server, "SELECT a.attname, col_description(a.attrelid, a.attnum) FROM "
                                             "pg_attribute a WHERE a.attrelid = 'kmrv_2023.violations_by_county'"
                                             "::regclass AND a.attnum > 0"))
    assert table_columns[heading].startswith("illegal_mu — ")
    recorded = json.loads(_read_back(postgis_server, "kmrv_2023", "kmrv_manifest")["manifest"].iloc[0])
    assert recorded["database"]["schema"] == "kmrv_2023" and "change_patches" in recorded["database"]["tables"]
    assert postgis_server.password not in json.dumps(recorded)
    # the local folder: maps, pages, report, CSV tables and the manifest; the layers are in the database only
    manifest = json.loads((maps / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["database"]["connection"] == postgis_server.dsn
    assert manifest["database"]["tables"]["change_patches"]["rows"] == len(
        gpd.read_file(world / "out_file" / "results.gpkg", layer="change_patches"))
    assert (maps / "maps" / "violations.html").exists() and (maps / "report.xlsx").exists()
    assert not (maps / "results.gpkg").exists()
    assert "kmrv_2023" in result.output
    # no staging schema is left
    assert sql(postgis_server, "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'kmrv_2023%'") == [("kmrv_2023",)]
    # a second run needs --overwrite; the readers' grants carry over to the new schema
    again = invoke("run", world / "db.yml", "--out", out, "--maps-out", world / "maps_other", "-q")
    assert again.exit_code == 2 and "--overwrite" in again.output and "Traceback" not in again.output
    sql(postgis_server, "DROP ROLE IF EXISTS kmrv_reader; CREATE ROLE kmrv_reader; GRANT USAGE ON SCHEMA kmrv_2023 TO "
                        "kmrv_reader; GRANT SELECT ON ALL TABLES IN SCHEMA kmrv_2023 TO kmrv_reader")
    assert invoke("run", world / "db.yml", "--out", out, "--maps-out", maps, "--overwrite", "-q").exit_code == 0
    assert sql(postgis_server, "SELECT has_schema_privilege('kmrv_reader', 'kmrv_2023', 'USAGE'), "
                               "has_table_privilege('kmrv_reader', 'kmrv_2023.change_patches', 'SELECT')") == \
        [(True, True)]


def _schema_state(server, schema: str) -> dict:
    """Every table of the schema → (rows, checksum of its content)."""
    names = [r[0] for r in sql(server, "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = "
                                       "c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'", (schema,))]
    return {name: frame_checksum(_read_back(server, schema, name)) for name in sorted(names)}


class Boom(RuntimeError):
    pass


@pytest.mark.parametrize("where", ["maps", "database", "swap"])
def test_a_failed_run_leaves_the_previous_schema_and_folder(world, postgis_server, monkeypatch, where):
    out = f"{postgis_server.dsn}?schema=kmrv_fail_{where}"
    maps = world / f"maps_fail_{where}"
    pipeline.run(world / "db.yml", out, maps_out=maps)
    before = _schema_state(postgis_server, f"kmrv_fail_{where}")
    manifest = (maps / "manifest.json").read_bytes()
    if where == "maps":  # after every layer and table went into the staging schema
        def write_maps(*args, **kwargs):
            raise Boom("the maps failed")
        monkeypatch.setattr(pipeline, "write_maps", write_maps)
    elif where == "database":  # in the middle of writing the tables
        calls = []
        real = pgwrite.write_frame

        def write_frame(*args, **kwargs):
            calls.append(1)
            if len(calls) == 5:
                raise Boom("the server went away")
            return real(*args, **kwargs)
        monkeypatch.setattr(pgwrite, "write_frame", write_frame)
    else:  # the schema was swapped in, then the folder could not be (a file locked on Windows)
        def swap(self):
            raise OutputError("cannot replace the folder: a file is open in another program")
        monkeypatch.setattr(OutputFolder, "_swap_in", swap)
    with pytest.raises((Boom, OutputError)):
        pipeline.run(world / "db.yml", out, maps_out=maps, overwrite=True)
    assert _schema_state(postgis_server, f"kmrv_fail_{where}") == before
    assert sql(postgis_server, "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s ORDER BY 1",
               (f"kmrv_fail_{where}%",)) == [(f"kmrv_fail_{where}",)]
    assert (maps / "manifest.json").read_bytes() == manifest
    assert not [p for p in maps.parent.iterdir() if p.name.startswith(f".{maps.name}.kmrv-")]


def test_a_killed_runs_staging_schema_is_dropped_by_the_next_run(world, postgis_server):
    sql(postgis_server, "CREATE SCHEMA kmrv_killed_kmrv_staging_99999; CREATE TABLE kmrv_killed_kmrv_staging_99999.x "
                        "(a int)")
    pipeline.run(world / "db.yml", f"{postgis_server.dsn}?schema=kmrv_killed", maps_out=world / "maps_killed",
                 steps=("violations",))
    assert sql(postgis_server, "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'kmrv_killed%'") == \
        [("kmrv_killed",)]


def test_a_schema_of_other_tables_is_not_replaced(world, postgis_server):
    sql(postgis_server, "CREATE SCHEMA IF NOT EXISTS bureau; CREATE TABLE IF NOT EXISTS bureau.dltb (a int)")
    result = invoke("violations", world / "db.yml", "--out", f"{postgis_server.dsn}?schema=bureau", "--maps-out",
                    world / "maps_bureau", "--overwrite")
    assert result.exit_code == 2 and "not kmrv results (dltb)" in result.output
    assert sql(postgis_server, "SELECT count(*) FROM bureau.dltb") == [(0,)]
    assert not (world / "maps_bureau").exists()


# -- bad input ---------------------------------------------------------------------------------------------------


def _project(tmp_path, path: str, layer: str = "src.pbf", extra: str = "") -> Path:
    config = tmp_path / "bad.yml"
    config.write_text(f'name: 坏输入\ncrs: EPSG:4543\nlayers:\n  pbf: {{path: "{path}", layer: {layer}{extra}}}\n',
                      encoding="utf-8")
    return config


def _one_paragraph(result, *needles):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "错误:" in result.output
    for needle in needles:
        assert needle in result.output, (needle, result.output)


def test_unreachable_server(tmp_path, world, postgis_server):
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dsn = f"postgresql://kmrv_test@127.0.0.1:{port}/kmrv"
    result = invoke("check", _project(tmp_path, dsn))
    _one_paragraph(result, "cannot reach the PostgreSQL server", dsn, "host and port")
    with pytest.raises(DatabaseError):
        read_vector(dsn, layer="src.pbf")


def test_wrong_or_missing_password(tmp_path, world, postgis_server, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", "not-the-password-42")
    result = invoke("check", _project(tmp_path, postgis_server.dsn))
    _one_paragraph(result, "refused the login of user kmrv_test", postgis_server.dsn, "PGPASSWORD", "~/.pgpass")
    assert "not-the-password-42" not in result.output
    monkeypatch.delenv("PGPASSWORD")
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-such-pgpass"))
    _one_paragraph(invoke("check", _project(tmp_path, postgis_server.dsn)), "refused the login", "~/.pgpass")


def test_unknown_database(tmp_path, world, postgis_server):
    dsn = postgis_server.url("nope")
    _one_paragraph(invoke("check", _project(tmp_path, dsn)), "database 'nope' does not exist", dsn)


def test_missing_table_lists_the_tables_there_are(tmp_path, world, postgis_server):
    result = invoke("check", _project(tmp_path, postgis_server.dsn, layer="src.pbf_2023"))
    _one_paragraph(result, f"{postgis_server.dsn} has no table src.pbf_2023", "src.landuse_2022", "set `layer:`")


def test_missing_column_names_the_table_and_its_columns(tmp_path, world, postgis_server):
    config = tmp_path / "bad.yml"
    config.write_text(f'name: 坏输入\ncrs: EPSG:4543\nlayers:\n  landuse_t0: {{path: "{postgis_server.dsn}", '
                      'layer: src.landuse_2022, code: DLBM_X}\n', encoding="utf-8")
    _one_paragraph(invoke("check", config), f"{postgis_server.dsn} (table src.landuse_2022)", "lacks the field(s) "
                   "code: DLBM_X", "DLBM", "fix the field names")
    with pytest.raises(LayerError, match="has no column"):
        read_vector(postgis_server.dsn, layer="src.pbf", columns=["NOPE"])


def test_geometry_without_srid(tmp_path, world, postgis_server):
    sql(postgis_server, "DROP TABLE IF EXISTS src.no_srid; CREATE TABLE src.no_srid (id serial PRIMARY KEY, "
                        "geom geometry); INSERT INTO src.no_srid (geom) SELECT ST_Translate(geometry, 0, 0) FROM "
                        "src.pbf; UPDATE src.no_srid SET geom = ST_SetSRID(geom, 0)")
    result = invoke("check", _project(tmp_path, postgis_server.dsn, layer="src.no_srid"))
    _one_paragraph(result, f"{postgis_server.dsn} (table src.no_srid)", "no SRID", "UpdateGeometrySRID('src', "
                   "'no_srid', 'geom'", "crs: EPSG:4543")
    ok = invoke("check", _project(tmp_path, postgis_server.dsn, layer="src.no_srid", extra=", crs: EPSG:4543"), "-q")
    assert ok.exit_code == 0, ok.output
    with pytest.raises(CrsError):
        from kmrv_geo.project import load_single_layer
        load_single_layer(postgis_server.dsn, layer="src.no_srid")


def test_a_password_in_the_project_file_or_out_is_refused(tmp_path, world, postgis_server):
    secret = "s3cret-in-the-file"
    with_password = postgis_server.dsn.replace("kmrv_test@", f"kmrv_test:{secret}@")
    result = invoke("check", _project(tmp_path, with_password))
    _one_paragraph(result, "layers.pbf.path", "holds a password", "PGPASSWORD", "~/.pgpass")
    assert secret not in result.output
    gdal = f"PG:host=127.0.0.1 port={postgis_server.port} dbname=kmrv user=kmrv_test password='{secret}'"
    result = invoke("check", _project(tmp_path, gdal))
    _one_paragraph(result, "holds a password")
    assert secret not in result.output
    result = invoke("violations", world / "db.yml", "--out", f"{with_password}?schema=kmrv_x", "--maps-out",
                    tmp_path / "m")
    _one_paragraph(result, "--out", "holds a password")
    assert secret not in result.output
    with pytest.raises(ConfigError):
        parse(f"{postgis_server.dsn}?password={secret}")
    assert secret not in redact(f"{postgis_server.dsn}?password={secret}") + redact(with_password) + redact(gdal)


def test_database_out_needs_maps_out_and_a_schema(tmp_path, world, postgis_server):
    _one_paragraph(invoke("violations", world / "db.yml", "--out", f"{postgis_server.dsn}?schema=kmrv_y"),
                   "--maps-out")
    _one_paragraph(invoke("violations", world / "db.yml", "--out", postgis_server.dsn, "--maps-out", tmp_path / "m"),
                   "?schema=")
    _one_paragraph(invoke("violations", world / "db.yml", "--out", f"{postgis_server.dsn}?schema=public", "--maps-out",
                          tmp_path / "m"), "not for results")
    _one_paragraph(invoke("violations", world / "db.yml", "--out", tmp_path / "o", "--maps-out", tmp_path / "m"),
                   "--maps-out is for a database --out")
    _one_paragraph(invoke("demo", "--out", f"{postgis_server.dsn}?schema=kmrv_z"), "is a database")


def test_gdal_connection_and_a_table_made_by_hand(world, postgis_server):
    sql(postgis_server, "DROP TABLE IF EXISTS src.by_hand; CREATE TABLE src.by_hand (gid serial PRIMARY KEY, "
                        "\"DLBM\" varchar(4), mj numeric(12, 2), n numeric(8, 0), ok boolean, d date, info jsonb, "
                        "geom geometry(Polygon, 4543)); INSERT INTO src.by_hand (gid, \"DLBM\", mj, n, ok, d, info, "
                        "geom) "
                        "VALUES (7, '0101', 12.5, 3, true, '2023-05-01', '{\"a\": 1}', ST_GeomFromText("
                        "'POLYGON((560000 2760000, 560100 2760000, 560100 2760100, 560000 2760000))', 4543)), "
                        "(9, '', NULL, NULL, NULL, NULL, NULL, NULL)")
    gdal = f"PG:host=127.0.0.1 port={postgis_server.port} dbname=kmrv user=kmrv_test active_schema=src"
    read = read_vector(gdal, layer="by_hand", allow_empty=False)
    frame = read.frame
    assert read.layer == "src.by_hand" and read.source == f"{postgis_server.dsn} (table src.by_hand)"
    assert list(frame[FID]) == [7, 9]  # the integer primary key
    assert list(frame.columns) == [FID, "gid", "DLBM", "mj", "n", "ok", "d", "info", "geometry"]
    assert frame["DLBM"].tolist() == ["0101", ""]  # an empty text stays empty
    assert frame["mj"].iloc[0] == 12.5 and np.isnan(frame["mj"].iloc[1]) and frame["n"].iloc[0] == 3
    assert str(frame["d"].iloc[0]) == "2023-05-01" and frame["info"].iloc[0] == '{"a": 1}'
    assert frame.crs.to_epsg() == 4543 and frame.geometry.iloc[1] is None
    assert frame.geometry.iloc[0].equals(box(560000, 2760000, 560100, 2760100).intersection(
        frame.geometry.iloc[0]))


def test_land_use_partitioned_from_postgis_gives_the_geopackage_runs_figures(world, tmp_path):
    """``kmrv partition`` reads the land use from the database; the Dask workers then read the partitions and the
    violation tables equal the GeoPackage run's byte for byte.
    """
    parts = tmp_path / "parts"
    result = invoke("partition", world / "db.yml", "--out", parts, "-q")
    assert result.exit_code == 0, result.output
    recorded = json.loads((parts / "partitions.json").read_text(encoding="utf-8"))["roles"]["landuse_t0"]
    assert recorded["database"] and recorded["sha256"] and "src.landuse_2022" in recorded["input"]
    result = invoke("violations", world / "db.yml", "--out", tmp_path / "out", "--engine", "dask", "--partitions",
                    parts, "-q")
    assert result.exit_code == 0, result.output
    for name in ("violations_by_county.csv", "balances_by_county.csv"):
        assert filecmp.cmp(world / "out_file" / "tables" / name, tmp_path / "out" / "tables" / name,
                           shallow=False), name
    # a table edited since: the server's fingerprint of its rows differs and the partitions are refused; a write
    # that changes no value (a new row version) leaves the fingerprint as it was
    with psycopg.connect(recorded_dsn(world), autocommit=True) as db:
        old = db.execute('SELECT "DLBM" FROM src.landuse_2023 WHERE "BSM" = 1').fetchone()[0]
        db.execute('UPDATE src.landuse_2023 SET "DLBM" = "DLBM" WHERE "BSM" = 1')
        again = invoke("violations", world / "db.yml", "--out", tmp_path / "out2", "--engine", "dask",
                       "--partitions", parts, "-q")
        assert again.exit_code == 0, again.output
        db.execute('UPDATE src.landuse_2023 SET "DLBM" = %s WHERE "BSM" = 1', ("0702" if old != "0702" else "0101",))
        try:
            stale = invoke("violations", world / "db.yml", "--out", tmp_path / "out3", "--engine", "dask",
                           "--partitions", parts, "-q")
            assert stale.exit_code == 2, stale.output
            assert "the rows of" in stale.output and "src.landuse_2023" in stale.output, stale.output
        finally:
            db.execute('UPDATE src.landuse_2023 SET "DLBM" = %s WHERE "BSM" = 1', (old,))


def recorded_dsn(world) -> str:
    """The connection (without password) the world's db.yml reads from."""
    import yaml

    return yaml.safe_load((world / "db.yml").read_text(encoding="utf-8"))["layers"]["landuse_t0"]["path"]


def test_a_maps_out_folder_holding_results_is_named_as_maps_out(world, postgis_server, tmp_path):
    """Beside a database --out, the local folder's refusal names the option that gave it (--maps-out)."""
    maps = tmp_path / "maps"
    maps.mkdir()
    (maps / "manifest.json").write_text("{}", encoding="utf-8")
    result = invoke("violations", world / "file.yml", "--out", f"{postgis_server.dsn}?schema=kmrv_maps_out_test",
                    "--maps-out", maps, "-q")
    assert result.exit_code == 2, result.output
    assert "choose another --maps-out folder" in result.output and "another --out folder" not in result.output
