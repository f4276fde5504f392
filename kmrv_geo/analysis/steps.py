"""Glue between a loaded :class:`~kmrv_geo.project.Project` and the pure analyses: picks the layers and
parameters each analysis needs and says which are missing. No file I/O."""

from __future__ import annotations

import numpy as np
import shapely

from ..errors import CrsError, join_problems
from ..project import Project
from .balances import BalanceRules
from .violations import ViolationResult, analyse_violations, build_zones


def _hull(frame):
    coords = shapely.get_coordinates(np.asarray(frame.geometry.values, dtype=object))
    return shapely.convex_hull(shapely.multipoints(coords)) if len(coords) else shapely.Polygon()


def check_t0_t1_overlap(project: Project) -> float:
    """Share of the smaller land-use layer's extent (convex hull) that the other one covers.

    Raises
    ------
    CrsError
        If the share is below ``thresholds.min_overlap_share``, naming both extents.
    """
    t0, t1 = project.vectors["landuse_t0"], project.vectors["landuse_t1"]
    h0, h1 = _hull(t0), _hull(t1)
    smaller = min(h0.area, h1.area)
    share = h0.intersection(h1).area / smaller if smaller > 0 else 0.0
    limit = project.config.thresholds.min_overlap_share
    if share < limit:
        def extent(frame):
            x0, y0, x1, y1 = frame.total_bounds
            return f"x {x0:.0f}…{x1:.0f}, y {y0:.0f}…{y1:.0f} ({project.analysis_crs})"

        raise CrsError(join_problems(
            f"land use T0 and T1 overlap on only {share:.1%} of the smaller one's extent (at least "
            f"{limit:.0%} is required, thresholds.min_overlap_share):",
            [f"landuse_t0 {project.reports['landuse_t0'].source}: {extent(t0)}",
             f"landuse_t1 {project.reports['landuse_t1'].source}: {extent(t1)}",
             "check that both layers cover the same area and carry the right CRS"],
        ))  # fmt: skip
    return share


def missing_for_violations(project: Project) -> list[str]:
    """Roles the violation analysis cannot run without (empty list: it can run)."""
    return [r for r in ("landuse_t0", "landuse_t1") if r not in project.vectors]


def run_violations(project: Project) -> ViolationResult:
    """The violation analysis on a loaded project (see :func:`analyse_violations`)."""
    check_t0_t1_overlap(project)
    layers = project.config.layers
    fields = {role: layers[role].fields() for role in ("county", "township", "villages") if role in layers}
    zones = build_zones(
        project.vectors.get("county"), fields.get("county"), project.vectors.get("township"), fields.get("township"),
        project.vectors.get("villages"), fields.get("villages"),
    )  # fmt: skip
    min_patch = project.config.thresholds.min_patch_m2.model_dump()
    return analyse_violations(
        project.vectors["landuse_t0"], project.vectors["landuse_t1"], zones=zones,
        approvals=project.vectors.get("approvals"), pbf=project.vectors.get("pbf"), min_patch_m2=min_patch,
    )  # fmt: skip


def balance_rules(project: Project) -> BalanceRules:
    """The balance rules in force (config ``balances:`` or the defaults)."""
    spec = project.config.balances
    return BalanceRules(tuple(spec.supplement_sources), tuple(spec.back_in_sources))
