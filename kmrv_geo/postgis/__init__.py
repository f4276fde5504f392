"""PostGIS as input and output: any layer role may be a table, and a run may write its results into a schema.

- :mod:`.connection`: connections parsed from a layer's ``path`` or ``--out``, passwords refused (libpq takes them
  from ``PGPASSWORD`` or ``~/.pgpass``), errors that name the connection without password;
- :mod:`.read`: a table read as a layer (SQLAlchemy + psycopg, :func:`geopandas.read_postgis`), then checked like
  any file;
- :mod:`.write`: result layers and tables written into a staging schema and swapped in whole
  (:class:`~kmrv_geo.postgis.write.DatabaseOutput`), with GiST indexes and comments (:mod:`.comments`).
"""

from __future__ import annotations

from .connection import is_database

__all__ = ["is_database"]
