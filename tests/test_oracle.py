"""kmrv's county and village figures against an independent recomputation (``tests/oracle.py``).

The oracle recomputes ``violations_by_county``, ``coverage_by_county`` and ``villages_profile`` from the
sample's files with plain geopandas and shares no code with kmrv_geo. Here kmrv runs on the same
synthetic sample (``pipeline.run`` with ``lang="en"``), its CSV tables are read back (English headings
turned back into column keys with ``report.HEADINGS``, the totals row dropped), and every figure must agree
with the oracle per county and per village within :data:`TOLERANCE` (亩, and shares; patch counts
exactly). A column the oracle computes but kmrv does not write is a failure that names the column.

The sample is run twice: with the project file as written (ellipsoidal areas, the default) and with
``area: planar``. The oracle measures ellipsoidal areas as kmrv documents them (edges followed in steps
of at most 20 m, so that parts add up to the whole): 1e-6 亩 is then a meaningful bound for both kinds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import oracle  # tests/oracle.py: pytest puts tests/ on sys.path (rootdir-relative "prepend" import mode)
import pandas as pd
import pytest

from kmrv_geo.pipeline import run
from kmrv_geo.report import HEADINGS, TOTAL_LABEL
from kmrv_geo.sample import make_sample

TOLERANCE = 1e-6
"""Largest accepted absolute difference of a figure (亩, or a share 0..1)."""

EXACT = {"patches"}
"""Counts: must be equal."""
STEPS = ("violations", "coverage", "villages")
TABLES = {
    "violations_by_county": ["county_code", "county_name"],
    "coverage_by_county": ["county_code", "county_name"],
    "villages_profile": ["row", "village"],
}
"""Table → the columns that name a row (county; villages by their position in the layer, and name)."""
KEY_OF_LABEL = {label: key for key, label in HEADINGS["en"].items()}
"""English heading → column key (the headings are one-to-one; area-kind marks taken off first)."""
SEED = 2023


@dataclass
class Case:
    """kmrv's tables and the oracle's for one sample and one project file."""

    kmrv: dict[str, pd.DataFrame]
    oracle: dict[str, pd.DataFrame]
    project: oracle.Project
    kinds: dict[str, set[str]]
    """Area kinds named in the headings of each kmrv table."""


AREA_KIND_IN_HEADING = re.compile(r"\(mu, (ellipsoidal|planar)\)")
"""kmrv marks the area kind in a 亩 heading: ``illegal (mu, ellipsoidal)`` for ``illegal (mu)``."""


def read_kmrv_table(path: Path, keys: list[str]) -> tuple[pd.DataFrame, set[str]]:
    """One of kmrv's CSV tables with its column keys back, the totals row dropped, figures as floats;
    and the area kinds its headings name.
    """
    frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    kinds = {m.group(1) for label in frame.columns if (m := AREA_KIND_IN_HEADING.search(label))}
    frame = frame.rename(columns=lambda label: KEY_OF_LABEL.get(AREA_KIND_IN_HEADING.sub("(mu)", label),
                                                                label))
    if "county_name" in frame and "village" not in keys:
        frame = frame[frame["county_name"] != TOTAL_LABEL["en"]]
    frame = frame.reset_index(drop=True)
    if "row" in keys:
        frame.insert(0, "row", np.arange(len(frame)))
    for column in frame.columns:
        if column not in keys:
            numbers = pd.to_numeric(frame[column].replace("", np.nan), errors="coerce")
            if numbers.notna().sum() == (frame[column] != "").sum():  # a numeric column
                frame[column] = numbers.astype(float)
    return frame, kinds


def oracle_tables(project: oracle.Project) -> dict[str, pd.DataFrame]:
    """The oracle's three tables (villages with their ``row``)."""
    located = oracle.locate_patches(project)
    tables = {
        "violations_by_county": oracle.violations_by_county(project, located),
        "coverage_by_county": oracle.coverage_by_county(project),
        "villages_profile": oracle.villages_profile(project, located),
    }
    tables["villages_profile"].insert(0, "row", np.arange(len(tables["villages_profile"])))
    return tables


def make_case(config_path: Path, out_dir: Path) -> Case:
    """Run kmrv on a project file into ``out_dir`` and the oracle on the same file."""
    run(config_path, out_dir, steps=STEPS, lang="en")
    read = {name: read_kmrv_table(out_dir / "tables" / f"{name}.csv", keys) for name, keys in TABLES.items()}
    project = oracle.load_project(config_path)
    return Case(kmrv={name: frame for name, (frame, _) in read.items()}, oracle=oracle_tables(project),
                project=project, kinds={name: kinds for name, (_, kinds) in read.items()})


def _label(row: pd.Series, keys: list[str]) -> str:
    return " ".join(str(row[k]) for k in keys if str(row[k]) != "") or "(outside every zone)"


def _number(value) -> str:
    return "NaN" if pd.isna(value) else f"{value:.9f}"


def disagreements(kmrv: pd.DataFrame, mine: pd.DataFrame, keys: list[str], *,
                  tolerance: float = TOLERANCE) -> tuple[list[str], list[str], pd.DataFrame]:
    """Compare kmrv's table with the oracle's, row by row (joined on ``keys``).

    Returns
    -------
    missing_columns : list of str
        Columns the oracle has and kmrv does not.
    missing_rows : list of str
        Rows in only one of the tables.
    diffs : DataFrame
        One line per figure out of tolerance (counts: not equal): row, column, kmrv, oracle, difference.
    """
    figures = [c for c in mine.columns if c not in keys]
    missing_columns = [c for c in figures if c not in kmrv.columns]
    common = [c for c in figures if c in kmrv.columns]
    joined = kmrv[keys + common].merge(mine[keys + common], on=keys, how="outer",
                                       suffixes=("_kmrv", "_oracle"), indicator=True)
    missing_rows = [f"{_label(row, keys)}: only in {'kmrv' if row['_merge'] == 'left_only' else 'the oracle'}"
                    for _, row in joined[joined["_merge"] != "both"].iterrows()]
    both = joined[joined["_merge"] == "both"]
    rows = []
    for column in common:
        a, b = both[f"{column}_kmrv"].to_numpy(float), both[f"{column}_oracle"].to_numpy(float)
        limit = 0.0 if column in EXACT else tolerance
        with np.errstate(invalid="ignore"):
            bad = ~((np.isnan(a) & np.isnan(b)) | (np.abs(a - b) <= limit))
        for i in np.flatnonzero(bad):
            rows.append({"row": _label(both.iloc[i], keys), "column": column, "kmrv": _number(a[i]),
                         "oracle": _number(b[i]), "difference": f"{a[i] - b[i]:+.3e}"})
    return missing_columns, missing_rows, pd.DataFrame(rows, columns=["row", "column", "kmrv", "oracle",
                                                                       "difference"])


def assert_agrees(case: Case, table: str) -> None:
    """Fail with a readable list of every missing column, missing row and figure out of tolerance."""
    keys = TABLES[table]
    missing_columns, missing_rows, diffs = disagreements(case.kmrv[table], case.oracle[table], keys)
    lines = []
    other_kinds = case.kinds[table] - {case.project.area_kind}
    if other_kinds:
        lines.append(f"kmrv's {table}.csv headings name the area kind {sorted(case.kinds[table])}, "
                     f"the project file asks for {case.project.area_kind!r}")
    for column in missing_columns:
        heading = HEADINGS["en"].get(column)
        named = f" (heading {heading!r})" if heading else " (no English heading for it in report.HEADINGS)"
        lines.append(f"kmrv's {table}.csv has no column {column!r}{named}: not produced yet")
    lines += [f"{table}: row {text}" for text in missing_rows]
    if len(diffs):
        lines.append(f"{table}: {len(diffs)} figures differ by more than {TOLERANCE:g} "
                     f"({case.project.area_kind} areas; difference = kmrv − oracle):")
        lines.append(diffs.to_string(index=False))
    if lines:
        message = "\n".join(lines)
        print(message)
        pytest.fail(message, pytrace=False)


# --------------------------------------------------------------------------------------------------
# 1,500 parcels, both area kinds
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_sample(tmp_path_factory):
    """The synthetic sample at 1,500 parcels, seed 2023."""
    return make_sample(tmp_path_factory.mktemp("oracle_sample"), n_parcels=1500, seed=SEED)


@pytest.fixture(scope="module", params=["ellipsoidal", "planar"])
def small_case(request, small_sample, tmp_path_factory) -> Case:
    """Kmrv and the oracle on the 1,500-parcel sample; the project file as written (area kind
    ellipsoidal by default) and a copy with ``area: planar``.
    """
    config_path = Path(small_sample.config_path)
    if request.param != "ellipsoidal":
        text = config_path.read_text(encoding="utf-8")
        config_path = config_path.with_name(f"demo_{request.param}.yml")
        config_path.write_text(text + f"\narea: {request.param}\n", encoding="utf-8")
    return make_case(config_path, tmp_path_factory.mktemp(f"oracle_out_{request.param}") / "out")


def test_oracle_figures_hang_together(small_case):
    """The oracle itself: approved + illegal = to construction; on-PBF and HSF parts within their wholes."""
    v = small_case.oracle["violations_by_county"]
    assert np.allclose(v["approved_mu"] + v["illegal_mu"], v["nonagri_mu"], rtol=0, atol=TOLERANCE)
    assert (v["illegal_on_pbf_mu"] <= v["illegal_mu"] + TOLERANCE).all()
    assert (v["nongrain_on_pbf_mu"] <= v["nongrain_mu"] + TOLERANCE).all()
    c = small_case.oracle["coverage_by_county"]
    assert (c["hsf_on_pbf_mu"] <= c["pbf_mu"] + TOLERANCE).all()
    assert (c["hsf_on_farmland_mu"] <= c["farmland_mu"] + TOLERANCE).all()
    if small_case.project.has_ridges:
        assert (v["nonagri_net_mu"] <= v["nonagri_mu"] + TOLERANCE).all()
        assert (c["farmland_net_mu"] <= c["farmland_mu"] + TOLERANCE).all()


def test_violations_by_county(small_case):
    """Change patches per county: counts, 非农化 (approved, illegal), PBF, 非粮化, new farmland, net."""
    assert_agrees(small_case, "violations_by_county")


def test_coverage_by_county(small_case):
    """HSF coverage of PBF and of T1 farmland (gross and net) per county."""
    assert_agrees(small_case, "coverage_by_county")


def test_villages_profile(small_case):
    """The area figures of each Dianchi village, in layer order."""
    assert_agrees(small_case, "villages_profile")


# --------------------------------------------------------------------------------------------------
# The 30,000-parcel demo sample
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_case(tmp_path_factory) -> Case:
    """Kmrv and the oracle on the demo's 30,000-parcel sample (seed 2023), project file as written."""
    info = make_sample(tmp_path_factory.mktemp("oracle_demo_sample"), n_parcels=30_000, seed=SEED)
    return make_case(Path(info.config_path), tmp_path_factory.mktemp("oracle_demo_out") / "out")


@pytest.mark.slow
@pytest.mark.parametrize("table", list(TABLES))
def test_demo_sample(demo_case, table):
    """The three tables on the 30,000-parcel demo sample (ellipsoidal, as ``kmrv demo`` runs it)."""
    assert_agrees(demo_case, table)
