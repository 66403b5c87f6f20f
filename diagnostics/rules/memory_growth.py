"""Host or device memory that keeps rising through the run, extrapolated to the limit it runs into."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diagnostics import curves
from diagnostics.base import Rule, register
from diagnostics.findings import Evidence, Finding, Fix
from diagnostics.rundata import RunData
from diagnostics.trend import mann_kendall_p, theil_sen_slope
from traindoc.core.vocabulary import CUDA_ALLOC_MB, CUDA_PEAK_MB, CUDA_RESERVED_MB, MEMORY_LIMITS, RSS_MB

START_SHARE = 0.1  # the starting level: the median of the judged stretch's first tenth

# One finding per memory: the device (allocated first: the caching allocator's reserved pool
# only follows it), then the host.
KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("GPU memory", (CUDA_ALLOC_MB, CUDA_PEAK_MB, CUDA_RESERVED_MB)),
    ("host memory (RSS)", (RSS_MB,)),
)
PER_STEPS = 1000  # growth is reported per this many steps


@register
@dataclass(frozen=True)
class MemoryGrowth(Rule):
    """What it detects:
    Memory that keeps rising after the warm-up: a significant upward trend (Mann-Kendall,
    one-sided p below ``alpha``) whose robust rise (Theil-Sen slope over the judged stretch)
    is at least ``min_rise`` of its starting level, and that has not levelled off (the
    slope over the last half is at least ``persist`` of the whole). Judged on CUDA allocated
    memory (else MMEngine's per-interval peak, else reserved) and on host RSS. At that slope
    it extrapolates to the limit when the run logged one (``sys/cuda_total_mb``,
    ``sys/ram_total_mb``): a warning when the limit falls within ``horizon`` times the run's
    length again, a hint otherwise or when no limit is known.

    Why it matters:
    A leak ends in an out-of-memory crash, often hours in, and on the host it first slows
    everything down through swapping. The usual causes: tensors kept alive across steps
    (a loss summed without ``.item()``/``.detach()``, so its graph stays), growing caches
    or lists, dataloader workers that copy the dataset as reference counts touch it.
    Memory that rises at the start and levels off is the allocator and caches filling: healthy.

    Suggested fix:
    Detach or convert what is kept across steps (``loss.detach()``, ``.item()`` at logging
    time only); bound caches; compare ``torch.cuda.memory_snapshot`` (or ``tracemalloc`` on
    the host) between two points of the run; keep dataloader datasets in numpy arrays, not
    Python lists of objects.

    Parameters:
    min_points: memory samples needed (after the warm-up) before judging.
    warmup: share of the first samples skipped (allocator and caches filling).
    alpha: the one-sided Mann-Kendall p-value below which the rise is a trend.
    min_rise: the rise over the judged stretch must be at least this share of its starting level.
    persist: the last half's slope must be at least this share of the whole stretch's (not levelling off).
    horizon: a limit reached within this many run-lengths more at the current slope is a warning.

    References:
    PyTorch FAQ, "My model reports cuda runtime error(2): out of memory" (accumulating history);
    PyTorch "Understanding CUDA Memory Usage" (memory snapshots); Sen (1968): robust slope.
    """

    id = "memory_growth"
    order = 220
    title = "Memory keeps growing"
    severity = "warning"
    requires = ((CUDA_ALLOC_MB, CUDA_PEAK_MB, CUDA_RESERVED_MB, RSS_MB),)

    min_points: int = 8
    warmup: float = 0.2
    alpha: float = 0.01
    min_rise: float = 0.1
    persist: float = 0.5
    horizon: float = 1.0

    def check(self, run: RunData) -> list[Finding]:
        found = []
        for what, names in KINDS:
            series = run.first(*names)
            if series is not None:
                finding = self._judge(run, what, series.name)
                if finding is not None:
                    found.append(finding)
        return found

    def _judge(self, run: RunData, what: str, name: str) -> Finding | None:
        x, y = curves.reduce(*curves.finite(run.get(name)))
        skip = int(len(y) * self.warmup)
        x, y = x[skip:], y[skip:]
        if len(y) < self.min_points or np.ptp(x) <= 0:
            return None
        start = curves.level(y, START_SHARE, end=False)
        slope = theil_sen_slope(x, y)
        rise = slope * float(np.ptp(x))
        if slope <= 0 or start <= 0 or rise < self.min_rise * start or mann_kendall_p(y) >= self.alpha:
            return None
        half = len(y) // 2
        if theil_sen_slope(x[half:], y[half:]) < self.persist * slope:
            return None  # it levelled off: caches filled, not a leak
        end = float(y[-1])
        _, limits = curves.finite(run.get(MEMORY_LIMITS[name]))
        limit = float(limits[-1]) if len(limits) else None
        run_len = float(x[-1]) - float(run.series[name].steps[0])
        at_limit = float(x[-1]) + (limit - end) / slope if limit is not None and limit > end else None
        soon = at_limit is not None and at_limit - float(x[-1]) <= self.horizon * max(run_len, 1.0)
        rate = slope * PER_STEPS
        summary = f"{what} ({name}) rose steadily from {curves.fmt(start)} to {curves.fmt(end)} MB, " \
                  f"about {curves.fmt(rate)} MB per {PER_STEPS} steps, without levelling off"
        if at_limit is not None:
            summary += f"; at that rate it reaches the {curves.fmt(limit)} MB limit near step {at_limit:.0f}"
        summary += "." if limit is not None else " (no memory limit was logged)."
        values = {"start_mb": start, "end_mb": end, "mb_per_1000_steps": rate, "limit_mb": limit,
                  "limit_at_step": at_limit}
        marks = [{"kind": "span", "start": float(x[0]), "end": float(x[-1]), "label": "rising"}]
        if limit is not None:
            marks.append({"kind": "hline", "value": limit, "label": "limit"})
        fixes = [
            Fix("Detach what is kept across steps (loss.detach(), .item() only when logging)",
                "a tensor kept alive keeps its autograd graph and grows memory every step"),
            Fix("Compare two memory snapshots of the run (torch.cuda.memory_snapshot, tracemalloc)",
                f"what grows by {curves.fmt(rate)} MB per {PER_STEPS} steps shows up in the difference"),
            Fix("Bound caches and history lists; keep loader datasets in arrays, not lists of objects",
                "workers touching Python objects copy them page by page (copy-on-read)"),
        ]
        return self.finding(summary, Evidence(name, int(x[0]), int(x[-1]), values, tuple(marks)), fixes,
                            severity="warning" if soon else "info")
