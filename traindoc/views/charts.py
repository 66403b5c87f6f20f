"""What a run's chart needs besides the curves: the x-axis choices (step, epoch, wall time) and the
metrics drawn by default (the findings' metrics with their train/val partner)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import numpy as np

from diagnostics.findings import Finding
from diagnostics.rundata import RunData
from traindoc.core.vocabulary import (
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
from traindoc.views.cache import epochs_and_times

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
    evidence is on the chart beside what it is judged against (a system series stays in the System
    group, on the same x-axis). With none of those, the first series
    by ``_first_look`` that is not ``constant`` (an uploaded log must not open on ``n_parameters``)."""
    picked = [n for n in DEFAULT_METRICS if n in names]
    for finding in findings:  # a system finding's series are drawn in the System group, with its marks
        picked += [m for m in (finding.evidence.metric, *finding.evidence.related)
                   if m in names and m not in system_metrics(names)]
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


def shared_x_range(xs: tuple[np.ndarray, np.ndarray] | None,
                   *charts: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> list[float] | None:
    """One x range for the run page's charts (the curves and the System group), so a memory rise sits
    under the loss it came with. ``xs`` maps steps to the chosen x (``x_map``; None: the step
    itself); the range spans every series of every chart, mapped the way ``curve_figure`` maps
    them. None when no chart has a point."""
    steps = [np.asarray(s, dtype=float) for chart in charts for s, _ in chart.values() if len(s)]
    if not steps:
        return None
    ends = np.array([min(float(s.min()) for s in steps), max(float(s.max()) for s in steps)])
    if xs is not None:
        ends = np.interp(ends, np.asarray(xs[0], dtype=float), np.asarray(xs[1], dtype=float))
    low, high = float(ends[0]), float(ends[1])
    return [low, high] if high > low else None


# The left margin (px) of the run page's charts, fixed so their plot areas start at the same pixel
# whatever their tick labels ("0.5" beside "2000"); wide enough for a log axis's "0.0001".
ALIGNED_LEFT_MARGIN = 64


def align_x(figure: Any, span: list[float] | None) -> Any:
    """Give ``figure`` the shared x range and the fixed left margin: charts stacked on the run page
    then put one step (or minute) at the same pixel column."""
    figure.update_xaxes(range=span)
    figure.update_yaxes(automargin=False)
    figure.update_layout(margin={"l": ALIGNED_LEFT_MARGIN})
    return figure


def system_findings(findings: list[Finding], system: Collection[str]) -> list[Finding]:
    """The findings about system series (a slowdown, a memory growth): their marks go on the System group."""
    return [f for f in findings if f.evidence.metric in system]
