"""The SQLite store: the only package with SQL.

One file, WAL mode, a busy timeout, so several runner processes write while the
dashboard reads. Metrics are long format ``(run_id, step, epoch, name, value,
wall_time)``. A row that exists was logged; SQLite turns NaN into NULL, so a NULL
``value`` *is* a logged NaN (not "missing") and reads give it back as ``nan``.
Infinities round-trip as REAL natively.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runner.store.base import (
    BUSY_TIMEOUT_MS,
    DEFAULT_DB,
    DISK_FULL,
    HEARTBEAT_SECONDS,
    SCHEDULER_STALE_SECONDS,
    SOURCES,
    STALE_AFTER_SECONDS,
    DiskFullError,
    ImportedRunRows,
    MetricRow,
    StoreError,
    StoreGone,
    disk_full_reason,
    is_disk_full,
    resolve_db_path,
)
from runner.store.schema import MIGRATIONS
from traindoc.core.statuses import ACTIVE, STATUSES  # re-exported: the run statuses live in the leaf

if TYPE_CHECKING:
    from runner.store.core import Store


def __getattr__(name: str) -> Any:
    """``Store`` (numpy, pandas) loads on first use, so the cheap entry of a background run and the
    scheduler's lock need only the standard library."""
    if name == "Store":
        from runner.store.core import Store

        return Store
    raise AttributeError(f"module 'runner.store' has no attribute {name!r}")

__all__ = ["ACTIVE", "BUSY_TIMEOUT_MS", "DEFAULT_DB", "DISK_FULL", "HEARTBEAT_SECONDS", "MIGRATIONS",
           "SCHEDULER_STALE_SECONDS", "SOURCES", "STALE_AFTER_SECONDS", "STATUSES", "DiskFullError", "ImportedRunRows",
           "MetricRow", "Store", "StoreError", "StoreGone", "disk_full_reason", "is_disk_full", "resolve_db_path"]
