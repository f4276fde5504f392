"""Facility-agriculture sites (设施农业 survey) and farmland fragmentation per village.

A site is a contiguous block of current farmland of at least ``facility_site_min_mu`` (30 亩).
Parcels count as contiguous when the gap between them is at most ``join_width_m`` (default 2 m): a
field ridge (田坎), ditch (沟渠) or rural road (农村道路) that narrow does not break a block, a wider road
does. A block's area is the area of its farmland parcels (the ridges between them are not counted).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import landuse
from ..overlay import area_inside, connected_components, label_by_zone, union_runs, zones_of
from ..units import M2_PER_MU, AreaMeasure, planar_measure
from .coverage import compactness
from .keys import VILLAGE_KEY

SITE_COLUMNS = ["site_id", "area_mu", "parcels", "pbf_mu", "pbf_share", "on_pbf", "compactness", "county_code",
                "county_name", "village_key", "village"]


def farmland_blocks(landuse_t1: gpd.GeoDataFrame, *, join_width_m: float = 2.0,
                    measure: AreaMeasure | None = None, min_mu: float = 0.0) -> gpd.GeoDataFrame:
    """Group current farmland parcels into contiguous blocks.

    Parameters
    ----------
    landuse_t1 : GeoDataFrame
        Land use with a ``category`` column.
    join_width_m : float, default 2
        Parcels closer than or at this distance belong to one block.
    measure : AreaMeasure, optional
        The area kind of ``area_m2`` (default planar).
    min_mu : float, default 0
        Blocks whose parcels add up to less (亩) are left out before their parcels are unioned (a city has
        hundreds of thousands of small blocks; only the large ones are sites).

    Returns
    -------
    GeoDataFrame
        One row per block of at least ``min_mu``, in the order of its first parcel: ``area_m2`` (sum of its
        parcels), ``parcels`` (count), geometry (union of its parcels, without the gaps).
    """
    farm = landuse_t1[landuse_t1["category"].to_numpy() == landuse.FARMLAND]
    geoms = np.asarray(farm.geometry.values, dtype=object)
    if len(geoms) == 0:
        return gpd.GeoDataFrame({"area_m2": [], "parcels": []}, geometry=[], crs=landuse_t1.crs)
    i, j = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=join_width_m)
    labels = connected_components(len(geoms), i, j)
    frame = gpd.GeoDataFrame({"block": labels, "area_m2": (measure or planar_measure(str(landuse_t1.crs))).m2(geoms),
                                   "parcels": 1}, geometry=geoms,
                             crs=landuse_t1.crs)
    if min_mu > 0:  # the same sums the dissolve below makes
        large = frame.groupby("block")["area_m2"].sum() / M2_PER_MU >= min_mu
        frame = frame[frame["block"].isin(large.index[large.to_numpy()]).to_numpy()]
    frame = frame.sort_values("block", kind="stable")  # a block's parcels side by side, in their order
    labels = frame["block"].to_numpy()
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]]) if len(labels) else np.zeros(0, dtype=int)
    sums = frame.groupby("block")[["area_m2", "parcels"]].sum()
    return gpd.GeoDataFrame({"area_m2": sums["area_m2"].to_numpy(), "parcels": sums["parcels"].to_numpy()},
                            geometry=union_runs(np.asarray(frame.geometry.values, dtype=object), starts),
                            crs=landuse_t1.crs)


def facility_sites(landuse_t1: gpd.GeoDataFrame, *, min_mu: float = 30.0, join_width_m: float = 2.0,
                   pbf: gpd.GeoDataFrame | None = None, county: gpd.GeoDataFrame | None = None,
                   villages: gpd.GeoDataFrame | None = None, measure: AreaMeasure | None = None) -> gpd.GeoDataFrame:
    """Contiguous farmland blocks of at least ``min_mu`` 亩, with PBF share and location.

    Parameters
    ----------
    landuse_t1 : GeoDataFrame
        Current land use (``category`` column).
    min_mu : float, default 30
        Smallest block (亩) that is a site.
    join_width_m : float, default 2
        See :func:`farmland_blocks`.
    pbf : GeoDataFrame, optional
        Permanent basic farmland: facility agriculture should avoid it, so ``on_pbf`` flags any overlap.
    county, villages : GeoDataFrame, optional
        Zones with ``county_code``/``county_name`` and ``village_key``/``village`` columns (by representative
        point).
    measure : AreaMeasure, optional
        The area kind of ``area_mu``, ``pbf_mu`` and the ``min_mu`` threshold (default planar).

    Returns
    -------
    GeoDataFrame
        :data:`SITE_COLUMNS`, largest first; ``site_id`` like ``FS0001``.
    """
    measure = measure or planar_measure(str(landuse_t1.crs))
    blocks = farmland_blocks(landuse_t1, join_width_m=join_width_m, measure=measure, min_mu=min_mu)
    blocks["area_mu"] = blocks["area_m2"] / M2_PER_MU
    sites = blocks[blocks["area_mu"] >= min_mu].copy()
    geoms = np.asarray(sites.geometry.values, dtype=object)
    if pbf is not None and len(sites):
        sites["pbf_mu"] = np.minimum(area_inside(geoms, zones_of(pbf), dissolved=True,
                                                 measure=measure),
                                     sites["area_m2"].to_numpy()) / M2_PER_MU
    else:
        sites["pbf_mu"] = np.nan if pbf is None else 0.0
    sites["pbf_share"] = sites["pbf_mu"] / sites["area_mu"]
    sites["on_pbf"] = sites["pbf_mu"].fillna(0.0) > 0
    sites["compactness"] = compactness(geoms) if len(sites) else []
    sites = label_by_zone(sites, county, ["county_code", "county_name"])
    sites = label_by_zone(sites, villages, [VILLAGE_KEY, "village"])
    points = shapely.point_on_surface(np.asarray(sites.geometry.values, dtype=object))
    sites = sites.assign(_y=np.round(shapely.get_y(points), 2), _x=np.round(shapely.get_x(points), 2))
    sites = sites.sort_values(["area_mu", "_y", "_x"], ascending=[False, False, True], ignore_index=True)
    sites["site_id"] = [f"FS{k:04d}" for k in range(1, len(sites) + 1)]
    return gpd.GeoDataFrame(sites[SITE_COLUMNS], geometry=sites.geometry.to_numpy(), crs=landuse_t1.crs)


def fragmentation(landuse_t1: gpd.GeoDataFrame, villages: gpd.GeoDataFrame, *,
                  measure: AreaMeasure | None = None) -> pd.DataFrame:
    """Farmland fragmentation per village (for 小田并大田 planning).

    Parcels belong to the village holding their representative point.

    Returns
    -------
    DataFrame
        ``village_key``, ``village``, ``farmland_parcels``, ``farmland_mu``, ``mean_parcel_mu``, ``share_under_1mu``
        (share of parcels under 1 亩), ``parcels_per_100mu``; villages with no farmland get 0 parcels.
    """
    farm = landuse_t1[landuse_t1["category"].to_numpy() == landuse.FARMLAND]
    geoms = np.asarray(farm.geometry.values, dtype=object)
    area_mu = (measure or planar_measure(str(landuse_t1.crs))).m2(geoms) / M2_PER_MU
    parcels = gpd.GeoDataFrame({"area_mu": area_mu}, geometry=geoms, crs=farm.crs)
    parcels = label_by_zone(parcels, villages, [VILLAGE_KEY])
    parcels = parcels[parcels[VILLAGE_KEY] != ""]
    grouped = parcels.groupby(VILLAGE_KEY)["area_mu"]
    table = pd.DataFrame({"farmland_parcels": grouped.count(), "farmland_mu": grouped.sum(),
                          "small": parcels.assign(s=parcels["area_mu"] < 1).groupby(VILLAGE_KEY)["s"].sum()})
    table = table.reindex(pd.Index(villages[VILLAGE_KEY], name=VILLAGE_KEY)).fillna(0)
    table["farmland_parcels"] = table["farmland_parcels"].astype(int)
    with np.errstate(divide="ignore", invalid="ignore"):
        table["mean_parcel_mu"] = np.where(table["farmland_parcels"] > 0,
                                           table["farmland_mu"] / table["farmland_parcels"], np.nan)
        table["share_under_1mu"] = np.where(table["farmland_parcels"] > 0, table["small"] / table["farmland_parcels"],
                                            np.nan)
        table["parcels_per_100mu"] = np.where(table["farmland_mu"] > 0,
                                              table["farmland_parcels"] / table["farmland_mu"] * 100, np.nan)
    table = table.drop(columns="small").reset_index()
    table.insert(1, "village", villages["village"].to_numpy())
    return table
