"""撂荒 abandoned farmland from yearly growing-season NDVI (a pure analysis: the NDVI per parcel and year
comes from :func:`kmrv_geo.extract.parcel_ndvi`).

For every farmland parcel and year, the parcel's NDVI is the coverage-weighted median of its pixels
(exactextract: a pixel half inside the parcel weighs half, so parcels smaller than a pixel still get
a value; the median, unlike the mean, is not dragged up by the mixed pixels along a parcel's edge that
mostly show its cropped neighbours; exactextract interpolates its weighted quantiles between the
distinct pixel values), with the share of the parcel that has valid pixels. A
parcel-year is *low* when that value is below ``ndvi_max`` and at least ``min_valid_share`` of
the parcel has valid pixels; a year without enough valid pixels is *no data* and breaks a run. A
parcel is abandoned when it has a run of at least ``min_years`` consecutive low years.

Why these defaults (config ``abandonment:``): there is no published single NDVI cut-off for 撂荒
(DOMAIN.md). Cropped fields reach a growing-season NDVI of 0.5 and more; bare, fallow or sparsely
weedy soil lies around 0.1–0.3; ``ndvi_max = 0.35`` sits between, with room for the mixed pixels at
parcel edges that pull a parcel mean towards its neighbours. One low year is usually fallow (休耕),
rotation or a failed crop, so ``min_years = 2``. Land left long enough to grow shrubs gets *greener*:
such parcels are not found by a low-NDVI rule and need field checks or a land-cover source.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np

from ..extract import ParcelNdvi
from ..units import M2_PER_MU, AreaMeasure, planar_measure

logger = logging.getLogger(__name__)


@dataclass
class AbandonmentResult:
    """What the NDVI analysis found.

    Attributes
    ----------
    parcels : GeoDataFrame
        Every farmland parcel: ``parcel_id``, ``code``, ``area_mu``, ``ndvi_<year>`` (median) and
        ``valid_<year>`` (share with valid pixels) per year, ``years_low`` (the longest run of low
        years, e.g. ``"2022,2023"``), ``n_years_low``, ``first_low_year``, ``still_low`` (the run reaches
        the last year), ``abandoned``, ``farmland_since`` (0: farmland throughout), ``years_no_data``
        (judged years without enough valid pixels).
    years : list of int
    warnings : list of str
    """

    parcels: gpd.GeoDataFrame
    years: list[int]
    warnings: list[str] = field(default_factory=list)

    @property
    def abandoned(self) -> gpd.GeoDataFrame:
        """The abandoned parcels only."""
        return self.parcels[self.parcels["abandoned"]].reset_index(drop=True)


def _longest_low_run(low: np.ndarray, years: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per parcel: length, first year index and last year index of the longest run of low years."""
    n, k = low.shape
    best_len = np.zeros(n, dtype=int)
    best_end = np.full(n, -1, dtype=int)
    run = np.zeros(n, dtype=int)
    for j in range(k):
        run = np.where(low[:, j], run + 1, 0)
        better = run > best_len  # the earliest longest run wins ties
        best_len = np.where(better, run, best_len)
        best_end = np.where(better, j, best_end)
    return best_len, best_end - best_len + 1, best_end


def find_abandoned(parcels: gpd.GeoDataFrame, ndvi: ParcelNdvi, *, ndvi_max: float = 0.35,
                   min_years: int = 2, min_valid_share: float = 0.5, id_column: str | None = None,
                   code_column: str = "code", farmland_since: np.ndarray | None = None,
                   measure: AreaMeasure | None = None) -> AbandonmentResult:
    """Yearly mean NDVI per farmland parcel and the parcels that stayed low long enough.

    Parameters
    ----------
    parcels : GeoDataFrame
        Current farmland parcels (projected CRS).
    ndvi : ParcelNdvi
        Their NDVI per year, as :func:`kmrv_geo.extract.parcel_ndvi` extracts it from the rasters (this
        analysis opens no file).
    ndvi_max, min_years, min_valid_share
        See the module docstring and :class:`kmrv_geo.config.AbandonmentSettings`.
    id_column : str, optional
        Parcel id column (default: row position + 1).
    code_column : str, default "code"
    farmland_since : numpy.ndarray of int, optional
        Per parcel, the first year it was farmland (e.g. new farmland of the latest survey); earlier
        years are not judged (a field that was bare land before it was reclaimed is not abandoned).
        Default: farmland in every year.
    measure : AreaMeasure, optional
        The area kind of ``area_mu`` (default planar).

    Returns
    -------
    AbandonmentResult

    Raises
    ------
    ValueError
        If the NDVI table does not fit the parcels.
    """
    years = list(ndvi.years)
    n = len(parcels)
    if ndvi.values.shape != (n, len(years)) or ndvi.valid.shape != (n, len(years)):
        raise ValueError(f"NDVI table of shape {ndvi.values.shape} does not fit {n} parcels × {len(years)} years")
    means, valid = ndvi.values, ndvi.valid
    enough = valid >= min_valid_share
    since = np.zeros(n, dtype=int) if farmland_since is None else np.asarray(farmland_since, dtype=int)
    judged = np.asarray(years)[None, :] >= since[:, None]
    low = enough & judged & (means < ndvi_max)
    length, first, last = _longest_low_run(low, years)
    year_arr = np.asarray(years)
    abandoned = length >= min_years
    ids = parcels[id_column].to_numpy() if id_column and id_column in parcels else np.arange(1, n + 1)
    out = gpd.GeoDataFrame({
        "parcel_id": ids,
        "code": parcels[code_column].to_numpy() if code_column in parcels else "",
        "area_mu": (measure or planar_measure(str(parcels.crs))).m2(np.asarray(parcels.geometry.values, dtype=object))
        / M2_PER_MU,
    }, geometry=parcels.geometry.values, crs=parcels.crs)  # fmt: skip
    for j, year in enumerate(years):
        out[f"ndvi_{year}"] = np.round(means[:, j], 4)
        out[f"valid_{year}"] = np.round(valid[:, j], 4)
    out["years_low"] = [",".join(str(y) for y in year_arr[f:f + m]) if m else "" for f, m in zip(first, length,
                                                                                               strict=True)]
    out["n_years_low"] = length
    out["first_low_year"] = np.where(length > 0, year_arr[np.clip(first, 0, len(years) - 1)], 0)
    out["still_low"] = (length > 0) & (last == len(years) - 1)
    out["abandoned"] = abandoned
    out["farmland_since"] = since
    out["years_no_data"] = [",".join(str(y) for y, ok, j in zip(years, row, jrow, strict=True) if j and not ok)
                            for row, jrow in zip(enough, judged, strict=True)]
    warnings = []
    no_data = (~enough & judged).any(axis=1)
    if no_data.any():
        warnings.append(
            f"{int(no_data.sum())} 个耕地图斑至少一年 NDVI 有效像元不足 {min_valid_share:.0%}，该年按无数据处理"
            f"（见 ndvi_no_data_parcels 表）/ {int(no_data.sum())} farmland parcels lack valid NDVI pixels in some year"
        )
    return AbandonmentResult(parcels=out, years=years, warnings=warnings)
