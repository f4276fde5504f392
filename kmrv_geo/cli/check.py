"""``kmrv check CONFIG.yml`` or ``kmrv check FILE [--layer NAME] [--role ROLE]``: check layers."""

from __future__ import annotations

import json

import click

from ..config import VECTOR_ROLES, load_config
from ..project import load_project, load_single_layer
from .options import common_options, handle_errors, settings


@click.command()
@click.argument("target", type=click.Path())
@click.option("--layer", help="Layer name inside a GeoPackage or FileGDB (checking one file).")
@click.option("--role", type=click.Choice(list(VECTOR_ROLES)), help="What the file is (checking one file).")
@click.option("--code", "code_field", help="Land-use code field, e.g. DLBM (checking one file).")
@click.option("--id", "id_field", help="Feature id field whose duplicates are reported (checking one file).")
@click.option("--crs", help="CRS to assume when the file has none or a wrong one, e.g. EPSG:4543.")
@click.option("--encoding", help="Text encoding of a Shapefile without .cpg, e.g. GBK.")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@common_options
@handle_errors
def check(target: str, layer, role, code_field, id_field, crs, encoding, as_json: bool) -> None:
    """Check the layers of a project file (.yml) or one vector FILE, and summarise what was found."""
    s = settings()
    if target.lower().endswith((".yml", ".yaml")):
        project = load_project(load_config(target), progress=not s["quiet"] and not as_json,
                               parcel_areas="farmland")  # no analysis: the TBMJ check measures what it needs
        report = project.check_report()
        reports = list(project.reports.values())
        header = [f"{'项目' if s['lang'] == 'zh' else 'project'}: {project.config.name}",
                  f"{'分析坐标系' if s['lang'] == 'zh' else 'analysis CRS'}: {project.analysis_crs}"]
    else:
        if role and role.startswith("landuse") and not code_field:
            code_field = "DLBM"
        _frame, layer_report, target_crs = load_single_layer(
            target, layer=layer, role=role or "layer", encoding=encoding, crs=crs, code_field=code_field,
            id_field=id_field,
        )  # fmt: skip
        report = {"analysis_crs": target_crs, "layers": {layer_report.role: layer_report.to_dict()}}
        reports = [layer_report]
        header = []
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2, default=str))
        return
    for line in header:
        click.echo(line)
    for layer_report in reports:
        for line in layer_report.summary_lines(s["lang"]):
            click.echo(line)
    listed = [key for key in ("tbmj_mismatch", "unreadable_dates") if report.get(key)]
    if listed:  # the warnings name tables a run writes; a check writes none
        click.echo(f"完整清单（{'、'.join(listed)}）：加 --json 输出，或运行分析后见 tables/ 下同名 CSV"
                   if s["lang"] == "zh" else
                   f"the whole lists ({', '.join(listed)}): add --json, or see tables/*.csv of a run")
