"""The field-check package (外业核查包) for judged monitoring patches.

- :func:`write_kml`: the patches for the field team's phones (WGS84, or GCJ-02 for Gaode-based apps);
- :func:`write_check_sheet`: 核查表.xlsx, one row per patch with empty columns for the field team;
- :func:`read_field_results`: the filled sheet read back (matched rows, rows that do not fit);
- :func:`write_patch_pages`: one offline, printable page per patch and an index page (:class:`PageContext`
  says what they show around each patch).
"""

from __future__ import annotations

from .kml import write_kml
from .pages import write_patch_pages
from .patchmap import PageContext
from .results import FieldResults, read_field_results
from .sheet import write_check_sheet

__all__ = ["FieldResults", "PageContext", "read_field_results", "write_check_sheet", "write_kml", "write_patch_pages"]
