"""What each result table and column holds, as ``COMMENT ON TABLE/COLUMN`` text in the database.

Headings come from :data:`kmrv_geo.report.HEADINGS` (the tables' Chinese and English headings), what a figure
measures from the README's "What the columns measure" and "Outputs" (kept here once for the database; the
README is the reader's copy). Layers carry column keys (``illegal_mu``); tables carry the headings of the run's
language, as in ``tables/*.csv``: both are resolved to the key.
"""

from __future__ import annotations

from functools import cache

from ..report import HEADINGS, headings

TABLE_NOTES = {
    "change_patches": "change patches of T0 farmland (非农化/非粮化/补充 …) with verdicts; column source: vector "
                      "survey or raster land cover; a patch is split at county/township/village boundaries",
    "below_min_patches": "change patches below the minimum mapped size (thresholds.min_patch_m2)",
    "hsf_gaps": "PBF not yet built as HSF (高标准农田), ranked candidate blocks",
    "hsf_outside_farmland": "HSF lying outside current (T1) farmland",
    "hsf_to_construction": "HSF turned into construction land",
    "facility_sites": "contiguous farmland blocks of at least facility_site_min_mu 亩 (设施农业连片地块)",
    "abandoned_parcels": "farmland parcels whose growing-season NDVI stayed low for min_years consecutive years (撂荒)",
    "villages_profile": "one profile row per village: farmland, PBF, HSF, construction, findings",
    "village_construction": "construction land per village (layout review)",
    "village_review": "village plan review findings, one geometry per village and finding",
    "judged_patches": "monitoring patches (卫片执法) with verdict 合法/违法/待核实 and reasons",
    "judged_parts": "parts of judged patches with their own verdict, reasons and documents",
    "patches_not_judged": "monitoring patches outside every county or without T0 survey under them",
    "violations_by_county": "非农化/非粮化 figures per county (the last row holds the totals, as in the CSV and "
                            "report.xlsx)",
    "violations_by_village": "非农化/非粮化 figures per village (the last row holds the totals)",
    "balances_by_county": "占补平衡 and 进出平衡 per county with pass/fail (the last row holds the totals)",
    "pbf_conversion_by_county": "conversion on PBF by approval status per county (一冻结; the last row holds the "
                                "totals)",
    "coverage_by_county": "HSF coverage of PBF and farmland per county (the last row holds the totals)",
    "coverage_by_township": "HSF coverage of PBF and farmland per township",
    "coverage_by_village": "HSF coverage of PBF and farmland per village",
    "feature_accounting": "per input layer: features in, kept, repaired, rejected",
    "rejected_features": "input features rejected by the load checks, with the reason",
    "repaired_features": "input features repaired by the load checks, with areas before and after",
    "tbmj_mismatch": "land-use parcels whose TBMJ differs from the ellipsoidal area of their geometry",
    "kmrv_manifest": "the run that wrote this schema: manifest.json (inputs with checksums, config, versions, tables)",
}
"""Layer or table name → what it holds."""

COLUMN_NOTES = {
    "area_mu": "亩 of the feature or patch part, in the run's area kind (ellipsoidal by default)",
    "area_m2": "m² of the patch part, in the run's area kind",
    "area_mu_planar": "the same area measured planar in the analysis CRS (Gauss-Kruger)",
    "area_mu_ellipsoidal": "the same area measured on the CGCS2000/GRS80 ellipsoid",
    "net_mu": "farmland of the part net of 田坎 (NaN without ridge data)",
    "pbf_mu": "part ∩ permanent basic farmland (PBF)",
    "approved_mu": "part ∩ approvals (conversions to construction; empty without an approvals layer: not judged)",
    "illegal_mu": "part − approvals (conversions to construction; empty without an approvals layer: not judged)",
    "illegal_net_mu": "the illegal part net of 田坎",
    "illegal_pbf_mu": "the illegal part ∩ PBF",
    "nonagri_mu": "sum of the parts of 非农化 patches (farmland to construction)",
    "illegal_on_pbf_mu": "违法占永久基本农田: sum of illegal_pbf_mu",
    "nongrain_mu": "非粮化 parts (farmland to other agricultural use)",
    "nongrain_on_pbf_mu": "非粮化 parts ∩ PBF",
    "supplement_mu": "new farmland (non-farmland at T0, farmland at T1)",
    "other_mu": "other changes of T0 farmland",
    "no_t1_data_mu": "T0 farmland without T1 data",
    "changed_on_pbf_mu": "变化涉及永久基本农田: every change of T0 farmland ∩ PBF",
    "nonagri_net_mu": "nonagri_mu net of 田坎",
    "nongrain_net_mu": "nongrain_mu net of 田坎",
    "supplement_net_mu": "supplement_mu net of 田坎",
    "occupied_mu": "占补平衡: farmland occupied by construction",
    "supplemented_mu": "占补平衡: new farmland created",
    "out_mu": "进出平衡: farmland turned into other agricultural land",
    "back_in_mu": "进出平衡: other agricultural land turned back into farmland",
    "occupation_balance_mu": "supplemented − occupied (net of 田坎 where known)",
    "in_out_balance_mu": "back in − out (net of 田坎 where known)",
    "occupation_pass": "占补平衡 passes (balance ≥ 0)",
    "in_out_pass": "进出平衡 passes (balance ≥ 0)",
    "hsf_mu": "HSF ∩ zone",
    "hsf_on_pbf_mu": "HSF ∩ PBF ∩ zone",
    "pbf_gap_mu": "PBF ∩ zone not covered by HSF",
    "pbf_coverage": "hsf_on_pbf_mu / pbf_mu",
    "farmland_mu": "T1 farmland ∩ zone (gross)",
    "farmland_net_mu": "T1 farmland ∩ zone net of 田坎",
    "hsf_on_farmland_mu": "HSF on T1 farmland",
    "hsf_on_farmland_net_mu": "HSF on T1 farmland net of 田坎",
    "farmland_coverage": "HSF coverage of farmland (net ratio where known)",
    "construction_t1_mu": "T1 construction ∩ village",
    "new_construction_mu": "T1 construction ∩ village not construction at T0",
    "construction_on_pbf_mu": "T1 construction ∩ village ∩ PBF",
    "facility_sites_mu": "facility-site parts inside the village",
    "status": "verdict of the patch (illegal, approved, partly_approved, nongrain_on_pbf, nongrain, supplement, other, "
              "unverified)",
    "change_class": "class of change (nonagri, nongrain, supplement, other, no_t1_data)",
    "verdict": "verdict: legal 合法, illegal 违法, to_check 待核实",
    "legal_mu": "parts judged legal", "to_check_mu": "parts judged to check",
    "erl_mu": "part ∩ ecological red line (生态保护红线)", "udb_mu": "part ∩ urban development boundary (城镇开发边界)",
    "pbf_converted_mu": "construction on PBF", "pbf_converted_approved_mu": "its approved part (一冻结)",
    "source": "vector (two surveys) or raster (land cover)",
}
"""Column key → what it measures (areas in 亩 in the run's area kind unless the key names its kind)."""


@cache
def _inverse() -> dict[str, str]:
    """Heading (either language, either area kind) → column key."""
    from ..pipeline import ACCOUNTING_HEADINGS

    out: dict[str, str] = {}
    for lang in HEADINGS:
        for kind in (None, "ellipsoidal", "planar"):
            for key, heading in headings(lang, area_kind=kind).items():
                out.setdefault(heading, key)
        for key, heading in ACCOUNTING_HEADINGS.get(lang, {}).items():
            out.setdefault(heading, key)
    return out



def column_comment(column: str) -> str | None:
    """``key — 中文标题 / English heading: what it measures`` for a layer column (a key) or a table column (a
    heading); ``None`` for a column nothing is known of.
    """
    key = column if column in HEADINGS["zh"] else _inverse().get(column)
    if key is None:
        return None
    parts = [key]
    if key in HEADINGS["zh"]:
        parts.append(f"{HEADINGS['zh'][key]} / {HEADINGS['en'][key]}")
    if key in COLUMN_NOTES:
        parts.append(COLUMN_NOTES[key])
    return " — ".join(parts)


def table_comment(name: str, *, kind: str) -> str:
    """What table or layer ``name`` holds (``kind``: ``layer`` or ``table``) and where it comes from."""
    note = TABLE_NOTES.get(name, "")
    same = "results.gpkg layer" if kind == "layer" else f"tables/{name}.csv"
    return f"kmrv-geo {kind} {name}" + (f": {note}" if note else "") + f" (as {same}; the run: table kmrv_manifest)"
