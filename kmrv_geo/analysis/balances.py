"""Per-county tables of violations and the two balances (两平衡, project rule, DOMAIN.md).

- 占补平衡 (occupation vs. supplement): farmland occupied by construction (``nonagri``) against new
  farmland made from the T0 categories in ``supplement_sources`` (default: construction, other and
  unknown land).
- 进出平衡 (out vs. back in): farmland turned into other agricultural land (``nongrain`` by land use)
  against farmland regained from the categories in ``back_in_sources`` (default: other agricultural).

Since 2026 Yunnan folds tree, fruit and tea planting into 占补平衡 ("以补定占"): move
``other_agricultural`` into ``supplement_sources`` in the config to follow it. Patches below the
minimum mapped size are left out of both (they are listed on their own).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import landuse
from .changes import NONAGRI, NONGRAIN, OTHER, SUPPLEMENT


@dataclass(frozen=True)
class BalanceRules:
    """Which T0 categories of new farmland count for which balance."""

    supplement_sources: tuple[str, ...] = (landuse.CONSTRUCTION, landuse.OTHER, landuse.UNKNOWN)
    back_in_sources: tuple[str, ...] = (landuse.OTHER_AGRICULTURAL,)


def _sum_where(frame: pd.DataFrame, mask, column: str, keys: list[str]) -> pd.Series:
    return frame[mask].groupby(keys, dropna=False)[column].sum()


def judged(patches: pd.DataFrame) -> bool:
    """Whether the conversions to construction were judged against approvals (an approvals layer was given)."""
    nonagri = patches[patches["change_class"] == NONAGRI]
    return nonagri.empty or bool(nonagri["illegal_mu"].notna().any())


def has_net(patches: pd.DataFrame) -> bool:
    """Whether the patches carry net-of-田坎 figures (the land-use layers had ridge data)."""
    return "net_mu" in patches and bool(patches["net_mu"].notna().any())


def violations_table(patches: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Violation totals (亩) per area unit; each figure sums the areas of the patch parts it names.

    Parameters
    ----------
    patches : DataFrame
        ``change_patches`` (see :mod:`kmrv_geo.analysis.violations`), located parts.
    keys : list of str
        Grouping columns, e.g. ``["county_code", "county_name"]``.

    Returns
    -------
    DataFrame
        One row per unit: ``patches`` (count), ``nonagri_mu`` (farmland to construction), ``approved_mu``
        (its part inside approvals), ``illegal_mu`` (its part outside), ``illegal_on_pbf_mu`` (the illegal
        part ∩ PBF), ``nongrain_mu``, ``nongrain_on_pbf_mu`` (non-grain part ∩ PBF), ``supplement_mu``
        (new farmland), ``other_mu``, ``no_t1_data_mu``, ``changed_on_pbf_mu`` (every change of T0
        farmland ∩ PBF); with ridge data also ``nonagri_net_mu``, ``illegal_net_mu``, ``nongrain_net_mu``,
        ``supplement_net_mu`` (net of 田坎).
    """
    p = patches
    cls = p["change_class"]
    columns = {
        "patches": p.groupby(keys, dropna=False)["patch_id"].count(),
        "nonagri_mu": _sum_where(p, cls == NONAGRI, "area_mu", keys),
        "approved_mu": _sum_where(p, cls == NONAGRI, "approved_mu", keys),
        "illegal_mu": _sum_where(p, cls == NONAGRI, "illegal_mu", keys),
        "illegal_on_pbf_mu": _sum_where(p, cls == NONAGRI, "illegal_pbf_mu", keys),
        "nongrain_mu": _sum_where(p, cls == NONGRAIN, "area_mu", keys),
        "nongrain_on_pbf_mu": _sum_where(p, cls == NONGRAIN, "pbf_mu", keys),
        "supplement_mu": _sum_where(p, cls == SUPPLEMENT, "area_mu", keys),
        "other_mu": _sum_where(p, cls == OTHER, "area_mu", keys),
        "no_t1_data_mu": _sum_where(p, cls == "no_t1_data", "area_mu", keys),
        "changed_on_pbf_mu": _sum_where(p, cls != SUPPLEMENT, "pbf_mu", keys),
    }
    if has_net(p):
        columns |= {
            "nonagri_net_mu": _sum_where(p, cls == NONAGRI, "net_mu", keys),
            "illegal_net_mu": _sum_where(p, cls == NONAGRI, "illegal_net_mu", keys),
            "nongrain_net_mu": _sum_where(p, cls == NONGRAIN, "net_mu", keys),
            "supplement_net_mu": _sum_where(p, cls == SUPPLEMENT, "net_mu", keys),
        }
    order = ["patches", "nonagri_mu", "nonagri_net_mu", "approved_mu", "illegal_mu", "illegal_net_mu",
             "illegal_on_pbf_mu", "nongrain_mu", "nongrain_net_mu", "nongrain_on_pbf_mu", "supplement_mu",
             "supplement_net_mu", "other_mu", "no_t1_data_mu", "changed_on_pbf_mu"]
    table = pd.DataFrame(columns).fillna({"patches": 0}).fillna(0.0)
    table = table[[c for c in order if c in table]]
    if not judged(p):  # no approvals layer: conversions are not judged, so "illegal" is unknown, never 0
        unjudged = table["nonagri_mu"] > 0
        for column in ("approved_mu", "illegal_mu", "illegal_net_mu", "illegal_on_pbf_mu"):
            if column in table:
                table.loc[unjudged, column] = np.nan
    table["patches"] = table["patches"].astype(int)
    return table.reset_index().sort_values(keys, ignore_index=True)


def balances_table(patches: pd.DataFrame, *, rules: BalanceRules = BalanceRules(),
                   keys: tuple[str, ...] = ("county_code", "county_name")) -> pd.DataFrame:
    """The two balances per county.

    Returns
    -------
    DataFrame
        ``occupied_mu``, ``supplemented_mu``, ``occupation_balance_mu`` (= supplemented − occupied),
        ``occupation_pass``; ``out_mu``, ``back_in_mu``, ``in_out_balance_mu`` (= back in − out), ``in_out_pass``.
        With ridge data the four flows are also given net of 田坎 (``occupied_net_mu`` …), and the
        balances and pass flags are computed on the net figures, as official statistics count farmland.
    """
    keys = list(keys)
    p = patches
    cls = p["change_class"]
    supplemented = (cls == SUPPLEMENT) & p["t0_category"].isin(rules.supplement_sources)
    back_in = (cls == SUPPLEMENT) & p["t0_category"].isin(rules.back_in_sources)
    out = (cls == NONGRAIN) & (p["basis"] == "land_use")
    flows = {"occupied": cls == NONAGRI, "supplemented": supplemented, "out": out, "back_in": back_in}
    net = has_net(p)
    units = p[keys].drop_duplicates().set_index(keys).index
    table = pd.DataFrame(index=units)
    for name, mask in flows.items():
        table[f"{name}_mu"] = _sum_where(p, mask, "area_mu", keys)
        if net:
            table[f"{name}_net_mu"] = _sum_where(p, mask, "net_mu", keys)
    table = table.fillna(0.0)
    basis = "_net_mu" if net else "_mu"
    table["occupation_balance_mu"] = table[f"supplemented{basis}"] - table[f"occupied{basis}"]
    table["occupation_pass"] = table["occupation_balance_mu"] >= 0
    table["in_out_balance_mu"] = table[f"back_in{basis}"] - table[f"out{basis}"]
    table["in_out_pass"] = table["in_out_balance_mu"] >= 0
    ordered = [c for name in ("occupied", "supplemented") for c in (f"{name}_mu", f"{name}_net_mu")] + [
        "occupation_balance_mu", "occupation_pass"] + [
        c for name in ("out", "back_in") for c in (f"{name}_mu", f"{name}_net_mu")] + [
        "in_out_balance_mu", "in_out_pass"]
    return table[[c for c in ordered if c in table]].reset_index().sort_values(keys, ignore_index=True)


def pbf_conversion_table(patches: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """一冻结 (project rule): all conversion of PBF to construction per area unit, by approval status.

    Conversion on PBF stays flagged whatever the approvals say, so this lists it all: approved or not.

    Parameters
    ----------
    patches : DataFrame
        ``change_patches`` (columns ``change_class``, ``pbf_mu``, ``approved_pbf_mu``, ``illegal_pbf_mu``).
    keys : list of str
        Grouping columns.

    Returns
    -------
    DataFrame
        ``patches`` (conversions touching PBF), ``pbf_converted_mu`` (conversion ∩ PBF),
        ``pbf_converted_approved_mu`` (its part inside approvals), ``illegal_pbf_mu`` (its part outside);
        without an approvals layer the last two are unknown and ``pbf_converted_unjudged_mu`` holds it all.
    """
    p = patches[(patches["change_class"] == NONAGRI) & (patches["pbf_mu"].fillna(0.0) > 0)]
    columns = ["patches", "pbf_converted_mu", "pbf_converted_approved_mu", "illegal_pbf_mu",
               "pbf_converted_unjudged_mu"]
    if p.empty:
        return pd.DataFrame(columns=keys + columns)
    unjudged = p["approved_pbf_mu"].isna()
    frame = p.assign(patches=1, pbf_converted_mu=p["pbf_mu"], pbf_converted_approved_mu=p["approved_pbf_mu"],
                     pbf_converted_unjudged_mu=p["pbf_mu"].where(unjudged, 0.0))
    return frame.groupby(keys, as_index=False, sort=True)[columns].sum(min_count=1)


def with_total(table: pd.DataFrame, label_column: str, label: str = "合计") -> pd.DataFrame:
    """Append a totals row: numeric columns summed, ``label`` in ``label_column``, pass flags recomputed."""
    if table.empty:
        return table
    total = {c: table[c].sum(min_count=1) for c in table.columns if pd.api.types.is_numeric_dtype(table[c])
             and not pd.api.types.is_bool_dtype(table[c])}  # a column unknown throughout stays unknown
    row = {c: "" for c in table.columns} | total | {label_column: label}
    if "occupation_pass" in table:
        row["occupation_pass"] = bool(np.round(row["occupation_balance_mu"], 9) >= 0)
        row["in_out_pass"] = bool(np.round(row["in_out_balance_mu"], 9) >= 0)
    return pd.concat([table, pd.DataFrame([row])], ignore_index=True)
