"""The ``kmrv`` command line: a click group in :mod:`.main`, one module per command."""

from __future__ import annotations
