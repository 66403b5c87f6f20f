"""Hugging Face ``Trainer`` ``trainer_state.json``: ``log_history`` entries keyed by ``step``.

Training entries carry ``loss``/``grad_norm``/``learning_rate``, evaluation entries
``eval_*``; the closing summary (``train_runtime``, ``train_loss`` averaged over the whole
run) is a summary, not a point of a curve, so it goes to the run's meta.
``training_args.json``/``config.json`` beside it become the config (see sidecar).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from runner.importers.base import ImportFailed, Limits, Parsed

_SKIP = ("step", "epoch", "total_flos")


def is_trainer_state(doc: Any) -> bool:
    return isinstance(doc, Mapping) and isinstance(doc.get("log_history"), list)


def read(source: str, doc: Mapping[str, Any], limits: Limits) -> Parsed:
    rows, summary = [], {}
    for index, entry in enumerate(doc["log_history"], 1):
        if not isinstance(entry, Mapping):
            raise ImportFailed(source, f"log_history entry {index} is not an object")
        if "train_runtime" in entry:
            summary = {k: v for k, v in entry.items() if isinstance(v, int | float)}
            continue
        step = entry.get("step")
        if not isinstance(step, int | float) or isinstance(step, bool):
            raise ImportFailed(source, f"log_history entry {index} has no numeric 'step'")
        for key, value in entry.items():
            if key in _SKIP or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            rows.append((step, entry.get("epoch"), key, float(value), index))
    frame = pd.DataFrame(rows, columns=["step", "epoch", "name", "value", "line"])
    config = {f"trainer.{k}": v for k, v in doc.items()
              if isinstance(v, int | float | str) and not isinstance(v, bool) and k != "best_model_checkpoint"}
    return Parsed(frame, config=config, meta={"summary": summary} if summary else {}, where="log_history entry")
