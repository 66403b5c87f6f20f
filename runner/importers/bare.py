"""Files that hold only numbers: ``losses.json`` (``[1.17, 0.78, ...]``), ``train_loss.txt`` (one
value per line), ``losses.txt`` (``0.0020, 0.0020, ...`` on one line), or one row of values per
series separated by spaces.

People save a loss list with ``json.dump(losses)`` or ``np.savetxt``; nothing inside names the
series, so the file name does (``train_loss.txt`` → ``train_loss``, ``losses.json`` → ``losses``,
which the vocabulary reads as the training loss). A lone series whose file name names no metric
(``run3.txt``) is read as the training loss, with a note saying so: a list of bare numbers saved
during training is a loss far more often than anything else, and the note tells a user how to say
otherwise (name the file). Several rows of values are several series, numbered after the file name
(``losses_1``, ``losses_2``): which is which is not written, so none of them is guessed to be the
training loss. Many rows of a few values each are columns (``epoch loss acc`` per line), a counting
first column their epoch. The index of a value is its step.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from runner.importers.base import ImportFailed, Limits, Parsed
from traindoc.core.vocabulary import role

_SEPARATORS = re.compile(r"[\s,;]+")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^[-+]?(nan|inf|infinity)$", re.IGNORECASE)
MIN_VALUES = 2  # a single number is a result, not a curve
LONE_SERIES = "loss"  # what a lone series is read as when its file name names no metric
SERIES_PER_ROW_ROWS = 10  # at most this many rows, each longer than the count of rows: a series per row
_SNIFF_CHARS = 4096  # enough of the head to tell a value list from prose


def looks_like(body: str) -> bool:
    """Only numbers in the head of the text, at least ``MIN_VALUES`` of them."""
    tokens = [t for t in _SEPARATORS.split(body[:_SNIFF_CHARS]) if t]
    if len(body) > _SNIFF_CHARS and tokens:
        tokens = tokens[:-1]  # the cut may split the last number
    return len(tokens) >= MIN_VALUES and all(_NUMBER.match(t) for t in tokens)


def one_per_line(body: str) -> bool:
    """At most one value on each line of the head (``np.savetxt`` of one series, a ``.csv`` with no header)."""
    lines = body[:_SNIFF_CHARS].splitlines()[:-1] or body.splitlines()[:1]
    return all(len([t for t in _SEPARATORS.split(line) if t]) <= 1 for line in lines)


def is_value_list(doc: Any) -> bool:
    """A JSON array of numbers (nulls allowed for values not logged)."""
    return (isinstance(doc, list) and len(doc) >= MIN_VALUES
            and all(x is None or (isinstance(x, int | float) and not isinstance(x, bool)) for x in doc)
            and any(x is not None for x in doc))


def series_name(source: str) -> str:
    """The series a bare file holds, from its file name (``runs/a/train_loss.txt`` → ``train_loss``)."""
    stem = PurePosixPath(source.replace("\\", "/")).stem
    return stem.strip() or "value"


def lone_series(source: str) -> tuple[str, tuple[str, ...]]:
    """The name of a file's one unnamed series, and the note when it is a guess: the file name when it
    names a metric (``train_loss.txt``, ``val_acc.csv``), else ``LONE_SERIES``."""
    name = series_name(source)
    r = role(name)
    if r.kind == "loss" or r.better:
        return name, ()
    return LONE_SERIES, (f"one unnamed series of values, and the file name ('{name}') does not say what they are: "
                         f"read as the training loss (name the file after the metric, e.g. val_acc.txt, to say "
                         "otherwise)",)


def series_per_row(rows: int, cols: int) -> bool:
    """``np.savetxt(f, [train, val])``: few rows, each longer than the count of rows, are a series each."""
    return rows <= SERIES_PER_ROW_ROWS and cols > rows


def is_counter(values: np.ndarray) -> bool:
    """A column that counts epochs (0, 1, 2, ... or 1, 1, 2, 2, ...): whole numbers, never negative, that
    only go down to start again (a resumed or appended run counts from its first epoch anew)."""
    if len(values) < MIN_VALUES or not np.isfinite(values).all() or (values % 1).any() or values.min() < 0:
        return False
    drops = np.flatnonzero(np.diff(values) < 0) + 1
    return bool((values[drops] <= values.min() + 1).all())


def name_columns(source: str, columns: list[np.ndarray]) -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    """Names for headerless columns: a counting first column is the epoch; a lone value column beside it
    is named as ``lone_series`` names it; more value columns keep their place (``column_2``...), unguessed."""
    named: dict[str, np.ndarray] = {}
    first = 0
    if len(columns) > 1 and is_counter(columns[0]):
        named["epoch"] = columns[0]
        first = 1
    values = columns[first:]
    if len(values) == 1:
        name, notes = lone_series(source)
        named[name] = values[0]
        return named, notes
    for i, col in enumerate(values, first + 1):
        named[f"column_{i}"] = col
    return named, ()


def read(source: str, payload: Any, limits: Limits) -> Parsed:
    """A JSON value list, or text of numbers: one series per row when rows hold many values, else one."""
    name = series_name(source)
    if isinstance(payload, list):
        rows = [[np.nan if x is None else float(x) for x in payload]]
    else:
        lines = [line for line in payload.splitlines() if line.strip()]
        split = [[t for t in _SEPARATORS.split(line) if t] for line in lines]
        many_per_row = len(split) > 1 and all(len(row) >= MIN_VALUES for row in split)
        flat = [t for row in split for t in row]
        bad = next((t for t in flat if not _NUMBER.match(t)), None)
        if bad is not None:
            raise ImportFailed(source, f"a list of values with a non-number in it ({bad[:40]!r})")
        rows = [[float(t) for t in row] for row in split] if many_per_row else [[float(t) for t in flat]]
        widths = {len(row) for row in rows}
        if len(rows) > 1 and len(widths) == 1 and not series_per_row(len(rows), widths.pop()):
            return _columns(source, np.asarray(rows, dtype=float))
    if len(rows) == 1:
        name, notes = lone_series(source)
        values = np.asarray(rows[0], dtype=float)
        steps = np.arange(1, len(values) + 1)
        frame = pd.DataFrame({"step": steps, "epoch": np.nan, "name": name, "value": values, "line": steps})
        return Parsed(frame, axis="step", warnings=notes, where="value index")
    parts = []
    for i, values in enumerate(rows, 1):
        steps = np.arange(1, len(values) + 1)
        parts.append(pd.DataFrame({"step": steps, "epoch": np.nan, "name": f"{name}_{i}",
                                   "value": np.asarray(values, dtype=float), "line": np.full(len(values), i)}))
    warnings = (f"{len(rows)} rows of values, read as {len(rows)} series ({name}_1 … {name}_{len(rows)}): "
                "the file does not say which is which",)
    return Parsed(pd.concat(parts, ignore_index=True), axis="step", warnings=warnings, where="value index")


def _columns(source: str, table: np.ndarray) -> Parsed:
    """Many rows of a few values each (``epoch loss acc`` per line): one series per column."""
    named, notes = name_columns(source, list(table.T))
    epochs = named.pop("epoch", None)
    lines = np.arange(1, len(table) + 1)
    by_epoch = epochs is not None and bool((np.diff(epochs) > 0).all())  # one row an epoch, else rows are steps
    steps = epochs if by_epoch else lines
    parts = [pd.DataFrame({"step": steps, "epoch": epochs if epochs is not None else np.nan, "name": name,
                           "value": values, "line": lines}) for name, values in named.items()]
    return Parsed(pd.concat(parts, ignore_index=True), axis="epoch" if by_epoch else "step",
                  warnings=notes, where="line")
