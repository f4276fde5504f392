"""The one writer of output folders: atomic files and a manifest of everything written.

A run writes into a staging folder beside its target; every file there is written to a temporary
name, flushed to disk, then renamed into place with :func:`os.replace`. When the run is complete the
staging folder replaces the target whole, so a failed or killed run leaves the previous complete
results (or nothing), never a mix. Each output folder gets ``manifest.json``: inputs with sha256, the
config, package versions, feature counts and every file written with its sha256.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import pandas as pd

from .errors import OutputError
from .parallel import Background
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
    process is killed, the old ``path`` is untouched and the temporary file is left in the run's staging
    folder, which the next run into the same target removes (:class:`OutputFolder`).
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


def _replace(source: Path, destination: Path, *, locked_in: Path) -> None:
    """``os.replace`` with a few retries; a folder that stays locked is an :class:`OutputError` naming the file."""
    for attempt in range(REPLACE_TRIES):
        try:
            os.replace(source, destination)
            return
        except PermissionError:
            if attempt + 1 < REPLACE_TRIES:
                time.sleep(REPLACE_WAIT_S)
    locked = [p for p in sorted(locked_in.rglob("*")) if p.is_file() and not _can_open(p)]
    named = ", ".join(str(p) for p in locked[:3]) or f"a file in {locked_in}"
    raise OutputError(f"cannot replace {destination}: {named} is open in another program (Excel, WPS or QGIS "
                      "keeps files locked on Windows); close it and run again. The previous results are kept.")


def _can_open(path: Path) -> bool:
    try:
        with open(path, "r+b"):
            return True
    except OSError:
        return False


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages whose behaviour shapes the results."""
    out = {"python": platform.python_version()}
    for name in _VERSIONED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


STAGING_MARK = ".kmrv-staging-"
OLD_MARK = ".kmrv-old-"
REPLACE_TRIES = 5
"""Attempts at swapping a finished run in (Windows refuses while Excel/WPS/QGIS holds a file open)."""
REPLACE_WAIT_S = 0.5


class OutputFolder:
    """An output folder that holds one complete run: written into a staging folder, swapped in whole.

    Files are written atomically into ``.NAME.kmrv-staging-PID`` beside the target and listed in
    ``manifest.json``; :meth:`finish` then replaces the target folder with it. A run that fails or is
    killed leaves the previous complete results (or nothing) — never a mix — and ``--overwrite`` leaves
    no stale files. During the run :attr:`root` is the staging folder; after :meth:`finish`, the target.

    Parameters
    ----------
    root : str or Path
        The target folder.
    overwrite : bool, default False
        Whether results of an earlier run (a ``manifest.json``) may be replaced.
    option : str, default "--out"
        The command-line option that named the folder, for the messages (``--maps-out`` beside a database).

    Raises
    ------
    OutputError
        If the target is a file, holds earlier results and ``overwrite`` is False, or holds files that
        are not kmrv results (they would be lost when the run is swapped in).
    """

    def __init__(self, root: str | Path, *, overwrite: bool = False, option: str = "--out"):
        from .postgis.connection import is_database, redact

        if is_database(root):
            raise OutputError(f"--out {redact(str(root))} is a database; this command writes into a folder (a database "
                              "--out is for kmrv run, judge and the step commands, with --maps-out)")
        self.target = Path(root).absolute()
        if self.target.exists() and not self.target.is_dir():
            raise OutputError(f"output folder {self.target} is a file; give a folder path with {option}")
        if (self.target / MANIFEST).exists() and not overwrite:
            raise OutputError(
                f"output folder {self.target} already holds results ({MANIFEST}); pass --overwrite to replace "
                f"them, or choose another {option} folder"
            )
        if self.target.is_dir() and not (self.target / MANIFEST).exists() and any(self.target.iterdir()):
            there = ", ".join(sorted(p.name for p in self.target.iterdir())[:8])
            raise OutputError(f"output folder {self.target} holds files that are not kmrv results ({there}); a run "
                              f"replaces its whole output folder, so give a new or empty folder with {option}")
        self.target.parent.mkdir(parents=True, exist_ok=True)
        for stale in self.target.parent.glob(f".{self.target.name}{STAGING_MARK}*"):
            shutil.rmtree(stale, ignore_errors=True)  # left by a killed run
            logger.info("removed %s left by an interrupted run", stale)
        self.root = self.target.parent / f".{self.target.name}{STAGING_MARK}{os.getpid()}"
        self.root.mkdir()
        self.files: dict[str, dict] = {}
        self._pending: list[tuple[str, dict, Background]] = []

    def public(self, text: str) -> str:
        """``text`` with the staging folder's path replaced by the target's: files made inside the run (the
        demo's sample) are named where they will be, not where they are while the run writes.
        """
        staging = str(self.root)
        return text.replace(staging, str(self.target)) if staging != str(self.target) else text

    def abandon(self) -> None:
        """Remove the staging folder of a run that failed (the target keeps its previous results); files still
        being written are stopped.
        """
        for _relpath, _info, job in self._pending:
            job.cancel()
        self._pending = []
        if self.root != self.target:
            shutil.rmtree(self.root, ignore_errors=True)

    def path(self, relpath: str) -> Path:
        """Absolute path of a file inside the folder."""
        return self.root / relpath

    def _record(self, relpath: str, **info) -> Path:
        path = self.path(relpath)
        self.files[relpath] = {"sha256": sha256_file(path), "bytes": path.stat().st_size, **info}
        return path

    def record(self, relpath: str, **info) -> Path:
        """Record a file written into the folder by other means (e.g. a set of pages); it must exist."""
        return self._record(relpath, **info)

    def write_with(self, relpath: str, write: Callable[[Path], None], **info) -> Path:
        """Write a file through ``write(tmp_path)`` atomically and record it."""
        atomic_write(self.path(relpath), write)
        return self._record(relpath, **info)

    def write_later(self, relpath: str, write: Callable[[Path], None], **info) -> None:
        """Start writing a file through ``write(tmp_path)`` (atomically, as :meth:`write_with`) in a forked process
        while the run goes on (:class:`~kmrv_geo.parallel.Background`); :meth:`wait_pending` records it, and
        :meth:`finish` waits for it at the latest.
        """
        target = self.path(relpath)

        def job() -> None:  # in the forked process: only the file comes back
            atomic_write(target, write)

        self._pending.append((relpath, info, Background(job)))

    def pending_files(self) -> list[str]:
        """The files :meth:`write_later` is still writing (relative paths), to be linked before they are done."""
        return [relpath for relpath, _info, _job in self._pending]

    def wait_pending(self) -> None:
        """Wait for the files :meth:`write_later` started and record them (a failed one raises its error)."""
        pending, self._pending = self._pending, []
        try:
            for relpath, info, job in pending:
                job.result()
                self._record(relpath, **info)
        except BaseException:
            for _relpath, _info, job in pending:
                job.cancel()
            raise

    def write_text(self, relpath: str, text: str, **info) -> Path:
        """Write UTF-8 text atomically and record it."""
        return self.write_with(relpath, lambda tmp: tmp.write_text(text, encoding="utf-8"), **info)

    def write_json(self, relpath: str, data, **info) -> Path:
        """Write JSON (UTF-8, Chinese kept readable, keys in given order) atomically and record it (paths
        inside the staging folder named as in the target, :meth:`public`).
        """
        text = json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n"
        return self.write_text(relpath, self.public(text), **info)

    def public_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A table as written: control characters removed (:mod:`kmrv_geo.text`), paths inside the staging folder
        named as in the target (:meth:`public`).
        """
        frame = clean_frame(frame)[0]
        staging = str(self.root)
        text_columns = [c for c in frame.columns if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])]
        if staging != str(self.target) and text_columns:  # sources made inside the run: named where they end up
            frame = frame.copy()
            for column in text_columns:
                frame[column] = frame[column].map(lambda v: self.public(v) if isinstance(v, str) else v)
        return frame

    @property
    def database(self) -> str | None:
        """Where result layers and tables go besides the folder (a database schema), ``None`` for a folder."""
        return None

    def summary_lines(self, lang: str = "zh") -> list[str]:
        """Lines for the run's summary about where results went besides this folder (none for a folder)."""
        return []

    def write_table(self, relpath: str, frame: pd.DataFrame, **info) -> Path:
        """Write a CSV table atomically (UTF-8 with BOM, so Excel and WPS show Chinese) and record it.

        Control characters are removed from its text (:mod:`kmrv_geo.text`).
        """
        frame = self.public_frame(frame)
        return self.write_with(
            relpath,
            lambda tmp: frame.to_csv(tmp, index=False, encoding="utf-8-sig", lineterminator="\n"),
            rows=len(frame),
            **info,
        )

    def write_layers(self, relpath: str, layers: dict, *, styles_lang: str | None = None, **info) -> Path:
        """Write several GeoDataFrames as layers of one GeoPackage, atomically, and record it.

        Parameters
        ----------
        relpath : str
            E.g. ``results.gpkg``.
        layers : dict
            Layer name → GeoDataFrame (empty frames are written as empty layers).
        styles_lang : {"zh", "en"}, optional
            Also write a default QGIS style per layer (``layer_styles``, legend in that language; see
            :mod:`kmrv_geo.qgis_styles`) into the same temporary file, before it is renamed into place.
        """
        if styles_lang is not None:
            from .qgis_styles import write_layer_styles  # imports the map modules (folium): only when asked

        def write(tmp: Path) -> None:
            cleaned = {name: clean_frame(frame)[0] for name, frame in layers.items()}
            for name, frame in cleaned.items():
                # an empty layer keeps a polygon type, so QGIS opens it as a (styled) map layer, not a table
                extra = {"geometry_type": "MultiPolygon"} if frame.empty else {}
                frame.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio", **extra)
            if styles_lang is not None:
                write_layer_styles(tmp, cleaned, lang=styles_lang)

        if styles_lang is not None:
            info = {"styles": styles_lang, **info}
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
        self.wait_pending()
        manifest = {
            "tool": "kmrv-geo",
            "written_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
            "command": " ".join(Path(sys.argv[0]).name.split() + sys.argv[1:]),
            "versions": package_versions(),
            "config": config or {},
            # inputs made inside the run (the demo's sample) are named where they end up
            "inputs": {k.replace(str(self.root), str(self.target)): v for k, v in (inputs or {}).items()},
            "feature_counts": counts or {},
            "outputs": dict(sorted(self.files.items())),
            **(extra or {}),
        }
        atomic_write(
            self.path(MANIFEST),
            lambda tmp: tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2, default=str) + "\n",
                                       encoding="utf-8"),
        )
        self._swap_in()
        return self.path(MANIFEST)

    def _swap_in(self) -> None:
        """Replace the target folder with the staging folder (the previous run goes aside, then away)."""
        old = self.target.parent / f".{self.target.name}{OLD_MARK}{os.getpid()}"
        shutil.rmtree(old, ignore_errors=True)
        if self.target.exists():
            _replace(self.target, old, locked_in=self.target)
        try:
            _replace(self.root, self.target, locked_in=self.root)
        except OutputError:
            if old.exists():
                os.replace(old, self.target)  # put the previous results back
            raise
        shutil.rmtree(old, ignore_errors=True)
        _fsync_dir(self.target.parent)
        self.root = self.target
