"""The one writer of output folders: atomic files and a manifest of everything written.

Every file is written to a temporary name in the same folder, flushed to disk, then renamed over the
target with :func:`os.replace` (atomic on POSIX and Windows). A crash or kill mid-write leaves the old
file intact and, at worst, a stray ``.NAME.tmp-*`` file that the next run removes. Each output folder
gets ``manifest.json``: inputs with sha256, the config, package versions, feature counts and every
file written with its sha256.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import pandas as pd

from .errors import OutputError
from .text import clean_frame

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
_TMP_MARK = ".tmp-"
_VERSIONED_PACKAGES = (
    "kmrv-geo", "geopandas", "shapely", "pyogrio", "fiona", "rasterio", "pyproj", "folium", "folium-offline",
    "numpy", "pandas",
    "pyarrow", "openpyxl", "pydantic",
)  # fmt: skip


def sha256_file(path: str | Path, *, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes (a folder such as a FileGDB: of its files, in name order)."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode())
        with open(file, "rb") as fh:
            while block := fh.read(chunk):
                digest.update(block)
    return digest.hexdigest()


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Write ``path`` atomically: ``write(tmp)`` writes a temporary file, which then replaces ``path``.

    Parameters
    ----------
    path : str or Path
        The final file.
    write : callable
        Called with the temporary path (same folder, same suffix); must create that file.

    Returns
    -------
    Path
        ``path``.

    Notes
    -----
    If ``write`` raises, the temporary file is removed and the old ``path`` is untouched. If the
    process is killed, the old ``path`` is untouched and the temporary file is left for
    :func:`remove_stale_temporaries`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}{_TMP_MARK}{os.getpid()}{path.suffix}")
    _remove(tmp)
    try:
        write(tmp)
        if not tmp.exists():
            raise OutputError(f"writing {path} produced no file")
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    _fsync_dir(path.parent)
    return path


def _remove(path: Path) -> None:
    for p in (path, Path(str(path) + "-journal"), Path(str(path) + "-wal"), Path(str(path) + "-shm")):
        if p.exists():
            p.unlink()


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Remove temporary files that a killed run left in ``folder`` (recursively); return them."""
    folder = Path(folder)
    stale = [p for p in folder.rglob(f".*{_TMP_MARK}*") if p.is_file()] if folder.is_dir() else []
    for p in stale:
        p.unlink()
    return stale


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages whose behaviour shapes the results."""
    out = {"python": platform.python_version()}
    for name in _VERSIONED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


class OutputFolder:
    """An output folder whose files are all written atomically and listed in ``manifest.json``.

    Parameters
    ----------
    root : str or Path
        The folder; created if missing.
    overwrite : bool, default False
        Whether results of an earlier run (a ``manifest.json``) may be replaced.

    Raises
    ------
    OutputError
        If the folder holds earlier results and ``overwrite`` is False, or is a file.
    """

    def __init__(self, root: str | Path, *, overwrite: bool = False):
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise OutputError(f"output folder {self.root} is a file; give a folder path with --out")
        if (self.root / MANIFEST).exists() and not overwrite:
            raise OutputError(
                f"output folder {self.root} already holds results ({MANIFEST}); pass --overwrite to replace "
                "them, or choose another --out folder"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        removed = remove_stale_temporaries(self.root)
        if removed:
            logger.info("removed %d temporary files left by an interrupted run", len(removed))
        self.files: dict[str, dict] = {}

    def path(self, relpath: str) -> Path:
        """Absolute path of a file inside the folder."""
        return self.root / relpath

    def _record(self, relpath: str, **info) -> Path:
        path = self.path(relpath)
        self.files[relpath] = {"sha256": sha256_file(path), "bytes": path.stat().st_size, **info}
        return path

    def write_with(self, relpath: str, write: Callable[[Path], None], **info) -> Path:
        """Write a file through ``write(tmp_path)`` atomically and record it."""
        atomic_write(self.path(relpath), write)
        return self._record(relpath, **info)

    def write_text(self, relpath: str, text: str, **info) -> Path:
        """Write UTF-8 text atomically and record it."""
        return self.write_with(relpath, lambda tmp: tmp.write_text(text, encoding="utf-8"), **info)

    def write_json(self, relpath: str, data, **info) -> Path:
        """Write JSON (UTF-8, Chinese kept readable, keys in given order) atomically and record it."""
        return self.write_text(relpath, json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n", **info)

    def write_table(self, relpath: str, frame: pd.DataFrame, **info) -> Path:
        """Write a CSV table atomically (UTF-8 with BOM, so Excel and WPS show Chinese) and record it.

        Control characters are removed from its text (:mod:`kmrv_geo.text`).
        """
        frame = clean_frame(frame)[0]
        return self.write_with(
            relpath,
            lambda tmp: frame.to_csv(tmp, index=False, encoding="utf-8-sig", lineterminator="\n"),
            rows=len(frame),
            **info,
        )

    def write_layers(self, relpath: str, layers: dict, **info) -> Path:
        """Write several GeoDataFrames as layers of one GeoPackage, atomically, and record it.

        Parameters
        ----------
        relpath : str
            E.g. ``results.gpkg``.
        layers : dict
            Layer name → GeoDataFrame (empty frames are written as empty layers).
        """

        def write(tmp: Path) -> None:
            for name, frame in layers.items():
                clean_frame(frame)[0].to_file(tmp, layer=name, driver="GPKG", engine="pyogrio")

        return self.write_with(relpath, write, layers={k: int(len(v)) for k, v in layers.items()}, **info)

    def finish(self, *, config: dict | None = None, inputs: dict | None = None, counts: dict | None = None,
               extra: dict | None = None) -> Path:
        """Write ``manifest.json`` listing inputs, config, versions, counts and every file written.

        Parameters
        ----------
        config : dict, optional
            The project config as given (paths as written in it).
        inputs : dict, optional
            Input path → sha256 (see :func:`sha256_file`).
        counts : dict, optional
            Feature accounting per layer (in, kept, repaired, rejected).
        extra : dict, optional
            Anything else worth recording (analysis CRS, warnings).
        """
        manifest = {
            "tool": "kmrv-geo",
            "written_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
            "command": " ".join(Path(sys.argv[0]).name.split() + sys.argv[1:]),
            "versions": package_versions(),
            "config": config or {},
            "inputs": inputs or {},
            "feature_counts": counts or {},
            "outputs": dict(sorted(self.files.items())),
            **(extra or {}),
        }
        return atomic_write(
            self.path(MANIFEST),
            lambda tmp: tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2, default=str) + "\n",
                                       encoding="utf-8"),
        )
