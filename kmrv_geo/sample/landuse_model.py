"""Synthetic 2022 land use: a spatially coherent GB/T 21010 code for every parcel.

Each parcel is scored for a handful of broad uses (farmland, forest, grass, garden, rural settlement)
from the synthetic terrain (hills, distance to the lake, city centres) plus smooth random fields, and
takes the best; urban parcels draw from a mix of construction codes; small scattered uses (ponds,
rural roads, ditches, facility land, bare land, quarries) are sprinkled on top. Village cores are
rural settlement (0702) and every village gets some farmland.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from .. import landuse
from ._util import choose, smooth_field
from .geography import Terrain

URBAN_MIX = {
    "0701": 0.36, "0501": 0.04, "0505": 0.03, "0507": 0.02, "0601": 0.07, "0604": 0.03, "0801": 0.03,
    "0803": 0.05, "0805": 0.02, "0809": 0.02, "0810": 0.05, "1004": 0.15, "1005": 0.02, "1201": 0.03,
    "0702": 0.06, "0906": 0.01,
}  # fmt: skip
"""Construction codes inside the built-up area, with weights."""
INDUSTRY_MIX = {"0601": 0.55, "0604": 0.15, "1004": 0.12, "0701": 0.08, "1201": 0.05, "0602": 0.05}
SCATTERED = [
    # code, share of rural parcels, where: "any", "near_lake" (< 2 km), "hill", "basin"
    ("1006", 0.030, "any"), ("1107", 0.012, "basin"), ("1104", 0.045, "near_lake"), ("1104", 0.008, "any"),
    ("1202", 0.015, "basin"), ("1206", 0.006, "any"), ("0602", 0.004, "hill"), ("0905", 0.003, "hill"),
    ("1003", 0.004, "any"), ("1203", 0.010, "basin"), ("1101", 0.002, "basin"),
]  # fmt: skip
"""Small uses sprinkled over rural parcels (after the broad uses are chosen)."""
PLANTING = {"LS": 0.80, "FLS": 0.09, "LYFL": 0.08, "XG": 0.03}
"""种植属性 of farmland: grain, non-grain, grain/non-grain rotation, fallow."""
FARMLAND_CODES = ("0101", "0102", "0103")


def assign_landuse(parcels, zones, carved, terrain: Terrain, rng: np.random.Generator) -> pd.DataFrame:
    """Give every parcel a 2022 land-use code and a planting attribute.

    Parameters
    ----------
    parcels : GeoDataFrame
        From :func:`~kmrv_geo.sample.tessellation.tessellate` (``zone``, ``carved``).
    zones : GeoDataFrame
        Admin zones (``village`` column: village row or -1).
    carved : GeoDataFrame
        Carved features (``code``, ``kind``).
    terrain : Terrain
    rng : numpy.random.Generator

    Returns
    -------
    pandas.DataFrame
        ``DLBM`` (code), ``ZZSXDM`` (planting attribute of farmland, '' elsewhere), ``hill``, ``urban``,
        ``lake_m`` (distance to the shore), on the parcels' index.
    """
    n = len(parcels)
    geoms = np.asarray(parcels.geometry.values, dtype=object)
    centre = shapely.centroid(geoms)
    x, y = shapely.get_x(centre), shapely.get_y(centre)
    hill = terrain.hill(x, y)
    urban, city = terrain.urban(x, y)
    lake_m = terrain.lake_distance(x, y)
    fields = {name: smooth_field(rng, shortest_m=1200, longest_m=7000) for name in
              ("farm", "forest", "grass", "garden", "settle", "paddy", "irrigated", "dry")}
    noise = {name: f(x, y) for name, f in fields.items()}
    carved_idx = parcels["carved"].to_numpy()
    is_carved = carved_idx >= 0
    village = zones["village"].to_numpy()[parcels["zone"].to_numpy()]

    # broad rural uses: the best score wins (Gumbel noise mixes neighbours a little)
    near = np.clip(1.0 - lake_m / 6000.0, 0.0, 1.0)
    scores = np.column_stack([
        1.0 - 1.5 * hill + 0.35 * near + 0.5 * noise["farm"],           # farmland
        -0.4 + 2.3 * hill + 0.6 * noise["forest"],                       # forest
        -0.95 + 1.6 * hill + 0.45 * noise["grass"],                      # grass
        -0.35 + 0.6 * hill * (1.2 - hill) + 0.5 * noise["garden"],       # garden (slopes)
        -0.75 + 0.55 * noise["settle"] + 0.2 * near,                     # rural settlement
    ])  # fmt: skip
    scores += 0.22 * rng.gumbel(size=scores.shape)
    broad = np.argmax(scores, axis=1)
    code = np.empty(n, dtype=object)
    # farmland: paddy near the lake and in wet valleys, irrigated in between, dry land further out and higher
    farm_scores = np.column_stack([
        1.2 - lake_m / 4000.0 - 1.5 * hill + 0.5 * noise["paddy"],
        0.15 - 0.8 * hill + 0.5 * noise["irrigated"],
        -0.3 + lake_m / 8000.0 + 1.2 * hill + 0.5 * noise["dry"],
    ])  # fmt: skip
    farm_code = np.array(FARMLAND_CODES, dtype=object)[
        np.argmax(farm_scores + 0.15 * rng.gumbel(size=farm_scores.shape), axis=1)]
    code[broad == 0] = farm_code[broad == 0]
    forest_code = choose(rng, {"0301": 0.62, "0305": 0.25, "0307": 0.13}, n)
    code[broad == 1] = forest_code[broad == 1]
    grass_code = choose(rng, {"0404": 0.85, "0403": 0.15}, n)
    code[broad == 2] = grass_code[broad == 2]
    garden_code = np.where(hill > 0.45, choose(rng, {"0202": 0.5, "0201": 0.5}, n),
                           choose(rng, {"0201": 0.85, "0204": 0.15}, n))
    code[broad == 3] = garden_code[broad == 3]
    code[broad == 4] = "0702"

    # scattered small uses on rural parcels
    draw = rng.uniform(size=n)
    start = 0.0
    where = {"any": np.ones(n, dtype=bool), "near_lake": lake_m < 2000.0, "hill": hill > 0.5, "basin": hill < 0.35}
    for scattered_code, share, place in SCATTERED:
        hit = (draw >= start) & (draw < start + share) & where[place]
        code[hit] = scattered_code
        start += share

    # built-up areas
    built = urban * (1.0 - 0.5 * np.clip(hill, 0.0, 1.0)) > 0.4
    industry = terrain.city_use[city] == "industry"
    urban_code = choose(rng, URBAN_MIX, n)
    industry_code = choose(rng, INDUSTRY_MIX, n)
    code[built & ~industry] = urban_code[built & ~industry]
    code[built & industry] = industry_code[built & industry]

    # carved features keep their own code
    code[is_carved] = carved["code"].to_numpy()[carved_idx[is_carved]]

    # every village has farmland: where none, its largest ordinary parcel becomes farmland
    area = shapely.area(geoms)
    in_village = (village >= 0) & ~is_carved
    table = pd.DataFrame({"v": village[in_village], "farm": np.isin(code[in_village], FARMLAND_CODES),
                          "a": area[in_village], "i": np.flatnonzero(in_village)})
    has_farm = table.groupby("v")["farm"].any()
    lacking = table[table["v"].isin(has_farm.index[~has_farm.to_numpy()])]
    largest = lacking.sort_values(["v", "a", "i"], ascending=[True, False, True]).drop_duplicates("v")["i"].to_numpy()
    code[largest] = np.where(lake_m[largest] < 2500.0, "0101", "0103")

    planting = np.where(np.isin(code, FARMLAND_CODES), choose(rng, PLANTING, n), "")
    return pd.DataFrame({"DLBM": code.astype(str), "ZZSXDM": planting.astype(str), "hill": hill, "urban": urban,
                         "lake_m": lake_m}, index=parcels.index)


def names(codes: np.ndarray) -> np.ndarray:
    """DLMC (Chinese names) of codes, via :func:`kmrv_geo.landuse.code_name`."""
    series = pd.Series(np.asarray(codes, dtype=object))
    distinct = {c: landuse.code_name(c) for c in pd.unique(series)}
    return series.map(distinct).to_numpy(dtype=object)
