"""Keras ``CSVLogger`` files (``epoch,accuracy,loss,val_accuracy,val_loss``) and ``History`` JSON dumps.

Both are one row per epoch, so the step *is* the epoch and a bare ``loss`` is the epoch
mean (``train/loss_epoch``). A History dump is ``json.dump(history.history)`` (metric →
list of per-epoch values), or an object with ``history`` and ``params`` (params → config).

Hand-written PyTorch histories share the shape (``{"train_losses": [...], "val_accs": [...]}``,
the plural keys are in ``traindoc.core.vocabulary``) and often carry scalars beside the lists
(``"best_acc": 0.93, "lr": 0.001``): those go to the config, the lists are the series. A
list of lists is one list of batch values per epoch: it is read per step, and the
per-epoch lists are placed at the last step of their epoch. Histories grouped one level
deeper, by split (``{"train": {"loss": [...]}, "val": {"loss": [...]}}``) or by metric
(``{"loss": {"train": [...], "val": [...]}}``), are read with the two keys joined
(``train_loss``, ``loss_val``: the vocabulary reads either order).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from runner.importers.base import ImportFailed, Limits, Parsed
from runner.importers.sidecar import flatten, with_aliases
from runner.importers.tabular import read_table, sniff_sep, wide_to_long

MIN_GROUPED = 2  # a grouped list is a curve from two values on (one number under a key is a setting)


def read_csv(source: str, text: str, limits: Limits) -> Parsed:
    return wide_to_long(source, read_table(source, text, sniff_sep(text)), axis="epoch")


def is_history(doc: Any) -> bool:
    """A mapping of metric → list of numbers (or one with a ``history`` mapping like that).

    Scalars and strings beside the lists are allowed (settings) when one list holds at
    least two values: a one-line record with a short list stays a JSON-lines record.
    """
    hist = doc.get("history", doc) if isinstance(doc, Mapping) else None
    if not isinstance(hist, Mapping) or not hist:
        return False
    hist = _ungroup(hist)
    lists = [v for v in hist.values() if isinstance(v, list)]
    if len(lists) == len(hist):
        return any(v and (all(_number(x) for x in v) or _batches(v)) for v in lists)
    series = [v for v in lists if len(v) >= 2 and (all(_number(x) for x in v) or _batches(v))]
    names = [v for v in lists if v and _setting(v)]  # ``"classes": ["cat", "dog"]``: settings, not curves
    return bool(series) and len(series) + len(names) == len(lists) and all(
        _setting(v) for v in hist.values() if not isinstance(v, list))


def _ungroup(hist: Mapping[str, Any]) -> Mapping[str, Any]:
    """A history grouped by split or by metric (a mapping whose values are mappings of numeric lists),
    flattened to ``outer_inner`` names; any other mapping is returned as it is (nested settings stay)."""
    groups = {k: v for k, v in hist.items() if isinstance(v, Mapping) and v
              and all(isinstance(x, list) and len(x) >= MIN_GROUPED and all(_number(y) for y in x)
                      for x in v.values())}
    if not groups:
        return hist
    flat: dict[str, Any] = {k: v for k, v in hist.items() if k not in groups}
    for outer, inner in groups.items():
        for name, values in inner.items():
            flat[f"{outer}_{name}"] = values
    return flat


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) or x is None


def _batches(values: list) -> bool:
    """A list of per-epoch lists of numbers (each epoch's batch values)."""
    return bool(values) and all(isinstance(v, list) and all(_number(x) for x in v) for v in values)


def _setting(value: Any) -> bool:
    """A value beside the curves that is no curve: a scalar, a mapping, or a list of names (class labels)."""
    if isinstance(value, list):
        return all(isinstance(x, str) for x in value)
    return isinstance(value, str | int | float | bool | Mapping) or value is None


def read_history(source: str, doc: Mapping[str, Any], limits: Limits) -> Parsed:
    hist = _ungroup(doc.get("history", doc))
    epochs = next((v for v in (doc.get("epoch"), hist.get("epochs")) if isinstance(v, list)), None)
    lists = {name: v for name, v in hist.items() if isinstance(v, list) and v is not epochs}
    other = [name for name, values in lists.items() if not (all(_number(v) for v in values) or _batches(values))]
    if other and len(other) == len(lists):
        raise ImportFailed(source, f"history entry {other[0]!r} is not a list of numbers")
    # a per-epoch matrix or text beside the curves (a confusion matrix per epoch): not a series, left out
    notes = tuple(f"history entry {name!r} is not a list of numbers (one value per epoch); left out"
                  for name in other)
    lists = {name: values for name, values in lists.items() if name not in other}
    nested = [v for v in lists.values() if _batches(v)]
    if nested:
        return replace(_per_step(lists, nested[0], _config(doc, hist)), warnings=notes)
    parts = []
    for name, values in lists.items():
        steps = epochs[: len(values)] if epochs and len(epochs) >= len(values) else list(range(len(values)))
        parts.append(pd.DataFrame({"step": steps, "epoch": steps, "name": name, "value": _floats(values),
                                   "line": np.arange(1, len(values) + 1)}))
    return Parsed(pd.concat(parts, ignore_index=True), axis="epoch", config=_config(doc, hist),
                  where="history index", warnings=notes)


def _floats(values: list) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _config(doc: Mapping[str, Any], hist: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` (Keras) and the scalar settings beside the lists, as dotted keys."""
    params = doc.get("params") if isinstance(doc.get("params"), Mapping) else {}
    settings = {k: v for k, v in hist.items() if not isinstance(v, list) and k != "params"}
    return with_aliases(flatten({**settings, **params}))


def _per_step(lists: Mapping[str, list], template: list[list], config: dict[str, Any]) -> Parsed:
    """Per-epoch batch lists read per step; a flat list of one value per epoch sits at its epoch's last step."""
    ends = np.cumsum([len(batch) for batch in template])  # the last step of each epoch (1-based)
    parts = []
    for name, values in lists.items():
        if _batches(values):
            epoch = np.concatenate([np.full(len(b), e, dtype=float) for e, b in enumerate(values)] or [[]])
            vals = _floats([x for batch in values for x in batch])
            steps = np.arange(1, len(vals) + 1)
        else:
            vals = _floats(values)[: len(ends)]
            steps, epoch = ends[: len(vals)], np.arange(len(vals), dtype=float)
        parts.append(pd.DataFrame({"step": steps, "epoch": epoch, "name": name, "value": vals,
                                   "line": np.arange(1, len(vals) + 1)}))
    return Parsed(pd.concat(parts, ignore_index=True), axis="step", config=config, where="history index")
