"""Write the field-check package of a run into its output folder: ``fieldcheck/``.

- ``fieldcheck/图斑.kml`` — the judged patches for phone apps (WGS84; GCJ-02 with ``--gcj02``, then named
  ``图斑_GCJ02.kml``);
- ``fieldcheck/核查表.xlsx`` — one row per patch, the field team's columns empty;
- ``fieldcheck/index.html`` and one page per patch (``0001_<patch number>.html`` …), offline and printable.
"""

from __future__ import annotations

import logging

from ..permits import REF
from ..project import Project
from .kml import write_kml
from .pages import write_patch_pages
from .patchmap import PageContext
from .sheet import write_check_sheet

logger = logging.getLogger(__name__)

FOLDER = "fieldcheck"
SHEET_NAME = "核查表.xlsx"


def page_context(project: Project, *, lang: str = "zh") -> PageContext:
    """What the patch pages draw around each patch: T0/T1 land use, PBF, ERL and every approval-like layer."""
    layers = project.config.layers
    approvals = {}
    for role in ("approvals", "facility_filings", "temporary_use", "supplement_projects"):
        frame = project.vectors.get(role)
        if frame is not None:
            approvals[role] = frame[[REF, "geometry"]].rename(columns={REF: "ref"})
    return PageContext(
        landuse_t0=project.vectors.get("landuse_t0"), landuse_t1=project.vectors.get("landuse_t1"),
        pbf=project.vectors.get("pbf"), erl=project.vectors.get("erl"), approvals=approvals,
        title=project.config.name, notice=project.config.notice, synthetic=project.config.synthetic,
        t0_year=getattr(layers.get("landuse_t0"), "year", None),
        t1_year=getattr(layers.get("landuse_t1"), "year", None),
        lang=lang,
    )  # fmt: skip


def write_fieldcheck(folder, project: Project, result, *, lang: str = "zh", gcj02: bool = False,
                     progress: bool = False) -> list[str]:
    """Write the KML, the check sheet and the patch pages of judged patches into ``folder/fieldcheck``.

    Parameters
    ----------
    folder : kmrv_geo.outputs.OutputFolder
    project : Project
    result : kmrv_geo.analysis.judge.JudgeResult
    lang : {"zh", "en"}
    gcj02 : bool, default False
        Shift the KML to GCJ-02 (Gaode-based apps) instead of WGS84.
    progress : bool, default False
        A progress bar over the patch pages.

    Returns
    -------
    list of str
        The files written, relative to the folder.
    """
    judged = result.patches
    config = project.config
    kml_name = f"{FOLDER}/图斑_GCJ02.kml" if gcj02 else f"{FOLDER}/图斑.kml"
    folder.write_with(kml_name, lambda tmp: write_kml(tmp, judged, gcj02=gcj02, lang=lang, title=config.name,
                                                      synthetic=config.synthetic),
                      kind="fieldcheck", crs="GCJ-02" if gcj02 else "EPSG:4326")
    folder.write_with(f"{FOLDER}/{SHEET_NAME}", lambda tmp: write_check_sheet(
        tmp, judged, lang=lang, title=config.name, notice=config.notice, synthetic=config.synthetic),
        kind="fieldcheck")
    written = [kml_name, f"{FOLDER}/{SHEET_NAME}"]
    pages = write_patch_pages(folder.path(FOLDER), judged, page_context(project, lang=lang), verbose=progress)
    for path in pages:
        relpath = path.relative_to(folder.root).as_posix()
        folder.record(relpath, kind="page")
        written.append(relpath)
    logger.info("field-check package: %d patches, %d pages", len(judged), len(pages))
    return written
