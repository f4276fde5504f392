"""Every map of a run, built from the loaded project and the pipeline's results, and written offline.

Which maps a run gets depends on what ran: ``overview`` always (from the layers), ``violations``
with the violation step, ``coverage`` with the coverage step (county choropleth) or village profiles
(village choropleth), ``villages`` with the village step, ``abandonment`` when the results carry
abandoned parcels.
"""

from __future__ import annotations

import logging
from pathlib import Path

import folium
import geopandas as gpd

from ..project import Project
from .abandonment import abandonment_map
from .assets import save_offline
from .basemaps import check_basemap, tianditu_key
from .common import MapContext
from .coverage import coverage_map
from .judge import judge_map
from .overview import overview_map
from .villages import villages_map
from .violations import violations_map

logger = logging.getLogger(__name__)

MAP_NAMES = ("overview", "violations", "coverage", "villages", "abandonment", "judged_patches")
"""Map file stems, in the order they are built (``maps/NAME.html``)."""


def map_context(project: Project, *, lang: str = "zh", basemap: str | None = None) -> MapContext:
    """The shared settings of a run's maps, from the project file and the command line.

    Parameters
    ----------
    project : Project
    lang : {"zh", "en"}
    basemap : str, optional
        Overrides the project's ``basemap:`` (default ``osm``).

    Raises
    ------
    MapError
        Unknown basemap, or a Tianditu basemap without a key.
    """
    config = project.config
    name = basemap or config.basemap
    key = tianditu_key(config.tianditu_key)
    check_basemap(name, key)
    t1 = config.layers.get("landuse_t1")
    year = getattr(t1, "year", None)
    date = (f"{year} 年" if lang == "zh" else str(year)) if isinstance(year, int) else None
    return MapContext(lang=lang, basemap=name, key=key, decimals=config.map_decimals, name=config.name,
                      notice=config.notice, data_date=date, synthetic=config.synthetic,
                      area_kind=config.area)


def abandoned_parcels(results) -> gpd.GeoDataFrame | None:
    """The abandoned parcels of the NDVI step (:attr:`AbandonmentResult.abandoned`), or ``None``
    when the step did not run.
    """
    abandonment = getattr(results, "abandonment", None)
    return None if abandonment is None else abandonment.abandoned


def build_maps(project: Project, results, ctx: MapContext) -> dict[str, folium.Map]:
    """Build every map the layers and results allow.

    Parameters
    ----------
    project : Project
    results : kmrv_geo.pipeline.Results
        What the analyses returned (``None`` attributes for steps that did not run).
    ctx : MapContext

    Returns
    -------
    dict
        Map name (:data:`MAP_NAMES`) → folium map, only those that could be built.
    """
    county = project.vectors.get("county")
    county_spec = project.config.layers.get("county")
    name_field = getattr(county_spec, "name", None)
    code_field = getattr(county_spec, "code", None)
    context = {"counties": county, "county_name_field": name_field}
    maps = {"overview": overview_map(project, ctx)}
    violations = getattr(results, "violations", None)
    landcover = getattr(results, "landcover", None)
    if violations is not None or landcover is not None:
        maps["violations"] = violations_map(
            violations.patches if violations is not None else None, ctx,
            below_min=violations.below_min if violations is not None else None,
            raster=landcover.patches if landcover is not None else None, **context)
    coverage = getattr(results, "coverage", None)
    profiles = getattr(results, "village_profiles", None)
    if coverage is not None or profiles is not None:
        maps["coverage"] = coverage_map(
            ctx, counties=county, county_table=coverage.tables.get("coverage_by_county") if coverage else None,
            county_code_field=code_field, county_name_field=name_field, villages=profiles,
            gaps=coverage.hsf_gaps if coverage else None)
    if profiles is not None and len(profiles):
        from .village_package import pages_possible

        maps["villages"] = villages_map(profiles, ctx, page_links=pages_possible(results), **context)
    judged = getattr(results, "judge", None)
    if judged is not None:
        maps["judged_patches"] = judge_map(judged.patches, ctx, parts=judged.parts, not_judged=judged.not_judged,
                                           **context)
    parcels = abandoned_parcels(results)
    if parcels is not None:
        maps["abandonment"] = abandonment_map(parcels, ctx, **context)
    else:
        logger.info("no abandoned parcels in the results: the abandonment map is skipped")
    return maps


def write_maps(folder, project: Project, results, ctx: MapContext) -> list[str]:
    """Build the maps and write each as one offline HTML file ``maps/NAME.html`` of an output folder.

    Parameters
    ----------
    folder : kmrv_geo.outputs.OutputFolder
    project, results, ctx
        As for :func:`build_maps`.

    Returns
    -------
    list of str
        The files written, relative to the folder.
    """
    written = []
    for name, fmap in build_maps(project, results, ctx).items():
        relpath = f"maps/{name}.html"
        folder.write_with(relpath, lambda tmp, m=fmap: save_offline(m, tmp), kind="map", basemap=ctx.basemap)
        written.append(relpath)
    return written


def save_maps(maps: dict[str, folium.Map], out_dir: str | Path) -> list[Path]:
    """Write maps as offline HTML files ``OUT_DIR/NAME.html`` (outside an output folder, e.g. scripts)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fmap in maps.items():
        save_offline(fmap, out_dir / f"{name}.html")
        paths.append(out_dir / f"{name}.html")
    return paths
