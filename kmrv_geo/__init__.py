"""kmrv-geo: farmland, PBF, HSF and Dianchi-village findings for Kunming's rural-revitalisation plan.

Modules are imported explicitly by users (``from kmrv_geo import units``); this file stays small.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
