"""Step time that rises over the run, steadily or in one sustained jump."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diagnostics import curves
from diagnostics.base import Rule, register
from diagnostics.findings import Evidence, Finding, Fix
from diagnostics.rules._common import judge_each_run
from diagnostics.rundata import RunData, Series
from diagnostics.trend import mann_kendall_p
from traindoc.core.vocabulary import SAMPLES_PER_SEC, STEP_TIME


def timing(run: RunData) -> Series | None:
    """The series the step time is read from: ``sys/step_time``, else ``sys/samples_per_sec``."""
    return run.get(STEP_TIME) or run.get(SAMPLES_PER_SEC)


def step_times(run: RunData) -> tuple[str, np.ndarray, np.ndarray]:
    """The step-time curve: ``sys/step_time``, else the inverse of throughput (time per sample),
    which rises by the same factor when the batch size is fixed."""
    series = timing(run)
    if series is not None and series.name == STEP_TIME:
        return (STEP_TIME, *curves.reduce(*series.finite()))
    x, y = curves.finite(series)
    ok = y > 0
    return (SAMPLES_PER_SEC, *curves.reduce(x[ok], 1.0 / y[ok])) if ok.any() else ("", np.empty(0), np.empty(0))


def jump_at(y: np.ndarray, edge: int) -> tuple[int, bool]:
    """The best single split of ``y`` into two levels (index of the first point after it), and
    whether two levels fit better than a straight line: a jump rather than a steady rise."""
    n = len(y)
    csum, csq = np.cumsum(y), np.cumsum(y * y)
    k = np.arange(edge, n - edge + 1)
    left = csq[k - 1] - csum[k - 1] ** 2 / k
    right = (csq[-1] - csq[k - 1]) - (csum[-1] - csum[k - 1]) ** 2 / (n - k)
    sse = left + right
    best = int(k[np.argmin(sse)])
    i = np.arange(n, dtype=float)
    line = np.polyval(np.polyfit(i, y, 1), i)
    return best, float(sse.min()) < float(((y - line) ** 2).sum())


@register
@dataclass(frozen=True)
class Slowdown(Rule):
    """What it detects:
    The time per training step rises over the run: the median step time over the last
    ``edge`` share of the run is at least ``min_rise`` above the median over the first (after
    the warm-up), and the rise is a trend (Mann-Kendall, one-sided p below ``alpha``), not a
    few slow steps. A single sustained jump is told apart from a steady climb (two levels
    fit better than a line). Reads ``sys/step_time`` (the runner logs it at its flush
    cadence), else the inverse of ``sys/samples_per_sec`` (HF, Lightning's ThroughputMonitor).

    Why it matters:
    A steady climb means something grows with the run: a Python list or a graph kept across
    steps (a loss accumulated without ``.detach()``), a cache, a dataloader falling behind,
    a GPU throttling as it heats. A jump means something changed at that step: another job
    on the machine, a data shard on slower storage, evaluation or checkpointing that began.
    Either way the rest of the run costs more than its start promised.

    Suggested fix:
    Profile a slow window against a fast one (``torch.profiler``); detach what is kept across
    steps; check the data loader (``num_workers``, ``pin_memory``, its wait time) and the
    machine (other processes, GPU clocks and temperature) around the step the slowdown began.

    Parameters:
    min_points: step-time samples needed (after the warm-up) before judging.
    warmup: share of the first samples skipped (compilation, caches, the allocator warming up).
    edge: share of the run at each end whose median is its early and late level.
    min_rise: the late level must exceed the early level by this share (0.25: 25 % slower).
    alpha: the one-sided Mann-Kendall p-value below which the rise is a trend.

    References:
    Mann (1945), Kendall (1975): rank trend test; PyTorch profiler recipe; PyTorch Lightning
    ThroughputMonitor; MMEngine's iteration ``time``/``data_time``.
    """

    id = "slowdown"
    order = 210
    title = "Training slows down"
    severity = "warning"
    requires = ((STEP_TIME, SAMPLES_PER_SEC),)

    min_points: int = 8
    warmup: float = 0.1
    edge: float = 0.2
    min_rise: float = 0.25
    alpha: float = 0.01

    def check(self, run: RunData) -> list[Finding]:
        """An appended log (several runs in one file, each with its own machine and settings) is judged run by
        run: the next run being slower than the last is no slowdown of either."""
        series = timing(run)
        found = judge_each_run(run, series, self._check_one) if series is not None else None
        return self._check_one(run) if found is None else found

    def _check_one(self, run: RunData) -> list[Finding]:
        name, x, y = step_times(run)
        skip = int(len(y) * self.warmup)
        x, y = x[skip:], y[skip:]
        if len(y) < self.min_points or not (y > 0).all():
            return []
        early = curves.level(y, self.edge, end=False)
        late = curves.level(y, self.edge, end=True)
        if late < (1 + self.min_rise) * early or mann_kendall_p(y) >= self.alpha:
            return []
        k = max(1, int(len(y) * self.edge))
        split, jumped = jump_at(y, k)
        what = "time per sample" if name == SAMPLES_PER_SEC else "step time"
        at = run.when(float(x[split]))
        how = f"jumped at {at}" if jumped else "rose steadily"
        summary = (f"The {what} {how}: {late / early:.2f}× its early level by the end "
                   f"(median {curves.fmt(early)} → {curves.fmt(late)}"
                   f"{' s' if name == STEP_TIME else ' s per sample'}).")
        start = float(x[split]) if jumped else float(x[0])
        values = {"early": early, "late": late, "ratio": late / early, "jump": jumped,
                  "from_step": start, "source": name}
        marks = ({"kind": "vline", "value": float(x[split]), "label": "jump"},) if jumped else (
            {"kind": "span", "start": float(x[0]), "end": float(x[-1]), "label": "rising"},)
        fixes = [
            Fix("Profile a slow window against a fast one (torch.profiler)",
                f"the {what} grew {late / early:.2f}×: the profile shows which op or wait took the difference"),
            Fix("Check what is kept across steps (losses without .detach(), growing lists, caches)",
                "anything that grows with the step count makes every later step slower"),
            Fix(f"Check the machine and the data path around {run.when(start)}",
                "another process, GPU throttling or a slower data source shows as a step-time jump"),
        ]
        return [self.finding(summary, Evidence(name, int(x[0]), int(x[-1]), values, marks), fixes)]
