"""Analyses: pure functions from checked layers (GeoDataFrames in the analysis CRS) and parameters to
result frames. They never read files, print, or know about the CLI.
"""

from __future__ import annotations
