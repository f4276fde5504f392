"""Write the village pages of a run into its output folder: ``villages/index.html`` and one page per village.

The glue between a loaded project and :func:`~kmrv_geo.webmap.village_pages.write_village_pages`: it
turns the project's layers into the :class:`~kmrv_geo.webmap.village_pagemap.VillagePageContext` (plan
classes, construction boundaries keyed by village, lake-zone levels in words, the approximation flag).
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import shapely

from .. import plan_fields
from ..analysis import steps as analysis_steps
from ..analysis.keys import VILLAGE_KEY
from ..analysis.village_plan import plan_classes
from ..project import Project
from .village_pagemap import VillagePageContext
from .village_pages import FOLDER, write_village_pages

logger = logging.getLogger(__name__)

PLAN_NAME_FIELDS = ("YDYHMC", "GHDLMC", "DLMC")


def pages_possible(results) -> bool:
    """Whether the run has village profiles with boundaries (polygons), so that pages are written."""
    profiles = getattr(results, "village_profiles", None)
    return profiles is not None and len(profiles) > 0 and profiles.geometry.geom_type.isin(
        ["Polygon", "MultiPolygon"]).all()


def _keyed(geoms: np.ndarray, profiles: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Boundary polygons with the key of the village holding their representative point."""
    frame = gpd.GeoDataFrame({VILLAGE_KEY: np.full(len(geoms), None, dtype=object)}, geometry=geoms,
                             crs=profiles.crs)
    if not len(geoms):
        return frame
    points = shapely.point_on_surface(geoms)
    pi, vi = shapely.STRtree(np.asarray(profiles.geometry.values, dtype=object)).query(points, predicate="within")
    first = np.unique(pi, return_index=True)[1]
    keys = frame[VILLAGE_KEY].to_numpy().copy()
    keys[pi[first]] = profiles[VILLAGE_KEY].to_numpy()[vi[first]]
    frame[VILLAGE_KEY] = keys
    return frame


def village_page_context(project: Project, results, *, lang: str = "zh") -> VillagePageContext:
    """What the village pages draw around each village, from the project's layers and the run's review."""
    layers = project.config.layers
    vectors = project.vectors
    plan = vectors.get("village_plan")
    plan_frame = None
    if plan is not None:
        spec = layers["village_plan"]
        name_field = spec.name or next((f for f in PLAN_NAME_FIELDS if f in plan), None)
        plan_frame = gpd.GeoDataFrame({
            "code": plan[plan_fields.PLAN_CODE].to_numpy(),
            "name": plan[name_field].astype(str).to_numpy() if name_field else "",
            "plan_class": plan_classes(plan[plan_fields.PLAN_CODE].to_numpy(), project.config.village_planning.classes),
        }, geometry=plan.geometry.values, crs=plan.crs)  # fmt: skip
    boundary = analysis_steps.construction_boundary(project)
    profiles = results.village_profiles
    lake = analysis_steps.lake_zones_of(project)
    zones = None
    if "lake_zones" in vectors:
        frame = vectors["lake_zones"]
        zones = gpd.GeoDataFrame({"level": frame[plan_fields.LEVEL].map(plan_fields.LEVEL_NAMES).to_numpy()},
                                 geometry=frame.geometry.values, crs=frame.crs)
    elif lake is not None:
        words = plan_fields.LEVEL_NAMES
        zones = gpd.GeoDataFrame({"level": [words[1]] * len(lake.zone1) + [words[2]] * len(lake.zone2)},
                                 geometry=np.concatenate([lake.zone1, lake.zone2]), crs=project.analysis_crs)
    review = getattr(results, "village_review", None)
    return VillagePageContext(
        landuse_t0=vectors.get("landuse_t0"), landuse_t1=vectors.get("landuse_t1"), pbf=vectors.get("pbf"),
        erl=vectors.get("erl"), udb=vectors.get("udb"), lake_zones=zones,
        lake_zones_approximate=lake is not None and lake.source == "approximation", village_plan=plan_frame,
        village_boundary=_keyed(boundary, profiles) if boundary is not None else None,
        landuse_change=review.landuse if review is not None else None, title=project.config.name,
        notice=project.config.notice, synthetic=project.config.synthetic,
        t0_year=getattr(layers.get("landuse_t0"), "year", None),
        t1_year=getattr(layers.get("landuse_t1"), "year", None), lang=lang, area_kind=project.measure.kind,
    )  # fmt: skip


def write_villages_folder(folder, project: Project, results, *, lang: str = "zh", progress: bool = False) -> list[str]:
    """Write ``villages/`` (index, one page per village, shared assets) into an output folder (a progress bar
    over the pages with ``progress``).

    Returns
    -------
    list of str
        The files written, relative to the folder.
    """
    review = getattr(results, "village_review", None)
    findings = review.findings if review is not None else None
    paths = write_village_pages(folder.path(FOLDER), results.village_profiles, findings,
                                village_page_context(project, results, lang=lang), verbose=progress)
    written = []
    for path in paths:
        relpath = path.relative_to(folder.root).as_posix()
        folder.record(relpath, kind="page")
        written.append(relpath)
    logger.info("village pages: %d files", len(written))
    return written
