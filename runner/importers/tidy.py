"""From a reader's rows to an ``ImportedRun``: checks, notes for the user, and the name mapping.

A text or table log whose step (or epoch) restarts or repeats holds appended runs: it is read
in file order (``segments``). In a TensorBoard run, duplicate steps keep the last value logged
(a resumed run re-logs them) and steps that go backwards are sorted; NaN and ±inf are kept,
because a NaN loss is the very fact the divergence rule needs. Each case leaves a note naming
the metric and the line or step, so nothing is changed silently.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from runner.importers import segments
from runner.importers.base import COLUMNS, PERCENT, ImportedRun, ImportFailed, Parsed
from traindoc.core import vocabulary

# Formats whose restarts are re-logged steps of one run (TensorBoard resumes from a checkpoint and
# writes the steps again): their rows are sorted by step and the last value of a step kept.
SORTED_FORMATS = frozenset({"tensorboard"})
MIN_GUESS_POINTS = 3  # a curve's direction needs a few values; fewer are not read as a loss or an accuracy
EDGE = 5  # the start and end levels of a guessed curve: medians of its first and last fifth



def finish(source: str, fmt: str, name: str, parsed: Parsed, config: dict[str, Any]) -> ImportedRun:
    frame = parsed.frame
    if frame.empty:
        raise ImportFailed(source, f"no metric values found (read as {fmt})")
    notes = list(parsed.warnings)
    frame = frame.assign(
        step=pd.to_numeric(frame["step"], errors="coerce"),
        value=pd.to_numeric(frame["value"], errors="coerce").astype(float),
        epoch=pd.to_numeric(frame["epoch"], errors="coerce").astype(float) if "epoch" in frame else np.nan,
        wall_time=pd.to_numeric(frame["wall_time"], errors="coerce").astype(float) if "wall_time" in frame
        else np.nan,
        name=frame["name"].astype("category").map(lambda n: str(n).strip()),  # per distinct name, not per row
    )
    if "line" not in frame:
        frame["line"] = np.arange(1, len(frame) + 1)
    keep = (frame["step"].notna() & (frame["name"] != "")).to_numpy()
    if not keep.all():  # a copy of every row only when some go (a big file's rows usually all stay)
        frame = frame[keep]
    if frame.empty:
        raise ImportFailed(source, f"no rows with a numeric step (read as {fmt})")
    axis, counted, meta = parsed.axis, parsed.counted, dict(parsed.meta)
    # an epoch that repeats is another fit() of one epoch (or a batch row); a step that repeats is re-logged
    repeats = axis == "epoch"
    found = segments.file_order(frame, repeats) if fmt not in SORTED_FORMATS and segments.needs_file_order(
        frame, repeats) else None
    if found is not None and found.found:
        frame = found.frame
        column = "epoch" if axis == "epoch" and not found.rollovers else "step"  # the x column that failed to advance
        if found.finer_than_axis or found.rollovers:  # several rows per epoch (its batches): rows are steps
            axis = "step"
        notes.append(segments.note(found, column, parsed.where))
        meta["restarts"] = list(found.restart_steps)
        meta["resumes"] = list(found.resume_steps)
    codes = frame["name"].astype("category").cat.codes.to_numpy()
    steps = frame["step"].to_numpy(dtype=float)
    by_name = np.argsort(codes, kind="stable")  # file order inside each name
    same = codes[by_name][1:] == codes[by_name][:-1]
    if (same & (np.diff(steps[by_name]) <= 0)).any():  # rare: only then look closer, per name
        notes += _order_notes(frame, parsed.where)
    order = np.lexsort((steps, codes))
    last = np.ones(len(order), dtype=bool)
    last[:-1] = ~((codes[order][1:] == codes[order][:-1]) & (steps[order][1:] == steps[order][:-1]))
    frame = frame.iloc[order[last]]
    values = frame["value"].to_numpy()
    if not np.isfinite(values).all():
        notes += _value_notes(frame)
    frame = frame.assign(
        step=frame["step"].round().astype(np.int64),
        wall_time=frame["wall_time"].fillna(0.0),
    ).reset_index(drop=True)[list(COLUMNS)]
    mapping = map_names(frame, axis, logged_steps=not counted)
    guessed = split_only_names(frame, mapping, axis, logged_steps=not counted)
    if guessed is not None:
        mapping, note = guessed
        notes.append(note)
    frame, more = percent_accuracies(frame, mapping)
    notes += more
    taken = set(mapping.values())
    for original, canonical in parsed.names.items():  # the format's own, where nothing holds the name yet
        if mapping.get(original) == original and canonical not in taken:
            mapping[original] = canonical
            taken.add(canonical)
    meta = {**meta, "format": fmt, "file": source, "axis": axis}
    return ImportedRun(name=name, source=source, format=fmt, frame=frame, mapping=mapping, axis=axis,
                       config=config, meta=meta, warnings=tuple(notes))


def percent_accuracies(frame: pd.DataFrame, mapping: dict[str, str]) -> tuple[pd.DataFrame, list[str]]:
    """Accuracies logged in percent (``Train Acc 87.5``, no ``%`` sign) as fractions: every accuracy rule reads
    [0, 1], and 87.5 read as a fraction is "fitted" whatever the run did. An accuracy whose values all lie in
    [0, 100] with some above 1 is a percentage; it is divided by 100, with a note."""
    notes = []
    for original, target in mapping.items():
        if not (target.endswith("/acc") or vocabulary.names_accuracy(original)):
            continue
        rows = (frame["name"] == original).to_numpy()
        y = frame["value"].to_numpy()[rows]
        y = y[np.isfinite(y)]
        if not len(y) or y.min() < 0 or y.max() <= 1 or y.max() > PERCENT:
            continue
        frame = frame.assign(value=np.where(rows, frame["value"].to_numpy() / PERCENT, frame["value"].to_numpy()))
        notes.append(f"'{original}' runs from {y.min():g} to {y.max():g}: read as a percentage (divided by 100)")
    return frame, notes


def split_only_names(frame: pd.DataFrame, mapping: dict[str, str], axis: str,
                     logged_steps: bool = True) -> tuple[dict[str, str], str] | None:
    """Columns named only by their split (``Training``, ``Validation``) in a log that names no loss and no
    accuracy: the training loss and its validation twin when the training values fall, their accuracies when
    they climb within [0, 1] or [0, 100] (a loss falls, an accuracy climbs). A guess from the values, so it comes
    with a note; None when the log names what it measures, has no training column named so, or climbs outside
    an accuracy's range."""
    if any(vocabulary.role(t).kind == "loss" or t.endswith("/acc") for t in mapping.values()):
        return None
    sides = {o: vocabulary.split_only(o) for o in mapping}
    train = [o for o, s in sides.items() if s == "train"]
    if len(train) != 1 or sum(s == "val" for s in sides.values()) > 1:
        return None
    y = frame.loc[frame["name"] == train[0], "value"].to_numpy(dtype=float)
    y = y[np.isfinite(y)]
    if len(y) < MIN_GUESS_POINTS:
        return None
    head, tail = np.median(y[: max(1, len(y) // EDGE)]), np.median(y[-max(1, len(y) // EDGE):])
    rises = tail > head
    if rises and (y.min() < 0 or y.max() > PERCENT):
        return None  # climbing, and no accuracy (a fraction or a percentage): what it is is not written
    kind = "acc" if rises else "loss"
    renamed = {o: f"{s}_{kind}" for o, s in sides.items() if s}
    named = frame.assign(name=frame["name"].map(lambda n: renamed.get(n, n)))
    remapped = map_names(named, axis, logged_steps)
    out = {o: remapped[renamed.get(o, o)] for o in mapping}
    what = "loss" if kind == "loss" else "accuracy"
    why = "fall" if kind == "loss" else ("rise within [0, 1]" if y.max() <= 1 else "rise within [0, 100] (percent)")
    cols = ", ".join(f"'{o}'" for o in renamed)
    return out, (f"columns named only by their split ({cols}): read as the training and validation {what}, "
                 f"because the training values {why} (name them e.g. train_loss and val_loss to say otherwise)")


def _order_notes(frame: pd.DataFrame, where: str) -> list[str]:
    notes = []
    for name, g in frame.groupby("name", sort=True):
        steps = g["step"].to_numpy()
        dup = pd.Series(steps).duplicated(keep=False).to_numpy()
        if dup.any():
            first = int(np.argmax(dup))
            notes.append(f"'{name}': {int(dup.sum())} rows share a step (first step {steps[first]:g}, {where} "
                         f"{int(g['line'].iloc[first])}); the last value of each step was kept")
        back = np.flatnonzero(np.diff(steps) < 0)
        if back.size:
            i = int(back[0]) + 1
            notes.append(f"'{name}': steps go backwards {back.size}x (step {steps[i]:g} after {steps[i - 1]:g}, "
                         f"{where} {int(g['line'].iloc[i])}); rows were sorted by step")
    return notes


def _value_notes(frame: pd.DataFrame) -> list[str]:
    notes = []
    for name, g in frame.groupby("name", sort=True):
        values = g["value"].to_numpy()
        nan, inf = np.isnan(values), np.isinf(values)
        for mask, what in ((nan, "NaN"), (inf, "±inf")):
            if mask.any():
                notes.append(f"'{name}': {int(mask.sum())} {what} value(s), first at step "
                             f"{g['step'].to_numpy()[np.argmax(mask)]:g}; kept as logged")
    return notes


def map_names(frame: pd.DataFrame, axis: str, logged_steps: bool = True) -> dict[str, str]:
    """Original → canonical name (``traindoc.core.vocabulary.map_names``, from the points per name, the epochs seen
    and, when the steps were logged rather than counted rows, the step gaps)."""
    counts = {str(k): int(v) for k, v in frame["name"].value_counts().items()}
    epochs = frame["epoch"].dropna()
    return vocabulary.map_names(counts, axis=axis, epochs=int(np.floor(epochs).nunique()) if len(epochs) else 0,
                                gaps=step_gaps(frame) if logged_steps else None)


def step_gaps(frame: pd.DataFrame) -> dict[str, float]:
    """The median step between consecutive values of each name (the frame is sorted by name, then step).

    A loss whose gap is one step was logged at every step, so it is the per-step curve (issue 23).
    """
    names = frame["name"].astype("category").cat  # integer codes: no string compared or hashed per row
    codes, categories = names.codes.to_numpy(), names.categories
    steps = frame["step"].to_numpy(dtype=float)
    same = codes[1:] == codes[:-1]
    gaps = pd.Series(np.diff(steps)[same]).groupby(codes[1:][same], sort=False).median()
    return {str(categories[k]): float(v) for k, v in gaps.items()}
