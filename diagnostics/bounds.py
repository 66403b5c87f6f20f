"""The ranges a suggested config patch must stay inside, handed in by the caller.

diagnostics does not know the runner: whoever diagnoses for the runner passes its ranges
(``diagnose(run, bounds=runner.config.bounds())``) and the fixes' numbers are clamped to
them while the rules run. Without bounds a patch is left as computed (a log from another
framework has no ranges to respect).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType

Bounds = Mapping[str, tuple[float, float]]

_IN_FORCE: ContextVar[Bounds] = ContextVar("bounds", default=MappingProxyType({}))


@contextmanager
def in_force(bounds: Bounds | None) -> Iterator[None]:
    """Make ``bounds`` the ranges ``clamp`` uses for the duration of a diagnosis (thread- and task-local)."""
    token = _IN_FORCE.set(dict(bounds or {}))
    try:
        yield
    finally:
        _IN_FORCE.reset(token)


def clamp(key: str, value: float) -> float:
    """A patched number kept inside the allowed range for ``key``, when the caller gave one."""
    lo_hi = _IN_FORCE.get().get(key)
    if lo_hi is None:
        return value
    lo, hi = lo_hi
    return float(min(max(value, lo), hi))
