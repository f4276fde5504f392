"""Tables for handing over: headings in Chinese (or English), totals rows, an Excel workbook.

One dictionary of headings serves every table, CSV and Excel alike, so a column is called the same
everywhere.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from .landuse import code_name
from .text import clean_frame, clean_text, display_width

HEADINGS = {
    "zh": {
        "county_code": "区县代码", "county_name": "区县", "township": "乡镇", "village": "村", "patches": "图斑数",
        "patch_id": "图斑编号", "change_class": "变化类型", "status": "判定", "t0_code": "变化前地类编码",
        "t0_name": "变化前地类", "t1_code": "变化后地类编码", "t1_name": "变化后地类", "t0_category": "变化前大类",
        "basis": "依据", "area_m2": "面积(平方米)", "area_mu": "面积(亩)", "area_mu_ellipsoidal": "椭球面积(亩)",
        "area_mu_planar": "平面面积(亩)", "net_mu": "净面积(扣除田坎)(亩)", "pbf_mu": "永久基本农田(亩)",
        "illegal_net_mu": "违法面积(扣除田坎)(亩)", "illegal_pbf_mu": "违法部分占永久基本农田(亩)",
        "changed_on_pbf_mu": "变化涉及永久基本农田(亩)", "nonagri_net_mu": "非农化(扣除田坎)(亩)",
        "nongrain_net_mu": "非粮化(扣除田坎)(亩)", "supplement_net_mu": "新增耕地(扣除田坎)(亩)",
        "occupied_net_mu": "建设占用耕地(扣除田坎)(亩)", "supplemented_net_mu": "补充耕地(扣除田坎)(亩)",
        "out_net_mu": "耕地流出(扣除田坎)(亩)", "back_in_net_mu": "耕地流入(扣除田坎)(亩)",
        "farmland_net_mu": "耕地(扣除田坎)(亩)", "hsf_on_farmland_net_mu": "耕地中高标准农田(扣除田坎)(亩)",
        "tbmj_m2": "图斑面积TBMJ(平方米)", "geometry_m2": "图形椭球面积(平方米)", "difference_share": "相差比例",
        "layer_role": "图层角色", "operation": "叠加运算", "area_before_m2": "原结果面积(平方米)",
        "area_after_m2": "重算面积(平方米)", "method": "重算方法", "x": "X坐标", "y": "Y坐标",
        "approved_mu": "批准面积(亩)", "illegal_mu": "违法面积(亩)", "source": "数据来源",
        "nonagri_mu": "非农化(亩)", "illegal_on_pbf_mu": "违法占永久基本农田(亩)", "nongrain_mu": "非粮化(亩)",
        "nongrain_on_pbf_mu": "永久基本农田非粮化(亩)", "supplement_mu": "新增耕地(亩)", "other_mu": "其他变化(亩)",
        "no_t1_data_mu": "后时相无数据(亩)", "occupied_mu": "建设占用耕地(亩)", "supplemented_mu": "补充耕地(亩)",
        "occupation_balance_mu": "占补净值(亩)", "occupation_pass": "占补平衡", "out_mu": "耕地流出(亩)",
        "back_in_mu": "耕地流入(亩)", "in_out_balance_mu": "进出净值(亩)", "in_out_pass": "进出平衡",
        "hsf_mu": "高标准农田(亩)", "hsf_on_pbf_mu": "永农中已建高标准农田(亩)", "pbf_coverage": "永农高标覆盖率",
        "pbf_gap_mu": "永农未建高标(亩)", "farmland_mu": "耕地(亩)", "hsf_on_farmland_mu": "耕地中高标准农田(亩)",
        "farmland_coverage": "耕地高标覆盖率", "outside": "不在耕地上的时相", "rank": "排序", "compactness": "紧凑度",
        "site_id": "地块编号", "parcels": "所含图斑数", "pbf_share": "永农占比", "on_pbf": "涉及永农",
        "farmland_parcels": "耕地图斑数", "mean_parcel_mu": "平均图斑面积(亩)", "share_under_1mu": "小于1亩图斑占比",
        "parcels_per_100mu": "每百亩图斑数", "village_code": "村代码", "category": "类别",
        "construction_t1_mu": "建设用地(亩)", "new_construction_mu": "新增建设用地(亩)",
        "construction_on_pbf_mu": "建设用地占永农(亩)", "abandoned_mu": "撂荒(亩)", "facility_sites": "设施农业地块数",
        "facility_sites_mu": "设施农业地块面积(亩)", "distance_to_shore_m": "距湖岸(米)", "protection_zone": "保护区",
        "rank_illegal": "违法面积排名", "rank_gap": "高标缺口排名", "village_row": "序号",
        "hsf_year": "建设年度", "hsf_features": "高标准农田图斑数",
        "parcel_id": "图斑标识码", "code": "地类编码", "valid_share": "有效像元占比", "changed_share": "变化占比",
        "to_nonagri_share": "变为建设占比", "to_nongrain_share": "变为其他农用地占比", "to_other_share": "变为其他占比",
        "no_valid_pixels": "无有效像元", "years_low": "低值年份", "n_years_low": "连续低值年数",
        "first_low_year": "开始年份", "still_low": "末年仍低", "years_no_data": "无数据年份",
        "abandoned_parcels": "撂荒图斑数", "abandoned_on_pbf_mu": "撂荒占永农(亩)", "still_low_mu": "末年仍撂荒(亩)",
        "village_key": "村标识", "finding": "审查发现代码", "finding_text": "审查发现",
        "new_mu": "其中未建部分(亩)",
        "lake_zone_source": "湖区分区来源", "has_plan": "有村庄规划", "has_boundary": "有村庄建设边界", "theme": "主题",
        "theme_missing": "重点村缺主题", "built_outside_boundary_mu": "建设边界外现状建设(亩)",
        "new_built_outside_boundary_mu": "建设边界外新增建设(亩)",
        "planned_on_pbf_mu": "规划建设占永农(亩)", "planned_in_erl_mu": "规划建设在生态红线内(亩)",
        "planned_in_udb_mu": "规划建设与城镇开发边界重叠(亩)", "planned_farmland_loss_mu": "耕地规划为非农用途(亩)",
        "new_built_in_lake_zone1_mu": "一级保护区新增建设(亩)",
        "new_built_in_lake_zone2_mu": "二级保护区新增建设(亩)",
        "planned_construction_mu": "规划建设用地(亩)", "current_construction_mu": "现状建设用地(亩)",
        "construction_change_mu": "建设用地规划增减(亩)", "findings": "审查发现数", "t0_mu": "前时相(亩)",
        "t1_mu": "后时相(亩)", "change_mu": "变化(亩)",
        "verdict": "判定结果代码",
        "verdict_text": "判定结果", "partly": "部分判定", "reasons": "判定依据代码",
        "reason_text": "判定依据", "erl_mu": "生态保护红线(亩)", "udb_mu": "城镇开发边界内(亩)",
        "legal_mu": "合法面积(亩)",
        "to_check_mu": "待核实面积(亩)", "pbf_converted_mu": "建设占用永久基本农田(亩)",
        "pbf_converted_approved_mu": "其中已批占用永久基本农田(亩)", "approved_pbf_mu": "已批部分占永久基本农田(亩)",
        "approval_refs": "农转用/征收批准文号", "facility_mu": "设施农用地备案范围内(亩)",
        "facility_refs": "设施农用地备案编号",
        "temporary_mu": "临时用地范围内(亩)", "temporary_refs": "临时用地批准文号", "temporary_end": "临时用地到期日期",
        "supplement_project_mu": "补充耕地项目范围内(亩)", "supplement_refs": "补充耕地项目编号",
        "outside_t0_mu": "前时相未覆盖(亩)", "t0_classes": "前时相地类构成(亩)", "before_code": "图斑变化前地类",
        "after_code": "现状地类编码", "after_name": "现状地类", "after_source": "现状地类来源",
        "image_date": "后时相日期",
        "judged_at": "临时用地判定日期", "lon": "经度", "lat": "纬度", "machine_verdict": "预判结果代码",
        "machine_illegal_mu": "预判违法面积(亩)",
        "field_verdict": "核查结论代码", "field_use": "实际用途", "photo_ids": "照片编号", "checker": "核查人",
        "check_date": "核查日期", "part": "部分序号", "refs": "所依据文号", "in_pbf": "在永久基本农田内",
        "in_erl": "在生态保护红线内", "reason": "未判定原因代码", "legal_patches": "合法图斑数",
        "illegal_patches": "违法图斑数", "to_check_patches": "待核实图斑数", "fid": "要素编号", "field": "字段",
        "value": "值", "sheet_row": "表格行号", "reason_code": "原因代码",
        "pbf_converted_unjudged_mu": "占用永久基本农田未判定(亩)",
    },
    "en": {
        "county_code": "county code", "county_name": "county", "township": "township", "village": "village",
        "patches": "patches", "patch_id": "patch id", "change_class": "change class", "status": "verdict",
        "t0_code": "code before", "t0_name": "use before", "t1_code": "code after", "t1_name": "use after",
        "t0_category": "category before", "basis": "basis", "area_m2": "area (m²)", "area_mu": "area (mu)",
        "area_mu_ellipsoidal": "ellipsoidal area (mu)", "area_mu_planar": "planar area (mu)",
        "net_mu": "net of ridges (mu)", "pbf_mu": "PBF (mu)", "illegal_net_mu": "illegal net of ridges (mu)",
        "illegal_pbf_mu": "illegal part on PBF (mu)", "changed_on_pbf_mu": "changes on PBF (mu)",
        "nonagri_net_mu": "to construction net of ridges (mu)", "nongrain_net_mu": "non-grain net of ridges (mu)",
        "supplement_net_mu": "new farmland net of ridges (mu)", "occupied_net_mu": "occupied net of ridges (mu)",
        "supplemented_net_mu": "supplemented net of ridges (mu)", "out_net_mu": "out net of ridges (mu)",
        "back_in_net_mu": "back in net of ridges (mu)", "farmland_net_mu": "farmland net of ridges (mu)",
        "hsf_on_farmland_net_mu": "HSF on farmland net of ridges (mu)", "tbmj_m2": "recorded TBMJ (m²)",
        "geometry_m2": "ellipsoidal area of geometry (m²)", "difference_share": "difference share",
        "layer_role": "layer role", "operation": "overlay operation", "area_before_m2": "area GEOS gave (m²)",
        "area_after_m2": "area recomputed (m²)", "method": "method", "x": "x", "y": "y", "approved_mu": "approved (mu)",
        "illegal_mu": "illegal (mu)", "source": "source", "nonagri_mu": "to construction (mu)",
        "illegal_on_pbf_mu": "illegal on PBF (mu)", "nongrain_mu": "non-grain (mu)",
        "nongrain_on_pbf_mu": "non-grain on PBF (mu)", "supplement_mu": "new farmland (mu)", "other_mu": "other (mu)",
        "no_t1_data_mu": "no T1 data (mu)", "occupied_mu": "occupied by construction (mu)",
        "supplemented_mu": "supplemented (mu)", "occupation_balance_mu": "occupation net (mu)",
        "occupation_pass": "occupation balance", "out_mu": "out to other agri (mu)", "back_in_mu": "back in (mu)",
        "in_out_balance_mu": "in/out net (mu)", "in_out_pass": "in/out balance",
        "hsf_mu": "HSF (mu)", "hsf_on_pbf_mu": "HSF on PBF (mu)", "pbf_coverage": "PBF coverage",
        "pbf_gap_mu": "PBF not yet HSF (mu)", "farmland_mu": "farmland (mu)",
        "hsf_on_farmland_mu": "HSF on farmland (mu)",
        "farmland_coverage": "farmland coverage", "outside": "off farmland at", "rank": "rank",
        "compactness": "compactness", "site_id": "site id", "parcels": "parcels", "pbf_share": "PBF share",
        "on_pbf": "on PBF", "farmland_parcels": "farmland parcels", "mean_parcel_mu": "mean parcel (mu)",
        "share_under_1mu": "share under 1 mu", "parcels_per_100mu": "parcels per 100 mu",
        "village_code": "village code", "category": "category", "construction_t1_mu": "construction (mu)",
        "new_construction_mu": "new construction (mu)",
        "construction_on_pbf_mu": "construction on PBF (mu)", "abandoned_mu": "abandoned (mu)",
        "facility_sites": "facility sites", "facility_sites_mu": "facility sites (mu)",
        "distance_to_shore_m": "distance to shore (m)", "protection_zone": "protection zone",
        "rank_illegal": "rank by illegal area", "rank_gap": "rank by HSF gap", "village_row": "row",
        "hsf_year": "construction year", "hsf_features": "HSF features",
        "parcel_id": "parcel id", "code": "land-use code", "valid_share": "valid pixel share",
        "changed_share": "changed share", "to_nonagri_share": "to construction share",
        "to_nongrain_share": "to other agricultural share", "to_other_share": "to other share",
        "no_valid_pixels": "no valid pixels", "years_low": "low years", "n_years_low": "consecutive low years",
        "first_low_year": "first low year", "still_low": "still low in last year",
        "years_no_data": "years without data",
        "abandoned_parcels": "abandoned parcels", "abandoned_on_pbf_mu": "abandoned on PBF (mu)",
        "still_low_mu": "still low in last year (mu)",
        "village_key": "village key", "finding": "finding code", "finding_text": "finding",
        "new_mu": "of which not built today (mu)",
        "lake_zone_source": "lake zones from", "has_plan": "has a plan", "has_boundary": "has a construction boundary",
        "theme": "theme", "theme_missing": "key village without theme",
        "built_outside_boundary_mu": "built outside boundary (mu)",
        "new_built_outside_boundary_mu": "new built outside boundary (mu)",
        "planned_on_pbf_mu": "planned construction on PBF (mu)",
        "planned_in_erl_mu": "planned construction in ERL (mu)",
        "planned_in_udb_mu": "planned construction in UDB (mu)",
        "planned_farmland_loss_mu": "farmland planned non-agricultural (mu)",
        "new_built_in_lake_zone1_mu": "new construction in lake zone 1 (mu)",
        "new_built_in_lake_zone2_mu": "new construction in lake zone 2 (mu)",
        "planned_construction_mu": "planned construction land (mu)",
        "current_construction_mu": "current construction land (mu)",
        "construction_change_mu": "planned change of construction land (mu)", "findings": "findings",
        "t0_mu": "T0 (mu)", "t1_mu": "T1 (mu)", "change_mu": "change (mu)",
        "verdict": "verdict code",
        "verdict_text": "verdict text", "partly": "split verdict", "reasons": "reason codes",
        "reason_text": "reasons", "erl_mu": "ecological red line (mu)", "udb_mu": "inside urban boundary (mu)",
        "legal_mu": "legal (mu)", "to_check_mu": "to check (mu)",
        "pbf_converted_mu": "PBF converted to construction (mu)",
        "pbf_converted_approved_mu": "of which approved (mu)", "approved_pbf_mu": "approved part on PBF (mu)",
        "approval_refs": "conversion approvals", "facility_mu": "inside facility filings (mu)",
        "facility_refs": "facility filings", "temporary_mu": "inside temporary use (mu)",
        "temporary_refs": "temporary-use permits", "temporary_end": "temporary use ends",
        "supplement_project_mu": "inside supplement projects (mu)", "supplement_refs": "supplement projects",
        "outside_t0_mu": "outside T0 survey (mu)", "t0_classes": "T0 classes (mu)",
        "before_code": "code before (patch)",
        "after_code": "current code", "after_name": "current use", "after_source": "current use from",
        "image_date": "after image date", "judged_at": "temporary use judged at", "lon": "longitude",
        "lat": "latitude", "machine_verdict": "prefilled verdict", "machine_illegal_mu": "prefilled illegal (mu)",
        "field_verdict": "field verdict",
        "field_use": "actual use", "photo_ids": "photo numbers", "checker": "checked by", "check_date": "check date",
        "part": "part", "refs": "documents", "in_pbf": "in PBF", "in_erl": "in ERL", "reason": "why not judged",
        "legal_patches": "legal patches", "illegal_patches": "illegal patches", "to_check_patches": "patches to check",
        "fid": "feature id", "field": "field", "value": "value", "sheet_row": "sheet row",
        "reason_code": "reason code",
        "pbf_converted_unjudged_mu": "construction on PBF not judged (mu)",
    },
}  # fmt: skip
VALUES = {
    "zh": {
        "illegal": "违法", "partly_approved": "部分批准", "approved": "已批准", "unverified": "无批准数据未判定",
        "nongrain_on_pbf": "永久基本农田非粮化", "nongrain": "非粮化", "supplement": "新增耕地", "other": "其他",
        "nonagri": "非农化", "no_t1_data": "后时相无数据", "land_use": "地类", "planting_attribute": "种植属性",
        "land_cover": "遥感土地覆盖", "official": "官方分区", "approximation": "近似（湖岸缓冲，非官方）",
        True: "是", False: "否",
    },
    "en": {True: "yes", False: "no", "approximation": "approximation (buffers of the shore, not official)"},
}  # fmt: skip
PASS_VALUES = {"zh": {True: "达标", False: "未达标"}, "en": {True: "pass", False: "fail"}}
"""How the balance flags (``occupation_pass``, ``in_out_pass``) read; other flags read yes/no (是/否)."""
TOTAL_LABEL = {"zh": "合计", "en": "Total"}
VERDICT_WPZF = {"illegal": "违法", "partly_approved": "违法", "nongrain_on_pbf": "违法", "approved": "合法"}
"""卫片执法 verdict per status; everything else is 其他."""


AREA_KIND_SUFFIX = {
    "zh": {"ellipsoidal": ("(亩)", "(亩·椭球)"), "planar": ("(亩)", "(亩·平面)")},
    "en": {"ellipsoidal": ("(mu)", "(mu, ellipsoidal)"), "planar": ("(mu)", "(mu, planar)")},
}
"""How an area heading names the run's area kind: ``(亩)`` becomes ``(亩·椭球)`` or ``(亩·平面)``."""
_EXPLICIT_KIND = ("area_mu_planar", "area_mu_ellipsoidal")


def localise(table: pd.DataFrame, lang: str = "zh", *, area_kind: str | None = None) -> pd.DataFrame:
    """Rename columns to the headings of ``lang`` and translate coded values (status, class, pass flags).

    Parameters
    ----------
    table : DataFrame
        Columns named by their keys (``illegal_mu`` …).
    lang : {"zh", "en"}
    area_kind : {"ellipsoidal", "planar"}, optional
        The run's area kind: every 亩 heading then says it (``面积(亩·椭球)``); the columns that name
        their kind themselves (``area_mu_planar``, ``area_mu_ellipsoidal``) are left as they are.
    """
    out = table.copy()
    values = VALUES.get(lang, {})
    for column in ("status", "change_class", "basis", "on_pbf", "still_low", "no_valid_pixels", "partly", "in_pbf",
                   "in_erl", "has_plan", "has_boundary", "theme_missing"):
        if column in out and values:
            out[column] = out[column].map(lambda v: values.get(v, v))
    if "lake_zone_source" in out and values:
        out["lake_zone_source"] = out["lake_zone_source"].map(lambda v: values.get(v, v))
    for column in ("occupation_pass", "in_out_pass"):
        if column in out:
            out[column] = out[column].map(lambda v: PASS_VALUES[lang].get(v, v))
    yearly = {"ndvi": "NDVI", "valid": "有效像元占比" if lang == "zh" else "valid share"}
    names = {c: f"{yearly[c.split('_')[0]]} {c.split('_')[1]}" for c in out.columns
             if isinstance(c, str) and c.count("_") == 1 and c.split("_")[0] in yearly and c.split("_")[1].isdigit()}
    return out.rename(columns={**headings(lang, area_kind=area_kind), **names})


def headings(lang: str = "zh", *, area_kind: str | None = None) -> dict[str, str]:
    """Column key → heading in ``lang``; with ``area_kind`` every 亩 heading names it (``面积(亩·椭球)``)."""
    out = dict(HEADINGS[lang])
    if area_kind is not None:
        plain, marked = AREA_KIND_SUFFIX[lang][area_kind]
        out = {k: v.replace(plain, marked) if k.endswith("_mu") and k not in _EXPLICIT_KIND else v
               for k, v in out.items()}
    return out


def wpzf_sheet(patches: pd.DataFrame, *, t0_year=None, t1_year=None) -> pd.DataFrame:
    """The patch list in the shape of a 卫片执法 (satellite enforcement) patch record.

    Columns XZQDM, XZQMC, JCBH, QSX, HSX, BGQDL, BGHDL, SFYN, MJ, 面积(亩), 违法面积(亩), 判定 — so the
    sheet can be handed over as is — and 占用永农已批(一冻结): an approved part lies on PBF (flagged whatever
    the approval says). Only conversions of farmland are listed (new farmland is not).
    """
    p = patches[patches["change_class"] != "supplement"]
    return pd.DataFrame({
        "XZQDM": p["county_code"].to_numpy(),
        "XZQMC": p["county_name"].to_numpy(),
        "JCBH": p["patch_id"].to_numpy(),
        "QSX": "" if t0_year is None else str(t0_year),
        "HSX": "" if t1_year is None else str(t1_year),
        "BGQDL": [f"{c} {code_name(c)}".strip() for c in p["t0_code"]],
        "BGHDL": [f"{c} {code_name(c)}".strip() for c in p["t1_code"]],
        "SFYN": ["是" if v > 0 else "否" for v in p["pbf_mu"].fillna(0.0)],
        "MJ": p["area_m2"].round(2).to_numpy(),
        "面积(亩)": p["area_mu"].round(4).to_numpy(),
        "违法面积(亩)": (p["illegal_mu"].fillna(0.0) + p["pbf_mu"].where(p["status"] == "nongrain_on_pbf", 0.0)
                     .fillna(0.0)).round(4).to_numpy(),
        "判定": p["status"].map(lambda s: VERDICT_WPZF.get(s, "其他")).to_numpy(),
        "占用永农已批(一冻结)": ["是" if v > 0 else "否" for v in p["approved_pbf_mu"].fillna(0.0)],
    })  # fmt: skip


def wpzf_judged_sheet(judged: pd.DataFrame) -> pd.DataFrame:
    """Judged monitoring patches in the shape of a 卫片执法 record, for handing over as is.

    Columns XZQDM, XZQMC, JCBH, HSX, BGQDL (the T0 class of the largest part; all of them by 亩 beside it),
    BGHDL, SFYN (touches PBF), MJ (m²), 面积(亩),
    违法面积(亩), 判定 (合法/违法/其他: 待核实 reads 其他 as in official records), 判定依据, 批准文号.
    """
    refs = judged[["approval_refs", "facility_refs", "temporary_refs", "supplement_refs"]].fillna("")
    main = [text.split(";")[0].split(":")[0] if text else "" for text in judged["t0_classes"].fillna("")]
    return pd.DataFrame({
        "XZQDM": judged["county_code"].to_numpy(),
        "XZQMC": judged["county_name"].to_numpy(),
        "JCBH": judged["patch_id"].to_numpy(),
        "HSX": judged["image_date"].to_numpy(),
        "BGQDL": [f"{c} {code_name(c)}".strip() if c != "none" else "" for c in main],
        "前时相地类构成(亩)": judged["t0_classes"].to_numpy(),
        "BGHDL": [f"{c} {n}".strip() for c, n in zip(judged["after_code"], judged["after_name"], strict=True)],
        "SFYN": ["是" if v > 0 else "否" for v in judged["pbf_mu"].fillna(0.0)],
        "MJ": (judged["area_mu"] * 10_000 / 15).round(2).to_numpy(),
        "面积(亩)": judged["area_mu"].round(4).to_numpy(),
        "违法面积(亩)": judged["illegal_mu"].round(4).to_numpy(),
        "判定": judged["verdict"].map({"legal": "合法", "illegal": "违法"}).fillna("其他").to_numpy(),
        "判定依据": judged["reason_text"].to_numpy(),
        "批准文号": ["；".join(v for v in row if v) for row in refs.itertuples(index=False)],
    })  # fmt: skip


AREA_NOTE = {
    "zh": "面积口径：{kind}；“扣除田坎”列为净面积（毛面积 ×（1 − 扣除地类系数）），其余为毛面积。"
          "1 亩 = 10000/15 平方米。",
    "en": "Areas: {kind}; columns 'net of ridges' are net (gross × (1 − ridge share)), the others gross. "
          "1 mu = 10000/15 m².",
}
"""The note each sheet's print header and the workbook's 说明 sheet carry: what the figures measure."""


def number_format(heading: str) -> str | None:
    """The Excel number format of a column, from its heading: 亩 and m² with 2 decimals, shares as percent.

    Examples
    --------
    >>> number_format("违法面积(亩·椭球)"), number_format("永农高标覆盖率"), number_format("区县")
    ('#,##0.00', '0.0%', None)
    """
    text = str(heading)
    if "(亩" in text or "(mu" in text or "(平方米)" in text or "(m²)" in text or text in ("MJ", "面积(亩)"):
        return "#,##0.00"
    if text.endswith(("率", "占比", "比例")) or "share" in text or "coverage" in text:
        return "0.0%"
    if text.endswith(("(米)", "(m)")):
        return "#,##0"
    return None



FORMULA_START = ("=", "+", "-", "@")
"""A text starting with one of these would be read as a formula when edited in Excel/WPS: it is stored as text
with Excel's quote prefix."""


def write_workbook(path: str | Path, sheets: dict[str, pd.DataFrame], *, note: str | None = None) -> None:
    """Write tables as sheets of one .xlsx that reads well: headings bold, header row frozen, an autofilter,
    columns as wide as their Chinese headings and values, 亩 with 2 decimals, shares as percent, totals rows
    (合计/Total) bold, and ``note`` (what the areas measure) in each sheet's print header and a first
    说明 sheet. Values keep full precision (only the display is rounded; float noise below :data:`NOISE` is
    stored as 0); text is always stored as text (a village or document named ``=…`` is never a formula);
    missing values and empty text are empty cells.

    Written with XlsxWriter row by row (a city's ten thousand patches: seconds, where openpyxl took ten).

    Parameters
    ----------
    path : str or Path
        The workbook to write (the caller makes the write atomic).
    sheets : dict
        Sheet name (≤ 31 characters) → table, already localised.
    note : str, optional
        What the figures measure (e.g. :data:`AREA_NOTE` filled in); without it no 说明 sheet.
    """
    import xlsxwriter

    totals = set(TOTAL_LABEL.values())
    options = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
               "constant_memory": True}
    with xlsxwriter.Workbook(str(path), options) as book:
        formats: dict[tuple, object] = {}

        def style(bold: bool = False, number: str | None = None, quote: bool = False, date: bool = False):
            key = (bold, number, quote, date)
            if key not in formats:
                spec = {"bold": bold} if bold else {}
                if number:
                    spec["num_format"] = number
                if date:
                    spec["num_format"] = "yyyy-mm-dd"
                if quote:
                    spec["quote_prefix"] = True
                formats[key] = book.add_format(spec) if spec else None
            return formats[key]

        heading = book.add_format({"bold": True, "text_wrap": True, "valign": "vcenter", "border": 1})
        if note:
            sheet = book.add_worksheet("说明")
            sheet.set_column(0, 0, 120)
            sheet.write_string(0, 0, "说明 / notes", heading)
            sheet.write_string(1, 0, clean_text(note), book.add_format({"text_wrap": True, "valign": "top"}))
        for name, table in sheets.items():
            table = clean_frame(table)[0]
            sheet = book.add_worksheet(clean_text(name)[:31])
            n_cols = max(len(table.columns), 1)
            numbers = [number_format(h) for h in table.columns]
            for j, column in enumerate(table.columns):
                values = [display_width(v) for v in table.iloc[:200, j].astype(str)] if len(table) else []
                if numbers[j]:  # numbers are shown rounded: their shown width, not their full precision
                    values = [min(v, 14) for v in values]
                width = max([display_width(column), *values]) + 2
                sheet.set_column(j, j, min(max(8, width), 45))
            sheet.freeze_panes(1, 0)
            if len(table.columns):
                sheet.autofilter(0, 0, len(table), n_cols - 1)
            if note:
                sheet.set_header("&C" + note[:250].replace("&", "&&"))
            for j, column in enumerate(table.columns):
                sheet.write_string(0, j, clean_text(str(column)), heading)
            for r, row in enumerate(table.itertuples(index=False, name=None), start=1):
                bold = any(isinstance(v, str) and v in totals for v in row)
                for j, value in enumerate(row):
                    _write_cell(sheet, r, j, value, numbers[j], bold, style)


NOISE = 1e-9
"""Numbers of a smaller magnitude are float noise of a difference (−1.7e-13 亩 where two equal areas were
subtracted): stored as 0, so that Excel shows 0.00 and not −0.00."""


def _write_cell(sheet, r: int, j: int, value, number: str | None, bold: bool, style) -> None:
    """One value as Excel shows it: text as text, numbers and booleans as such, dates as dates; missing values and
    empty text leave the cell empty (blank for Excel's ISBLANK and Go To → Blanks).
    """
    if isinstance(value, str) and value:
        sheet.write_string(r, j, value, style(bold, quote=value.startswith(FORMULA_START)))
    elif isinstance(value, str):
        if bold:
            sheet.write_blank(r, j, None, style(bold, number))
    elif isinstance(value, (bool, np.bool_)):
        sheet.write_boolean(r, j, bool(value), style(bold))
    elif isinstance(value, (int, float, np.integer, np.floating)):
        if np.isfinite(value):
            if isinstance(value, (float, np.floating)):
                value = 0.0 if abs(value) < NOISE else float(value)
            sheet.write_number(r, j, value if isinstance(value, float) else int(value), style(bold, number))
        elif bold:
            sheet.write_blank(r, j, None, style(bold, number))
    elif isinstance(value, (pd.Timestamp, datetime.datetime, datetime.date, np.datetime64)):
        if not pd.isna(value):
            sheet.write_datetime(r, j, pd.Timestamp(value).to_pydatetime(), style(bold, date=True))
    elif value is None or value is pd.NA or value is pd.NaT:
        if bold:
            sheet.write_blank(r, j, None, style(bold, number))
    else:
        text = clean_text(str(value))
        if text:
            sheet.write_string(r, j, text, style(bold, quote=text.startswith(FORMULA_START)))
