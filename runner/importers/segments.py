"""Appended runs and repeated epochs: when a log's step (or epoch) column restarts, read it in file order.

A Keras ``CSVLogger(append=True)`` over several ``fit`` calls, a custom CSV whose phases
restart their epoch numbering, a text log re-used by each launch: the step of one metric
goes back (or repeats on consecutive rows). Sorting and merging those rows by step would
flatten several runs into one curve (a restart becomes a jump, four runs one mean-looking
curve) or collapse a file whose epoch is 0 on every row into one point. Raters judge such
a file in file order, so it is read that way: a new *segment* starts at the first line
where some metric's step does not advance past its previous value in the segment, and the
x-axis becomes the place of ``(segment, step)`` in file order, counted from the file's first
step. Rows that share a step within a segment (train and validation on separate rows) keep
sharing it; the original epoch stays in the ``epoch`` column.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MAX_LISTED = 5  # restart lines named in the note; the rest are counted


@dataclass(frozen=True)
class FileOrder:
    """The frame with its x-axis in file order, and what was found (for the note and the axis)."""

    frame: pd.DataFrame
    restarts: tuple[int, ...]  # the lines where the step went back (a new run or phase)
    restart_steps: tuple[int, ...]  # the same places on the new x-axis (for the charts and the run's meta)
    repeats: int  # segments opened by a step repeated on the next row of the same metric
    finer_than_axis: bool  # a metric's step repeats, then advances: several rows per step (batches of an epoch)


def needs_file_order(frame: pd.DataFrame) -> bool:
    """Whether some metric's step, in file order, fails to advance (goes back or repeats)."""
    order = np.lexsort((np.arange(len(frame)), frame["line"].to_numpy(dtype=float)))
    codes = frame["name"].astype("category").cat.codes.to_numpy()[order]
    steps = frame["step"].to_numpy(dtype=float)[order]
    by_name = np.argsort(codes, kind="stable")
    same = codes[by_name][1:] == codes[by_name][:-1]
    return bool((same & (np.diff(steps[by_name]) <= 0)).any())


def file_order(frame: pd.DataFrame) -> FileOrder:
    """Segments by the first line where a metric's step does not advance; x = rank of ``(segment, step)``.

    A metric's memory of its last step is cleared when a segment opens, so a validation row that
    restarts one line after the training row joins the training row's new segment.
    """
    frame = frame.iloc[np.lexsort((np.arange(len(frame)), frame["line"].to_numpy(dtype=float)))]
    lines = frame["line"].to_numpy(dtype=float)
    names = frame["name"].to_numpy()
    steps = frame["step"].to_numpy(dtype=float)
    segment = np.zeros(len(frame), dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, lines[1:] != lines[:-1]])
    ends = np.r_[starts[1:], len(frame)]
    last: dict[object, float] = {}
    held: dict[object, tuple[float, int]] = {}  # per metric: its latest step and how many rows in a row had it
    current, restarts, firsts, repeats, finer = 0, [], [], 0, False
    for a, b in zip(starts, ends, strict=True):
        here = list(zip(names[a:b], steps[a:b], strict=True))
        back = any(n in last and s < last[n] for n, s in here)
        same = any(n in last and s == last[n] for n, s in here)
        if back or same:
            current += 1
            last = {}
            if back:
                restarts.append(int(lines[a]))
                firsts.append(int(a))
            else:
                repeats += 1
        for n, s in here:
            prev, count = held.get(n, (np.nan, 0))
            finer |= bool(s > prev and count > 1)  # the step stood still over several rows, then advanced
            held[n] = (s, count + 1 if s == prev else 1)
            last[n] = s
        segment[a:b] = current
    keys = pd.MultiIndex.from_arrays([segment, steps])
    origin = steps[0] if len(steps) and np.isfinite(steps[0]) else 0.0  # counted from the file's own first step
    x = pd.Series(keys.factorize(sort=True)[0] + origin, index=frame.index, dtype=float)
    return FileOrder(frame.assign(step=x), tuple(restarts), tuple(int(x.iloc[i]) for i in firsts), repeats, finer)


def note(found: FileOrder, column: str, where: str) -> str:
    """What the user is told: how many segments, where the column restarts, how the run is read."""
    if found.restarts:
        listed = ", ".join(str(n) for n in found.restarts[:MAX_LISTED])
        more = f" and {len(found.restarts) - MAX_LISTED} more" if len(found.restarts) > MAX_LISTED else ""
        head = (f"{len(found.restarts) + 1} appended segments (the {column} column restarts at {where}s "
                f"{listed}{more})")
        if found.repeats:
            head += f"; it also repeats on {found.repeats} consecutive row(s)"
    else:
        head = f"the {column} column repeats on {found.repeats} consecutive row(s)"
    kept = "; the logged epoch is kept" if column == "epoch" else ""
    return f"{head}: read in file order (the x-axis is the row order{kept})"
