"""MMEngine / MMDetection JSON-lines logs (``vis_data/scalars.json``, ``<timestamp>.json``, MMDet 2.x ``*.log.json``).

Training lines carry ``iter``/``step``, ``lr``, ``loss*``, ``time`` (seconds per iteration, read as
``sys/step_time``), ``data_time``, ``memory``;
validation lines carry the metrics (``coco/bbox_mAP``, ``accuracy/top1``) and, in epoch
loops, a ``step`` that counts *epochs*. Validation names are prefixed ``val/`` (MMEngine's
mode is part of the name) and their step is moved to the last training iteration of that
epoch, so both share one x-axis. MMDet 2.x writes ``mode`` and an in-epoch ``iter``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from runner.importers.base import Limits, Parsed
from runner.importers.sidecar import flatten, with_aliases
from traindoc.core.vocabulary import STEP_TIME

MARKERS = ("data_time", "memory")
_INDEX = ("step", "iter", "epoch", "mode")
_VAL_PREFIXES = ("val/", "val_", "test/", "test_", "eval/", "eval_")


def looks_like(records: list[tuple[int, dict]]) -> bool:
    keys = set().union(*(r.keys() for _, r in records[:50])) if records else set()
    return bool(keys & set(MARKERS)) and bool(keys & {"iter", "step"}) or "mode" in keys and "iter" in keys


def read(source: str, records: list[tuple[int, dict]], limits: Limits) -> Parsed:
    config: dict[str, Any] = {}
    train, val = [], []
    for line, rec in records:
        if "env_info" in rec or "config" in rec and not ({"iter", "step"} & rec.keys()):
            config.update(_config(rec))
            continue
        mode = rec.get("mode")
        is_val = mode in ("val", "test") or (mode is None and "iter" not in rec and "lr" not in rec)
        (val if is_val else train).append((line, rec))
    iters = _iters_per_epoch(train)
    end_of_epoch = _epoch_ends(train, iters)
    rows = []
    for line, rec in train:
        step = _train_step(rec, iters)
        rows += [(step, rec.get("epoch"), k, v, line) for k, v in _metrics(rec)]
    for line, rec in val:
        epoch = rec.get("epoch", rec.get("step"))
        step = end_of_epoch.get(epoch, rec.get("step", epoch)) if train else rec.get("step", epoch)
        rows += [(step, epoch, k if k.startswith(_VAL_PREFIXES) else f"val/{k}", v, line) for k, v in _metrics(rec)]
    frame = pd.DataFrame(rows, columns=["step", "epoch", "name", "value", "line"])
    # MMEngine's ``time`` is the mean seconds per iteration over the log interval: the step time
    return Parsed(frame, config=with_aliases(config), names={"time": STEP_TIME} if train else {})


def _metrics(rec: Mapping[str, Any]) -> list[tuple[str, float]]:
    return [(k, float(v)) for k, v in rec.items()
            if k not in _INDEX and isinstance(v, int | float) and not isinstance(v, bool)]


def _iters_per_epoch(train: list[tuple[int, dict]]) -> int | None:
    """MMDet 2.x counts ``iter`` inside the epoch (no ``step``): the largest one seen stands for an epoch."""
    if not train or any("step" in r for _, r in train) or not all("epoch" in r for _, r in train):
        return None
    return int(max((r.get("iter", 0) for _, r in train), default=0)) or None


def _train_step(rec: Mapping[str, Any], iters: int | None) -> float:
    if "step" in rec:
        return rec["step"]
    if iters:
        return (rec["epoch"] - 1) * iters + rec.get("iter", 0)
    return rec.get("iter", np.nan)


def _epoch_ends(train: list[tuple[int, dict]], iters: int | None) -> dict[Any, float]:
    ends: dict[Any, float] = {}
    for _, rec in train:
        if "epoch" in rec:
            ends[rec["epoch"]] = max(ends.get(rec["epoch"], -np.inf), _train_step(rec, iters))
    return ends


def _config(rec: Mapping[str, Any]) -> dict[str, Any]:
    keep = {k: v for k, v in rec.items() if k not in ("env_info", "config") and not isinstance(v, dict | list)}
    return flatten(keep)
