"""``kmrv judge CONFIG.yml [PATCHES] [--layer NAME] --out DIR``: judge monitoring patches (卫片执法).

PATCHES is any polygon layer (the province's monthly patches, the county's own interpretation, the
annual change survey, or ``change_patches`` of a ``kmrv landcover`` run); without it the project file's
``patches`` role is judged. ``--field-results`` takes a filled 核查表.xlsx back from the field.
"""

from __future__ import annotations

import click

from .. import pipeline
from .options import OUT_HELP, basemap_option, common_options, handle_errors, maps_out_option, settings
from .summary import echo_result


@click.command(name="judge")
@click.argument("config", type=click.Path(dir_okay=False))
@click.argument("patches", required=False, type=click.Path())
@click.option("--layer", default=None, help="Layer of PATCHES inside a multi-layer file (GeoPackage, FileGDB).")
@click.option("--crs", "patches_crs", default=None, metavar="CRS",
              help="CRS of PATCHES when the file has none or a wrong one (e.g. EPSG:4543, EPSG:4490).")
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False), help=OUT_HELP)
@maps_out_option
@click.option("--overwrite", is_flag=True, help="Replace the results of an earlier run in --out.")
@click.option("--field-results", type=click.Path(dir_okay=False), default=None,
              help="A filled field-check sheet (核查表.xlsx): the field conclusions are taken where given, the "
                   "prefilled verdict is kept beside them, and rows that match no patch are listed.")
@click.option("--gcj02", is_flag=True, help="Write the field-check KML in GCJ-02 (Gaode-based phone apps) "
                                            "instead of WGS84.")
@basemap_option
@common_options
@handle_errors
def judge(config: str, patches: str | None, layer: str | None, patches_crs: str | None, out: str,
          maps_out: str | None, overwrite: bool, field_results: str | None, gcj02: bool, basemap: str | None) -> None:
    """卫片执法: judge monitoring patches against the surveys, PBF, the ecological red line and every approval-like
    layer; write judged_patches, per-county tables, report.xlsx sheets, a map and the field-check package
    (fieldcheck/: KML, 核查表.xlsx, one page per patch).
    """
    s = settings()
    result = pipeline.run(config, out, overwrite=overwrite, progress=not s["quiet"], lang=s["lang"],
                          steps=("judge", "maps"), basemap=basemap, patches=patches, patches_layer=layer,
                          patches_crs=patches_crs, field_results=field_results, gcj02=gcj02, maps_out=maps_out)
    echo_result(result, lang=s["lang"], quiet=s["quiet"])
