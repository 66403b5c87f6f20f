"""What a run's chart needs besides the curves: the x-axis choices (step, epoch, wall time) and the
metrics drawn by default (the findings' metrics with their train/val partner)."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from diagnostics.findings import Finding
from diagnostics.rundata import RunData
from traindoc.views.cache import epochs_and_times
from traindoc.vocabulary import (
    CUDA_ALLOC_MB,
    CUDA_PEAK_MB,
    CUDA_RESERVED_MB,
    DATA_TIME,
    RSS_MB,
    SAMPLES_PER_SEC,
    STEP_LOSS,
    STEP_TIME,
    VAL_LOSS,
    partner,
    rank_series,
    role,
)

X_AXES = ("step", "epoch", "wall time")
DEFAULT_METRICS = (STEP_LOSS, VAL_LOSS)
# The run page's System group, one panel each (their units differ): time, throughput, memory.
# The limits (sys/ram_total_mb, sys/cuda_total_mb) are left out: one point each, and they would
# flatten the memory panels they bound.
SYSTEM_CHART = (STEP_TIME, SAMPLES_PER_SEC, DATA_TIME, CUDA_ALLOC_MB, CUDA_RESERVED_MB, CUDA_PEAK_MB, RSS_MB)


def x_map(db: str, run_id: int, last_step: int | None, names: tuple[str, ...],
          axis: str) -> tuple[tuple[np.ndarray, np.ndarray] | None, str]:
    """(step → x pairs for ``curve_figure``, axis title); ``None`` for step, or when the run has no such x."""
    if axis == "step" or not names:
        return None, "step"
    parts = epochs_and_times(db, run_id, last_step, names)
    steps = np.concatenate([p[0] for p in parts.values()]) if parts else np.empty(0)
    xs = np.concatenate([p[1 if axis == "epoch" else 2] for p in parts.values()]) if parts else np.empty(0)
    ok = np.isfinite(xs)
    if not ok.any():
        return None, f"step (this run logged no {axis})"
    steps, xs = steps[ok], xs[ok]
    order = np.argsort(steps, kind="stable")
    steps, first = np.unique(steps[order], return_index=True)
    xs = xs[order][first]
    if axis == "wall time":
        xs = xs - xs.min()
        return (steps, xs / 60.0), "wall time (minutes)"
    return (steps, xs), "epoch"


def _first_look(name: str) -> int:
    """How early ``name`` belongs on a chart nobody picked yet: a training loss first, then any loss,
    then a score with a direction, then other metrics; learning rates and system series last."""
    r = role(name)
    if r.kind == "loss":
        return 0 if r.split in ("train", "other") else 1
    if r.kind == "metric":
        return 2 if r.better else 3
    return 4


def constant_series(run: RunData | None) -> set[str]:
    """Names of the run's series that never change (a parameter count, a fixed batch size): never a default."""
    if run is None:
        return set()
    out = set()
    for name, one in run.series.items():
        _, y = one.finite()
        if len(y) > 1 and float(np.ptp(y)) == 0.0:
            out.add(name)
    return out


def default_metrics(names: list[str], findings: list[Finding], constant: Collection[str] = ()) -> list[str]:
    """train/loss + val/loss, plus each finding's metrics with their train/val partner, so a finding's
    evidence is on the chart beside what it is judged against. With none of those, the first series
    by ``_first_look`` that is not ``constant`` (an uploaded log must not open on ``n_parameters``)."""
    picked = [n for n in DEFAULT_METRICS if n in names]
    for finding in findings:
        picked += [m for m in (finding.evidence.metric, *finding.evidence.related) if m in names]
    if not picked and names:
        moving = [n for n in names if n not in constant] or names
        picked = [min(moving, key=_first_look)]  # min keeps the first of equals: the log's own order
    # e.g. a Keras log: val/loss alone would hide the train loss (train/loss_epoch) it is judged against
    # the val loss beside the finest training curve (use="step"), as the chart draws shapes
    paired = [m for name in picked if name for m in (name, partner(name, names, use="step")) if m]
    return list(dict.fromkeys(paired))[:4] or names[:1]


def system_metrics(names: list[str]) -> list[str]:
    """The run's system series for the System chart group: step time (then each rank's, from a
    DDP job's ``sys/step_time@<rank>``), throughput, data wait, memory; empty when none was logged."""
    present = set(names)
    out: list[str] = []
    for name in SYSTEM_CHART:
        if name in present:
            out.append(name)
        if name == STEP_TIME:
            out += [n for n in rank_series(STEP_TIME, names).values() if n != STEP_TIME]
    return out
