"""The field-check package: KML for phones, the check sheet and its read-back, the offline patch pages.

The judged patches are built by hand in EPSG:4543 near Kunming (≈ 102.7°E, 25.0°N), with hostile text in
names, reasons and references. The pages are opened in Debian's headless Chromium (``browser`` fixture of
``conftest.py``) with every request that is not the page's own file aborted and recorded.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime

import geopandas as gpd
import numpy as np
import openpyxl
import pyogrio
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from kmrv_geo.crs import WGS84, wgs84_to_gcj02
from kmrv_geo.errors import LayerError
from kmrv_geo.fieldcheck import (
    PageContext,
    read_field_results,
    write_check_sheet,
    write_kml,
    write_patch_pages,
)
from kmrv_geo.fieldcheck.labels import verdict_words
from kmrv_geo.fieldcheck.results import date_text, verdict_code

CRS = "EPSG:4543"
X0, Y0 = 570000.0, 2766000.0
"""≈ 102.70°E, 25.00°N in EPSG:4543 (CGCS2000 3-degree GK, CM 102°E)."""
HOSTILE = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(1)</script>"
IDS = ["JC530112-0007", "530111-J00001", "=1+2", "530111000123"]


@pytest.fixture
def judged() -> gpd.GeoDataFrame:
    """Four judged patches: one with a hole, one in two parts, one named to break HTML and Excel."""
    holed = Polygon([(X0, Y0), (X0 + 60, Y0), (X0 + 60, Y0 + 80), (X0, Y0 + 80)],
                    [[(X0 + 20, Y0 + 20), (X0 + 30, Y0 + 20), (X0 + 30, Y0 + 30), (X0 + 20, Y0 + 30)]])
    parts = MultiPolygon([box(X0 + 200, Y0, X0 + 240, Y0 + 40), box(X0 + 260, Y0, X0 + 300, Y0 + 40)])
    geoms = [holed, parts, box(X0 + 400, Y0 + 300, X0 + 470, Y0 + 350), box(X0 - 300, Y0 - 200, X0 - 250, Y0 - 150)]
    frame = gpd.GeoDataFrame({
        "patch_id": IDS,
        "county_code": ["530112", "530111", "530112", "530111"],
        "county_name": ["西山区", "官渡区", "西山区", "官渡区"],
        "township": ["碧鸡街道", "官渡街道", SCRIPT, "官渡街道"],
        "village_key": ["v1", "v2", "v3", "v4"],
        "village": ["大'河村", '小"河"村', HOSTILE, "换\n行村"],
        "verdict": ["illegal", "to_check", "illegal", "legal"],
        "verdict_text": ["违法", "待核实", "违法", "合法"],
        "partly": [True, False, False, False],
        "reasons": ["unapproved_conversion;approved_conversion", "no_image", "unapproved_conversion",
                    "approved_conversion"],
        "reason_text": ["未经批准占用耕地建设 3.75 亩；已批准农用地转用 3.75 亩（批准文号 云政地〔2022〕12号）",
                        "影像不清，需实地核实", f"未经批准 {SCRIPT}\n第二行 \"引号\"", "已批准农用地转用 2.00 亩"],
        "area_mu": [7.05, 3.6, 5.25, 3.75],
        "area_mu_planar": [7.04, 3.6, 5.25, 3.75],
        "area_mu_ellipsoidal": [7.05, 3.61, 5.26, 3.76],
        "farmland_mu": [7.05, 0.0, 5.25, 3.75],
        "pbf_mu": [1.2, 0.0, 0.0, 0.0],
        "erl_mu": [0.0, 0.0, 0.0, 0.0],
        "approved_mu": [3.75, 0.0, 0.0, 3.75],
        "approval_refs": ["云政地〔2022〕12号", "", f"=HYPERLINK(\"http://x\"){HOSTILE}", "昆政地〔2021〕3号"],
        "facility_refs": ["", "", "", ""],
        "temporary_refs": ["", "临时〔2023〕1号", "", ""],
        "supplement_refs": ["", "", "", ""],
        "t0_classes": ["0103:12.40;0702:0.80", "0101:3.60", "0103:5.25", "0102:3.75"],
        "after_code": ["0702", "0601", "0702", "0702"],
        "after_name": ["农村宅基地", "工业用地", HOSTILE, "农村宅基地"],
        "image_date": ["2023-05-01", "", "2023-06-12", "2023-04-30"],
    }, geometry=geoms, crs=CRS)  # fmt: skip
    points = frame.geometry.representative_point().to_crs(WGS84)
    frame["lon"], frame["lat"] = points.x, points.y
    return frame


def _grid(code_of) -> gpd.GeoDataFrame:
    cells = [(i, j) for i in range(-8, 12) for j in range(-6, 10)]
    codes = [code_of(i, j) for i, j in cells]
    category = {"0103": "farmland", "0301": "other_agricultural", "0702": "construction", "1101": "other"}
    return gpd.GeoDataFrame({"code": codes, "category": [category.get(c, "unknown") for c in codes]},
                            geometry=[box(X0 + i * 50, Y0 + j * 50, X0 + (i + 1) * 50, Y0 + (j + 1) * 50)
                                      for i, j in cells], crs=CRS)


@pytest.fixture
def context() -> PageContext:
    """Land use at both dates, PBF, ERL and two approval kinds around the patches."""
    t0 = _grid(lambda i, j: "0103" if (i + j) % 3 else "0301")
    t1 = _grid(lambda i, j: "0702" if i in (0, 1) else ("1101" if j > 6 else "0103"))
    pbf = gpd.GeoDataFrame({"BSM": [1]}, geometry=[box(X0 - 100, Y0 - 100, X0 + 40, Y0 + 200)], crs=CRS)
    erl = gpd.GeoDataFrame({"id": [1]}, geometry=[box(X0 + 380, Y0 + 280, X0 + 600, Y0 + 500)], crs=CRS)
    approvals = {
        "approvals": gpd.GeoDataFrame({"ref": ["云政地〔2022〕12号", HOSTILE]},
                                      geometry=[box(X0 + 30, Y0, X0 + 60, Y0 + 80),
                                                box(X0 + 400, Y0 + 300, X0 + 420, Y0 + 320)], crs=CRS),
        "temporary_use": gpd.GeoDataFrame({"ref": ["临时〔2023〕1号"]},
                                          geometry=[box(X0 + 200, Y0, X0 + 220, Y0 + 20)], crs=CRS),
        "facility_filings": gpd.GeoDataFrame({"ref": ["far away"]},
                                             geometry=[box(X0 + 5000, Y0, X0 + 5100, Y0 + 100)], crs=CRS),
    }
    return PageContext(landuse_t0=t0, landuse_t1=t1, pbf=pbf, erl=erl, approvals=approvals,
                       title=f"西山区'示例{{{{ 7*7 }}}}{HOSTILE}", notice="内部资料 注意保密", synthetic=True,
                       t0_year=2022, t1_year=2023)


# --- KML -------------------------------------------------------------------------------------------------

def _close(read, expected, tol=1e-7) -> bool:
    a, b = shapely.normalize(shapely.force_2d(read)), shapely.normalize(expected)
    if a.geom_type != b.geom_type:
        return False
    return shapely.equals_exact(a, b, tolerance=tol)


def test_kml_reads_back_with_coordinates_and_fields(judged, tmp_path):
    path = write_kml(tmp_path / "核查图斑.kml", judged)
    back = pyogrio.read_dataframe(path)
    assert len(back) == len(judged)
    assert list(back["图斑编号"]) == IDS
    assert list(back["预判结论"]) == ["违法", "待核实", "违法", "合法"]
    assert back["村"].iloc[2] == HOSTILE and back["乡镇"].iloc[2] == SCRIPT  # stored as text, unchanged
    assert back["批准文号"].iloc[1] == "临时〔2023〕1号"
    assert np.allclose(back["面积亩"].astype(float), judged["area_mu"])
    expected = judged.to_crs(WGS84).geometry
    for read, want in zip(back.geometry, expected, strict=True):
        assert _close(read, want), (read.wkt[:200], want.wkt[:200])
    text = path.read_text(encoding="utf-8")
    assert "WGS84" in text and "#verdict_illegal" in text and "#verdict_legal" in text
    assert "<ExtendedData>" in text and "<SchemaData" in text
    assert "ff1c19d7" in text  # 违法 red in KML's aabbggrr
    assert HOSTILE not in text  # escaped by the XML writer


def test_kml_gcj02_shifts_by_the_crs_module_amount(judged, tmp_path):
    wgs = pyogrio.read_dataframe(write_kml(tmp_path / "wgs.kml", judged, lang="en"))
    gcj = pyogrio.read_dataframe(write_kml(tmp_path / "gcj.kml", judged, gcj02=True, lang="en"))
    assert list(gcj["patch_id"]) == IDS and list(gcj["verdict"]) == ["illegal", "to check", "illegal", "legal"]
    expected = judged.to_crs(WGS84).geometry
    shifted = shapely.transform(np.asarray(expected.values),
                                lambda xy: np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1])))
    for read, want in zip(gcj.geometry, shifted, strict=True):
        assert _close(read, want)
    dx = np.asarray(shapely.get_coordinates(gcj.geometry.values)) - shapely.get_coordinates(wgs.geometry.values)
    assert np.all(np.abs(dx) > 1e-3) and np.all(np.abs(dx) < 1e-2)  # Kunming: a few hundred metres
    assert "GCJ-02" in (tmp_path / "gcj.kml").read_text(encoding="utf-8")


# --- check sheet -----------------------------------------------------------------------------------------

def _rows_by_id(sheet) -> dict:
    return {sheet.cell(r, 1).value: r for r in range(3, sheet.max_row + 1)}


def test_check_sheet_layout_and_text_safety(judged, tmp_path):
    path = write_check_sheet(tmp_path / "核查表.xlsx", judged, notice="内部资料 注意保密", synthetic=True)
    book = openpyxl.load_workbook(path)
    sheet = book.active
    heads = [c.value for c in sheet[2]]
    assert heads == ["图斑编号", "区县", "乡镇", "村", "经度", "纬度", "面积(亩)", "预判结论", "预判依据", "批准文号",
                     "前时相地类", "现状地类", "实际用途", "核查结论", "照片编号", "核查人", "核查日期"]
    assert "内部资料 注意保密" in sheet["A1"].value and "示例数据" in sheet["A1"].value
    assert sheet.freeze_panes == "B3" and sheet.auto_filter.ref == "A2:Q6"
    rows = _rows_by_id(sheet)
    assert set(rows) == set(IDS)
    formula_row = rows["=1+2"]
    for column in (1, 10):  # patch number "=1+2" and a reference starting with "=HYPERLINK"
        cell = sheet.cell(formula_row, column)
        assert cell.data_type == "s" and cell.value.startswith("=") and cell.quotePrefix
    assert sheet.cell(formula_row, 4).value == HOSTILE
    first = rows["JC530112-0007"]
    assert sheet.cell(first, 7).number_format == "0.00" and sheet.cell(first, 7).value == pytest.approx(7.05)
    assert round(sheet.cell(first, 5).value, 6) == sheet.cell(first, 5).value
    assert sheet.cell(first, 10).value == "云政地〔2022〕12号" and sheet.cell(first, 12).value == "0702 农村宅基地"
    assert all(sheet.cell(first, c).value is None for c in range(13, 18))
    validations = sheet.data_validations.dataValidation
    assert len(validations) == 1 and validations[0].formula1 == '"违法,待核实,合法"'
    assert str(validations[0].sqref) == "N3:N6"
    assert sheet.column_dimensions["I"].width > sheet.column_dimensions["B"].width
    # the formula text is stored as a string in the file, not as <f>
    import zipfile
    xml = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml


def test_sheet_rows_follow_the_pages_and_a_returned_check_date_stays_a_date(judged, tmp_path):
    """A crew holding the pages and the sheet finds patch 0001 in the first row; a check date read from a returned
    sheet is written back as a date (it was text), and row 1 says what the sheet is.
    """
    from datetime import datetime

    from kmrv_geo.fieldcheck.pages import patch_order

    frame = judged.reset_index(drop=True).assign(check_date=["2024-05-03", "", "not a date", ""])
    sheet = openpyxl.load_workbook(write_check_sheet(tmp_path / "s.xlsx", frame, title="西山区核查")).active
    ids = [row[0] for row in sheet.iter_rows(min_row=3, values_only=True)]
    expected = frame.loc[patch_order(frame), "patch_id"].tolist()
    assert ids == expected and ids != frame["patch_id"].tolist()  # not the order given: the pages' order
    dates = {row[0]: row[16] for row in sheet.iter_rows(min_row=3, values_only=True)}
    assert dates[IDS[0]] == datetime(2024, 5, 3) and dates[IDS[2]] == "not a date" and dates[IDS[1]] is None
    assert sheet["A1"].value.startswith("西山区核查 · 卫片执法图斑外业核查表")


def test_sheet_round_trip_matched_unmatched_and_not_checked(judged, tmp_path):
    path = write_check_sheet(tmp_path / "核查表.xlsx", judged)
    book = openpyxl.load_workbook(path)
    sheet = book.active
    rows = _rows_by_id(sheet)
    r1, r2, r4 = rows["JC530112-0007"], rows["530111-J00001"], rows["530111000123"]
    # columns: M 实际用途, N 核查结论, O 照片编号, P 核查人, Q 核查日期
    sheet[f"M{r1}"], sheet[f"N{r1}"], sheet[f"O{r1}"] = "厂房", "违法", 12
    sheet[f"P{r1}"], sheet[f"Q{r1}"] = "张三", datetime(2024, 5, 3)
    sheet[f"A{r4}"] = 530111000123  # the id re-typed as a number
    sheet[f"N{r4}"], sheet[f"Q{r4}"] = "合法", "2024/5/6"
    sheet[f"N{r2}"] = "不知道"
    extra = sheet.max_row + 2  # a blank row, then: unknown id, duplicate, entries without an id
    sheet[f"A{extra}"], sheet[f"N{extra}"] = "JC999", "违法"
    sheet[f"A{extra + 1}"], sheet[f"N{extra + 1}"] = "JC530112-0007", "合法"
    sheet[f"M{extra + 2}"] = "鱼塘"
    book.save(path)  # as Excel/WPS would, after editing

    results = read_field_results(path, judged["patch_id"])
    matched = results.rows.set_index("patch_id")
    assert list(matched.index) == ["530111000123", "JC530112-0007"]  # in sheet order: the pages' (530111 first)
    assert matched.loc["JC530112-0007", ["field_use", "field_verdict", "photo_ids", "checker", "check_date"]
                       ].tolist() == ["厂房", "illegal", "12", "张三", "2024-05-03"]
    assert matched.loc["530111000123", "field_verdict"] == "legal"
    assert matched.loc["530111000123", "check_date"] == "2024-05-06"
    assert matched.loc["JC530112-0007", "sheet_row"] == r1
    unmatched = results.unmatched.set_index("sheet_row")
    assert unmatched["reason_code"].to_dict() == {r2: "unreadable_verdict", extra: "unknown_id",
                                                  extra + 1: "duplicate", extra + 2: "no_id"}
    assert unmatched.loc[extra, "patch_id"] == "JC999"
    assert f"第 {r1} 行" in unmatched.loc[extra + 1, "reason"]
    assert "不知道" in unmatched.loc[r2, "reason"]
    assert results.not_checked == 1  # "=1+2": not checked yet


def test_sheet_in_english_reads_back(judged, tmp_path):
    path = write_check_sheet(tmp_path / "check.xlsx", judged, lang="en", title="Field check")
    book = openpyxl.load_workbook(path)
    sheet = book.active
    assert sheet["A2"].value == "patch id" and sheet["N2"].value == "field verdict"
    assert sheet.data_validations.dataValidation[0].formula1 == '"illegal,to check,legal"'
    rows = _rows_by_id(sheet)
    sheet[f"N{rows['JC530112-0007']}"] = "to check"
    sheet[f"N{rows['530111-J00001']}"] = "其他"
    sheet[f"Q{rows['530111-J00001']}"] = 45413  # a date cell that lost its format: an Excel serial day
    book.save(path)
    results = read_field_results(path, IDS, lang="en")
    assert results.rows.set_index("patch_id")["field_verdict"].to_dict() == {
        "JC530112-0007": "to_check", "530111-J00001": "to_check"}
    assert results.rows.set_index("patch_id").loc["530111-J00001", "check_date"] == "2024-05-01"
    assert results.unmatched.empty and results.not_checked == 2


@pytest.mark.parametrize(("value", "expected"), [
    ("2024.5.3", "2024-05-03"), ("2024年5月3日", "2024-05-03"), ("20240503", "2024-05-03"),
    (20240503, "2024-05-03"), ("2024-05-03 00:00:00", "2024-05-03"), ("五月三日", "五月三日"), (None, "")])
def test_check_dates_are_read_in_common_forms(value, expected):
    assert date_text(value) == expected


@pytest.mark.parametrize(("text", "code"), [("合法", "legal"), (" 违法 ", "illegal"), ("待核实", "to_check"),
                                            ("Illegal", "illegal"), ("to_check", "to_check"), ("其他", "to_check"),
                                            ("maybe", None)])
def test_conclusions_are_normalised(text, code):
    assert verdict_code(text) == code


def test_a_file_that_is_not_a_workbook_is_a_clear_error(tmp_path):
    path = tmp_path / "核查表.xlsx"
    path.write_text("图斑编号,核查结论\n", encoding="utf-8")
    with pytest.raises(LayerError, match=r"核查表\.xlsx is not an Excel \.xlsx workbook.*save it as"):
        read_field_results(path, IDS)
    with pytest.raises(LayerError, match="does not exist"):
        read_field_results(tmp_path / "missing.xlsx", IDS)


def test_a_sheet_without_the_patch_number_column_is_a_clear_error(tmp_path):
    path = tmp_path / "other.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["编号", "核查结论"])
    book.active.append(["JC530112-0007", "违法"])
    book.save(path)
    with pytest.raises(LayerError, match=r"other\.xlsx has no 图斑编号 \(patch id\) column.*heading row"):
        read_field_results(path, IDS)


# --- pages -----------------------------------------------------------------------------------------------

def test_pages_are_written_offline_and_escaped(judged, context, tmp_path):
    paths = write_patch_pages(tmp_path / "fieldcheck", judged, context)
    pages = [p for p in paths if p.suffix == ".html"]
    assets = [p for p in paths if p.parent.name == "assets"]
    assert paths[0].name == "index.html" and len(pages) == 1 + len(judged)
    assert all(re.fullmatch(r"\d{4}(_[0-9A-Za-z_-]+)?\.html", p.name) for p in pages[1:])
    # Leaflet once, beside the pages (not in each one): every page stays small
    assert any(p.name.endswith("_leaflet.js") for p in assets)
    assert all(p.stat().st_size < 150_000 for p in pages)
    for path in pages:
        page = path.read_text(encoding="utf-8")
        assert not re.search(r"""<(script|link)\b[^>]*(src|href)\s*=\s*["']?(https?:)?//""", page, re.I)
        assert HOSTILE not in page and SCRIPT not in page
        assert "示例数据（合成）" in page and "内部资料 注意保密" in page
    page = pages[1].read_text(encoding="utf-8")
    assert "@page { size: A4" in page
    # far-away approvals are clipped off, nearby ones kept
    assert all("far away" not in p.read_text(encoding="utf-8") for p in pages[1:])


class Page:
    """A page opened with every request recorded and every non-file request aborted."""

    def __init__(self, browser, path):
        self.url = path.resolve().as_uri()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page = page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("dialog", lambda d: (self.errors.append(f"dialog: {d.message}"), d.dismiss()))
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
        page.goto(self.url)

    def ready(self):
        self.page.wait_for_function("window.kmrv && window.kmrv.ready === true", timeout=30_000)
        self.page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")

    def outside_requests(self, allowed) -> list[str]:
        return [u for u in self.requests if u not in allowed and not u.startswith("data:")]


@pytest.mark.browser
def test_pages_in_chromium_offline_drawn_escaped_and_linked(browser, judged, context, tmp_path):
    paths = write_patch_pages(tmp_path / "fieldcheck", judged, context)
    urls = {p.resolve().as_uri() for p in paths}
    pages = [p for p in paths[1:] if p.suffix == ".html"]
    assets = {p.resolve().as_uri() for p in paths if p.parent.name == "assets"}
    for number, path in enumerate(pages, start=1):
        view = Page(browser, path)
        try:
            view.ready()
            page = view.page
            assert page.locator(".folium-map").count() == 1
            assert page.locator(".folium-map").bounding_box()["height"] > 300
            layers = page.evaluate("Object.fromEntries(Object.entries(kmrv.layers).map(([k, l]) => "
                                   "[k, {total: l.total, rendered: l.rendered(), shown: !!l._map}]))")
            assert layers["patch"]["rendered"] >= 1 and layers["patch"]["shown"]
            assert layers["landuse_t0"]["rendered"] > 0 and layers["landuse_t0"]["shown"]
            assert not layers["landuse_t1"]["shown"] and "facility_filings" not in layers
            patch_in_view = page.evaluate(
                "(() => { const l = kmrv.layers.patch, m = l._map;"
                " return Object.values(l._byIndex).some(f => m.getBounds().contains(f.getBounds())); })()")
            assert patch_in_view
            body = page.locator("body").inner_text()
            assert "示例数据（合成）" in body and "内部资料 注意保密" in body and "2022" in body
            assert page.evaluate("document.querySelectorAll('img').length") == 0  # no element made from the data
            if path.name.endswith("_1_2.html"):  # the patch "=1+2" with the hostile names
                assert HOSTILE in body and SCRIPT in body  # shown as text
                assert f"未经批准 {SCRIPT}" in body
            assert view.outside_requests({view.url} | assets) == [], view.requests
            assert view.errors == []
            assert ("fc-prev" in page.content()) == (number > 1)
            assert ("fc-next" in page.content()) == (number < len(pages))
        finally:
            view.page.close()

    # the page of the hostile patch: its texts shown verbatim, nothing made from them
    hostile = next(p for p in pages if p.name.endswith("_1_2.html"))
    view = Page(browser, hostile)
    try:
        view.ready()
        cells = view.page.locator("table.fc-figures td").all_inner_texts()
        assert any(HOSTILE in c and SCRIPT in c for c in cells)
        assert view.page.evaluate("document.querySelectorAll('img').length") == 0
        assert "49" not in view.page.title() and "{{ 7*7 }}" in view.page.title()
        pdf = view.page.pdf(prefer_css_page_size=True, print_background=True)
        assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1  # map and table on one A4 sheet
        assert view.errors == []
    finally:
        view.page.close()

    # next / previous / index links
    view = Page(browser, pages[0])
    try:
        view.ready()
        view.page.click("a.fc-next")
        view.page.wait_for_url(pages[1].resolve().as_uri())
        view.ready()
        view.page.click("a.fc-prev")
        view.page.wait_for_url(pages[0].resolve().as_uri())
        view.ready()
        view.page.click("a.fc-index-link")
        view.page.wait_for_url(paths[0].resolve().as_uri())
        links = view.page.locator("#fc-index tbody a")
        assert links.count() == len(pages)
        assert view.page.locator("#fc-index tbody tr").nth(0).locator("td").nth(1).inner_text() == \
            links.nth(0).inner_text()
        index_text = view.page.locator("body").inner_text()
        assert HOSTILE in index_text and view.page.evaluate("document.querySelectorAll('img').length") == 0
        # sort by area, descending on the second click
        view.page.locator("#fc-index th").nth(5).click()
        view.page.locator("#fc-index th").nth(5).click()
        areas = [float(t) for t in view.page.locator("#fc-index tbody td:nth-child(6)").all_inner_texts()]
        assert areas == sorted(areas, reverse=True)
        view.page.locator("#fc-index tbody a", has_text="530111-J00001").click()
        view.ready()
        assert "530111-J00001" in view.page.locator(".fc-head").inner_text()
        assert view.outside_requests(urls) == []
        assert view.errors == []
    finally:
        view.page.close()


def test_pages_in_english_and_without_context_layers(judged, tmp_path):
    paths = write_patch_pages(tmp_path / "en", judged, PageContext(lang="en", t1_year=2023))
    index = paths[0].read_text(encoding="utf-8")
    assert "Field-check patches" in index and "illegal" in index and "示例数据" not in index
    page = paths[1].read_text(encoding="utf-8")
    assert "next →" in page and "preliminary verdict" in page and "T1 2023" in page
    written = write_patch_pages(tmp_path / "zh", judged.set_index("county_code"))
    assert len([p for p in written if p.suffix == ".html"]) == 1 + len(judged)


def test_pages_filled_from_shared_map_templates_carry_their_own_layers_and_view(judged, context, tmp_path):
    """Pages of one map shape share one rendered template; each still holds exactly its own patch's layers,
    first view and texts, and no placeholder is left (a title holding one is shown as written).
    """
    import json

    from kmrv_geo.fieldcheck.pages import page_name, patch_order
    from kmrv_geo.fieldcheck.patchmap import nearby_layers, patch_layers
    from kmrv_geo.webmap.encode import to_script_json

    context = dataclasses.replace(context, title="项目 @@kmrv-fc-info@@")
    paths = write_patch_pages(tmp_path / "fieldcheck", judged, context)
    frame = judged.reset_index(drop=True)
    nearby = nearby_layers(context)
    shapes = set()
    for number, label in enumerate(patch_order(frame), start=1):
        page = (tmp_path / "fieldcheck" / page_name(number, frame.loc[label, "patch_id"])).read_text(encoding="utf-8")
        patch = frame.loc[[label]].copy()
        patch["verdict_words"] = verdict_words(frame.loc[label], "zh")
        drawn = patch_layers(patch, context, nearby)
        shapes.add(drawn.shape)
        assert page.count("kmrv.compact(") == len(drawn.layers)
        assert all(str(to_script_json(layer.spec)) in page for layer in drawn.layers)
        assert f"fitBounds({json.dumps(drawn.bounds)}" in page
        assert page.count("@@kmrv-fc-") == page.count("项目 @@kmrv-fc-info@@") > 0  # only in the title as written
        assert f">{frame.loc[label, 'patch_id']}<" in page or frame.loc[label, "patch_id"] in page
    assert len(shapes) >= 2  # pages of different shapes (approvals nearby or not) each got their own template
    assert len(paths) == 1 + len(frame) + len([p for p in paths if p.parent.name == "assets"])


def test_nearby_features_inside_the_window_are_drawn_whole_and_the_rest_cut_as_clip_to(context):
    """A page cuts only the features reaching over its window's edge; together they cover what
    :func:`clip_to` gives, feature by feature, with the same attributes.
    """
    from kmrv_geo.fieldcheck.patchmap import NearbyLayer, clip_to
    from kmrv_geo.webmap.common import web_geometries

    frame = context.landuse_t0
    layer = NearbyLayer.of(frame, ["code", "category"])
    window = box(X0 - 30, Y0 - 30, X0 + 130, Y0 + 120)  # cuts through cells on every side
    web = layer.around(window)
    clipped = clip_to(frame, window)
    assert len(web) == len(clipped) == 16  # 4 × 4 cells of 50 m meet the window
    expected = web_geometries(np.asarray(clipped.geometry.values, dtype=object), frame.crs)
    assert all(shapely.equals_exact(shapely.normalize(a), shapely.normalize(b), tolerance=1e-9)
               for a, b in zip(web.geoms, expected, strict=True))
    assert list(web.columns["code"]) == list(clipped["code"])
    inside = shapely.contains_properly(window, np.asarray(clipped.geometry.values, dtype=object))
    assert inside.sum() == 4  # cells X0…X0+100 × Y0…Y0+100 lie inside and are drawn with their own vertices
    whole = web_geometries(np.asarray(frame.geometry.values, dtype=object), frame.crs)
    assert sum(any(shapely.equals_exact(g, w, 0) for w in whole) for g in web.geoms) >= 4
    assert layer.around(box(X0 + 9000, Y0 + 9000, X0 + 9100, Y0 + 9100)) is None


def test_pages_written_by_forked_workers_equal_pages_written_here(judged, context, tmp_path, monkeypatch):
    from kmrv_geo import parallel
    from kmrv_geo.fieldcheck import pages as pages_module

    monkeypatch.setattr(pages_module, "PAGE_BLOCK", 1)  # one page per task: every page in a worker
    forked = write_patch_pages(tmp_path / "forked", judged, context)
    monkeypatch.setattr(parallel, "WORKERS", 1)
    here = write_patch_pages(tmp_path / "here", judged, context)
    assert [p.relative_to(tmp_path / "forked") for p in forked] == [p.relative_to(tmp_path / "here") for p in here]

    def same(a, b):  # element ids are random per rendered map: compared without them
        return re.sub(r"_[0-9a-f]{32}", "_ID", a.read_text(encoding="utf-8")) == re.sub(
            r"_[0-9a-f]{32}", "_ID", b.read_text(encoding="utf-8"))

    assert all(same(a, b) for a, b in zip(forked, here, strict=True))
