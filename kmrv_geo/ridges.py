"""Field ridges (田坎) and the 三调 area fields: net farmland, and recorded areas checked against geometry.

Official farmland area is net of field ridges: 图斑地类面积 ``TBDLMJ`` = 图斑面积 ``TBMJ`` − 扣除地类面积
``KCMJ``, with ``KCMJ = TBMJ × KCXS`` (扣除地类系数, by slope class; in hilly Yunnan often 0.05–0.20).
二调-era data call them ``TKXS``/``TKMJ``. Every piece of a farmland parcel inherits the parcel's
share, so the net area of any piece is its area × (1 − share). Source: shared/DOMAIN.md, "Real survey
data" (三调 technical rules, TD/T 1055-2019).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely

from .errors import LayerError

RIDGE_SHARE = "ridge_share"
"""Column added to land-use layers at load: the parcel's 田坎 share (0–1; NaN where the layer has none)."""
STANDARD_FIELDS = {
    "ridge_share": ("KCXS", "TKXS"),
    "ridge_area": ("KCMJ", "TKMJ"),
    "parcel_area": ("TBMJ",),
    "net_area": ("TBDLMJ",),
}
"""三调 (and 二调) field names looked for when the config does not name them."""


@dataclass
class RidgeFields:
    """Which fields of a land-use layer hold the 三调 area figures (None: not there)."""

    ridge_share: str | None = None
    ridge_area: str | None = None
    parcel_area: str | None = None
    net_area: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def has_ridges(self) -> bool:
        """Whether the 田坎 share can be told: a share field, or ridge/net area with the parcel area."""
        return bool(self.ridge_share or (self.parcel_area and (self.ridge_area or self.net_area)))


def find_fields(columns, configured: dict[str, str | None]) -> RidgeFields:
    """The fields to use: configured names first (must exist), else the standard names.

    Parameters
    ----------
    columns : iterable of str
        The layer's field names.
    configured : dict
        ``{"ridge_share": ..., "ridge_area": ..., "parcel_area": ..., "net_area": ...}`` from the config
        (None: look for the standard names; "" : do not use).

    Raises
    ------
    LayerError
        A configured field is not in the layer (naming the fields there are).
    """
    columns = list(columns)
    found = RidgeFields()
    for key, names in STANDARD_FIELDS.items():
        wanted = configured.get(key)
        if wanted == "":
            continue
        if wanted is not None:
            if wanted not in columns:
                raise LayerError(f"the land-use layer has no field {wanted} (config {key}: {wanted}); its fields are: "
                                 f"{', '.join(map(str, columns))}; fix the name or drop the key")
            setattr(found, key, wanted)
            continue
        setattr(found, key, next((n for n in names if n in columns), None))
    return found


def ridge_shares(frame: pd.DataFrame, fields: RidgeFields, *, farmland: np.ndarray, source: str,
                 id_field: str | None = None) -> tuple[np.ndarray, list[str]]:
    """Each parcel's 田坎 share from the share field, else ridge area / parcel area, else 1 − net / parcel.

    Parameters
    ----------
    frame : DataFrame
        The land-use layer.
    fields : RidgeFields
    farmland : numpy.ndarray of bool
        Which parcels are farmland (only their shares are used and checked).
    source : str
        The layer's file and name, for messages.
    id_field : str, optional
        Parcel id field, for messages.

    Returns
    -------
    shares : numpy.ndarray
        One share per parcel (NaN for all when the layer has no ridge fields); a farmland parcel with
        no value gets 0 (its net area is its gross area) and is named in a warning.
    warnings : list of str

    Raises
    ------
    LayerError
        Shares outside 0…1 on farmland (e.g. percentages), naming the field, count and examples.
    """
    n = len(frame)
    if not fields.has_ridges:
        return np.full(n, np.nan), []

    def number(name):
        return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)

    if fields.ridge_share:
        shares, used = number(fields.ridge_share), fields.ridge_share
    else:
        parcel = number(fields.parcel_area)
        with np.errstate(divide="ignore", invalid="ignore"):
            if fields.ridge_area:
                shares, used = number(fields.ridge_area) / parcel, f"{fields.ridge_area}/{fields.parcel_area}"
            else:
                shares = 1 - number(fields.net_area) / parcel
                used = f"1 − {fields.net_area}/{fields.parcel_area}"
        shares[~np.isfinite(shares)] = np.nan
    ids = frame[id_field].astype(str).to_numpy() if id_field and id_field in frame else np.arange(n).astype(str)
    bad = farmland & np.isfinite(shares) & ((shares < 0) | (shares >= 1))
    if bad.any():
        examples = ", ".join(f"{ids[i]}: {shares[i]:g}" for i in np.flatnonzero(bad)[:5])
        hint = " (they look like percentages: divide by 100)" if np.nanmax(shares[bad]) <= 100 else ""
        raise LayerError(f"{source}: {int(bad.sum())} farmland parcels have a 田坎 share ({used}) outside 0…1, e.g. "
                         f"{examples}{hint}; fix the values or name the right field (config ridge_share:)")
    warnings = []
    blank = farmland & np.isnan(shares)
    if blank.any():
        warnings.append(f"{int(blank.sum())} farmland parcels have no 田坎 share ({used}); counted without ridges "
                        f"(net = gross), e.g. {', '.join(ids[np.flatnonzero(blank)[:5]])}")
        shares = np.where(blank, 0.0, shares)
    return shares, warnings


def recorded_area(frame: pd.DataFrame, fields: RidgeFields) -> np.ndarray:
    """Each parcel's recorded 图斑面积 (m², float; NaN where missing or not a number, all NaN without the field)."""
    if not fields.parcel_area:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[fields.parcel_area], errors="coerce").to_numpy(dtype=float)


def surely_within_tolerance(recorded_m2: np.ndarray, approximate_m2: np.ndarray, *, tolerance: float,
                            relative_error: float) -> np.ndarray:
    """Parcels :func:`parcel_area_mismatches` cannot list whatever their ellipsoidal area is, knowing it only
    within ``relative_error`` of ``approximate_m2``: their TBMJ is missing, or within ``tolerance`` with margin.

    With the area ``a`` and the approximation ``a(1 + δ)``, ``|δ| ≤ ε``, the share the check computes is
    ``s = s' + δ(1 + s')`` where ``s'`` is the share against the approximation; ``|s'| < tolerance − 3ε(1 +
    tolerance)`` keeps ``|s|`` below ``tolerance``. The others must be measured before they are judged.

    Parameters
    ----------
    recorded_m2, approximate_m2 : numpy.ndarray
        TBMJ (:func:`recorded_area`) and approximate ellipsoidal area (m²; NaN: unknown) of each parcel.
    tolerance : float
        As :func:`parcel_area_mismatches`.
    relative_error : float
        Bound of ``|δ|``.

    Returns
    -------
    numpy.ndarray of bool
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        share = (recorded_m2 - approximate_m2) / approximate_m2
    margin = tolerance - 3 * relative_error * (1 + tolerance)
    return np.isnan(recorded_m2) | ((approximate_m2 > 0) & (np.abs(share) < margin))


def parcel_area_mismatches(frame: pd.DataFrame, fields: RidgeFields, ellipsoidal_m2: np.ndarray, *,
                           tolerance: float, id_field: str | None = None) -> pd.DataFrame:
    """Parcels whose recorded 图斑面积 (``TBMJ``) is off the ellipsoidal area of their geometry.

    Parameters
    ----------
    frame : DataFrame
    fields : RidgeFields
    ellipsoidal_m2 : numpy.ndarray
        The ellipsoidal area (m²) of each parcel's geometry.
    tolerance : float
        Largest relative difference accepted (config ``thresholds.tbmj_tolerance``, default 0.001).
    id_field : str, optional

    Returns
    -------
    DataFrame
        ``parcel_id``, ``tbmj_m2`` (recorded), ``geometry_m2`` (computed), ``difference_share``
        ((recorded − computed) / computed), largest differences first; empty without a TBMJ field.
    """
    columns = ["parcel_id", "tbmj_m2", "geometry_m2", "difference_share"]
    if not fields.parcel_area:
        return pd.DataFrame(columns=columns)
    recorded = recorded_area(frame, fields)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = (recorded - ellipsoidal_m2) / ellipsoidal_m2
    off = np.isfinite(share) & (np.abs(share) > tolerance)
    ids = frame[id_field].to_numpy() if id_field and id_field in frame else np.arange(len(frame))
    table = pd.DataFrame({"parcel_id": ids[off], "tbmj_m2": recorded[off], "geometry_m2": ellipsoidal_m2[off],
                          "difference_share": share[off]}, columns=columns)
    return table.reindex(table["difference_share"].abs().sort_values(ascending=False).index).reset_index(drop=True)


def net_area_m2(geoms: np.ndarray, parcels: np.ndarray, shares: np.ndarray, *, measure=None) -> np.ndarray:
    """Net farmland area (m²) of each geometry: Σ over the parcels it overlaps of area(geom ∩ parcel) × (1 − share).

    Parameters
    ----------
    geoms : numpy.ndarray of shapely geometries
        Parts of farmland (e.g. the illegal part of a patch inside one village).
    parcels : numpy.ndarray of shapely geometries
        Non-overlapping farmland parcels or pieces whose 田坎 share each part inherits.
    shares : numpy.ndarray
        The 田坎 share of each parcel (NaN: unknown, which makes the net area NaN).
    measure : AreaMeasure, optional
        How to measure (default planar).

    Returns
    -------
    numpy.ndarray
        One net area per geometry (0 where it overlaps no parcel).
    """
    from .overlay import intersect_pairs

    geoms = np.asarray(geoms, dtype=object)
    result = np.zeros(len(geoms))
    pi, gi, pieces = intersect_pairs(np.asarray(parcels, dtype=object), geoms)
    if gi.size:
        area = measure.m2(pieces) if measure is not None else shapely.area(pieces)
        np.add.at(result, gi, area * (1 - np.asarray(shares, dtype=float)[pi]))
    return result
