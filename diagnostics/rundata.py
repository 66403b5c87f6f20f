"""``RunData``: one run's curves, config and metadata, the only input the rules see.

Curves are numpy arrays keyed by canonical metric name (``train/loss``, ``val/loss``...)
with the logged name kept beside them. The caller reads (a log file, the store) and hands
over a tidy frame (``from_frame``) or the same columns as numpy arrays (``from_columns``, which
needs no pandas: a short-lived ``python -m diagnostics`` pays ~0.3 s to import it); the rules
never touch SQL or files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from traindoc.core.vocabulary import Monitor, map_names

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Series:
    """One metric: steps ascending, values (NaN = a logged NaN), epochs when known."""

    name: str
    original: str
    steps: np.ndarray
    values: np.ndarray
    epochs: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.values)

    def finite(self) -> tuple[np.ndarray, np.ndarray]:
        """Steps and values where the value is a real number (NaN/inf dropped)."""
        ok = np.isfinite(self.values)
        return self.steps[ok], self.values[ok]


def _freeze(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class RunData:
    """A run as the rules see it; build it with ``from_frame``."""

    series: Mapping[str, Series]
    config: Mapping[str, Any] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "series", _freeze(self.series))
        object.__setattr__(self, "config", _freeze(self.config))
        object.__setattr__(self, "meta", _freeze(self.meta))

    # -- access ------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return sorted(self.series)

    def between(self, start: float, end: float) -> RunData:
        """The run's points with ``start <= step < end``, every series cut alike (one run of an appended log,
        judged alone); the cut run has no restarts of its own."""
        cut = {}
        for name, s in self.series.items():
            keep = (s.steps >= start) & (s.steps < end)
            cut[name] = Series(s.name, s.original, s.steps[keep], s.values[keep],
                               None if s.epochs is None else s.epochs[keep])
        meta = {k: v for k, v in self.meta.items() if k not in ("restarts", "resumes")}
        return RunData(cut, self.config, meta)

    def get(self, name: str) -> Series | None:
        """The series, or None when absent or empty."""
        s = self.series.get(name)
        return s if s is not None and len(s) else None

    def best(self, monitor: Monitor) -> float | None:
        """The best finite value of the monitored metric (``Monitor.best``); None when it was not logged
        or is not finite anywhere. The ``best`` that ``vocabulary.first_score_logged`` takes."""
        s = self.get(monitor.name)
        if s is None:
            return None
        value = monitor.best(s.values)
        return None if np.isnan(value) else value

    def first(self, *names: str) -> Series | None:
        """The first of ``names`` that is present: callers list them in order of preference."""
        for name in names:
            s = self.get(name)
            if s is not None:
                return s
        return None

    def has(self, *names: str) -> bool:
        return any(self.get(n) is not None for n in names)

    def prefixed(self, prefix: str) -> dict[str, Series]:
        """Series named ``prefix<suffix>`` (e.g. ``grad_norm/``), keyed by suffix, in natural order."""
        found = {n[len(prefix) :]: s for n, s in self.series.items() if n.startswith(prefix) and len(s)}
        return dict(sorted(found.items(), key=lambda kv: _natural_key(kv[0])))

    def epoch_at(self, step: float) -> float | None:
        """The epoch of a step when any series carries epochs, else None."""
        for s in self.series.values():
            if s.epochs is not None and len(s) and np.isfinite(s.epochs).any():
                ok = np.isfinite(s.epochs)
                return float(np.interp(step, s.steps[ok], s.epochs[ok]))
        return None

    def when(self, step: float) -> str:
        """'epoch 12' when epochs are known (rounded), else 'step 340': for summaries."""
        if self.meta.get("axis") == "epoch":
            return f"epoch {step:g}"
        epoch = self.epoch_at(step)
        if epoch is None:
            return f"step {int(step)}"
        return f"epoch {round(epoch, 1):g}"

    def original(self, name: str) -> str:
        s = self.series.get(name)
        return s.original if s is not None else name

    # -- constructors ------------------------------------------------------
    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        config: Mapping[str, Any] | None = None,
        meta: Mapping[str, Any] | None = None,
        mapping: Mapping[str, str] | None = None,
        epoch_level: bool | None = None,
    ) -> RunData:
        """From a tidy frame ``step, name, value`` (optional ``epoch``) with the logged names.

        ``mapping`` (logged → canonical name) is the one an importer found or a user
        corrected; without it the names are mapped here, the same way
        (``traindoc.core.vocabulary.map_names``; ``epoch_level`` forces the granularity of a
        bare ``loss``). The logged name stays beside each series.
        """
        missing = {"step", "name", "value"} - set(frame.columns)
        if missing:
            raise ValueError(f"metric frame lacks column(s) {', '.join(sorted(missing))}")
        import pandas as pd  # only where a caller already holds a frame

        # the columns once, as arrays: grouping 10,000 names through pandas one by one took seconds (issue 20)
        frame = frame[frame["name"].notna()]  # a row with no name is no metric's (a groupby drops it too)
        epochs = (pd.to_numeric(frame["epoch"], errors="coerce").to_numpy(dtype=float)
                  if "epoch" in frame.columns else None)
        return cls.from_columns(pd.to_numeric(frame["step"], errors="coerce").to_numpy(dtype=float),
                                frame["name"].astype(str).to_numpy(),
                                pd.to_numeric(frame["value"], errors="coerce").to_numpy(dtype=float),
                                epochs, config, meta, mapping, epoch_level)

    @classmethod
    def from_columns(
        cls,
        steps: np.ndarray,
        names: np.ndarray,
        values: np.ndarray,
        epochs: np.ndarray | None = None,
        config: Mapping[str, Any] | None = None,
        meta: Mapping[str, Any] | None = None,
        mapping: Mapping[str, str] | None = None,
        epoch_level: bool | None = None,
    ) -> RunData:
        """``from_frame`` on the tidy columns as numpy arrays (names as text, numbers as floats): no pandas.

        The same run as ``from_frame`` on a frame of these columns: rows without a step dropped,
        one series per name in name order, each in step order with the last row of a repeated
        step kept.
        """
        steps = np.asarray(steps, dtype=float)
        names = np.asarray(names, dtype=str)
        values = np.asarray(values, dtype=float)
        epochs = None if epochs is None else np.asarray(epochs, dtype=float)
        if not (len(steps) == len(names) == len(values) and (epochs is None or len(epochs) == len(steps))):
            raise ValueError("metric columns differ in length")
        known = ~np.isnan(steps)
        steps, names, values = steps[known], names[known], values[known]
        epochs = None if epochs is None else epochs[known]
        labels, group = np.unique(names, return_inverse=True)
        by_name = np.argsort(group, kind="stable")  # file order inside each name
        rows = np.split(by_name, np.flatnonzero(np.diff(group[by_name])) + 1) if len(by_name) else []
        if mapping is None:
            logged = epochs[~np.isnan(epochs)] if epochs is not None else np.empty(0)
            mapping = map_names({str(k): len(r) for k, r in zip(labels, rows, strict=True)},
                                axis=str((meta or {}).get("axis", "step")),
                                epochs=len(np.unique(np.floor(logged))) if len(logged) else 0,
                                epoch_level=epoch_level)
        series: dict[str, Series] = {}
        for original, r in zip(labels.tolist(), rows, strict=True):
            r = r[np.argsort(steps[r], kind="stable")]
            last = np.append(steps[r][1:] != steps[r][:-1], True)  # a repeated step: its last row counts
            r = r[last]
            ep = epochs[r] if epochs is not None and not np.isnan(epochs[r]).all() else None
            name = mapping.get(original, original)
            series[name] = Series(name, original, steps[r], values[r], ep)
        return cls(series, config or {}, meta or {})


def _natural_key(text: str) -> tuple:
    digits = "".join(ch for ch in text if ch.isdigit())
    return (text.rstrip("0123456789"), int(digits) if digits else -1, text)
