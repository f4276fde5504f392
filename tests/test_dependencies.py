"""pyproject.toml and environment.yml must list the same dependencies with the same bounds."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _normalise(spec: str) -> tuple[str, str]:
    """(name, bound) of a requirement; pip extras are dropped (``psycopg[binary]`` is conda-forge's ``psycopg``)."""
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(?:\[[^\]]*\])?\s*(.*)$", spec)
    name, bound = match.group(1), match.group(2).replace(" ", "")
    return re.sub(r"[-_.]+", "-", name).lower(), bound


def test_pyproject_and_environment_list_the_same_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pip_specs = project["dependencies"] + project["optional-dependencies"]["dev"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    conda_specs = [d for d in env["dependencies"] if isinstance(d, str) and _normalise(d)[0] not in ("python", "pip")]
    # packages that are not on conda-forge come from PyPI through the pip: list (the package itself is -e .)
    pip_lists = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    conda_specs += [d for pips in pip_lists for d in pips if not d.startswith("-")]
    assert sorted(map(_normalise, pip_specs)) == sorted(map(_normalise, conda_specs))
    assert "conda-forge" in env["channels"]


def test_design_card_dependencies_are_listed():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = {_normalise(d)[0] for d in project["dependencies"]}
    assert {"geopandas", "shapely", "pyogrio", "fiona", "rasterio", "pyproj", "folium", "folium-offline"} <= names
