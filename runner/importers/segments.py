"""Appended runs and repeated epochs: when a log's step (or epoch) column restarts, read it in file order.

A Keras ``CSVLogger(append=True)`` over several ``fit`` calls, a custom CSV whose phases
restart their epoch numbering, a text log re-used by each launch: the step of one metric
goes back (or repeats on consecutive rows). Sorting and merging those rows by step would
flatten several runs into one curve (a restart becomes a jump, four runs one mean-looking
curve) or collapse a file whose epoch is 0 on every row into one point. Raters judge such
a file in file order, so it is read that way: a new *segment* starts at the first line
where some metric's epoch does not advance past its previous value in the segment (its step
goes back; an epoch that stands still counts too), and the steps of each segment are shifted
to follow the previous segment (one step gap after its end), so the x-axis runs in file order
and keeps the spacing of the steps inside a segment. Rows that share a step within a segment
(train and validation on separate rows) keep sharing it; the original epoch stays in the
``epoch`` column. ``meta["restarts"]`` holds where each restart begins on the new axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MAX_LISTED = 5  # restart lines named in the note; the rest are counted
DEFAULT_GAP = 1.0  # a one-row segment (one epoch of one ``fit`` call) is one epoch (or row) after the last


@dataclass(frozen=True)
class FileOrder:
    """The frame with its x-axis in file order, and what was found (for the note and the axis)."""

    frame: pd.DataFrame
    restarts: tuple[int, ...]  # the lines where the step went back (a new run or phase)
    restart_steps: tuple[int, ...]  # the same places on the new x-axis (for the charts and the run's meta)
    repeats: int  # segments opened by a step repeated on the next row of the same metric
    rollovers: int  # a step counter that went back while the logged epoch advanced: it counts inside the epoch
    finer_than_axis: bool  # a metric's step repeats, then advances: several rows per step (batches of an epoch)
    # the restart_steps where a run resumes rather than starts: its step goes back into the stretch before it,
    # not to the log's first step (steps 20-7580, then 7520 on again from a checkpoint)
    resume_steps: tuple[int, ...] = ()

    @property
    def found(self) -> bool:
        """Whether any segment was opened (a metric logged twice on one line opens none)."""
        return bool(self.restarts or self.repeats or self.rollovers)


def needs_file_order(frame: pd.DataFrame, stand_still: bool) -> bool:
    """Whether some metric's step, in file order, goes back (or, with ``stand_still``, repeats)."""
    order = np.lexsort((np.arange(len(frame)), frame["line"].to_numpy(dtype=float)))
    codes = frame["name"].astype("category").cat.codes.to_numpy()[order]
    steps = frame["step"].to_numpy(dtype=float)[order]
    by_name = np.argsort(codes, kind="stable")
    same = codes[by_name][1:] == codes[by_name][:-1]
    change = np.diff(steps[by_name])
    return bool((same & ((change <= 0) if stand_still else (change < 0))).any())


def file_order(frame: pd.DataFrame, stand_still: bool) -> FileOrder:
    """Segments by the first line where a metric's step goes back (or, with ``stand_still``, repeats).

    Each segment is shifted to start one step gap after the previous one ends, so steps keep their
    spacing inside a segment. A metric's memory of its last step is cleared when a segment opens,
    so a validation row that restarts one line after the training row joins the training row's
    new segment. A step repeated on a step axis is a re-logged step (an extra evaluation at the
    end, a resumed run): ``stand_still`` is False there and the caller keeps its last value.
    """
    frame = frame.iloc[np.lexsort((np.arange(len(frame)), frame["line"].to_numpy(dtype=float)))]
    lines = frame["line"].to_numpy(dtype=float)
    names = frame["name"].to_numpy()
    steps = frame["step"].to_numpy(dtype=float)
    epochs = frame["epoch"].to_numpy(dtype=float) if "epoch" in frame else np.full(len(frame), np.nan)
    segment = np.zeros(len(frame), dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, lines[1:] != lines[:-1]])
    ends = np.r_[starts[1:], len(frame)]
    last: dict[object, float] = {}
    last_epoch: dict[object, float] = {}  # per metric: the epoch logged beside its latest step
    held: dict[object, tuple[float, int]] = {}  # per metric: its latest step and how many rows in a row had it
    current, restarts, firsts, repeats, rollovers, finer = 0, [], [], 0, 0, False
    for a, b in zip(starts, ends, strict=True):
        here = list(zip(names[a:b], steps[a:b], epochs[a:b], strict=True))
        went_back = [(n, e) for n, s, e in here if n in last and s < last[n]]
        same = stand_still and any(n in last and s == last[n] for n, s, _ in here)
        if went_back or same:
            current += 1
            if went_back and all(e > last_epoch.get(n, np.nan) for n, e in went_back):
                rollovers += 1  # ``epoch, batch`` with the batch counting inside each epoch
            elif went_back:
                restarts.append(int(lines[a]))
                firsts.append(int(a))
            else:
                repeats += 1
            last = {}
        for n, s, e in here:
            prev, count = held.get(n, (np.nan, 0))
            finer |= bool(s > prev and count > 1)  # the step stood still over several rows, then advanced
            held[n] = (s, count + 1 if s == prev else 1)
            last[n], last_epoch[n] = s, e
        segment[a:b] = current
    x = pd.Series(steps + _shifts(segment, steps)[segment], index=frame.index, dtype=float)
    resumes = _resumes(segment, steps, [int(segment[i]) for i in firsts])
    return FileOrder(frame.assign(step=x), tuple(restarts), tuple(int(x.iloc[i]) for i in firsts), repeats,
                     rollovers, finer, tuple(int(x.iloc[i]) for i, k in zip(firsts, resumes, strict=True) if k))


def _resumes(segment: np.ndarray, steps: np.ndarray, opened: list[int]) -> list[bool]:
    """For each segment in ``opened``: whether it resumes the one before it. It starts inside the steps the
    previous segment covered and more than one logging interval past the log's first step (a fresh run that
    first logs at step 10 where the first run logged step 0 is a new run, not a resume).

    ``segment`` is non-decreasing (file order), so each segment is one slice: its bounds are read once.
    """
    bounds = np.flatnonzero(np.r_[True, segment[1:] != segment[:-1], True])
    spans = {int(segment[a]): steps[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)}
    first_span = spans.get(0, steps[:0])
    first = float(np.nanmin(first_span)) if len(first_span) else np.nan
    gaps = np.diff(np.unique(first_span[np.isfinite(first_span)]))
    interval = float(np.median(gaps)) if len(gaps) else DEFAULT_GAP
    out = []
    for k in opened:
        own, before = spans.get(k, steps[:0]), spans.get(k - 1, steps[:0])
        start = float(np.nanmin(own)) if len(own) else np.nan
        out.append(bool(len(before) and start > first + interval and start <= float(np.nanmax(before))))
    return out


def _shifts(segment: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Per segment, what to add to its steps so that it starts one step gap after the previous one ends.

    The gap is the previous segment's median step (a segment of one row, such as one ``fit`` call of
    one epoch, advances by ``DEFAULT_GAP``).
    """
    count = int(segment.max()) + 1
    shifts = np.zeros(count)
    end, gap = np.nan, DEFAULT_GAP
    for k in range(count):
        own = np.unique(steps[segment == k])
        if k:
            shifts[k] = end + gap - own[0]
        gaps = np.diff(own)
        gap = float(np.median(gaps)) if gaps.size else gap
        end = own[-1] + shifts[k]
    return shifts


def note(found: FileOrder, column: str, where: str) -> str:
    """What the user is told: how many segments, where the column restarts, how the run is read."""
    parts = []
    if found.restarts:
        listed = ", ".join(str(n) for n in found.restarts[:MAX_LISTED])
        more = f" and {len(found.restarts) - MAX_LISTED} more" if len(found.restarts) > MAX_LISTED else ""
        parts.append(f"{len(found.restarts) + 1} appended segments (the {column} column restarts at {where}s "
                     f"{listed}{more})")
    if found.rollovers:
        parts.append(f"the {column} column counts inside each epoch (it restarts {found.rollovers}x as the epoch "
                     "advances)")
    if found.repeats:
        parts.append(f"the {column} column repeats on {found.repeats} consecutive row(s)")
    head = "; ".join(parts)
    kept = "; the logged epoch is kept" if column == "epoch" else ""
    return f"{head[0].upper()}{head[1:]}: read in file order (each segment follows the previous one{kept})"
