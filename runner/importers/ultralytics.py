"""Ultralytics YOLO ``results.csv``: one row per epoch, space-padded headers, loss components.

YOLO logs its loss as parts (``train/box_loss``, ``train/cls_loss``, ``train/dfl_loss`` and the
``val/`` twins) and never the total the trainer minimises, which is their sum; the sum is
added as ``train/loss_epoch`` and ``val/loss`` (marked derived) so the overfitting and
plateau rules can read it (in its TensorBoard files too: ``with_part_sums``). ``args.yaml``
beside it is the run config.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from runner.importers.base import Limits, Parsed
from runner.importers.tabular import read_table, sniff_sep, wide_to_long

SUMS = {"train/loss_epoch": "train/", "val/loss": "val/"}


def read(source: str, text: str, limits: Limits) -> Parsed:
    parsed = wide_to_long(source, read_table(source, text, sniff_sep(text)), axis="epoch")
    return with_part_sums(replace(parsed, axis="epoch"), twins_only=False)


def with_part_sums(parsed: Parsed, twins_only: bool) -> Parsed:
    """``train/loss_epoch`` and ``val/loss`` added as the sums of the ``train/*_loss`` and ``val/*_loss`` parts
    (marked derived), where no total is logged. ``twins_only``: only when both sides log the same parts
    (``box``, ``cls``, ``dfl`` and their val twins, as Ultralytics writes to TensorBoard too): two training
    losses with no val twins (a GAN's generator and discriminator) are not parts of one total."""
    frame = parsed.frame
    names = set(frame["name"].unique())
    found = {prefix: sorted(n for n in names if n.startswith(prefix) and n.endswith("_loss"))
             for prefix in SUMS.values()}
    if twins_only and {n[len("train/"):] for n in found["train/"]} != {n[len("val/"):] for n in found["val/"]}:
        return parsed
    derived = []
    meta = dict(parsed.meta)
    for target, prefix in SUMS.items():
        parts = found[prefix]
        if len(parts) < 2 or target in names:
            continue
        sub = frame[frame["name"].isin(parts)]
        # a NaN component makes the sum NaN (pandas' sum would skip it and report a fake 0)
        firsts = {c: (c, "first") for c in ("epoch", "wall_time", "line") if c in sub}
        total = sub.groupby("step", sort=True).agg(**firsts, value=("value", lambda v: v.sum(skipna=False)),
                                                   n=("value", "size"))
        total = total[total["n"] == len(parts)].drop(columns="n").reset_index()
        derived.append(total.assign(name=target))
        meta["derived"] = {**meta.get("derived", {}), target: f"sum of {', '.join(parts)}"}
    if not derived:
        return parsed
    return replace(parsed, frame=pd.concat([frame, *derived], ignore_index=True), meta=meta)
