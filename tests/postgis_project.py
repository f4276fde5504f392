"""A hand-made project (golden style: small enough to check by hand) whose layers can live in a GeoPackage or in
PostGIS, for the PostGIS tests.

Two counties of 4 × 2 parcels of 100 m × 100 m (EPSG:4543) around Dianchi: farmland turned to construction
(one parcel approved, one not, one on PBF), to orchard (非粮化, on PBF and off it), new farmland, a parcel without
a code, 田坎 shares (KCXS) and TBMJ; villages with Chinese names and a blank category; PBF, HSF (construction
year), approvals with 批准文号, temporary-use permits (end dates as text), the ecological red line and three
monitoring patches. Attribute text holds blanks and missing values, so that a database round trip that turned an
empty text into NULL (or back) would show.
"""

from __future__ import annotations

import geopandas as gpd
from shapely.geometry import Point, box

X0, Y0 = 560_000.0, 2_760_000.0
CRS = "EPSG:4543"


def cell(i: int, j: int, inset: float = 0.0):
    """Parcel (i, j): column i, row j of 100 m squares."""
    return box(X0 + 100 * i + inset, Y0 + 100 * j + inset, X0 + 100 * (i + 1) - inset, Y0 + 100 * (j + 1) - inset)


T0_CODES = ["0101", "0103", "0103", "0102", "0101", "0103", "0201", "0103"]
T1_CODES = ["0702", "0601", "0201", "0102", "0101", "", "0101", "0702"]
"""Row 0 then row 1 (four parcels each): T0 and T1 land-use codes."""


def layers() -> dict[str, gpd.GeoDataFrame]:
    """Layer name → GeoDataFrame."""
    parcels = [cell(i % 4, i // 4) for i in range(8)]
    names = {"0101": "水田", "0102": "水浇地", "0103": "旱地", "0201": "果园", "0601": "工业用地", "0702": "农村宅基地",
             "": ""}
    t0 = gpd.GeoDataFrame({
        "BSM": list(range(1, 9)), "DLBM": T0_CODES, "DLMC": [names[c] for c in T0_CODES],
        "KCXS": [0.12, 0.05, 0.0, 0.08, 0.1, 0.05, 0.0, 0.15],
        "ZLDWMC": ["大渔村", "大渔村", "", None, "海晏村", "海晏村", "海晏村", "大渔村"],
    }, geometry=parcels, crs=CRS)
    t1 = t0.assign(DLBM=T1_CODES, DLMC=[names[c] for c in T1_CODES], KCXS=[0.0, 0.0, 0.0, 0.08, 0.1, 0.05, 0.1, 0.0])
    county = gpd.GeoDataFrame({"XZQDM": ["530111", "530112"], "XZQMC": ["官渡区", "西山区"]},
                              geometry=[box(X0 - 50, Y0 - 50, X0 + 200, Y0 + 250),
                                        box(X0 + 200, Y0 - 50, X0 + 450, Y0 + 250)], crs=CRS)
    villages = gpd.GeoDataFrame({"CMC": ["大渔村", "海晏村<b>"], "CDM": ["530111001001", "530112002003"],
                                 "LX": ["重点村", ""]},
                                geometry=[box(X0, Y0, X0 + 200, Y0 + 200), box(X0 + 200, Y0, X0 + 400, Y0 + 200)],
                                crs=CRS)
    pbf = gpd.GeoDataFrame({"YJJBNTBH": ["P1", "P2"]}, geometry=[cell(0, 0), box(X0 + 200, Y0, X0 + 250, Y0 + 100)],
                           crs=CRS)
    hsf = gpd.GeoDataFrame({"XMMC": ["高标准农田一期", None], "JSND": [2019, 2021]},
                           geometry=[box(X0 + 300, Y0, X0 + 400, Y0 + 200), cell(0, 1)], crs=CRS)
    approvals = gpd.GeoDataFrame({"PZWH": ["云政地〔2023〕5号"]}, geometry=[cell(3, 1)], crs=CRS)
    temporary = gpd.GeoDataFrame({"PZWH": ["昆临用〔2022〕8号"], "JSRQ": ["2023/6/30"]},
                                 geometry=[box(X0 + 100, Y0, X0 + 150, Y0 + 50)], crs=CRS)
    erl = gpd.GeoDataFrame({"HXMC": ["示例红线"]}, geometry=[box(X0 + 150, Y0, X0 + 200, Y0 + 100)], crs=CRS)
    patches = gpd.GeoDataFrame({"JCBH": ["JC-1", "JC-2", "JC-3"], "BGHDL": ["0702", "", "0601"],
                                "HSX": ["2023-10-01", "2023-09-15", None]},
                               geometry=[cell(0, 0, inset=30), cell(3, 1, inset=20), cell(1, 0, inset=10)], crs=CRS)
    point = gpd.GeoDataFrame({"NAME": ["滇池"]}, geometry=[Point(X0 + 200, Y0 + 300).buffer(80)], crs=CRS)
    return {"county": county, "villages": villages, "landuse_2022": t0, "landuse_2023": t1, "pbf": pbf, "hsf": hsf,
            "approvals": approvals, "temporary": temporary, "erl": erl, "patches": patches, "dianchi": point}


ROLES = {
    "county": ("county", "code: XZQDM, name: XZQMC"),
    "villages": ("villages", "name: CMC, code: CDM, category: LX"),
    "landuse_t0": ("landuse_2022", "code: DLBM, id: BSM, year: 2022"),
    "landuse_t1": ("landuse_2023", "code: DLBM, id: BSM, year: 2023"),
    "pbf": ("pbf", None),
    "hsf": ("hsf", "year: JSND"),
    "approvals": ("approvals", "ref: PZWH"),
    "temporary_use": ("temporary", "end_date: JSRQ"),
    "erl": ("erl", None),
    "patches": ("patches", None),
    "lake": ("dianchi", None),
}
"""Role → (layer name, field mapping)."""


def config_text(path: str, *, table_prefix: str = "") -> str:
    """The project file with every role in ``path`` (a GeoPackage, or a database connection with the layers as
    tables ``table_prefix + layer name``).
    """
    lines = ["name: 手算项目（PostGIS 测试，合成数据）", "synthetic: true", "crs: EPSG:4543", "layers:"]
    for role, (layer, fields) in ROLES.items():
        extra = f", {fields}" if fields else ""
        lines.append(f'  {role}: {{path: "{path}", layer: {table_prefix}{layer}{extra}}}')
    lines += ["judge:", "  as_of: 2023-12-31"]
    return "\n".join(lines) + "\n"
