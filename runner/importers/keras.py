"""Keras ``CSVLogger`` files (``epoch,accuracy,loss,val_accuracy,val_loss``) and ``History`` JSON dumps.

Both are one row per epoch, so the step *is* the epoch and a bare ``loss`` is the epoch
mean (``train/loss_epoch``). A History dump is ``json.dump(history.history)`` (metric →
list of per-epoch values), or an object with ``history`` and ``params`` (params → config).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from runner.importers.base import ImportFailed, Limits, Parsed
from runner.importers.sidecar import flatten, with_aliases
from runner.importers.tabular import read_table, sniff_sep, wide_to_long


def read_csv(source: str, text: str, limits: Limits) -> Parsed:
    return wide_to_long(source, read_table(source, text, sniff_sep(text)), axis="epoch")


def is_history(doc: Any) -> bool:
    """A mapping of metric → list of numbers (or one with a ``history`` mapping like that)."""
    hist = doc.get("history", doc) if isinstance(doc, Mapping) else None
    if not isinstance(hist, Mapping) or not hist:
        return False
    lists = [v for v in hist.values() if isinstance(v, list)]
    return len(lists) == len(hist) and any(v and all(_number(x) for x in v) for v in lists)


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) or x is None


def read_history(source: str, doc: Mapping[str, Any], limits: Limits) -> Parsed:
    hist = doc.get("history", doc)
    epochs = doc.get("epoch") if isinstance(doc.get("epoch"), list) else None
    parts = []
    for name, values in hist.items():
        if not isinstance(values, list) or not all(_number(v) for v in values):
            raise ImportFailed(source, f"history entry {name!r} is not a list of numbers")
        steps = epochs[: len(values)] if epochs and len(epochs) >= len(values) else list(range(len(values)))
        vals = np.array([np.nan if v is None else v for v in values], dtype=float)
        parts.append(pd.DataFrame({"step": steps, "epoch": steps, "name": name, "value": vals,
                                   "line": np.arange(1, len(values) + 1)}))
    params = doc.get("params") if isinstance(doc.get("params"), Mapping) else {}
    return Parsed(pd.concat(parts, ignore_index=True), axis="epoch", config=with_aliases(flatten(params)),
                  where="history index")
