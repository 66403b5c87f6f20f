"""Processes on this host: is a pid alive, and is it still the process we recorded?

Why the start time: pids are reused. A run records its pid *and* the moment that process
started (from ``/proc/<pid>/stat``), so a new process that got the same pid later is not
mistaken for the run. Standard library only: the cheap entry of a background run uses it
before any heavy import.
"""

from __future__ import annotations

import os

# /proc/<pid>/stat counts a process's start in clock ticks since boot
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_SAME_START = 0.05  # seconds: two reads of one process's start time agree to a tick


def _boot_time() -> float | None:
    try:
        with open("/proc/stat") as fh:
            for line in fh:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except OSError:
        pass
    return None


_BOOT = _boot_time()


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()  # the name in parentheses may hold spaces
    except (OSError, IndexError):
        return None


def start_time(pid: int) -> float | None:
    """When ``pid`` started, in seconds since the epoch; None where /proc cannot tell."""
    fields = _stat_fields(pid)
    if fields is None or _BOOT is None or len(fields) < 20:
        return None
    return _BOOT + int(fields[19]) / _TICKS  # field 22 of stat; 3 fields precede our slice


def alive(pid: int | None, started: float | None = None) -> bool:
    """``pid`` runs (not a zombie) and, when ``started`` is known, is the process that started then."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    fields = _stat_fields(pid)
    if fields is None:
        return True  # no /proc: the signal said it exists
    if fields[0] == "Z":  # killed, not yet reaped by its parent: dead for us
        return False
    if started is None:
        return True
    now_started = start_time(pid)
    return now_started is None or abs(now_started - started) <= _SAME_START


def started_by(pid: int | None, moment: float) -> bool:
    """``pid`` is alive and started no later than ``moment``: a pid reused afterwards is not it."""
    if not alive(pid):
        return False
    began = start_time(pid)  # type: ignore[arg-type]
    return began is None or began <= moment + 1.0
