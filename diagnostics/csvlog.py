"""The simple CSV reader: a ``step`` or ``epoch`` column plus one column per metric.

Kept tiny and separate so the importers of many formats can replace it. A Keras
``CSVLogger`` file (``epoch,loss,accuracy,val_loss,...``) reads as an epoch-level run.
A ``hparams.json`` beside the file (or ``<file>.hparams.json``) becomes the run config.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd


class LogReadError(ValueError):
    """A log file that cannot be read; the message names the file and the problem."""


def read_wide_csv(path: Any) -> Any:
    from diagnostics.rundata import RunData

    path = Path(path)
    try:  # empty cells are "not logged"; the text nan/inf is a logged value
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    except FileNotFoundError:
        raise LogReadError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise LogReadError(f"{path}: is a folder, expected a CSV file") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LogReadError(f"{path}: not a readable CSV ({first_line})") from None
    columns = {str(c).strip().lower(): c for c in frame.columns}
    axis = "step" if "step" in columns else "epoch" if "epoch" in columns else None
    if axis is None:
        names = ", ".join(map(str, frame.columns))
        raise LogReadError(f"{path}: no 'step' or 'epoch' column (columns: {names})")
    index = pd.to_numeric(frame[columns[axis]], errors="coerce")
    skip = {"step", "epoch", "wall_time", "time", "timestamp"}
    metrics = {
        c: pd.to_numeric(frame[c], errors="coerce")
        for c in frame.columns
        if str(c).strip().lower() not in skip
    }
    metrics = {
        c: v for c, v in metrics.items() if frame[c].notna().any() and (v.notna() | _nan_text(frame[c])).any()
    }
    if not metrics or index.notna().sum() == 0:
        raise LogReadError(f"{path}: no numeric metric columns beside '{axis}'")
    parts = []
    for col, values in metrics.items():
        logged = frame[col].notna()
        part = pd.DataFrame({"step": index[logged], "name": str(col).strip(), "value": values[logged]})
        if "epoch" in columns:
            part["epoch"] = pd.to_numeric(frame[columns["epoch"]], errors="coerce")[logged]
        parts.append(part)
    meta = {"source": str(path), "format": "csv", "axis": axis, "name": path.stem}
    return RunData.from_long(
        pd.concat(parts, ignore_index=True), config=_sidecar(path), meta=meta, epoch_level=axis == "epoch"
    )


def _nan_text(col: pd.Series) -> pd.Series:
    return (
        col.astype(str).str.strip().str.lower().isin(["nan", "inf", "-inf", "+inf", "infinity", "-infinity"])
    )


def _sidecar(path: Path) -> dict[str, Any]:
    for candidate in (path.with_name(path.name + ".hparams.json"), path.with_name("hparams.json")):
        if candidate.is_file():
            try:
                data = json.loads(candidate.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise LogReadError(f"{candidate}: not valid JSON ({exc})") from None
            return _flatten(data) if isinstance(data, dict) else {}
    return {}


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out
