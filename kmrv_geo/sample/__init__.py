"""Deterministic synthetic Kunming sample layers (示例数据，合成 — not real survey data).

:func:`make_sample` writes a complete demo project around Dianchi: the real (approximate) county
outlines, synthetic townships and the 183 Dianchi villages, full-coverage land use for 2022 and 2023
with injected changes of every kind, PBF, HSF, approvals, CLCD-style land cover, yearly NDVI with
injected abandoned farmland, and ground-truth layers of everything injected. The same seed and size
give the same attribute tables and geometries.

Modules: :mod:`.geography` (extent, lake, terrain, townships, villages), :mod:`.tessellation`
(parcels), :mod:`.landuse_model` (2022 codes), :mod:`.protection` (PBF, HSF), :mod:`.changes`
(2023, approvals, truth), :mod:`.enforcement` (卫片执法: monitoring patches, filings, temporary use,
supplement projects, ERL, UDB and the patches' truth), :mod:`.village_plans` (village themes, village plans
and construction boundaries, Dianchi protection zones and their truth), :mod:`.rasters` (land cover, NDVI),
:mod:`.output` (files).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from tqdm import tqdm

from . import changes as _changes
from . import enforcement, geography, landuse_model, protection, rasters, tessellation, village_plans
from ._util import stream
from .output import SYNTHETIC_NOTE, copy_config, ellipsoidal_m2, write_layers

__all__ = ["SYNTHETIC_NOTE", "SampleInfo", "make_sample", "MIN_PARCELS", "MAX_PARCELS"]

logger = logging.getLogger(__name__)

RIDGE_SHARE_BY_SLOPE = {"1": 0.0, "2": 0.05, "3": 0.10, "4": 0.15, "5": 0.20}
"""Synthetic 扣除地类系数 (KCXS, share of 田坎) of farmland by slope class GDPDJB (1: ≤2°, 5: >25°), in the
range hilly Yunnan reports (0.05–0.20; DOMAIN.md). Invented for the sample, like every attribute."""
MIN_PARCELS = 1_000
MAX_PARCELS = 5_000_000


@dataclass(frozen=True)
class SampleInfo:
    """What :func:`make_sample` wrote.

    Attributes
    ----------
    out_dir : Path
        The output folder.
    gpkg : Path
        ``demo.gpkg`` (all vector layers).
    config_path : Path
        ``demo.yml``, the project file of the sample (paths relative to ``out_dir``).
    rasters : dict of str to Path
        ``landcover_2022``, ``landcover_2023``, ``ndvi_2019`` … ``ndvi_2023``.
    counts : dict of str to int
        Features per GeoPackage layer.
    changes : dict of str to int
        Injected change pieces per kind (``nonagri``, ``nongrain``, ``supplement``, ``back_in``,
        ``other``), and ``partial`` (pieces of split parcels) and ``below_min`` (specks) over all kinds.
    abandoned, decoys : int
        Injected abandoned parcels (low NDVI ≥ 2 consecutive years) and one-year decoys.
    patches : dict of str to int
        Monitoring patches (``monitoring_patches``) per expected verdict (``legal``, ``illegal``,
        ``to_check``), and ``decoys`` (unchanged farmland among them).
    village_findings : dict of str to int
        Rows of ``truth_village_review`` per finding (every one of :data:`.village_plans.FINDINGS`).
    n_parcels, seed : int
        The size asked for and the seed.
    seconds : float
        Time taken.
    """

    out_dir: Path
    gpkg: Path
    config_path: Path
    rasters: dict[str, Path] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    changes: dict[str, int] = field(default_factory=dict)
    abandoned: int = 0
    decoys: int = 0
    patches: dict[str, int] = field(default_factory=dict)
    village_findings: dict[str, int] = field(default_factory=dict)
    n_parcels: int = 0
    seed: int = 0
    seconds: float = 0.0


def make_sample(out_dir: str | Path, *, n_parcels: int = 30_000, seed: int = 2023,
                progress: bool = False) -> SampleInfo:
    """Write the synthetic Kunming sample into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Output folder (created; files of an earlier sample are replaced).
    n_parcels : int, default 30000
        About how many 2022 land-use parcels (1,000 … 5,000,000; 5M takes about 15 minutes and 13 GB on this
        project's 2-core test machine). From 30,000 up the result is within
        about 10 %; smaller samples get more (up to about 1.5× at 1,000), because roads, rivers and the
        183 village cores are parcels of their own whatever the size.
        It sets the parcel size: 30k parcels average about 6 ha, 1M about 2,000 m² (3 亩), 5M about 400 m².
    seed : int, default 2023
        Seed (≥ 0). The same seed and size give identical attribute tables and geometries; the
        townships and villages depend on the seed only.
    progress : bool, default False
        Show a progress bar.

    Returns
    -------
    SampleInfo

    Raises
    ------
    ValueError
        If ``n_parcels`` is outside 1,000 … 5,000,000 or ``seed`` is negative.

    Examples
    --------
    >>> info = make_sample("demo_data", n_parcels=5_000, seed=1)  # doctest: +SKIP
    >>> info.counts["villages"]  # doctest: +SKIP
    183
    """
    if not MIN_PARCELS <= int(n_parcels) <= MAX_PARCELS:
        raise ValueError(f"n_parcels must be {MIN_PARCELS:,}…{MAX_PARCELS:,}, got {n_parcels:,}")
    if int(seed) < 0:
        raise ValueError(f"seed must be 0 or more, got {seed}")
    start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    steps = tqdm(total=10, desc="示例数据 sample", unit="step", disable=not progress)

    def step(label: str) -> None:
        steps.set_postfix_str(label)
        logger.info("sample: %s (%.1f s)", label, time.perf_counter() - start)

    step("geography")
    extent = geography.make_extent()
    terrain = geography.Terrain(extent, stream(seed, "terrain"))
    townships = geography.make_townships(extent, terrain, stream(seed, "townships"))
    villages = geography.make_villages(extent, townships, terrain, stream(seed, "villages"))
    cores = geography.village_cores(villages, stream(seed, "cores"))
    carved = geography.carved_features(extent, terrain, cores, stream(seed, "roads"), int(n_parcels))
    zones = geography.make_zones(extent, townships, villages)
    steps.update()

    step("parcels")
    parcels = tessellation.tessellate(extent, zones, carved, terrain, int(n_parcels), stream(seed, "parcels"))
    steps.update()

    step("land use 2022")
    model = landuse_model.assign_landuse(parcels, zones, carved, terrain, stream(seed, "landuse"))
    t0 = _landuse_frame(parcels, zones, model)
    farmland = np.isin(t0["DLBM"].to_numpy(), landuse_model.FARMLAND_CODES)
    steps.update()

    step("PBF and HSF")
    on_pbf, pbf = protection.make_pbf(t0, farmland, model["urban"].to_numpy(), stream(seed, "pbf"))
    county_names = dict(zip(extent.counties["XZQDM"], extent.counties["XZQMC"], strict=True))
    _on_hsf, hsf = protection.make_hsf(t0, farmland, on_pbf, county_names, stream(seed, "hsf"))
    steps.update()

    step("land use 2023 and approvals")
    ordinary = (parcels["carved"].to_numpy() < 0)
    t1, approvals, truth = _changes.inject_changes(t0, on_pbf=on_pbf, ordinary=ordinary, rng=stream(seed, "changes"))
    truth = _changes.finish_truth(truth, pbf=np.asarray(pbf.geometry.values, dtype=object),
                                  hsf=np.asarray(hsf.geometry.values, dtype=object),
                                  approvals=np.asarray(approvals.geometry.values, dtype=object))
    t1 = _finish_t1(t0, t1)
    steps.update()

    step("rasters")
    n0 = len(t0)
    t1_codes = t1["DLBM"].to_numpy()
    changed_rows = np.concatenate([np.flatnonzero(t1_codes[:n0] != t0["DLBM"].to_numpy()), np.arange(n0, len(t1))])
    raster_paths = rasters.write_landcover(t0, t1, changed_rows, out, stream(seed, "landcover"), SYNTHETIC_NOTE)
    touched = np.zeros(n0, dtype=bool)
    touched[truth["t0_bsm"].to_numpy() - 1] = True  # BSM = row + 1 in 2022
    unchanged_farm = farmland & ~touched & (t1_codes[:n0] == t0["DLBM"].to_numpy())
    ndvi_paths, low = rasters.write_ndvi(t0, t1, np.arange(n0, len(t1)), unchanged_farm, out,
                                         stream(seed, "ndvi"), SYNTHETIC_NOTE)
    raster_paths.update(ndvi_paths)
    abandoned = _abandoned_frame(t0, low)
    steps.update()

    step("卫片执法 layers")
    enforcement_layers = enforcement.make_enforcement(t0, truth, model=model, on_pbf=on_pbf, pbf=pbf,
                                                      approvals=approvals, extent=extent,
                                                      rng=stream(seed, "enforcement"))
    steps.update()

    step("village plans and Dianchi zones")
    village_layers, themes = village_plans.make_village_plans(
        villages, t0, t1, truth, on_pbf=on_pbf, ordinary=ordinary, erl=enforcement_layers["erl"],
        udb=enforcement_layers["udb"], extent=extent, rng=stream(seed, "village_plans"))
    steps.update()

    step("writing")
    layers = {
        "county": extent.counties,
        "township": townships.rename(columns={"county": "QXDM"}),
        "villages": villages.drop(columns=["cx", "cy"]).assign(ZT=themes),
        "landuse_2022": t0,
        "landuse_2023": t1,
        "pbf": pbf,
        "hsf": hsf,
        "approvals": approvals.drop(columns="built"),
        "dianchi": gpd.GeoDataFrame({"MC": ["滇池"], "MJ": [shapely.area(extent.lake)]}, geometry=[extent.lake],
                                    crs=geography.CRS),
        "truth_changes": truth,
        "truth_abandoned": abandoned,
        **enforcement_layers,
        **village_layers,
    }
    gpkg = out / "demo.gpkg"
    counts = write_layers(gpkg, layers)
    config_path = copy_config(out)
    steps.update()
    steps.close()

    kinds = truth["kind"].value_counts()
    change_counts = {k: int(kinds.get(k, 0)) for k in ("nonagri", "nongrain", "supplement", "back_in", "other")}
    change_counts["partial"] = int((truth["shape"] != "whole").sum())
    change_counts["below_min"] = int(truth["below_min"].sum())
    patch_truth = enforcement_layers["truth_patches"]
    patch_counts = {v: int((patch_truth["expected_verdict"] == v).sum()) for v in ("legal", "illegal", "to_check")}
    patch_counts["decoys"] = int((patch_truth["kind"] == "decoy").sum())
    review = village_layers["truth_village_review"]["finding"].value_counts()
    village_counts = {k: int(review.get(k, 0)) for k in village_plans.FINDINGS}
    info = SampleInfo(
        out_dir=out, gpkg=gpkg, config_path=config_path, rasters=raster_paths, counts=counts, changes=change_counts,
        abandoned=int(low["abandoned"].sum()), decoys=int((~low["abandoned"]).sum()), patches=patch_counts,
        village_findings=village_counts, n_parcels=int(n_parcels),
        seed=int(seed), seconds=time.perf_counter() - start,
    )  # fmt: skip
    logger.info("sample: %d parcels, %d changes, done in %.1f s", counts["landuse_2022"], len(truth), info.seconds)
    return info


def _landuse_frame(parcels: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, model: pd.DataFrame) -> gpd.GeoDataFrame:
    """The 2022 land-use layer: BSM (= row + 1), codes, names, planting attribute, location, TBMJ."""
    zone = parcels["zone"].to_numpy()
    frame = gpd.GeoDataFrame({
        "BSM": np.arange(1, len(parcels) + 1, dtype=np.int64),
        "DLBM": model["DLBM"].to_numpy(),
        "DLMC": landuse_model.names(model["DLBM"].to_numpy()),
        "ZZSXDM": model["ZZSXDM"].to_numpy(),
        "XZQDM": zones["XZQDM"].to_numpy()[zone],
        "ZLDWDM": zones["ZLDWDM"].to_numpy()[zone],
    }, geometry=np.asarray(parcels.geometry.values, dtype=object), crs=geography.CRS)  # fmt: skip
    frame["TBMJ"] = np.round(ellipsoidal_m2(frame.geometry), 2)
    hill = model["hill"].to_numpy(dtype=float)
    frame["GDPDJB"] = (1 + np.searchsorted(np.quantile(hill, [0.2, 0.4, 0.6, 0.8]), hill)).astype(str)
    return _ridge_fields(frame)


def _ridge_fields(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """三调 deduction fields from TBMJ and the slope class: KCDLBM, KCXS, KCMJ, TBDLMJ (farmland only)."""
    farmland = np.isin(frame["DLBM"].to_numpy(), landuse_model.FARMLAND_CODES)
    share = np.where(farmland, frame["GDPDJB"].map(RIDGE_SHARE_BY_SLOPE).to_numpy(dtype=float), 0.0)
    frame["KCDLBM"] = np.where(farmland, "1203", "")
    frame["KCXS"] = share
    frame["KCMJ"] = np.round(frame["TBMJ"].to_numpy(dtype=float) * share, 2)
    frame["TBDLMJ"] = np.round(frame["TBMJ"].to_numpy(dtype=float) - frame["KCMJ"].to_numpy(), 2)
    return frame


def _finish_t1(t0: gpd.GeoDataFrame, t1: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Names and TBMJ of the 2023 layer (recomputed where the geometry changed)."""
    t1 = _changes.name_codes(t1)
    n0 = len(t0)
    geoms1 = np.asarray(t1.geometry.values, dtype=object)
    same = np.zeros(len(t1), dtype=bool)
    same[:n0] = shapely.equals_identical(geoms1[:n0], np.asarray(t0.geometry.values, dtype=object))
    tbmj = t1["TBMJ"].to_numpy(dtype="float64").copy()
    redo = np.flatnonzero(~same)
    if redo.size:
        tbmj[redo] = np.round(ellipsoidal_m2(t1.geometry.iloc[redo]), 2)
    t1["TBMJ"] = tbmj
    return _ridge_fields(t1)[list(t0.columns)]


def _abandoned_frame(t0: gpd.GeoDataFrame, low: pd.DataFrame) -> gpd.GeoDataFrame:
    """The ``truth_abandoned`` layer: one row per abandoned parcel or decoy."""
    rows = low["row"].to_numpy()
    frame = gpd.GeoDataFrame({
        "BSM": t0["BSM"].to_numpy()[rows],
        "DLBM": t0["DLBM"].to_numpy()[rows],
        "years_low": low["years_low"].to_numpy(),
        "first_low_year": low["first_low_year"].to_numpy().astype(np.int64),
        "n_years_low": low["years_low"].str.count(",").to_numpy().astype(np.int64) + 1,
        "abandoned": low["abandoned"].to_numpy(),
        "pixels": low["pixels"].to_numpy().astype(np.int64),
    }, geometry=np.asarray(t0.geometry.values, dtype=object)[rows], crs=geography.CRS)  # fmt: skip
    return frame.sort_values("BSM").reset_index(drop=True)
