"""Land use as spatially partitioned GeoParquet: written once by ``kmrv partition``, read by Dask workers.

A province's land use does not fit one machine's memory twice over; the dask engine's workers read it
in pieces instead. :func:`write_partitions` takes a loaded, checked project and writes each land-use
layer as a folder of GeoParquet files (dask-geopandas, rows ordered along a Hilbert curve so that each
file covers a compact area; its bounding box is in the file's GeoParquet metadata), keeping only what
the violation analysis reads: ``_fid``, ``code``, ``category``, ``ZZSXDM``, the 田坎 share, the
ellipsoidal area measured at load, and ``_pos`` (the parcel's row in the checked layer, so that pieces
and patches number exactly as the local engine numbers them). ``partitions.json`` records what was
written from what: the input files' sha256, the layer specs, the land-use classes, the analysis CRS,
and the checks' reports (which a partitioned run reports as its own: the layers were checked here).

:func:`open_partitions` refuses partitions made from other inputs than the project file names now.

Layout::

    DIR/partitions.json
    DIR/landuse_t0/part.0.parquet …
    DIR/landuse_t1/part.0.parquet …
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from . import __version__
from .checks import LayerReport
from .config import ProjectConfig
from .errors import KmrvError, OutputError
from .layers import FID
from .outputs import sha256_file
from .postgis.connection import is_database
from .ridges import RIDGE_SHARE
from .units import ELLIPSOIDAL_M2_COLUMN

ROLES = ("landuse_t0", "landuse_t1")
"""The layers written as partitions (the rest of a project stays small enough for the client)."""
MANIFEST = "partitions.json"
FORMAT = 1
"""Version of the folder layout and manifest."""
POSITION = "_pos"
"""Column holding each parcel's row position in the checked layer."""
PARCELS_PER_PARTITION = 50_000
"""Target parcels per GeoParquet file."""
KEPT_COLUMNS = (FID, "code", "category", "ZZSXDM", RIDGE_SHARE, ELLIPSOIDAL_M2_COLUMN)
"""Columns of a checked land-use layer the violation analysis reads (those present are written)."""


class PartitionError(KmrvError, ValueError):
    """A partitions folder is missing, unreadable, or was made from other inputs than the project's."""


def _identity(config: ProjectConfig, role: str, inputs: dict[str, str], source: str | None = None) -> dict:
    """What a role's partitions depend on: the layer spec, the input's checksum, the land-use classes.

    A file's checksum is its bytes' (computed here when ``inputs`` lacks it); a database table's is a fingerprint
    of its rows the server computes (:func:`kmrv_geo.postgis.read.table_fingerprint`).
    """
    spec = config.layers[role]
    classes = config.landuse_classes.model_dump(mode="json") if config.landuse_classes is not None else None
    if is_database(spec.path):  # the server's fingerprint of the rows: nothing is read to compare
        from .postgis.read import table_fingerprint

        return {"spec": spec.model_dump(mode="json"), "input": source,
                "sha256": table_fingerprint(spec.path, spec.layer), "landuse_classes": classes, "database": True}
    path = str(config.resolve(spec.path))
    return {"spec": spec.model_dump(mode="json"), "input": path,
            "sha256": inputs.get(path) or sha256_file(path), "landuse_classes": classes}


def write_partitions(project, out: str | Path, *, overwrite: bool = False,
                     parcels_per_partition: int = PARCELS_PER_PARTITION) -> dict:
    """Write the project's land-use layers as spatially partitioned GeoParquet.

    Parameters
    ----------
    project : kmrv_geo.project.Project
        A loaded, checked project with ``landuse_t0`` and ``landuse_t1``.
    out : str or Path
        The partitions folder (see the module's layout). Written in a staging folder next to it and
        moved into place when complete: never half a set of partitions.
    overwrite : bool, default False
        Replace an existing partitions folder (refused otherwise).
    parcels_per_partition : int, default :data:`PARCELS_PER_PARTITION`

    Returns
    -------
    dict
        The manifest written to ``partitions.json``.

    Raises
    ------
    PartitionError
        If a land-use role is missing.
    OutputError
        If ``out`` exists (without ``overwrite``) or is not a partitions folder.
    """
    import dask_geopandas

    out = Path(out).expanduser().resolve()
    missing = [role for role in ROLES if role not in project.vectors]
    if missing:
        raise PartitionError(f"the project has no {' or '.join(missing)} layer: partitions are made of the two "
                             "land-use layers; configure both in the project file")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise OutputError(f"{out} exists; add --overwrite to replace it")
        if not (out / MANIFEST).exists():
            raise OutputError(f"{out} is not a partitions folder (no {MANIFEST}); choose another --out")
    project.measure_all_parcels()  # the workers take whole parcels' areas from the partitions
    stage = out.parent / f".{out.name}.kmrv-staging-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    config = project.config
    manifest: dict = {"format": FORMAT, "kmrv_version": __version__, "written_at": time.strftime("%Y-%m-%d %H:%M:%S"),
                      "project": config.name, "config": str(Path(config.source).resolve()) if config.source else None,
                      "analysis_crs": project.analysis_crs, "roles": {}}
    try:
        for role in ROLES:
            frame = project.vectors[role]
            columns = [c for c in KEPT_COLUMNS if c in frame.columns]
            table = gpd.GeoDataFrame(frame[columns].reset_index(drop=True), geometry=frame.geometry.to_numpy(),
                                     crs=frame.crs)
            table[POSITION] = np.arange(len(table), dtype="int64")
            n = max(1, min(len(table), math.ceil(len(table) / parcels_per_partition)))
            ddf = dask_geopandas.from_geopandas(table, npartitions=n)
            if len(table) > 1:
                ddf = ddf.spatial_shuffle(by="hilbert", npartitions=n)
            ddf.to_parquet(stage / role, write_index=False)
            report = project.reports[role]
            mismatch = project.tbmj_mismatch.get(role)
            manifest["roles"][role] = {
                **_identity(config, role, project.inputs, project.reports[role].source), "features": int(len(table)),
                "partitions": int(n),
                "files": _files(stage / role), "report": report.to_dict(),
                "tbmj_mismatch": {"columns": [str(c) for c in mismatch.columns],
                                  "rows": mismatch.astype(object).where(mismatch.notna(), None).to_numpy().tolist()}
                if mismatch is not None else None,
            }
        (stage / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=_plain),
                                      encoding="utf-8")
        old = out.parent / f".{out.name}.kmrv-old-{os.getpid()}"
        if out.exists():
            out.rename(old)
        stage.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return manifest


def _plain(value):
    """JSON form of numpy scalars (full precision) and anything else (its text)."""
    return value.item() if isinstance(value, np.generic) else str(value)


@dataclass(frozen=True)
class Partitions:
    """An opened partitions folder whose inputs match the project file.

    Attributes
    ----------
    folder : Path
    manifest : dict
        ``partitions.json``.
    """

    folder: Path
    manifest: dict

    @property
    def analysis_crs(self) -> str:
        """The analysis CRS the geometries are in."""
        return self.manifest["analysis_crs"]

    def path(self, role: str) -> Path:
        """The GeoParquet folder of a land-use role."""
        return self.folder / role

    def inputs(self) -> dict[str, str]:
        """Input file → sha256, as read when the partitions were written."""
        return {entry["input"]: entry["sha256"] for entry in self.manifest["roles"].values()}

    def reports(self) -> dict[str, LayerReport]:
        """The checks' reports of the land-use layers, as made when the partitions were written."""
        return {role: LayerReport.from_dict(entry["report"]) for role, entry in self.manifest["roles"].items()}

    def tbmj_mismatch(self) -> dict[str, pd.DataFrame]:
        """Land-use role → parcels whose TBMJ is off their geometry (where the layer has TBMJ)."""
        return {role: pd.DataFrame(entry["tbmj_mismatch"]["rows"], columns=entry["tbmj_mismatch"]["columns"])
                for role, entry in self.manifest["roles"].items() if entry.get("tbmj_mismatch") is not None}

    def to_dict(self) -> dict:
        """What a run's manifest records of the partitions it read."""
        return {"folder": str(self.folder), "written_at": self.manifest["written_at"],
                "features": {role: e["features"] for role, e in self.manifest["roles"].items()},
                "partitions": {role: e["partitions"] for role, e in self.manifest["roles"].items()}}


def open_partitions(folder: str | Path, config: ProjectConfig) -> Partitions:
    """Open a partitions folder and check it was made from the project's current land-use inputs.

    Parameters
    ----------
    folder : str or Path
        Written by :func:`write_partitions` (``kmrv partition``).
    config : ProjectConfig
        The project file of the run.

    Returns
    -------
    Partitions

    Raises
    ------
    PartitionError
        If the folder or its manifest is missing or unreadable, or an input file, layer spec, the land-use
        classes or the configured analysis CRS changed since the partitions were written (the message
        names what changed; run ``kmrv partition`` again).
    """
    folder = Path(folder).expanduser().resolve()
    again = f"run 'kmrv partition {config.source or 'CONFIG.yml'} --out {folder} --overwrite'"
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PartitionError(f"{folder} holds no land-use partitions (no {MANIFEST}); {again} first") from None
    except (OSError, ValueError) as exc:
        raise PartitionError(f"{folder / MANIFEST} cannot be read ({exc}); {again}") from None
    if manifest.get("format") != FORMAT or set(manifest.get("roles", {})) != set(ROLES):
        raise PartitionError(f"{folder} was written by another kmrv-geo version (format {manifest.get('format')}); "
                             f"{again}")
    changed: list[str] = []
    changed_files: list[str] = []
    damaged: list[str] = []
    for role in ROLES:
        if role not in config.layers:
            raise PartitionError(f"the project file has no {role} layer; the partitions in {folder} need both "
                                 "land-use layers configured")
        recorded = manifest["roles"][role]
        now = _identity(config, role, {})
        # the same bytes under another path (a copied project) are the same land use
        for key, what in (("spec", "layer settings"), ("landuse_classes", "landuse_classes"), ("sha256", "content")):
            if now[key] != recorded[key]:
                if key != "sha256":
                    changed.append(f"{role}: {what} changed")
                elif recorded.get("database"):
                    changed.append(f"{role}: the rows of {recorded['input']} changed")
                elif now["input"] not in changed_files:  # a file holds more layers than this one
                    changed_files.append(now["input"])
                break
        damaged.extend(_damaged_files(folder, role, recorded.get("files", {})))
    if changed_files:
        changed.append("the file(s) " + ", ".join(changed_files) + " changed (any layer in them: a GeoPackage's "
                       "checksum covers all its layers)")
    if config.crs != "auto" and config.crs != manifest["analysis_crs"]:
        changed.append(f"analysis CRS {config.crs} (partitions are in {manifest['analysis_crs']})")
    if damaged:
        raise PartitionError(f"the partitions in {folder} are incomplete or damaged: {'; '.join(damaged)}; copy the "
                             f"folder again from where it was written, or {again}")
    if changed:
        other = manifest.get("config") and config.source and manifest["config"] != str(Path(config.source).resolve())
        fix = (f"they were made for project file {manifest['config']}: give this project its own partitions, "
               f"'kmrv partition {config.source} --out NEW_FOLDER'" if other else again)
        raise PartitionError(f"the partitions in {folder} (written {manifest.get('written_at')}) do not match the "
                             f"project file: {'; '.join(changed)}; {fix}")
    return Partitions(folder=folder, manifest=manifest)


def _files(folder: Path) -> dict[str, dict]:
    """The GeoParquet files of one role's partitions: name → bytes and sha256."""
    return {path.name: {"bytes": path.stat().st_size, "sha256": sha256_file(path)}
            for path in sorted(folder.glob("*.parquet"))}


def _damaged_files(folder: Path, role: str, recorded: dict[str, dict]) -> list[str]:
    """What is missing, extra or changed among a role's partition files (compared by size and sha256)."""
    there = {path.name: path for path in (folder / role).glob("*.parquet")}
    problems = [f"{role}/{name} is missing" for name in sorted(set(recorded) - set(there))]
    problems += [f"{role}/{name} was not written with them" for name in sorted(set(there) - set(recorded))]
    for name in sorted(set(recorded) & set(there)):
        path = there[name]
        if path.stat().st_size != recorded[name]["bytes"] or sha256_file(path) != recorded[name]["sha256"]:
            problems.append(f"{role}/{name} differs from the file written")
    if not recorded and not there:
        problems.append(f"{role}: no GeoParquet files in {folder / role}")
    return problems
