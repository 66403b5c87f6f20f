"""System signals of a training process: step time, throughput, host RSS and CUDA memory.

Why sampled, not measured per step: timing a GPU step exactly needs a host-device sync (or an
event per step that someone must wait on), and that sync is what slows training. The sink
calls ``sample`` only when it flushes (every ``flush_every`` rows or ``flush_seconds``): the
wall time between two flushes over the steps between them is the mean step time of that
window. The host runs at most a few launches ahead of the GPU, so over a window of a second
the host's pace is the device's. Memory comes from counters the host already holds: RSS from
``/proc/self/statm``, CUDA from the caching allocator's statistics (``memory_allocated`` and
``memory_reserved`` read host-side bookkeeping and never wait for the device).

Why the wall clock and not CUDA events per step: an event recorded at each ``log`` is cheap, but
its elapsed time can only be read once the device has passed it, so the reader must either wait
(a sync) or keep every step's events until they complete. The host cannot run more than the
launch queue ahead of the device, and every flush's own copy is fenced by an event the writer
waits on, so over a window of many steps the wall clock measures the device's pace, with an
error of at most the queue's depth at the window's edges, spread over the window.

Which device: the runner names it (``cuda_device``); a user's script (the logging API and the
integrations) does not, so there ``follow_cuda`` asks, at each sample, whether this process's
torch has initialised CUDA (``torch.cuda.is_initialized``: a flag, it starts nothing) and reads
the current device's counters if so. Where torch was never loaded or CUDA never used, nothing
CUDA is called at all.
"""

from __future__ import annotations

import os
import resource
import sys
from dataclasses import dataclass, field

from traindoc.core.vocabulary import (
    CUDA_ALLOC_MB,
    CUDA_RESERVED_MB,
    CUDA_TOTAL_MB,
    RAM_TOTAL_MB,
    RSS_MB,
    SAMPLES_PER_SEC,
    STEP_TIME,
    rank_name,
)

MB = 1024 * 1024
_STATM = "/proc/self/statm"


def rss_mb() -> float | None:
    """Resident set size of this process in MB (``/proc``; elsewhere the peak from getrusage, or None)."""
    try:
        with open(_STATM, encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MB
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KB on Linux, bytes on macOS
        return peak / (MB if sys.platform == "darwin" else 1024) if peak else None


def ram_total_mb() -> float | None:
    """The host's physical memory in MB: the limit a growing RSS runs into."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / MB
    except (OSError, ValueError):
        return None


@dataclass
class SystemSampler:
    """Turns (step, time) at each flush into system rows; a ``rank`` above 0 suffixes the names (``@rank``).

    ``samples_per_step`` (the batch size) gives throughput; ``cuda_device`` (an index or a
    ``torch.device``) adds the allocator's counters; ``follow_cuda`` adds them for the device the
    process trains on, once it uses one (see the module). The first sample sets the reference and
    logs host RAM; the device's memory is logged once, with its first counters; every later
    sample logs the window's step time.
    """

    samples_per_step: int | None = None
    cuda_device: object | None = None
    rank: int | None = None
    follow_cuda: bool = False
    _last: tuple[int, float] | None = field(default=None, init=False)
    _cuda_total_logged: bool = field(default=False, init=False)

    def _name(self, name: str) -> str:
        return name if not self.rank else rank_name(name, self.rank)  # rank 0's is the run's own series

    def sample(self, step: int, now: float) -> dict[str, float]:
        """The system rows for ``step`` reached at monotonic time ``now``."""
        out: dict[str, float] = {}
        if self._last is None:
            out.update(self._limits())
        elif step > self._last[0]:
            step_time = (now - self._last[1]) / (step - self._last[0])
            out[STEP_TIME] = step_time
            if self.samples_per_step and step_time > 0:
                out[SAMPLES_PER_SEC] = self.samples_per_step / step_time
        if self._last is None or step > self._last[0]:
            self._last = (step, now)
        rss = rss_mb()
        if rss is not None:
            out[RSS_MB] = rss
        device = self.cuda_device if self.cuda_device is not None else cuda_in_use() if self.follow_cuda else None
        if device is not None:
            import torch  # loaded already wherever a CUDA device trains

            if not self._cuda_total_logged:
                out[CUDA_TOTAL_MB] = torch.cuda.get_device_properties(device).total_memory / MB
                self._cuda_total_logged = True
            out[CUDA_ALLOC_MB] = torch.cuda.memory_allocated(device) / MB
            out[CUDA_RESERVED_MB] = torch.cuda.memory_reserved(device) / MB
        return {self._name(k): v for k, v in out.items()}

    def _limits(self) -> dict[str, float]:
        ram = ram_total_mb()
        return {} if ram is None else {RAM_TOTAL_MB: ram}


def cuda_in_use() -> int | None:
    """The CUDA device this process works on, when its torch has initialised CUDA; else None.

    Never starts CUDA: torch is only looked up among the loaded modules, and ``is_initialized``
    is a flag; ``current_device`` is then the host's record of the device set for this thread."""
    torch = sys.modules.get("torch")
    cuda = getattr(torch, "cuda", None)
    if cuda is None or not cuda.is_initialized():
        return None
    return cuda.current_device()
