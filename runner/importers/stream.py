"""A big CSV/TSV/JSON-lines upload read and written in bounded memory: two passes over its bytes.

Why (issues 20, 23): the whole-frame path holds the file's text, its table and a long frame of
every point (~20x the file: 3 GB for a 200 MB CSV) before one write. Here the first pass
parses the bytes chunk by chunk (pandas' C parser, ``tabular.table_chunks``) and keeps only
what the run's notes and name mapping need: per metric its count, step gaps, NaN/inf and odd
cells; the second pass, run by the store's import transaction, parses again and hands over
one chunk of rows at a time. Memory is the upload's bytes plus a constant.

It applies to the simple, common case: a step (or whole-number epoch) column whose every
metric advances in file order, UTF-8 bytes, JSON records whose step key is in the first ones.
A log whose steps restart, repeat or go backwards, or that has no step column, needs the
whole-frame judgement (``tidy.finish``: segments, de-duplication,
a counted row axis); the first pass says so and the caller reads it the whole-frame way,
with the same result as before. ``tests/test_import_stream.py`` holds both paths equal.
"""

from __future__ import annotations

import codecs
import io
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd

from runner.importers import tabular, truncated
from runner.importers.base import COLUMNS, Entry, ImportedRun
from runner.importers.detect import is_table, table_format
from traindoc.core import vocabulary

# A file at least this big is streamed (when its layout allows); below, the whole-frame path costs
# under a second and ~100 MB, and keeps every format-specific check.
STREAM_MIN_BYTES = 8 * 1024 * 1024
# Bytes of the head and the tail decoded to detect the table and a row cut off at the end.
EDGE_BYTES = 65536
# JSON records looked at to tell MMEngine's logs from generic JSON lines (``mmengine.looks_like`` reads 50).
MMENGINE_PROBE = 50
# Lines parsed at a time: ~40,000 rows of a 4-metric log, so the write's tuples and the chart summaries of
# one chunk stay in tens of MB however wide the rows are cut.
CHUNK_LINES = 10_000

Tick = Callable[[float], None]


@dataclass(frozen=True)
class BigTable:
    """A big CSV/TSV as its bytes, what detection learnt from its edges, and whether its last row was cut."""

    data: bytes
    sep: str
    encoding: str  # "utf-8" or "utf-8-sig"
    cut: bool  # the last row was cut mid-row: dropped (the note says so)
    spaces: bool = True  # spaces follow the separators in the head: skipped (``tabular.spaced``)
    end: int | None = None  # JSON lines: where the records end (before a last line cut mid-object); None: a table


def sniff(data: bytes, entry_name: str) -> tuple[BigTable, str | None] | None:
    """``(table, cut note)`` when ``data`` is a big UTF-8 generic CSV/TSV with a header; None for anything else
    (a Lightning, Keras or Ultralytics table, another format, a legacy code page: the whole-frame path)."""
    if len(data) < STREAM_MIN_BYTES or data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    head = data[:EDGE_BYTES].decode("utf-8", errors="ignore").lstrip("\ufeff").rpartition("\n")[0]  # whole lines
    body = head.lstrip(" \t\r\n")
    if body.startswith("{"):
        return _sniff_lines(data, body)
    if not body or body[0] in "{[" or not is_table(body) or table_format(Entry(entry_name, b""), body) not in (
            "csv", "tsv"):
        return None
    sep = tabular.sniff_sep(body)
    if tabular.headerless(body, sep):
        return None
    header = body.split("\n", 1)[0]
    tail = data[-EDGE_BYTES:].decode("utf-8", errors="ignore").partition("\n")[2]  # whole lines only
    mini = f"{header}\n{tail}"
    _, note = truncated.table_tail(mini, sep, lines_before=data.count(b"\n") - mini.count("\n"))
    encoding = "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8"
    return BigTable(data, sep, encoding, note is not None, tabular.spaced(head, sep)), note


def _sniff_lines(data: bytes, body: str) -> tuple[BigTable, str | None] | None:
    """JSON lines (not MMEngine's, judged from the first records, as ``detect`` does): where the records end,
    before a last line cut mid-object, and the note saying so."""
    from runner.importers import mmengine

    lines = [line for line in body.splitlines() if line.strip()]
    if len(lines) < 2 or not lines[1].lstrip().startswith("{"):
        return None
    try:
        records = [(i, json.loads(line)) for i, line in enumerate(lines[:MMENGINE_PROBE], 1)]
    except (ValueError, RecursionError):
        return None  # the whole-frame path names the bad line
    if not all(isinstance(r, dict) for _, r in records) or mmengine.looks_like(records):
        return None
    edge = data[-EDGE_BYTES:]
    kept = len(edge.rstrip())  # the tail without its trailing blank lines
    if b"\n" not in edge[:kept]:
        return None  # a last line longer than the tail read
    start = edge.rfind(b"\n", 0, kept) + 1
    last = edge[start:kept].decode("utf-8", errors="ignore")
    number = data.count(b"\n") - edge[kept:].count(b"\n") + 1  # the last non-blank line's number
    _, note = truncated.jsonl_tail(f"{{}}\n{last}", lines_before=number - 2)
    end = len(data) - len(edge) + (start if note is not None else len(edge))
    return BigTable(data, "", "utf-8", note is not None, end=end), note


@dataclass(frozen=True)
class _Plan:
    """The table's layout, fixed by its header: which columns are the step, epoch, wall time and metrics."""

    step: str | None
    epoch: str | None
    wall: str | None
    skip: tuple[str, ...]


# One metric column of one chunk: name, steps, epochs, values, wall times (its logged cells with a numeric
# step), and its cells that are not numbers as ``(count, first line, first text)`` or None.
Column = tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[int, int, str] | None]


@dataclass
class _Metric:
    """What the first pass keeps of one metric column: enough for the notes and the name mapping."""

    logged: bool = False  # some cell is a number (or nan/inf text): a metric, so its odd cells are named
    count: int = 0
    last_step: float = -np.inf
    gaps: Counter = field(default_factory=Counter)
    nan: int = 0
    nan_step: float = 0.0
    inf: int = 0
    inf_step: float = 0.0
    bad: int = 0
    bad_line: int = 0
    bad_text: str = ""

    def add(self, column: Column) -> int:
        """Take one chunk's cells; NotStreamable when the step does not advance (a restart or a repeat)."""
        _col, steps, epochs, values, _walls, bad = column
        if bad is not None and bad[0]:
            if not self.bad:
                self.bad_line, self.bad_text = bad[1], bad[2]
            self.bad += bad[0]
        if not len(steps):
            return 0
        self.logged = True
        if (np.diff(np.r_[self.last_step, steps]) <= 0).any():
            raise NotStreamable(_col)
        # the gap of the stored (whole) steps, as ``tidy.step_gaps`` reads them
        gaps = np.diff(np.round(np.r_[self.last_step, steps] if self.count else steps))
        if gaps.size and gaps.min() == gaps.max():  # the usual log: one gap throughout (no sort needed)
            self.gaps[float(gaps[0])] += gaps.size
        elif gaps.size:
            self.gaps.update(dict(zip(*np.unique(gaps, return_counts=True), strict=True)))
        self.last_step = float(steps[-1])
        nan, inf = np.isnan(values), np.isinf(values)
        if nan.any() and not self.nan:
            self.nan_step = float(steps[np.argmax(nan)])
        if inf.any() and not self.inf:
            self.inf_step = float(steps[np.argmax(inf)])
        self.nan += int(nan.sum())
        self.inf += int(inf.sum())
        self.count += len(steps)
        return len(steps)


class NotStreamable(Exception):
    """The first pass found what only the whole-frame path judges (a restart, fractional epochs, no step)."""


class StreamedRows:
    """The second pass: the run's rows ``(step, epoch, name, value, wall_time)`` a chunk at a time."""

    def __init__(self, table: BigTable, source: str, plan: _Plan, counts: dict[str, int]) -> None:
        self.table, self.source, self.plan, self.counts = table, source, plan, counts
        self.total = sum(counts.values())

    def __len__(self) -> int:
        return self.total

    def chunks(self, mapping: Mapping[str, str]) -> Iterator[list[tuple]]:
        """Row chunks with mapped names; a missing wall time is the import time (as ``save.RowChunks``)."""
        imported_at = time.time()
        for columns in _parts(self.table, self.source, self.plan):
            out: list[tuple] = []
            for name, steps, epochs, values, walls, _bad in columns:
                if name not in self.counts:
                    continue
                wall = np.where(walls > 0, walls, imported_at)
                out.extend(zip(np.round(steps).astype(np.int64).tolist(), epochs.tolist(),
                               repeat(mapping.get(name, name), len(steps)), values.tolist(), wall.tolist(),
                               strict=True))
            if out:
                yield out


def read(source: str, table: BigTable, name: str, config: dict[str, Any], notes: tuple[str, ...],
         tick: Tick | None = None) -> ImportedRun | None:
    """The run of a big table, its rows left to ``StreamedRows``; None when it needs the whole-frame path."""
    try:
        return _scan(source, table, name, config, notes, tick)
    except (NotStreamable, UnicodeDecodeError):  # not UTF-8: the whole-frame path reads its code page
        return None


def _scan(source: str, table: BigTable, name: str, config: dict[str, Any], notes: tuple[str, ...],
          tick: Tick | None) -> ImportedRun:
    """The first pass: every cell parsed and judged; kept per metric only what the notes and mapping need."""
    plan = _layout(next(_heads(table, source)))
    metrics: dict[str, _Metric] = {}
    epochs_seen: set[float] = set()
    for columns in _parts(table, source, plan, tick, tabular.READ_CHUNK_ROWS):
        for column in columns:
            metrics.setdefault(column[0], _Metric()).add(column)
        for column in columns:  # the epochs of the stored rows (``tidy.map_names``), few distinct ones: a set
            epochs_seen.update(_distinct(np.floor(column[2][~np.isnan(column[2])])))
    counted = {col: m for col, m in metrics.items() if m.count}
    if not counted:
        raise NotStreamable("no metric values")  # the whole-frame path names what is missing
    found = list(notes)
    for col, m in metrics.items():
        if m.logged and m.bad:
            found.append(f"'{col}': {m.bad} cell(s) are not numbers (first line {m.bad_line}: "
                         f"{m.bad_text[:40]!r}); skipped")
    for col in sorted(counted):
        m = counted[col]
        for n, step, what in ((m.nan, m.nan_step, "NaN"), (m.inf, m.inf_step, "±inf")):
            if n:
                found.append(f"'{col}': {n} {what} value(s), first at step {step:g}; kept as logged")
    axis = "step" if plan.step is not None else "epoch"
    counts = {col: m.count for col, m in counted.items()}
    mapping = vocabulary.map_names(counts, axis=axis, epochs=len(epochs_seen),
                                   gaps={col: _median(m.gaps) for col, m in counted.items() if m.gaps})
    fmt = "jsonl" if table.end is not None else "tsv" if table.sep == "\t" else "csv"
    meta = {"format": fmt, "file": source, "axis": axis}
    return ImportedRun(name=name, source=source, format=fmt, frame=pd.DataFrame(columns=list(COLUMNS)),
                       mapping=mapping, axis=axis, config=config, meta=meta, warnings=tuple(found),
                       stream=StreamedRows(table, source, plan, counts))


def _distinct(values: np.ndarray) -> list[float]:
    """The distinct values; in one pass when they never decrease (a log's epochs), else by sorting."""
    if values.size > 1 and (values[1:] >= values[:-1]).all():
        return values[np.r_[True, values[1:] != values[:-1]]].tolist()
    return np.unique(values).tolist()


def _median(counts: Counter) -> float:
    """The median of values given as ``value → count`` (as ``pandas.Series.median``: the two middles' mean)."""
    keys = sorted(counts)
    weights = np.cumsum([counts[k] for k in keys])
    n = int(weights[-1])
    lower = keys[int(np.searchsorted(weights, (n - 1) // 2, side="right"))]
    upper = keys[int(np.searchsorted(weights, n // 2, side="right"))]
    return float((lower + upper) / 2)


def _heads(table: BigTable, source: str) -> Iterator[pd.DataFrame]:
    """The table's first rows (its header fixes the layout)."""
    head = table.data[:EDGE_BYTES]
    if table.end is not None:  # JSON lines: the keys of the first records (later chunks must agree)
        lines = [line for line in head.decode("utf-8", errors="ignore").splitlines()[:MMENGINE_PROBE] if line.strip()]
        records = [(i, json.loads(line)) for i, line in enumerate(lines[:-1], 1)]  # the last may be cut short
        yield tabular.records_frame(records).rename(columns=lambda c: str(c).strip())
        return
    if b"\n" not in head:
        raise NotStreamable("a header longer than the head read")
    yield next(tabular.table_chunks(source, io.BytesIO(head[:head.rfind(b"\n") + 1]), table.sep,
                                    encoding=table.encoding, chunk_rows=2, spaces=table.spaces),
               pd.DataFrame()).rename(columns=str.strip)


def _parts(table: BigTable, source: str, plan: _Plan, tick: Tick | None = None,
           lines: int | None = None) -> Iterator[list[Column]]:
    """The table chunk by chunk (``lines`` at a time) as arrays per metric column, the last row dropped when
    it was cut; ``tick`` gets the fraction of the bytes read."""
    if table.end is not None:
        yield from _record_parts(table, source, plan, tick, lines)
        return
    buffer = io.BytesIO(table.data)
    chunks = tabular.table_chunks(source, buffer, table.sep, encoding=table.encoding, chunk_rows=lines or CHUNK_LINES,
                                  spaces=table.spaces)
    line = 2  # the line of a row as ``tabular.wide_to_long`` counts it: the header is line 1
    held = next(chunks, None)
    while held is not None:
        following = next(chunks, None)
        chunk = held if following is not None or not table.cut else held.iloc[:-1]
        chunk.columns = [str(c).strip() for c in chunk.columns]
        yield _convert(chunk, plan, line)
        line += len(held)
        held = following
        if tick is not None:
            tick(min(buffer.tell() / max(len(table.data), 1), 1.0))


def _record_parts(table: BigTable, source: str, plan: _Plan, tick: Tick | None,
                  lines: int | None) -> Iterator[list[Column]]:
    """JSON lines ``lines`` records at a time, each chunk a table as ``tabular.records_frame`` makes it."""
    data, end, pos, number, row = table.data, table.end or 0, 0, 0, 2
    records: list[tuple[int, dict]] = []
    while pos < end or records:
        if pos < end:
            stop = data.find(b"\n", pos, end)
            stop = end if stop < 0 else stop
            number, text, pos = number + 1, data[pos:stop], stop + 1
            if not text.strip():
                continue
            records.append((number, tabular.json_object(source, text, number)))
            if len(records) < (lines or CHUNK_LINES) and pos < end:
                continue
        chunk = tabular.records_frame(records)
        chunk.columns = [str(c).strip() for c in chunk.columns]
        if not _agrees(chunk, plan):
            raise NotStreamable("a step, epoch or time key appears later")  # the union of keys decides
        yield _convert(chunk, plan, row)
        row += len(records)
        records = []
        if tick is not None:
            tick(min(pos / max(end, 1), 1.0))


def _agrees(chunk: pd.DataFrame, plan: _Plan) -> bool:
    """Whether a later chunk of JSON records names the same step, epoch and time keys as the first (or none)."""
    for names, taken in ((tabular.STEP_COLUMNS, plan.step), (tabular.EPOCH_COLUMNS, plan.epoch),
                         (tabular.WALL_COLUMNS, plan.wall)):
        found = tabular.find_column(chunk, names)
        if found is not None and found != taken:
            return False
    return True


def _layout(chunk: pd.DataFrame) -> _Plan:
    step = tabular.find_column(chunk, tabular.STEP_COLUMNS)
    epoch = tabular.find_column(chunk, tabular.EPOCH_COLUMNS)
    if step is None and epoch is None:
        raise NotStreamable("no step or epoch column")  # the row axis is judged on the whole frame
    if len(set(chunk.columns)) != len(chunk.columns):
        raise NotStreamable("a column name is used twice")
    wall = tabular.find_column(chunk, tabular.WALL_COLUMNS)
    return _Plan(step, epoch, wall, tuple(c for c in (step, epoch, wall) if c))


def _convert(chunk: pd.DataFrame, plan: _Plan, first_line: int) -> list[Column]:
    """One chunk as arrays per metric column: each cell read as ``tabular.wide_to_long`` reads it."""
    n = len(chunk)
    epochs = pd.to_numeric(chunk[plan.epoch], errors="coerce").to_numpy(dtype=float) if plan.epoch in chunk \
        else np.full(n, np.nan)
    if plan.step is not None:  # JSON records of a chunk may all lack it: no step, nothing stored from them
        steps = pd.to_numeric(chunk[plan.step], errors="coerce").to_numpy(dtype=float) if plan.step in chunk \
            else np.full(n, np.nan)
    else:
        if (epochs[~np.isnan(epochs)] % 1 != 0).any():
            raise NotStreamable("fractional epochs")  # the row order becomes the step: the whole-frame path
        steps = epochs
    walls = tabular.wall_seconds(chunk[plan.wall]).to_numpy(dtype=float) if plan.wall in chunk else np.full(n, np.nan)
    walls = np.where(np.isnan(walls), 0.0, walls)
    has_step = ~np.isnan(steps)
    found = tabular.numeric_columns(chunk, plan.skip)
    out: list[Column] = []
    for col in chunk.columns:
        if col in plan.skip or col.lower().startswith("unnamed:") or col == "":
            continue
        text = chunk[col].dtype.kind not in "fiu"
        if col in found:
            values, logged = found[col]
            odd = chunk[col].notna().to_numpy() & ~logged if text else None
        elif text:  # no number in this chunk: its cells are odd if the column is a metric elsewhere
            values, logged = np.full(n, np.nan), np.zeros(n, dtype=bool)
            odd = chunk[col].notna().to_numpy()
        else:
            continue
        bad = None
        if odd is not None and odd.any():
            first = int(np.argmax(odd))
            bad = (int(odd.sum()), first_line + first, str(chunk[col].iloc[first]))
        take = np.flatnonzero(logged & has_step)
        out.append((col, steps[take], epochs[take], values[take], walls[take], bad))
    return out
