"""Ultralytics YOLO ``results.csv``: one row per epoch, space-padded headers, loss components.

YOLO logs its loss as parts (``train/box_loss``, ``train/cls_loss``, ``train/dfl_loss`` and the
``val/`` twins) and never the total the trainer minimises, which is their sum; the sum is
added as ``train/loss_epoch`` and ``val/loss`` (marked derived) so the overfitting and
plateau rules can read it. ``args.yaml`` beside it is the run config.
"""

from __future__ import annotations

import pandas as pd

from runner.importers.base import Limits, Parsed
from runner.importers.tabular import read_table, sniff_sep, wide_to_long

SUMS = {"train/loss_epoch": "train/", "val/loss": "val/"}


def read(source: str, text: str, limits: Limits) -> Parsed:
    parsed = wide_to_long(source, read_table(source, text, sniff_sep(text)), axis="epoch")
    frame = parsed.frame
    derived = []
    for target, prefix in SUMS.items():
        parts = sorted(n for n in frame["name"].unique() if n.startswith(prefix) and n.endswith("_loss"))
        if len(parts) < 2 or target in set(frame["name"]):
            continue
        sub = frame[frame["name"].isin(parts)]
        # a NaN component makes the sum NaN (pandas' sum would skip it and report a fake 0)
        total = sub.groupby("step", sort=True).agg(epoch=("epoch", "first"),
                                                   value=("value", lambda v: v.sum(skipna=False)),
                                                   wall_time=("wall_time", "first"), line=("line", "first"),
                                                   n=("value", "size"))
        total = total[total["n"] == len(parts)].drop(columns="n").reset_index()
        derived.append(total.assign(name=target))
        parsed.meta.setdefault("derived", {})[target] = f"sum of {', '.join(parts)}"
    if derived:
        frame = pd.concat([frame, *derived], ignore_index=True)
    return Parsed(frame, axis="epoch", meta=parsed.meta, warnings=parsed.warnings)
