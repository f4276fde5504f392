"""The scale-out engine: change pieces computed on a Dask distributed cluster with dask-geopandas.

The heavy part of the violation analysis is the overlay of T0 with T1 land use
(:func:`kmrv_geo.analysis.changes.change_pieces`). Here T0 is split into spatially compact partitions
(dask-geopandas ``spatial_shuffle`` along a Hilbert curve); each task takes one partition and the T1
parcels that reach into its bounding box (T1 is scattered to every worker once) and runs the very same
``change_pieces`` on them. A piece belongs to exactly one T0 parcel, and every T1 parcel touching a T0
parcel lies in that parcel's partition box, so partition edges cut nothing: the pieces are the local
engine's pieces, bit for bit. They are put back in the canonical order (T0 position, T1 position) and
the rest of the analysis (merging patches across partition edges, location, verdicts) runs on the
client as in the local engine — so ``change_patches`` (ids, areas) are identical.

``scheduler=None`` starts a :class:`distributed.LocalCluster` on this machine; ``tcp://host:8786``
connects to a running scheduler (workers need kmrv-geo installed).

With land-use partitions (``kmrv partition``, :mod:`kmrv_geo.partitions`) the client does not hold the land use
at all: :func:`partitioned_violations` has every task read one T0 partition and the T1 partitions whose
bounding boxes meet it, run the overlay, the overlap checks and the farmland figures there, and send back only
the changed pieces; merging, location and verdicts then run on the client over the changed land only.
"""

from __future__ import annotations

import logging
import math
from contextlib import contextmanager

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .analysis.changes import CHANGE_CLASSES, FARMLAND_CLASSES, PIECE_COLUMNS, canonical_order, change_pieces
from .analysis.violations import checked_balance_sheet, farmland_partition
from .errors import KmrvError
from .partitions import POSITION

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10
"""Seconds to wait for a remote scheduler before giving up."""
PARCELS_PER_PARTITION = 50_000
"""Target T0 parcels per partition (at least two partitions per worker)."""


class EngineError(KmrvError, RuntimeError):
    """The Dask cluster cannot be reached or used."""


@contextmanager
def dask_client(scheduler: str | None = None, *, n_workers: int = 2):
    """A ``distributed.Client``: connected to ``scheduler``, or to a new LocalCluster of ``n_workers``."""
    from distributed import Client, LocalCluster

    # the scheduler of a LocalCluster runs in this process: its INFO chatter is not for our users
    logging.getLogger("distributed").setLevel(max(logging.WARNING, logging.getLogger().getEffectiveLevel()))
    if scheduler:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise EngineError(
                f"cannot reach the Dask scheduler at {scheduler} ({exc}); start one there with 'dask scheduler' "
                "and workers with 'dask worker tcp://HOST:8786' (kmrv-geo installed on each), or leave out "
                "--scheduler to use a LocalCluster on this machine"
            ) from None
        try:
            yield client
        finally:
            client.close()
        return
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.WARNING) as cluster, Client(cluster) as client:
        yield client


def _partition_pieces(part: gpd.GeoDataFrame, t1: gpd.GeoDataFrame) -> pd.DataFrame:
    """Change pieces of one T0 partition, with global positions (runs on a worker)."""
    if part.empty:
        return pd.DataFrame(columns=PIECE_COLUMNS + ["geometry"])
    near = t1.iloc[np.sort(t1.sindex.query(shapely.box(*part.total_bounds), predicate="intersects"))]
    # as the local engine: the project's land use passed the self-overlap check, so identical parcels skip the overlay
    pieces = change_pieces(part.reset_index(drop=True), near.reset_index(drop=True), partitions=True)
    t0_global = part["_pos"].to_numpy()
    t1_global = near["_pos"].to_numpy()
    t0_pos = pieces["t0_pos"].to_numpy()
    t1_pos = pieces["t1_pos"].to_numpy()
    pieces["t0_pos"] = t0_global[t0_pos]
    pieces["t1_pos"] = np.where(t1_pos >= 0, t1_global[np.maximum(t1_pos, 0)], -1)
    return pd.DataFrame(pieces)


def dask_change_pieces(t0: gpd.GeoDataFrame, t1: gpd.GeoDataFrame, *, scheduler: str | None = None,
                       n_workers: int = 2, npartitions: int | None = None) -> gpd.GeoDataFrame:
    """:func:`~kmrv_geo.analysis.changes.change_pieces` computed on a Dask cluster.

    Parameters
    ----------
    t0, t1 : GeoDataFrame
        Land use the load checked (as for ``change_pieces``), self-overlaps refused: identical parcels are
        matched first (``partitions=True``).
    scheduler : str, optional
        Address of a running Dask scheduler; default a LocalCluster of ``n_workers`` processes.
    n_workers : int, default 2
    npartitions : int, optional
        Spatial partitions of T0 (default: about 50,000 parcels each, at least two per worker).

    Returns
    -------
    GeoDataFrame
        The same pieces as ``change_pieces(t0, t1, partitions=True)``, in its canonical order.
    """
    import dask
    import dask_geopandas

    crs = t0.crs
    left = t0.reset_index(drop=True).assign(_pos=np.arange(len(t0)))
    right = t1.reset_index(drop=True).assign(_pos=np.arange(len(t1)))
    npartitions = npartitions or max(2 * n_workers, math.ceil(len(left) / PARCELS_PER_PARTITION))
    npartitions = max(1, min(npartitions, len(left)))
    ddf = dask_geopandas.from_geopandas(left, npartitions=npartitions).spatial_shuffle(
        by="hilbert", npartitions=npartitions)
    with dask_client(scheduler, n_workers=n_workers) as client:
        logger.info("dask engine: %d partitions on %s", npartitions, client.scheduler.address)
        t1_future = client.scatter(right, broadcast=True)
        tasks = [dask.delayed(_partition_pieces)(part, t1_future) for part in ddf.to_delayed()]
        parts = client.gather(client.compute(tasks))
    parts = [p for p in parts if len(p)]
    if not parts:
        return change_pieces(t0.iloc[:0], t1.iloc[:0])
    pieces = pd.concat(parts, ignore_index=True)
    pieces = canonical_order(pieces)
    return gpd.GeoDataFrame(pieces[PIECE_COLUMNS + ["geometry"]], geometry="geometry", crs=crs)


def _partition_findings(part: gpd.GeoDataFrame, t1_parts: list, crs: str, measure) -> dict:
    """The violation analysis's work on one T0 partition (runs on a worker, which read the partitions).

    Change pieces of the partition's parcels against the T1 parcels reaching into its bounding box (read
    from the T1 partitions whose boxes meet it), the overlap checks and the farmland figures of these
    parcels; only the changed pieces travel back, with the parcels' positions in the whole layers.
    """
    t0 = gpd.GeoDataFrame(part.reset_index(drop=True), geometry="geometry", crs=crs)
    t1 = gpd.GeoDataFrame(pd.concat(t1_parts, ignore_index=True) if t1_parts else part.iloc[:0], geometry="geometry",
                          crs=crs)
    near = t1.iloc[np.sort(t1.sindex.query(shapely.box(*t0.total_bounds), predicate="intersects"))]
    near = near.reset_index(drop=True)
    pieces = change_pieces(t0, near, partitions=True)
    sheet = checked_balance_sheet(t0, pieces)
    figures = farmland_partition(t0, pieces, measure)
    changed = pd.DataFrame(pieces[pieces["change_class"].isin(CHANGE_CLASSES)])
    t0_global = t0[POSITION].to_numpy()
    t1_global = near[POSITION].to_numpy()
    t1_pos = changed["t1_pos"].to_numpy()
    changed["t0_pos"] = t0_global[changed["t0_pos"].to_numpy()]
    changed["t1_pos"] = np.where(t1_pos >= 0, t1_global[np.maximum(t1_pos, 0)], -1) if len(near) else -1
    return {"changed": changed, "sheet": sheet, "figures": figures, "parcels": len(t0)}


def _summed(parts: list[dict]) -> dict:
    """Key-wise sums of per-partition figures (a key missing from a partition counts as 0)."""
    keys = list(dict.fromkeys(k for part in parts for k in part))
    return {k: float(sum(part.get(k, 0.0) for part in parts)) for k in keys}


def partitioned_violations(partitions, *, zones, approvals=None, pbf=None, min_patch_m2: dict[str, float],
                           measure, scheduler: str | None = None, n_workers: int = 2):
    """The violation analysis with land use read by the Dask workers from GeoParquet partitions.

    Each task reads one T0 partition and the T1 partitions whose bounding boxes meet it, computes the change
    pieces, runs the overlap checks and measures the farmland there (:func:`_partition_findings`); the client
    receives only the changed pieces and per-partition sums, so its memory follows the amount of change, not
    the size of the layers. It then merges the pieces into patches across partition edges, locates them and
    gives verdicts exactly as the local engine does (the same pieces in the same canonical order: the same
    patches, ids and areas).

    Parameters
    ----------
    partitions : kmrv_geo.partitions.Partitions
        Opened (and checked against the project file) by :func:`kmrv_geo.partitions.open_partitions`.
    zones, approvals, pbf, min_patch_m2, measure
        As for :func:`kmrv_geo.analysis.violations.analyse_violations`.
    scheduler : str, optional
        Address of a running Dask scheduler (its workers must reach the partitions folder under the same
        path, e.g. on a shared file system); default a LocalCluster of ``n_workers`` processes.
    n_workers : int, default 2

    Returns
    -------
    ViolationResult
        ``pieces`` holds the changed pieces only.

    Raises
    ------
    LayerError
        Land-use parcels overlap each other (found on a worker; the message names the T0 parcels).
    EngineError
        The scheduler cannot be reached.
    """
    import dask
    import dask_geopandas

    from .analysis.violations import patches_from_pieces
    from .partitions import PartitionError

    crs = partitions.analysis_crs
    frames = {role: dask_geopandas.read_parquet(partitions.path(role)) for role in ("landuse_t0", "landuse_t1")}
    boxes = {role: frame.spatial_partitions for role, frame in frames.items()}
    if any(b is None for b in boxes.values()):
        raise PartitionError(f"the partitions in {partitions.folder} carry no bounding boxes (GeoParquet metadata); "
                             "write them again with 'kmrv partition'")
    t0_parts, t1_parts = frames["landuse_t0"].to_delayed(), frames["landuse_t1"].to_delayed()
    tasks = []
    for i, part in enumerate(t0_parts):
        near = np.flatnonzero(boxes["landuse_t1"].intersects(boxes["landuse_t0"].iloc[i]).to_numpy())
        tasks.append(dask.delayed(_partition_findings)(part, [t1_parts[j] for j in near], crs, measure))
    with dask_client(scheduler, n_workers=n_workers) as client:
        logger.info("dask engine: %d T0 partitions read on the workers of %s", len(tasks), client.scheduler.address)
        found = client.gather(client.compute(tasks))
    read = sum(f["parcels"] for f in found)
    written = partitions.manifest["roles"]["landuse_t0"]["features"]
    if read != written:  # checked at opening too (files and checksums); a last guard against a partial read
        raise PartitionError(f"the workers read {read:,} T0 parcels from {partitions.folder}, which holds {written:,}; "
                             "check that every worker sees the whole folder (the same path on a shared file system)")
    changed = [f["changed"] for f in found if len(f["changed"])]
    columns = PIECE_COLUMNS + ["geometry"]
    pieces = canonical_order(pd.concat(changed, ignore_index=True)) if changed else pd.DataFrame(columns=columns)
    pieces = gpd.GeoDataFrame(pieces[columns], geometry="geometry", crs=crs)
    sheet = _summed([{k: v for k, v in f["sheet"].items() if k != "relative_error"} for f in found])
    parts = sum(sheet.get(c, 0.0) for c in FARMLAND_CLASSES)
    sheet["relative_error"] = abs(parts - sheet["total"]) / sheet["total"] if sheet.get("total", 0) > 0 else 0.0
    result = patches_from_pieces(pieces, zones=zones, approvals=approvals, pbf=pbf, min_patch_m2=min_patch_m2,
                                 source="vector", measure=measure)
    result.farmland = sheet | _summed([f["figures"] for f in found])
    return result
