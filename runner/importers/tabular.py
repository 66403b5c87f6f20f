"""Generic CSV / TSV / JSON-lines logs: a step (or epoch) column and one column per metric.

Also the shared wide-to-long step used by the Lightning, Keras, Ultralytics and MMEngine
readers. An empty cell is "not logged" (Lightning's sparse rows); the text ``nan``/``inf``
is a logged value; any other text in a metric column is skipped with a note.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from runner.importers.base import ImportFailed, Limits, Parsed

STEP_COLUMNS = ("step", "global_step", "iteration", "iter", "it", "batch", "total_steps", "updates")
EPOCH_COLUMNS = ("epoch", "epochs")
WALL_COLUMNS = ("wall_time", "wall time", "walltime", "timestamp", "time", "datetime")
_NON_FINITE = {"nan", "inf", "-inf", "+inf", "infinity", "-infinity", "+infinity"}


def read_table(source: str, text: str, sep: str) -> pd.DataFrame:
    """A CSV/TSV as strings (nothing guessed), header names stripped; ImportFailed with the line."""
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_values=[""],
                            skipinitialspace=True, skip_blank_lines=True)
    except pd.errors.EmptyDataError:
        raise ImportFailed(source, "no header line and no rows") from None
    except pd.errors.ParserError as exc:
        message = str(exc).strip().splitlines()[0]
        found = re.search(r"line (\d+)", message)
        line = int(found.group(1)) if found else None
        raise ImportFailed(source, f"not a well-formed table ({message})", line) from None
    if not isinstance(frame.index, pd.RangeIndex):  # pandas turned the surplus fields into an index
        raise ImportFailed(source, f"the first row has more fields than the header's {len(frame.columns)} "
                                   "(columns would shift); check the separator or the header", 2)
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def find_column(frame: pd.DataFrame, names: Sequence[str]) -> str | None:
    lower = {c.lower(): c for c in frame.columns}
    return next((lower[n] for n in names if n in lower), None)


def numeric_columns(frame: pd.DataFrame, skip: Sequence[str]) -> dict[str, tuple[pd.Series, pd.Series]]:
    """Metric columns: ``column → (values, logged mask)``; a column with no number at all is not a metric."""
    out = {}
    for col in frame.columns:
        if col in skip or col.lower().startswith("unnamed:"):
            continue
        raw = frame[col]
        values = pd.to_numeric(raw, errors="coerce")
        logged = values.notna()
        odd = raw.notna() & ~logged  # only these cells need a look at their text (nan, inf, junk)
        if odd.any():
            logged |= odd & raw[odd].astype(str).str.strip().str.lower().isin(_NON_FINITE).reindex(raw.index,
                                                                                                   fill_value=False)
        if logged.any():
            out[col] = (values.astype(float), logged)
    return out


def wide_to_long(source: str, frame: pd.DataFrame, *, axis: str | None = None, first_line: int = 2,
                 skip: Sequence[str] = (), where: str = "line") -> Parsed:
    """One row per (row, metric column) that was logged; the step comes from a step or epoch column."""
    step_col = find_column(frame, STEP_COLUMNS)
    epoch_col = find_column(frame, EPOCH_COLUMNS)
    wall_col = find_column(frame, WALL_COLUMNS)
    index_cols = [c for c in (step_col, epoch_col, wall_col) if c]
    metrics = numeric_columns(frame, [*index_cols, *skip])
    if not metrics:
        names = ", ".join(frame.columns[:12]) or "none"
        raise ImportFailed(source, f"no numeric metric columns (columns: {names})")
    if step_col is None and epoch_col is None:
        raise ImportFailed(source, f"no step or epoch column (columns: {', '.join(frame.columns[:12])}); "
                                   "name the x-axis column 'step' or 'epoch'")
    notes = []
    epochs = pd.to_numeric(frame[epoch_col], errors="coerce") if epoch_col else pd.Series(np.nan, frame.index)
    if step_col is not None:
        steps, axis = pd.to_numeric(frame[step_col], errors="coerce"), axis or "step"
    elif (epochs.dropna() % 1 == 0).all():
        steps, axis = epochs, axis or "epoch"
    else:  # fractional epochs only: the row order is the step, the epoch kept beside it
        steps, axis = pd.Series(np.arange(len(frame)), frame.index, dtype=float), "step"
    walls = _wall(frame[wall_col]) if wall_col else pd.Series(np.nan, frame.index)
    lines = pd.Series(np.arange(first_line, first_line + len(frame)), frame.index)
    parts = []
    for col, (values, logged) in metrics.items():
        bad = frame[col].notna() & ~logged
        if bad.any():
            first = int(np.argmax(bad.to_numpy()))
            notes.append(f"'{col}': {int(bad.sum())} cell(s) are not numbers (first {where} {lines.iloc[first]}: "
                         f"{str(frame[col].iloc[first])[:40]!r}); skipped")
        parts.append(pd.DataFrame({"step": steps[logged], "epoch": epochs[logged], "name": col,
                                   "value": values[logged], "wall_time": walls[logged], "line": lines[logged]}))
    return Parsed(pd.concat(parts, ignore_index=True), axis=axis, warnings=tuple(notes), where=where)


def _wall(col: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(col, errors="coerce")
    if numbers.notna().any():
        return numbers.astype(float)
    stamps = pd.to_datetime(col, errors="coerce", utc=True, format="mixed")
    return (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds()


def read_csv(source: str, text: str, limits: Limits) -> Parsed:
    return wide_to_long(source, read_table(source, text, sniff_sep(text)))


def sniff_sep(text: str) -> str:
    head = text.lstrip("\ufeff").split("\n", 1)[0]
    return "\t" if head.count("\t") > head.count(",") else ","


def json_lines(source: str, text: str) -> list[tuple[int, dict]]:
    """``(line number, object)`` for each non-blank line; ImportFailed naming the first bad line."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ImportFailed(source, f"not a JSON object per line ({exc.msg})", number) from None
        except RecursionError:
            raise ImportFailed(source, "JSON nested too deeply to read", number) from None
        if not isinstance(obj, dict):
            raise ImportFailed(source, f"expected a JSON object per line, found {type(obj).__name__}", number)
        out.append((number, obj))
    return out


def records_frame(records: list[tuple[int, dict]]) -> pd.DataFrame:
    """JSON records as a string table (like a CSV) plus the line of each; nested values dropped."""
    flat = [{k: _cell(v) for k, v in obj.items() if not isinstance(v, dict | list)} for _, obj in records]
    return pd.DataFrame(flat, dtype=object).astype("string").astype(object).where(lambda f: f.notna(), None)


def _cell(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(int(value))
    return str(value)


def read_jsonl(source: str, text: str, limits: Limits) -> Parsed:
    records = json_lines(source, text)
    frame = records_frame(records)
    parsed = wide_to_long(source, frame)
    lines = dict(enumerate(n for n, _ in records))
    return Parsed(parsed.frame.assign(line=parsed.frame["line"].map(lambda i: lines.get(int(i) - 2, i))),
                  axis=parsed.axis, warnings=parsed.warnings)
