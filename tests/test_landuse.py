"""Land-use code normalisation and classification."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kmrv_geo import landuse


def test_dirty_codes_are_normalised_and_reported_with_counts():
    raw = pd.Series(["0101", "101", "101", " 0103 ", "水田", "01", "0201K", "08H2", "9999", "9999", None, "", "0702"])
    result = landuse.normalise_codes(raw)
    assert result.codes.tolist()[:9] == ["0101", "0101", "0101", "0103", "0101", "01", "0201", "08H2", "9999"]
    fixes = result.fixes.set_index("raw")
    assert fixes.loc["101", "count"] == 2 and fixes.loc["101", "reason"] == "leading zero restored"
    assert fixes.loc["水田", "code"] == "0101"
    assert result.blanks == 2
    assert result.level1_only.to_dict("records") == [{"value": "01", "count": 1}]
    assert result.unknown.to_dict("records") == [{"value": "9999", "count": 2}]


def test_numeric_fields_restore_leading_zeros_but_strings_keep_201():
    numeric = landuse.normalise_codes(pd.Series([101, 201, 1006]))
    assert numeric.codes.tolist() == ["0101", "0201", "1006"]
    text = landuse.normalise_codes(pd.Series(["201", "203"]))
    assert text.codes.tolist() == ["201", "203"]


@pytest.mark.parametrize(
    ("code", "category"),
    [
        ("0101", "farmland"), ("0102", "farmland"), ("0103", "farmland"), ("01", "farmland"),
        ("0201", "other_agricultural"), ("0301", "other_agricultural"), ("0401", "other_agricultural"),
        ("0403", "other_agricultural"), ("1006", "other_agricultural"), ("1104", "other_agricultural"),
        ("1202", "other_agricultural"), ("1203", "other_agricultural"),
        ("0601", "construction"), ("0702", "construction"), ("08H2", "construction"), ("09", "construction"),
        ("1003", "construction"), ("1109", "construction"), ("1201", "construction"), ("203", "construction"),
        ("0404", "other"), ("1101", "other"), ("1102", "other"), ("1206", "other"), ("1207", "other"),
        ("9999", "unknown"), (None, "unknown"), ("04", "unknown"), ("10", "unknown"),
    ],
)  # fmt: skip
def test_categories_follow_domain(code, category):
    assert landuse.DEFAULT_CLASSES.category_of(code) == category


def test_unknown_is_never_farmland():
    classes = landuse.DEFAULT_CLASSES
    series = pd.Series(["0101", "abc", None, "0199"])
    assert classes.classify(series).tolist() == ["farmland", "unknown", "unknown", "unknown"]


def test_code_names():
    assert landuse.code_name("0101") == "水田"
    assert landuse.code_name("0201K") == "果园"
    assert landuse.code_name("01") == "耕地"
    assert landuse.code_name("9999") == ""


def test_missing_codes_of_every_kind_are_blank_once_and_never_a_code():
    """None, NaN and pandas' NA (a nullable string column, e.g. read from PostGIS) are blanks, counted once each
    row; NA used to become the code "<NA>" (an unknown code).
    """
    from kmrv_geo.landuse import normalise_codes

    mixed = normalise_codes(pd.Series(["0101", None, np.nan, pd.NA, "", "0101"], dtype=object))
    assert mixed.codes.tolist() == ["0101", None, None, None, None, "0101"] and mixed.blanks == 4
    assert mixed.unknown.empty
    nullable = normalise_codes(pd.Series(pd.array(["0101", None, "0103"], dtype="string")))
    assert nullable.codes.tolist() == ["0101", None, "0103"] and nullable.blanks == 1 and nullable.unknown.empty
