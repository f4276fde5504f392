"""Reading vector layers: GeoPackage, Shapefile, GeoJSON, GeoParquet, FileGDB.

pyogrio with Arrow is the fast path. fiona is used where it is the better tool: when a file has
corrupt features, pyogrio fails on the whole layer, while fiona reads feature by feature, so the
readable features are kept and each unreadable one is reported with its id and reason.

Shapefile text encoding: detected from the ``.dbf`` field names and records together (valid UTF-8 → UTF-8,
else GB18030, a superset of GBK) and checked against the ``.cpg``; bytes that fit neither, or disagree
with the ``.cpg``, stop with a clear error; an explicit ``encoding`` overrides all.
"""

from __future__ import annotations

import codecs
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from .errors import LayerError

logger = logging.getLogger(__name__)

FID = "_fid"
"""Column holding each feature's id in its source file (for reports)."""
VECTOR_SUFFIXES = (".gpkg", ".shp", ".geojson", ".json", ".parquet", ".geoparquet", ".gdb", ".zip", ".fgb")


@dataclass
class ReadResult:
    """A layer as read from its file.

    Attributes
    ----------
    frame : GeoDataFrame
        The features, with column ``_fid`` (source feature id).
    path : Path or str
        The file, or for a database table the connection (``postgresql://user@host:port/db``, no password).
    layer : str or None
        The layer read (``None`` for single-layer files; ``schema.table`` for a database table).
    driver : str
    encoding : str or None
        Text encoding used (Shapefiles) and how it was chosen, e.g. ``"GB18030 (detected)"``.
    unreadable : list of (int, str)
        Features that could not be read at all: (feature id, reason).
    crs_fix : str or None
        How to give the layer a CRS where its source says how (a PostGIS column without SRID), added to the
        no-CRS message of the checks.
    checksum : str or None
        sha256 of what was read, where it is not the file's (a database table: see
        :func:`kmrv_geo.postgis.read.frame_checksum`).
    """

    frame: gpd.GeoDataFrame
    path: Path | str
    layer: str | None
    driver: str
    encoding: str | None = None
    unreadable: list[tuple[int, str]] = field(default_factory=list)
    crs_fix: str | None = None
    checksum: str | None = None

    @property
    def source(self) -> str:
        """``path``, ``path (layer NAME)`` or ``connection (table schema.table)`` for messages."""
        kind = "table" if self.driver == "PostgreSQL" else "layer"
        return f"{self.path}" + (f" ({kind} {self.layer})" if self.layer else "")


def _missing_file_message(path: Path) -> str:
    folder = path.parent
    if not folder.is_dir():
        return f"file {path} does not exist (nor does its folder {folder}); check the path"
    stem = path.stem.lower()
    near = sorted(p.name for p in folder.iterdir() if p.stem.lower() == stem or p.suffix.lower() in VECTOR_SUFFIXES)
    listing = ", ".join(near[:15]) if near else "no vector files"
    return f"file {path} does not exist; in {folder} there are: {listing}"


def list_layers(path: str | Path) -> list[str]:
    """Names of the layers in a vector file (one name for single-layer formats).

    Raises
    ------
    LayerError
        If the file is missing or cannot be opened as a vector file.
    """
    path = Path(path)
    if not path.exists():
        raise LayerError(_missing_file_message(path))
    try:
        return [str(name) for name, _ in pyogrio.list_layers(path)]
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        raise LayerError(_corrupt_message(path, exc)) from None


def _corrupt_message(path: Path, exc: Exception) -> str:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return (f"file {path} cannot be read as a vector layer (GDAL said: {detail}); it may be corrupt, truncated or not "
            "a GeoPackage/Shapefile/GeoJSON/GeoParquet/FileGDB — open it in QGIS or export it again")


def _dbf_text(dbf: Path) -> tuple[list[tuple[str, bytes]], bytes]:
    """The field names (raw bytes, by position) and the record bytes of a dBASE file."""
    data = dbf.read_bytes()
    header_len = int.from_bytes(data[8:10], "little") if len(data) >= 10 else 0
    names = []
    for start in range(32, max(32, header_len - 1), 32):
        if data[start:start + 1] in (b"\r", b""):
            break
        names.append((f"field {len(names) + 1}", data[start:start + 11].split(b"\x00", 1)[0]))
    return names, data[header_len:]


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _sample(raw: bytes, where: str) -> str:
    """A short sample of undecodable bytes: hex, and how UTF-8 and GB18030 would read them."""
    chunk = raw[:24]
    return (f"{where}: bytes {chunk.hex(' ')} (as UTF-8: {chunk.decode('utf-8', 'replace')!r}, as GBK/GB18030: "
            f"{chunk.decode('gb18030', 'replace')!r})")


def detect_shapefile_encoding(shp_path: str | Path) -> tuple[str, str]:
    """Text encoding of a Shapefile's attributes, from its ``.cpg`` and the ``.dbf`` bytes together.

    Evidence is the field names in the ``.dbf`` header (Chinese survey exports often have GBK names such as
    标识码 with plain ASCII values) and the record bytes. They are decoded strictly: all ASCII → UTF-8
    (nothing to tell apart); valid UTF-8 → UTF-8; else valid GB18030 (a superset of GBK and GB2312) →
    GB18030. A ``.cpg`` is used when the bytes are valid in its encoding.

    Returns
    -------
    tuple of str
        (encoding, how): how is ``"cpg"``, ``"detected"`` or ``"default"`` (no .dbf).

    Raises
    ------
    LayerError
        The ``.cpg`` names an encoding the bytes are not valid in, or the bytes are valid in neither UTF-8
        nor GB18030: the message names the file and field, shows a sample and the ``encoding:`` fix.
    """
    shp_path = Path(shp_path)
    dbf = next((shp_path.with_suffix(s) for s in (".dbf", ".DBF") if shp_path.with_suffix(s).exists()), None)
    names, records = _dbf_text(dbf) if dbf is not None else ([], b"")
    evidence = [(f"field name ({where})", raw) for where, raw in names] + [("records", records)]
    fix = (f"set the encoding in the config, e.g. layers: {{ROLE: {{path: {shp_path.name}, encoding: GBK}}}} "
           f"(or `kmrv check {shp_path.name} --encoding GBK`)")
    for suffix in (".cpg", ".CPG"):
        cpg = shp_path.with_suffix(suffix)
        if cpg.exists():
            text = cpg.read_text(encoding="ascii", errors="ignore").strip()
            if text:
                declared = _normalise_encoding(text)
                bad = [(where, raw) for where, raw in evidence if not _decodes(raw, declared)]
                if bad:
                    where, raw = bad[0]
                    raise LayerError(f"{cpg} says the text of {dbf} is {text}, but its bytes are not valid {text}; "
                                     f"{_sample(_first_non_ascii(raw), where)}; {fix}, or correct the .cpg")
                return declared, "cpg"
    if dbf is None:
        return "UTF-8", "default"
    everything = b"".join(raw for _, raw in evidence)
    if everything.isascii() or _decodes(everything, "utf-8"):
        return "UTF-8", "detected"
    if all(_decodes(raw, "gb18030") for _, raw in evidence):
        return "GB18030", "detected"
    where, raw = next((w, r) for w, r in evidence if not _decodes(r, "gb18030"))
    raise LayerError(f"the text encoding of {dbf} cannot be told: its bytes are valid in neither UTF-8 nor "
                     f"GBK/GB18030; {_sample(_first_non_ascii(raw), where)}; {fix} (e.g. Big5, Latin-1)")


def _first_non_ascii(raw: bytes) -> bytes:
    """The bytes from a little before the first non-ASCII byte (where the encoding shows)."""
    pos = next((i for i, byte in enumerate(raw) if byte >= 0x80), 0)
    return raw[max(0, pos - 4):]


def _normalise_encoding(text: str) -> str:
    """An encoding name as Python knows it: ``.cpg`` forms such as ``ANSI 936``, ``CP 936`` or ``65001`` too."""
    upper = text.strip().upper().replace("_", "-")
    upper = re.sub(r"^(ANSI|CP|CODEPAGE)\s*-?\s*(?=\d)", "", upper)
    if upper in ("UTF8", "UTF-8", "65001"):
        return "UTF-8"
    if upper in ("GBK", "CP936", "936", "GB2312", "GB18030", "54936"):
        return "GB18030"  # a superset: decodes GBK and GB2312 text too
    if upper.isdigit():
        return f"cp{upper}"
    return text.strip()


def check_shapefile_encoding(shp_path: str | Path, encoding: str) -> str:
    """The encoding a user named for a Shapefile (config ``encoding:`` or ``--encoding``), checked on its bytes.

    Returns
    -------
    str
        The encoding as Python names it (GBK → GB18030, its superset).

    Raises
    ------
    LayerError
        An encoding Python does not know, or one the ``.dbf`` bytes are not valid in (naming the field,
        a sample and the encoding the bytes do fit).
    """
    shp_path = Path(shp_path)
    name = _normalise_encoding(encoding)
    try:
        codecs.lookup(name)
    except LookupError:
        raise LayerError(f"encoding {encoding!r} (for {shp_path.name}) is not a known text encoding; use e.g. GBK, "
                         "GB18030, UTF-8 or Big5") from None
    dbf = next((shp_path.with_suffix(s) for s in (".dbf", ".DBF") if shp_path.with_suffix(s).exists()), None)
    if dbf is None:
        return name
    names, records = _dbf_text(dbf)
    for where, raw in [(f"field name ({w})", r) for w, r in names] + [("records", records)]:
        if not _decodes(raw, name):
            fits = next((e for e in ("UTF-8", "GB18030") if _decodes(raw, e)), None)
            hint = f"; they are valid {'GBK/GB18030' if fits == 'GB18030' else fits}" if fits else ""
            raise LayerError(f"{dbf} is not valid {encoding}{hint}: {_sample(_first_non_ascii(raw), where)}; set "
                             f"encoding: {'GBK' if fits == 'GB18030' else fits or 'to the right one'} (or leave it out "
                             "to have it detected)")
    return name


def read_vector(path: str | Path, *, layer: str | None = None, encoding: str | None = None,
                columns: list[str] | None = None, allow_empty: bool = False) -> ReadResult:
    """Read one vector layer with its source feature ids.

    Parameters
    ----------
    path : str or Path
        .gpkg, .shp, .geojson/.json, .parquet, .gdb (folder), or anything else GDAL reads; or a PostGIS
        database, ``postgresql://USER@HOST:PORT/DB`` or ``PG:…`` (read by :func:`kmrv_geo.postgis.read.read_table`).
    layer : str, optional
        Layer name (required to pick one of several layers; the first is read otherwise); for a database
        ``schema.table``.
    encoding : str, optional
        Text encoding for Shapefiles without a usable .cpg (e.g. ``GBK``).
    columns : list of str, optional
        Attribute columns to read (default all).
    allow_empty : bool, default False
        Accept a layer without features (a layer of things that may not exist in an area, such as this
        year's facility filings); otherwise an empty layer is an error (it is usually the wrong layer).

    Returns
    -------
    ReadResult

    Raises
    ------
    LayerError
        Missing file, unknown layer (the message lists the layers), empty layer (unless ``allow_empty``),
        non-spatial table or unreadable file.
    DatabaseError
        A database that cannot be reached or refuses the login.
    """
    from .postgis.connection import is_database

    if is_database(path):
        from .postgis.read import read_table

        return read_table(str(path), layer=layer, columns=columns, allow_empty=allow_empty)
    path = Path(path)
    if not path.exists():
        raise LayerError(_missing_file_message(path))
    if path.suffix.lower() in (".parquet", ".geoparquet"):
        return _read_parquet(path, columns)
    layers = list_layers(path)
    if layer is not None and layer not in layers:
        raise LayerError(f"{path} has no layer {layer!r}; its layers are: {', '.join(layers) or '(none)'}; set "
                         "`layer:` in the config to one of them")
    used_encoding = None
    read_encoding = encoding
    if path.suffix.lower() == ".shp":  # the text encoding is settled before GDAL decodes any field name
        if encoding:
            read_encoding = check_shapefile_encoding(path, encoding)
            used_encoding = f"{encoding} (config)"
        else:
            read_encoding, how = detect_shapefile_encoding(path)
            used_encoding = f"{read_encoding} ({how})"
    try:
        info = pyogrio.read_info(path, layer=layer, encoding=read_encoding)
    except Exception as exc:
        raise LayerError(_corrupt_message(path, exc)) from None
    driver = info.get("driver") or ""
    if info.get("geometry_type") in (None, "None") or not info.get("geometry_type"):
        raise LayerError(f"{path}" + (f" layer {layer}" if layer else "") + " is a table without geometry "
                         f"(fields: {', '.join(map(str, info.get('fields', []))) or 'none'}); give a spatial layer")
    if info.get("features", 0) == 0 and not allow_empty:
        raise LayerError(f"{path}" + (f" layer {layer}" if layer else "") + " has no features; check it is the "
                         "right file and layer")
    unreadable: list[tuple[int, str]] = []
    try:
        frame = pyogrio.read_dataframe(path, layer=layer, encoding=read_encoding, columns=columns, use_arrow=True,
                                       fid_as_index=True)
        frame.index.name = None
        frame.insert(0, FID, np.asarray(frame.index, dtype="int64"))
        frame = frame.reset_index(drop=True)
    except Exception as exc:
        logger.warning("fast read of %s failed (%s); reading feature by feature with fiona", path, exc)
        frame, unreadable = read_with_fiona(path, layer=layer, encoding=read_encoding)
    return ReadResult(frame=frame, path=path, layer=layer or (layers[0] if len(layers) > 1 else None), driver=driver,
                      encoding=used_encoding, unreadable=unreadable)


def _read_parquet(path: Path, columns: list[str] | None) -> ReadResult:
    try:
        frame = gpd.read_parquet(path, columns=columns)
    except ValueError as exc:
        if "geo" in str(exc).lower() or "geometry" in str(exc).lower():
            raise LayerError(f"{path} is a Parquet table without GeoParquet geometry metadata; give a GeoParquet "
                             "file (geopandas to_parquet)") from None
        raise LayerError(_corrupt_message(path, exc)) from None
    except Exception as exc:
        raise LayerError(_corrupt_message(path, exc)) from None
    if len(frame) == 0:
        raise LayerError(f"{path} has no features; check it is the right file")
    frame = frame.reset_index(drop=True)
    frame.insert(0, FID, np.arange(len(frame), dtype="int64"))
    return ReadResult(frame=frame, path=path, layer=None, driver="Parquet")


def read_with_fiona(path: str | Path, *, layer: str | None = None, encoding: str | None = None):
    """Read a layer feature by feature with fiona, keeping every feature that can be read.

    Returns
    -------
    tuple
        (GeoDataFrame with ``_fid``, list of (feature id, reason) for features that could not be read).

    Raises
    ------
    LayerError
        If the file cannot be opened at all.
    """
    import fiona

    path = Path(path)
    kwargs = {"layer": layer} if layer else {}
    if encoding:
        kwargs["encoding"] = encoding
    rows, geoms, fids, unreadable = [], [], [], []
    try:
        with fiona.open(path, **kwargs) as src:
            crs = src.crs_wkt or None
            keys = list(src.keys())
            for fid in keys:
                try:
                    feature = src[fid]
                    geometry = feature.geometry
                    geoms.append(shapely.geometry.shape(geometry) if geometry is not None else None)
                    rows.append(dict(feature.properties))
                    fids.append(int(fid))
                except Exception as exc:  # one bad feature must not lose the rest
                    unreadable.append((int(fid), f"unreadable feature: {str(exc).strip() or type(exc).__name__}"))
    except Exception as exc:
        raise LayerError(_corrupt_message(path, exc)) from None
    frame = gpd.GeoDataFrame(pd.DataFrame(rows), geometry=geoms, crs=crs)
    frame.insert(0, FID, np.asarray(fids, dtype="int64"))
    return frame, unreadable
