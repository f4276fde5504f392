"""Glue between a loaded :class:`~kmrv_geo.project.Project` and the pure analyses: picks the layers and
parameters each analysis needs and says which are missing. No file I/O.
"""

from __future__ import annotations

from functools import partial

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import landuse, permits, plan_fields
from ..extract import ClassRaster, LandcoverResult, NdviSource, detect_landcover_change, parcel_ndvi
from ..overlay import area_inside, inverse_twins, label_by_zone
from ..project import Project
from ..rasters import class_map
from ..units import M2_PER_MU
from .abandonment import AbandonmentResult, find_abandoned
from .balances import BalanceRules
from .changes import change_pieces
from .coverage import CoverageResult, analyse_coverage, hsf_by_year
from .judge import JudgeResult, PermitLayer, judge_patches
from .judge import take_field_results as _take_field_results
from .keys import VILLAGE_KEY
from .landcover import class_name_zh
from .sites import facility_sites, fragmentation
from .village_plan import LakeZones, VillageReview, approximate_lake_zones, landuse_by_village, review_villages
from .villages import KEY as KEY_VILLAGE
from .villages import layout_review, normalise_villages, village_profiles
from .violations import ZERO_M2, ViolationResult, Zones, analyse_violations, build_zones, patches_from_pieces

ENGINES = ("local", "dask")


def run_violations(project: Project, *, engine: str = "local", scheduler: str | None = None,
                   n_workers: int = 2) -> ViolationResult:
    """The violation analysis on a loaded project (see :func:`analyse_violations`).

    ``engine="dask"`` computes the change pieces on a Dask cluster (:mod:`kmrv_geo.dask_engine`;
    ``scheduler`` address or a LocalCluster of ``n_workers``); the results are the same. A project loaded
    with land-use partitions (:attr:`Project.partitions`) runs the dask engine's partitioned analysis: the
    workers read the land use (:func:`~kmrv_geo.dask_engine.partitioned_violations`).
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    levels = zone_levels(project)
    zones = Zones(*(levels.get(level, (None, None))[0] for level in ("county", "township", "village")))
    min_patch = project.config.thresholds.min_patch_m2.model_dump()
    if project.partitions is not None:
        from ..dask_engine import partitioned_violations

        return partitioned_violations(
            project.partitions, zones=zones, approvals=project.dissolved("approvals"), pbf=project.dissolved("pbf"),
            min_patch_m2=min_patch, measure=project.measure, scheduler=scheduler, n_workers=n_workers)
    # the load checks refused self-overlapping land use: identical parcels can skip the overlay
    pieces_engine = partial(change_pieces, partitions=True, twins=project.landuse_twins())
    if engine == "dask":
        from ..dask_engine import dask_change_pieces

        pieces_engine = partial(dask_change_pieces, scheduler=scheduler, n_workers=n_workers)
    return analyse_violations(
        project.vectors["landuse_t0"], project.vectors["landuse_t1"], zones=zones,
        approvals=project.dissolved("approvals"), pbf=project.dissolved("pbf"), min_patch_m2=min_patch,
        pieces_engine=pieces_engine, measure=project.measure,
    )  # fmt: skip


def run_landcover(project: Project) -> tuple[ViolationResult, LandcoverResult]:
    """Raster land-cover change on a loaded project: change patches with ``source = raster`` and per-parcel shares.

    The patches take the same verdict and location steps as the vector ones; their ids carry an ``R``
    (``530111-R00001``) and ``t1_name`` is the land-cover class (遥感).
    """
    config = project.config
    rasters = {role: ClassRaster(config.resolve(spec.path), class_map(spec.classes), spec.crs)
               for role, spec in config.raster_layers().items()}
    t0 = project.vectors["landuse_t0"]
    id_field = config.layers["landuse_t0"].id
    found = detect_landcover_change(t0, rasters["landcover_t0"], rasters["landcover_t1"],
                                    analysis_crs=project.analysis_crs, min_pixels=config.landcover.min_pixels,
                                    id_column=id_field, measure=project.measure)
    levels = zone_levels(project)
    zones = Zones(*(levels.get(level, (None, None))[0] for level in ("county", "township", "village")))
    result = patches_from_pieces(
        found.pieces, zones=zones, approvals=project.dissolved("approvals"), pbf=project.dissolved("pbf"),
        min_patch_m2=config.thresholds.min_patch_m2.model_dump(), source="raster", id_prefix="R",
        measure=project.measure,
    )  # fmt: skip
    for frame in (result.patches, result.below_min):
        frame["t1_name"] = frame["t1_code"].map(class_name_zh)
    return result, found


def ndvi_sources(project: Project) -> list[NdviSource]:
    """One :class:`NdviSource` per configured year (their values were checked at load)."""
    spec = project.config.ndvi()
    multi = "{year}" not in spec.path
    sources = []
    for band, (year, path) in enumerate(spec.paths().items(), start=1):
        source = NdviSource(year=year, path=project.config.resolve(path), band=band if multi else 1,
                            scale=spec.scale, crs_override=spec.crs)
        sources.append(source)
    return sources


def _farmland_since(project: Project, farmland: gpd.GeoDataFrame, rows: np.ndarray) -> np.ndarray | None:
    """First year each T1 farmland parcel counts as farmland: 0 if it (mostly) was farmland at T0 too,
    else the T1 year (new farmland: its bare or built years before are not abandonment).

    ``rows``: each parcel's row in the T1 layer (a parcel identical to a T0 parcel takes that parcel's class).
    """
    t0 = project.vectors.get("landuse_t0")
    t1_year = project.config.layers["landuse_t1"].year
    if t0 is None or not isinstance(t1_year, int):
        return None
    t0_is_farm = t0["category"].to_numpy() == landuse.FARMLAND
    geoms = np.asarray(farmland.geometry.values, dtype=object)
    area = shapely.area(geoms)
    was_farm = np.full(len(geoms), np.nan)
    twins = project.landuse_twins()
    if twins is not None:  # a parcel identical to a T0 parcel: that parcel's class decides
        twin_t0 = inverse_twins(twins, len(project.vectors["landuse_t1"]))[rows]
        same = twin_t0 >= 0
        was_farm[same] = np.where(t0_is_farm[twin_t0[same]], area[same], 0.0)
    rest = np.flatnonzero(np.isnan(was_farm))
    # T0 parcels do not overlap (the load refused overlaps): their pieces add up to the area inside T0 farmland
    was_farm[rest] = area_inside(geoms[rest], np.asarray(t0.geometry.values, dtype=object)[t0_is_farm],
                                 dissolved=True)
    return np.where(was_farm >= 0.5 * area, 0, t1_year)


def run_abandonment(project: Project) -> AbandonmentResult:
    """撂荒 on a loaded project: current farmland (T1, else T0) against the yearly NDVI.

    Abandoned parcels get ``county_code``/``county_name``/``village`` (by representative point),
    ``pbf_mu`` (their area on PBF, NaN without a PBF layer) and ``on_pbf``.
    """
    role = "landuse_t1" if "landuse_t1" in project.vectors else "landuse_t0"
    land = project.vectors[role]
    is_farm = (land["category"] == landuse.FARMLAND).to_numpy()
    farmland = land[is_farm].reset_index(drop=True)
    settings = project.config.abandonment
    result = find_abandoned(farmland, parcel_ndvi(farmland, ndvi_sources(project)), ndvi_max=settings.ndvi_max,
                            min_years=settings.min_years, min_valid_share=settings.min_valid_share,
                            id_column=project.config.layers[role].id,
                            farmland_since=(_farmland_since(project, farmland, np.flatnonzero(is_farm))
                                            if role == "landuse_t1" else None),
                            measure=project.measure)
    parcels = result.parcels
    levels = zone_levels(project)
    for level, columns in (("county", ["county_code", "county_name"]), ("village", [VILLAGE_KEY, "village"])):
        if level in levels:
            parcels = label_by_zone(parcels, levels[level][0], columns)
        else:
            for column in columns:
                parcels[column] = ""
    pbf = project.dissolved("pbf")
    geoms = np.asarray(parcels.geometry.values, dtype=object)
    pbf_m2 = area_inside(geoms, pbf, dissolved=True, measure=project.measure) \
        if pbf is not None else np.full(len(parcels), np.nan)
    parcels["pbf_mu"] = pbf_m2 / M2_PER_MU
    parcels["on_pbf"] = np.nan_to_num(pbf_m2) > ZERO_M2
    result.parcels = parcels
    return result


def balance_rules(project: Project) -> BalanceRules:
    """The balance rules in force (config ``balances:`` or the defaults)."""
    spec = project.config.balances
    return BalanceRules(tuple(spec.supplement_sources), tuple(spec.back_in_sources))


def zone_levels(project: Project) -> dict:
    """Admin zones per level for tables: ``{level: (frame, key columns)}`` (levels that exist).

    Villages are keyed by ``village_key`` (code, else row) and their name, so that villages with the
    same name stay apart. Built once per project (``project.derived``).
    """
    if "zone_levels" in project.derived:
        return project.derived["zone_levels"]
    layers = project.config.layers
    fields = {role: layers[role].fields() for role in ("county", "township", "villages") if role in layers}
    zones = build_zones(
        project.vectors.get("county"), fields.get("county"), project.vectors.get("township"), fields.get("township"),
        project.vectors.get("villages"), fields.get("villages"),
    )  # fmt: skip
    levels = {}
    if zones.county is not None:
        levels["county"] = (zones.county, ["county_code", "county_name"])
    if zones.township is not None:
        levels["township"] = (zones.township, ["township"])
    if zones.village is not None:
        levels["village"] = (zones.village, [VILLAGE_KEY, "village"])
    project.derived["zone_levels"] = levels
    return levels


def run_coverage(project: Project, violations: ViolationResult | None = None) -> CoverageResult:
    """HSF coverage on a loaded project (needs ``landuse_t1``; PBF/HSF may be missing)."""
    pieces = violations.pieces if violations is not None else None
    hsf = project.vectors.get("hsf")
    result = analyse_coverage(
        pbf=project.dissolved("pbf"), hsf=project.dissolved("hsf"), landuse_t1=project.vectors["landuse_t1"],
        landuse_t0=project.vectors.get("landuse_t0"), change_pieces=pieces, zone_levels=zone_levels(project),
        measure=project.measure,
    )  # fmt: skip
    year_field = project.config.layers["hsf"].fields().get("year") if hsf is not None else None
    if year_field is not None:
        years = [getattr(project.config.layers.get(role), "year", None) for role in ("landuse_t1", "landuse_t0")]
        current = next((y for y in years if isinstance(y, int)), None)  # the data's year, never today's date
        table, warnings = hsf_by_year(hsf, year_field, current_year=current,
                                      measure=project.measure)
        result.tables["hsf_by_year"] = table
        result.warnings.extend(warnings)
    return result


def run_sites(project: Project) -> tuple[gpd.GeoDataFrame, pd.DataFrame | None]:
    """Facility-agriculture sites and per-village fragmentation on a loaded project."""
    levels = zone_levels(project)
    county = levels.get("county", (None,))[0]
    village = levels.get("village", (None,))[0]
    thresholds = project.config.thresholds
    sites = facility_sites(project.vectors["landuse_t1"], min_mu=thresholds.facility_site_min_mu,
                           join_width_m=thresholds.site_join_width_m, pbf=project.dissolved("pbf"),
                           county=county, villages=village, measure=project.measure)
    frag = (fragmentation(project.vectors["landuse_t1"], village, measure=project.measure)
            if village is not None else None)
    return sites, frag


def run_villages(project: Project, *, violations: ViolationResult | None, sites: gpd.GeoDataFrame | None,
                 frag: pd.DataFrame | None, abandoned: pd.DataFrame | None = None,
                 coverage_result: CoverageResult | None = None, lang: str = "zh"):
    """Village profiles and layout review on a loaded project.

    The village coverage figures are taken from ``coverage_result`` (the coverage step of the same run)
    when it holds ``coverage_by_village``; only without it are they computed here.

    Returns
    -------
    tuple
        (profiles GeoDataFrame, layout GeoDataFrame or None, warnings list, VillageReview or None — the plan
        review when its layers are configured, its per-village columns merged into the profiles).
    """
    layers = project.config.layers
    villages = normalise_villages(project.vectors["villages"], layers["villages"].fields())
    frame = villages.frame
    coverage = None
    layout = None
    t1 = project.vectors.get("landuse_t1")
    if villages.polygons and t1 is not None:
        pbf = project.dissolved("pbf")
        table = coverage_result.tables.get("coverage_by_village") if coverage_result is not None else None
        if table is None:
            zones = frame[[VILLAGE_KEY, "village", "geometry"]]
            table = analyse_coverage(pbf=pbf, hsf=project.dissolved("hsf"), landuse_t1=t1,
                                     zone_levels={"village": (zones, [VILLAGE_KEY, "village"])},
                                     measure=project.measure).tables["coverage_by_village"]
        coverage = table.set_index(VILLAGE_KEY).reindex(frame[VILLAGE_KEY]).reset_index()
        layout = layout_review(frame, landuse_t0=project.vectors.get("landuse_t0"), landuse_t1=t1, pbf=pbf,
                               measure=project.measure)
    levels = zone_levels(project)
    zone_spec = layers.get("protection_zones")
    protection = project.vectors.get("protection_zones")
    zone_name = zone_spec.name if zone_spec is not None else None
    if protection is None and "lake_zones" in project.vectors:  # the Dianchi zones name each village's zone
        lake_zones = project.vectors["lake_zones"]
        names = {level: f"{word}保护区" for level, word in plan_fields.LEVEL_NAMES.items()}
        protection = gpd.GeoDataFrame({"zone": lake_zones[plan_fields.LEVEL].map(names).to_numpy()},
                                      geometry=lake_zones.geometry.values, crs=lake_zones.crs)
        zone_name = "zone"
    profiles = village_profiles(
        villages, coverage=coverage, layout=layout, patches=violations.patches if violations is not None else None,
        sites=sites, fragmentation=frag, lake=project.vectors.get("lake"),
        protection_zones=protection, zone_name_field=zone_name,
        county=levels.get("county", (None,))[0], abandoned=abandoned, measure=project.measure,
    )  # fmt: skip
    if layout is not None:
        rows = layout["village_index"].to_numpy(dtype=int)
        layout = layout.assign(village_key=frame[VILLAGE_KEY].to_numpy()[rows],
                               village=frame["village"].to_numpy()[rows])
    warnings = list(villages.warnings)
    profiles["theme"] = frame["theme"].to_numpy()
    profiles["theme_missing"] = ((frame["category"] == KEY_VILLAGE).to_numpy() & (frame["theme"] == "").to_numpy()
                                 & villages.has_theme)  # no theme field: nothing can be said missing
    review = None
    if plan_review_configured(project):
        if not villages.polygons or t1 is None:
            warnings.append("村庄规划审查需要村界（面图层）和后时相地类；未做 / the village plan review needs village "
                            "polygons and T1 land use: not done")
        else:
            review = run_village_review(project, frame, lang=lang)
            warnings.extend(review.warnings)
            profiles = profiles.merge(review.villages, on=VILLAGE_KEY, how="left", validate="1:1")
            review.findings = review.findings.merge(
                profiles[[VILLAGE_KEY, "county_name", "township", "category"]], on=VILLAGE_KEY, how="left")
            review.findings = review.findings[[VILLAGE_KEY, "village", "county_name", "township", "category",
                                               *[c for c in review.findings.columns if c not in (
                                                   VILLAGE_KEY, "village", "county_name", "township", "category")]]]
    return profiles, layout, warnings, review


def plan_review_configured(project: Project) -> bool:
    """Whether any layer of the plan review is configured (plan, construction boundary, lake zones or their
    approximation).
    """
    settings = project.config.village_planning
    return bool({"village_plan", "village_boundary", "lake_zones"} & set(project.vectors)) or (
        settings.lake_zone_buffers_m is not None and "lake" in project.vectors)


def construction_boundary(project: Project) -> np.ndarray | None:
    """The village construction boundaries: the ``village_boundary`` layer, else the plan polygons that
    ``village_planning.boundary_from_plan`` marks, else ``None``.
    """
    if "village_boundary" in project.vectors:  # the layer wins over boundary_from_plan (said at load)
        return np.asarray(project.vectors["village_boundary"].geometry.values, dtype=object)
    rule = project.config.village_planning.boundary_from_plan
    plan = project.vectors.get("village_plan")
    if rule is None or plan is None:
        return None
    code_field = project.config.layers["village_plan"].code
    if rule.field is None or rule.field == code_field:
        chosen = np.array([str(c).startswith(tuple(rule.values)) for c in plan[plan_fields.PLAN_CODE]], dtype=bool)
    else:
        if rule.field not in plan:
            from ..errors import LayerError

            raise LayerError(f"village_planning.boundary_from_plan.field {rule.field} is not a field of the plan "
                             f"layer; its fields are: {', '.join(c for c in plan.columns if not c.startswith('_'))}")
        chosen = plan[rule.field].astype(str).str.strip().isin(rule.values).to_numpy()
    if not chosen.any():
        from ..errors import LayerError

        raise LayerError(f"village_planning.boundary_from_plan {list(rule.values)} matches no polygon of the plan "
                         f"(field {rule.field or code_field}); give the codes or flag values that mark the village "
                         "construction boundary, e.g. values: ['07'] for the plan's residential land")
    return np.asarray(plan.geometry.values, dtype=object)[chosen]


def lake_zones_of(project: Project) -> LakeZones | None:
    """Dianchi zones 1 and 2: the ``lake_zones`` layer, else the configured approximation from the lake outline."""
    zones = project.vectors.get("lake_zones")
    if zones is not None:
        geoms = np.asarray(zones.geometry.values, dtype=object)
        level = zones[plan_fields.LEVEL].to_numpy()
        return LakeZones(geoms[level == 1], geoms[level == 2], "official")
    widths = project.config.village_planning.lake_zone_buffers_m
    lake = project.vectors.get("lake")
    if widths is not None and lake is not None:
        return approximate_lake_zones(np.asarray(lake.geometry.values, dtype=object), widths)
    return None


def run_village_review(project: Project, villages: gpd.GeoDataFrame, *, lang: str = "zh") -> VillageReview:
    """The plan review (:func:`~kmrv_geo.analysis.village_plan.review_villages`) on a loaded project."""
    plan = project.vectors.get("village_plan")
    settings = project.config.village_planning
    review = review_villages(
        villages[[VILLAGE_KEY, "village", "geometry"]], t0=project.vectors.get("landuse_t0"),
        t1=project.vectors["landuse_t1"],
        plan=(gpd.GeoDataFrame({"plan_code": plan[plan_fields.PLAN_CODE].to_numpy()}, geometry=plan.geometry.values,
                               crs=plan.crs) if plan is not None else None),
        boundary=construction_boundary(project), pbf=project.dissolved("pbf"), erl=project.dissolved("erl"),
        udb=project.dissolved("udb"), lake_zones=lake_zones_of(project), classes=settings.classes,
        boundary_exempt=tuple(settings.boundary_exempt), measure=project.measure, lang=lang,
    )  # fmt: skip
    rule = settings.boundary_from_plan
    if rule is not None and "village_boundary" not in project.vectors:
        field = rule.field or project.config.layers["village_plan"].code
        review.warnings.append(f"村庄建设边界取自村庄规划（{field} 为 {'、'.join(rule.values)} 的图斑），"
                               "非单独的村庄建设边界图层 / construction boundaries taken from the plan "
                               f"({field} in {rule.values})")
    review.landuse = landuse_by_village(villages, t0=project.vectors.get("landuse_t0"),
                                        t1=project.vectors["landuse_t1"], measure=project.measure)
    return review


def permit_layers(project: Project) -> dict[str, PermitLayer]:
    """The configured approval-like layers with their document numbers (and end dates), dissolved once."""
    out = {}
    for role in permits.APPROVAL_ROLES:
        frame = project.vectors.get(role)
        if frame is None:
            continue
        ends = frame[permits.END_DATE].to_numpy(dtype="datetime64[D]") if permits.END_DATE in frame else None
        refs = frame[permits.REF].to_numpy(dtype=object) if permits.REF in frame else np.full(len(frame), "")
        out[role] = PermitLayer(np.asarray(frame.geometry.values, dtype=object), refs, ends,
                                union=project.dissolved(role))
    return out


def run_judge(project: Project, *, lang: str = "zh") -> JudgeResult:
    """Judge the project's monitoring patches (role ``patches``): :func:`~kmrv_geo.analysis.judge.judge_patches`."""
    frame = project.vectors["patches"]
    patches = gpd.GeoDataFrame({
        "patch_no": frame[permits.PATCH_NO].to_numpy(), "after_code": frame["_after_code"].to_numpy(),
        "before_code": frame[permits.BEFORE_CODE].to_numpy(),
        "image_date": frame[permits.IMAGE_DATE].to_numpy(dtype="datetime64[D]"),
    }, geometry=frame.geometry.values, crs=frame.crs)  # fmt: skip
    levels = zone_levels(project)
    zones = Zones(*(levels.get(level, (None, None))[0] for level in ("county", "township", "village")))
    settings = project.config.judge
    return judge_patches(
        patches, t0=project.vectors["landuse_t0"], t1=project.vectors.get("landuse_t1"), pbf=project.dissolved("pbf"),
        erl=project.dissolved("erl"), udb=project.dissolved("udb"), permits=permit_layers(project), zones=zones,
        as_of=np.datetime64(settings.as_of, "D") if settings.as_of else None, verdicts=settings.verdicts,
        min_part_m2=settings.min_part_m2, measure=project.measure, classes=project.config.landuse_classes_model(),
        lang=lang,
    )  # fmt: skip


def take_field_results(result: JudgeResult, returned, *, lang: str = "zh") -> JudgeResult:
    """Apply a read field-check sheet (:func:`kmrv_geo.fieldcheck.read_field_results`) to judged patches."""
    return _take_field_results(result, returned.rows, returned.unmatched, pending=returned.not_checked,
                               lang=lang)
