"""What the store hands to whoever judges a run: a tidy frame with the logged names, config and meta.

The store judges nothing and knows no diagnostics: a caller turns this into the
diagnostics' ``RunData`` (``traindoc.handoff.load_run``). An imported run's rows are
stored under their mapped names; here they get their logged names back, so a stored run
and a freshly imported one reach the diagnostics in the same shape (logged names plus
the name mapping).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from runner.store.core import Store

MAX_POINTS_PER_METRIC = 200_000  # per-step curves longer than this are read at a stride


@dataclass(frozen=True)
class RunFrame:
    """A run's tidy rows (``step, epoch, name, value, wall_time``), flat config, meta and name mapping."""

    frame: pd.DataFrame
    config: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    mapping: dict[str, str] | None = None  # logged → canonical; None: names are mapped by whoever reads
    epoch_level: bool | None = None


def run_frame(store: Store, run_id: int, max_points: int = MAX_POINTS_PER_METRIC) -> RunFrame:
    """One run as stored; raises KeyError for an unknown id.

    A metric logged more than ``max_points`` times is read at a regular step stride
    (plus every NaN): the rules judge smoothed trends and noise levels, which a stride
    sample keeps, and a 10-million-step run then diagnoses in about a second.
    """
    info = store.run(run_id)
    stored_meta = info.get("meta", {})
    meta = {
        **stored_meta,
        "run_id": run_id,
        "name": info.get("name"),
        "source": info.get("source"),
        "status": info.get("status"),
        "group_id": info.get("group_id"),
        "format": "traindoc-db",
    }
    config = info.get("config", {})
    if config.get("loss.name"):
        meta.setdefault("loss_type", config["loss.name"])
    frame = store.metrics(run_id, max_points=max_points)
    if not stored_meta.get("mapped"):  # a runner or API run: its names are ours, a bare ``loss`` is per step
        return RunFrame(frame, config, meta, None, epoch_level=False)
    mapping = dict(stored_meta.get("mapping", {}))  # maybe corrected by hand on the upload page
    logged = {name: original for original, name in mapping.items()}
    names = frame["name"].astype(str)
    frame = frame.assign(name=names.map(logged).fillna(names))
    return RunFrame(frame, config, meta, mapping)
