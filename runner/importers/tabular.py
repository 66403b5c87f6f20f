"""Generic CSV / TSV / JSON-lines logs: a step (or epoch) column and one column per metric.

Also the shared wide-to-long step used by the Lightning, Keras, Ultralytics and MMEngine
readers. An empty cell is "not logged" (Lightning's sparse rows); the text ``nan``/``inf``
is a logged value; any other text in a metric column is skipped with a note.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from runner.importers import bare
from runner.importers.base import ImportFailed, Limits, Parsed

STEP_COLUMNS = ("step", "global_step", "iteration", "iter", "it", "batch", "total_steps", "updates",
                "time/total_timesteps", "total/steps", "total_timesteps", "timesteps", "timestep", "episode",
                "episodes", "n_updates", "train/n_updates", "time/iterations")
INDEX_COLUMNS = ("unnamed: 0", "")  # pandas ``DataFrame.to_csv()`` writes the row index under an empty header
EPOCH_COLUMNS = ("epoch", "epochs")
WALL_COLUMNS = ("wall_time", "wall time", "walltime", "timestamp", "time", "datetime")
# Rows of a CSV read (as text) at a time before their number columns become numbers (``compact``).
READ_CHUNK_ROWS = 50_000
# Characters of a table's head looked at for spaces after its separators (``spaced``).
SPACE_PROBE_CHARS = 65536
_NON_FINITE = {"nan", "inf", "-inf", "+inf", "infinity", "-infinity", "+infinity"}
# ``print(loss)`` of a torch/numpy scalar written into a CSV cell: the number is the first argument
_WRAPPED = r"^\s*(?:tensor|array|np\.float\d*|float\d*)\(\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf|-inf)"


def read_table(source: str, text: str, sep: str) -> pd.DataFrame:
    """A CSV/TSV read ``READ_CHUNK_ROWS`` rows at a time by pandas' C parser (``table_chunks``); header
    names stripped; ImportFailed with the line."""
    chunks = list(table_chunks(source, io.StringIO(text), sep, spaces=spaced(text, sep)))
    if not chunks:  # a header and no rows: its columns, nothing else
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, nrows=0, skipinitialspace=True)
    else:
        frame = chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def spaced(text: str, sep: str) -> bool:
    """Whether the table's head puts spaces after its separators (``step, loss``): only then are they skipped.

    Why: skipping them costs the C parser ~1.8x its time; a number reads the same either way, and a
    quoted cell after a space (``, "tensor(0.5, ...)"``) is only read as one cell when they are skipped.
    """
    return f"{sep} " in text[:SPACE_PROBE_CHARS]


def table_chunks(source: str, buffer: Any, sep: str, *, header: int | None = 0, encoding: str | None = None,
                 chunk_rows: int | None = None, spaces: bool = True) -> Iterator[pd.DataFrame]:
    """A table's rows in chunks as pandas' C parser reads them: a column of numbers (and empty cells) comes
    as numbers; any other column as its text.

    Why: parsing numbers in C is ~30x faster than holding every cell as a Python string (issue 23),
    and nothing is guessed: ``nan``/``inf`` text in a column keeps it text (a logged NaN is told from an
    empty cell by ``numeric_columns``), ``1_000`` is not a number as written, a ``True``/``False``
    column stays text. ``buffer`` is text or bytes (then ``encoding`` decodes it chunk by chunk).
    """
    try:
        reader = pd.read_csv(buffer, sep=sep, header=header, keep_default_na=False, na_values=[""],
                             skipinitialspace=spaces, skip_blank_lines=True, encoding=encoding,
                             chunksize=chunk_rows or READ_CHUNK_ROWS, low_memory=False)  # a chunk is bounded
        with reader:
            for i, chunk in enumerate(reader):
                if i == 0 and header is not None and not isinstance(chunk.index, pd.RangeIndex):
                    raise ImportFailed(source, f"the first row has more fields than the header's "
                                               f"{len(chunk.columns)} (columns would shift); check the separator "
                                               "or the header", 2)
                flags = [c for c, dtype in zip(chunk.columns, chunk.dtypes, strict=True) if dtype.kind == "b"]
                if flags:  # ``True``/``False`` read as booleans: text, as written (not the numbers 1 and 0)
                    chunk = chunk.assign(**{str(c): chunk[c].map({True: "True", False: "False"}) for c in flags})
                yield chunk
    except pd.errors.EmptyDataError:
        if header is None:
            return
        raise ImportFailed(source, "no header line and no rows") from None
    except pd.errors.ParserError as exc:
        message = str(exc).strip().splitlines()[0]
        found = re.search(r"line (\d+)", message)
        line = int(found.group(1)) if found else None
        raise ImportFailed(source, f"not a well-formed table ({message})", line) from None


def compact(chunk: pd.DataFrame) -> pd.DataFrame:
    """A chunk of text cells with each column whose every cell is a number (or empty) turned into numbers.

    Why: a table held as Python strings costs ~17x the file; as numbers, 8 bytes a cell. Only
    columns where some cell is not a number as it stands (``nan`` or ``inf`` text, ``tensor(0.5)``,
    ``1_000``, junk) stay text, so the logged-NaN / not-logged distinction and the notes about odd
    cells are those of the text (an empty cell is NaN either way: not logged). Converted by
    ``pd.to_numeric`` (numbers as written: no ``1_000``), the whole chunk at once (a 10,000-column
    table is 10,000 columns, not 10,000 calls).
    """
    block = chunk.to_numpy(dtype=object)
    empty = pd.isna(block)
    numbers = pd.to_numeric(pd.Series(block.ravel(), dtype=object), errors="coerce").to_numpy(dtype=float)
    same = (np.isnan(numbers).reshape(block.shape) == empty).all(axis=0)
    if same.all():
        return pd.DataFrame(numbers.reshape(block.shape), index=chunk.index, columns=chunk.columns)
    numbers = numbers.reshape(block.shape)
    out: dict[str, Any] = {col: numbers[:, j] if same[j] else chunk[col] for j, col in enumerate(chunk.columns)}
    return pd.DataFrame(out, index=chunk.index, columns=chunk.columns)


def find_column(frame: pd.DataFrame, names: Sequence[str]) -> str | None:
    lower = {c.lower(): c for c in frame.columns}
    return next((lower[n] for n in names if n in lower), None)


def numeric_columns(frame: pd.DataFrame, skip: Sequence[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Metric columns: ``column → (values, logged mask)`` as arrays; a column with no number at all is
    not a metric. A column already of numbers (``compact``) has nothing odd in it: NaN is an empty cell."""
    out = {}
    kinds = [dtype.kind for dtype in frame.dtypes]
    wanted = [j for j, col in enumerate(frame.columns) if col not in skip and not col.lower().startswith("unnamed:")]
    numbers = [j for j in wanted if kinds[j] in "fiu"]
    if numbers:  # every number column in one block: a 10,000-column table is one conversion, not 10,000
        block = (frame.to_numpy(dtype=float)[:, numbers] if all(kind in "fiu" for kind in kinds)  # no copy of a
                 else frame.iloc[:, numbers].to_numpy(dtype=float))  # frame by columns: one block, then picked
        seen = ~np.isnan(block)
        some = seen.any(axis=0)
    for k, j in enumerate(numbers):
        if some[k]:
            out[frame.columns[j]] = (block[:, k], seen[:, k])
    for j in wanted:
        if kinds[j] in "fiu":
            continue
        col, raw = frame.columns[j], frame.iloc[:, j]
        values = pd.to_numeric(raw, errors="coerce")
        logged = values.notna()
        odd = raw.notna() & ~logged  # only these cells need a look at their text (nan, inf, junk)
        if odd.any():  # a number printed as its tensor: ``tensor(0.52, grad_fn=<...>)``
            unwrapped = pd.to_numeric(raw[odd].astype(str).str.extract(_WRAPPED, expand=False), errors="coerce")
            values = values.where(~odd, unwrapped.reindex(raw.index))
            logged = values.notna()
            odd = raw.notna() & ~logged
        if odd.any():
            logged |= odd & raw[odd].astype(str).str.strip().str.lower().isin(_NON_FINITE).reindex(raw.index,
                                                                                                   fill_value=False)
        if logged.any():
            out[col] = (values.to_numpy(dtype=float), logged.to_numpy(dtype=bool))
    order = {col: i for i, col in enumerate(frame.columns)}
    return dict(sorted(out.items(), key=lambda item: order[item[0]]))  # in the table's column order


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
    notes = []
    if step_col is None and epoch_col is None:
        frame, epoch_col, note = _row_axis(frame)
        notes.append(note)
        axis = axis or "epoch"
    epochs = pd.to_numeric(frame[epoch_col], errors="coerce") if epoch_col else pd.Series(np.nan, frame.index)
    counted = False
    if step_col is not None:
        steps, axis = pd.to_numeric(frame[step_col], errors="coerce"), axis or "step"
    elif (epochs.dropna() % 1 == 0).all():
        steps, axis = epochs, axis or "epoch"
    else:  # fractional epochs only: the row order is the step, the epoch kept beside it
        steps, axis, counted = pd.Series(np.arange(len(frame)), frame.index, dtype=float), "step", True
    walls = wall_seconds(frame[wall_col]) if wall_col else pd.Series(np.nan, frame.index)
    lines = np.arange(first_line, first_line + len(frame))
    rows, values, names, counts = [], [], [], []
    kinds = {col: dtype.kind for col, dtype in zip(frame.columns, frame.dtypes, strict=True)}
    for col, (col_values, logged) in metrics.items():
        if kinds[col] not in "fiu":  # only a text column can hold cells that are not numbers
            bad = frame[col].notna().to_numpy() & ~logged
            if bad.any():
                first = int(np.argmax(bad))
                notes.append(f"'{col}': {int(bad.sum())} cell(s) are not numbers (first {where} {lines[first]}: "
                             f"{str(frame[col].iloc[first])[:40]!r}); skipped")
        taken = np.flatnonzero(logged)
        rows.append(taken)
        values.append(col_values[taken])
        names.append(col)
        counts.append(len(taken))
    at = np.concatenate(rows)  # column by column, each in row order: one frame, not one per column
    long = pd.DataFrame({"step": steps.to_numpy()[at], "epoch": epochs.to_numpy(dtype=float)[at],
                         "name": _names(names, counts),
                         "value": np.concatenate(values),
                         "wall_time": walls.to_numpy(dtype=float)[at], "line": lines[at]})
    return Parsed(long, axis=axis, warnings=tuple(notes), where=where, counted=counted)


def _names(names: list[str], counts: list[int]) -> pd.Categorical:
    """``names[i]`` repeated ``counts[i]`` times as a categorical (a byte a row, not a pointer), its categories
    sorted as ``astype("category")`` sorts them, so the rows order as they did from a column of strings."""
    ordered = sorted(names)
    rank = {name: i for i, name in enumerate(ordered)}
    return pd.Categorical.from_codes(np.repeat([rank[name] for name in names], counts), ordered)


def _row_axis(frame: pd.DataFrame) -> tuple[pd.DataFrame, str, str]:
    """No x column: the pandas index column (``Unnamed: 0``) when it counts rows, else the row itself.

    A Keras history saved with ``pd.DataFrame(history.history).to_csv()`` has one row per
    epoch and either an unnamed index column or none; many hand-written logs too.
    """
    index = next((c for c in frame.columns if c.lower() in INDEX_COLUMNS), None)
    if index is not None:
        values = pd.to_numeric(frame[index], errors="coerce")
        if values.notna().all() and (values.diff().dropna() > 0).all():
            return frame.rename(columns={index: "epoch"}), "epoch", f"no step or epoch column: '{index}' " \
                "(the saved row index) is the epoch"
    frame = frame.assign(epoch=np.arange(len(frame), dtype=float))
    return frame, "epoch", "no step or epoch column: each row is taken as one epoch (0, 1, 2, ...)"


def wall_seconds(col: pd.Series) -> pd.Series:
    """A wall-time column as seconds since the epoch: its numbers, else its dates (ISO or mixed)."""
    numbers = pd.to_numeric(col, errors="coerce")
    if numbers.notna().any():
        return numbers.astype(float)
    stamps = pd.to_datetime(col, errors="coerce", utc=True, format="mixed")
    return (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds()


def read_csv(source: str, text: str, limits: Limits) -> Parsed:
    sep = sniff_sep(text)
    if headerless(text, sep):
        frame, notes = _headerless_frame(source, text, sep)
        parsed = wide_to_long(source, frame, first_line=1)
        return replace(parsed, warnings=(*notes, *parsed.warnings))
    return wide_to_long(source, read_table(source, text, sep))


def headerless(text: str, sep: str) -> bool:
    """A table whose first line is all numbers: it has no header (``np.savetxt``, hand-written)."""
    head = text.lstrip("\ufeff").split("\n", 1)[0].strip()
    cells = [c.strip() for c in head.split(sep)]
    return len(cells) >= 2 and all(_is_number(c) for c in cells)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _headerless_frame(source: str, text: str, sep: str) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Numbers without a header: few long rows are one series per row, else one series per column.

    ``np.savetxt(f, [train_losses, eval_losses], delimiter=",")`` writes each series as a
    row; the names are unknown, so they are called ``row_1, row_2...``. Columns are named as
    ``bare.name_columns`` names them: a counting first column is the epoch, a lone value column
    beside it is read as the file name says (else as the training loss, with a note), more are
    ``column_2...``.
    """
    chunks = list(table_chunks(source, io.StringIO(text.lstrip("\ufeff")), sep, header=None,
                               spaces=spaced(text, sep)))
    if not chunks:
        raise ImportFailed(source, "no rows")
    raw = chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)
    if bare.series_per_row(*raw.shape):
        frame = raw.T.reset_index(drop=True)
        frame.columns = [f"row_{i + 1}" for i in range(raw.shape[0])]
        return frame, ()
    columns = [pd.to_numeric(raw[c], errors="coerce").to_numpy(dtype=float) for c in raw.columns]
    named, notes = bare.name_columns(source, columns)
    frame = pd.DataFrame(named)
    if "epoch" in frame and not (frame["epoch"].diff().dropna() > 0).all():
        frame.insert(0, "step", np.arange(len(frame), dtype=float))  # several rows an epoch: a row is a step
    return frame, notes


def sniff_sep(text: str) -> str:
    head = text.lstrip("\ufeff").split("\n", 1)[0]
    return "\t" if head.count("\t") > head.count(",") else ","


def json_lines(source: str, text: str) -> list[tuple[int, dict]]:
    """``(line number, object)`` for each non-blank line; ImportFailed naming the first bad line."""
    return [(number, json_object(source, line, number))
            for number, line in enumerate(text.splitlines(), 1) if line.strip()]


def json_object(source: str, line: str | bytes, number: int) -> dict:
    """One JSON-lines record; ImportFailed naming its line when it is not a JSON object."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ImportFailed(source, f"not a JSON object per line ({exc.msg})", number) from None
    except RecursionError:
        raise ImportFailed(source, "JSON nested too deeply to read", number) from None
    if not isinstance(obj, dict):
        raise ImportFailed(source, f"expected a JSON object per line, found {type(obj).__name__}", number)
    return obj


def records_frame(records: list[tuple[int, dict]]) -> pd.DataFrame:
    """JSON records as a table (like a CSV read): nested values dropped, a key's column in the order keys
    first appear, numbers as numbers and any other column as its text (then ``compact``)."""
    parts = []
    for start in range(0, len(records), READ_CHUNK_ROWS):  # a chunk's cells become numbers before the next
        parts.append(_records_chunk([obj for _, obj in records[start:start + READ_CHUNK_ROWS]]))
    if not parts:
        return pd.DataFrame()
    return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)


def _records_chunk(objs: list[dict]) -> pd.DataFrame:
    """One chunk of records. A key whose values are all JSON numbers (or booleans, or missing) becomes a
    number column at once; one holding a NaN or any text goes the text way (``_cell``, then ``compact``),
    so a logged NaN stays told apart from a missing key, as in a CSV.

    Why: turning every value into text and back cost ~10x the parse of the JSON itself.
    """
    keys: dict[str, None] = {}  # in the order they first appear with a value that is not nested
    for obj in objs:
        keys.update((k, None) for k, v in obj.items() if not isinstance(v, dict | list))
    columns: dict[str, Any] = {}
    text: list[str] = []
    for key in keys:
        values = [obj.get(key) for obj in objs]
        values = [None if isinstance(v, dict | list) else v for v in values]
        plain = all(v is None or type(v) in (int, float, bool) for v in values)
        if plain and any(v is not None for v in values) and not any(
                math.isnan(v) for v in values if type(v) is float):  # a NaN is logged: the text way tells it
            columns[key] = np.array([np.nan if v is None else float(v) for v in values])
            continue
        columns[key] = pd.Series([None if v is None else _cell(v) for v in values], dtype=object)
        text.append(key)
    frame = pd.DataFrame(columns, index=pd.RangeIndex(len(objs)))
    if text:
        converted = compact(frame[text])
        for key in text:
            frame[key] = converted[key]
    return frame


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
                  axis=parsed.axis, warnings=parsed.warnings, counted=parsed.counted)
