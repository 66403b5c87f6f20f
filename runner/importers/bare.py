"""Files that hold only numbers: ``losses.json`` (``[1.17, 0.78, ...]``), ``train_loss.txt`` (one
value per line), ``losses.txt`` (``0.0020, 0.0020, ...`` on one line), or one row of values per
series separated by spaces.

People save a loss list with ``json.dump(losses)`` or ``np.savetxt``; nothing inside names the
series, so the file name does (``train_loss.txt`` → ``train_loss``, ``losses.json`` → ``losses``,
which the vocabulary reads as the training loss). Several rows of values are several series,
numbered after the file name (``losses_1``, ``losses_2``): which is which is not written, so
none of them is guessed to be the training loss. The index of a value is its step.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from runner.importers.base import ImportFailed, Limits, Parsed

_SEPARATORS = re.compile(r"[\s,;]+")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^[-+]?(nan|inf|infinity)$", re.IGNORECASE)
MIN_VALUES = 2  # a single number is a result, not a curve
_SNIFF_CHARS = 4096  # enough of the head to tell a value list from prose


def looks_like(body: str) -> bool:
    """Only numbers in the head of the text, at least ``MIN_VALUES`` of them."""
    tokens = [t for t in _SEPARATORS.split(body[:_SNIFF_CHARS]) if t]
    if len(body) > _SNIFF_CHARS and tokens:
        tokens = tokens[:-1]  # the cut may split the last number
    return len(tokens) >= MIN_VALUES and all(_NUMBER.match(t) for t in tokens)


def is_value_list(doc: Any) -> bool:
    """A JSON array of numbers (nulls allowed for values not logged)."""
    return (isinstance(doc, list) and len(doc) >= MIN_VALUES
            and all(x is None or (isinstance(x, int | float) and not isinstance(x, bool)) for x in doc)
            and any(x is not None for x in doc))


def series_name(source: str) -> str:
    """The series a bare file holds, from its file name (``runs/a/train_loss.txt`` → ``train_loss``)."""
    stem = PurePosixPath(source.replace("\\", "/")).stem
    return stem.strip() or "value"


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
    parts = []
    for i, values in enumerate(rows, 1):
        label = name if len(rows) == 1 else f"{name}_{i}"
        steps = np.arange(1, len(values) + 1)
        parts.append(pd.DataFrame({"step": steps, "epoch": np.nan, "name": label,
                                   "value": np.asarray(values, dtype=float),
                                   "line": steps if len(rows) == 1 else np.full(len(values), i)}))
    warnings = () if len(rows) == 1 else (
        f"{len(rows)} rows of values, read as {len(rows)} series ({name}_1 … {name}_{len(rows)}): "
        "the file does not say which is which",)
    return Parsed(pd.concat(parts, ignore_index=True), axis="step", warnings=warnings, where="value index")
