"""Folium map builders (the top-level ``maps/`` folder is where maps are written, not this package)."""

from __future__ import annotations
