"""Imported runs into the store (one transaction) and corrections of their name mapping.

Stored metric names are the mapped (canonical) ones, so every page and rule reads an
uploaded run like a runner run; the original names stay in the run's meta
(``mapping``: original → stored), where a correction from the upload page updates them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from runner.importers.base import ImportedRun

if TYPE_CHECKING:  # reading a log for a diagnosis needs no database
    from runner.store import Store


def rows(run: ImportedRun, mapping: Mapping[str, str] | None = None) -> list[tuple]:
    """``(step, epoch, name, value, wall_time)`` with mapped names; a missing wall time is the import time."""
    frame = run.frame
    names = frame["name"].map(dict(mapping or run.mapping)).fillna(frame["name"])
    walls = frame["wall_time"].to_numpy(dtype=float)
    walls = np.where(walls > 0, walls, time.time())
    return list(zip(frame["step"].tolist(), frame["epoch"].tolist(), names.tolist(), frame["value"].tolist(),
                    walls.tolist(), strict=True))


def meta(run: ImportedRun) -> dict[str, Any]:
    return {**run.meta, "mapping": dict(run.mapping), "mapped": True, "import_notes": list(run.warnings)}


def save(store: Store, runs: Sequence[ImportedRun], *, source: str = "upload", group_id: int | None = None,
         progress: Callable[[int, int], None] | None = None) -> list[int]:
    """Write the runs, all or nothing; returns their ids in order."""
    payload = [(run.name, dict(run.config), meta(run), rows(run)) for run in runs]
    return store.import_runs(payload, source=source, group_id=group_id, progress=progress)


def remap(store: Store, run_id: int, corrected: Mapping[str, str]) -> dict[str, str]:
    """Apply a corrected original → name mapping to a stored run; returns the mapping now in force."""
    info = store.run(run_id)
    current = dict(info["meta"].get("mapping", {}))
    new = {o: (corrected.get(o) or current[o]).strip() for o in current}
    renames = {current[o]: new[o] for o in current if current[o] != new[o]}
    store.rename_metrics(run_id, renames, meta={**info["meta"], "mapping": new})
    return new
