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
"""

from __future__ import annotations

import logging
import math
from contextlib import contextmanager

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .analysis.changes import PIECE_COLUMNS, canonical_order, change_pieces
from .errors import KmrvError

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
    pieces = change_pieces(part.reset_index(drop=True), near.reset_index(drop=True))
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
        Checked land use (as for ``change_pieces``).
    scheduler : str, optional
        Address of a running Dask scheduler; default a LocalCluster of ``n_workers`` processes.
    n_workers : int, default 2
    npartitions : int, optional
        Spatial partitions of T0 (default: about 50,000 parcels each, at least two per worker).

    Returns
    -------
    GeoDataFrame
        The same pieces as ``change_pieces(t0, t1)``, in its canonical order.
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
