"""The values every importer shares: a file entry, the imported run, limits, and the one error type.

An importer turns one log (or one run folder) into an ``ImportedRun``: a tidy long frame
``step, epoch, name, value, wall_time`` with the *original* metric names, the run config
found beside it, and the mapping of those names onto the canonical ones. Nothing here
touches the database; ``runner.importers.save`` does, in one transaction.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

COLUMNS = ("step", "epoch", "name", "value", "wall_time")
PERCENT = 100.0  # ``Val Acc: 52.00%`` and ``Train Acc 87.5`` are the fractions 0.52 and 0.875, what accuracy rules read


class ImportFailed(ValueError):
    """A log that cannot be imported; the message names the file, the problem and (when it helps) the line."""

    def __init__(self, source: str, problem: str, line: int | None = None) -> None:
        self.source, self.problem, self.line = source, problem, line
        where = f" (line {line})" if line is not None else ""
        super().__init__(f"{source}{where}: {problem}")


def _env_mb(name: str, default: float) -> int:
    return int(float(os.environ.get(name, default)) * 1024 * 1024)


@dataclass(frozen=True)
class Limits:
    """Bounds that keep a hostile or mistaken upload from eating the machine.

    The file limit matches Streamlit's default upload cap (200 MB); a zip may expand to
    at most ``max_total_bytes`` and no member may compress better than ``max_ratio``
    (real logs compress 3-30x; a zip bomb 1000x or more).
    """

    max_file_bytes: int = field(default_factory=lambda: _env_mb("TRAINDOC_MAX_IMPORT_MB", 200))
    max_total_bytes: int = field(default_factory=lambda: _env_mb("TRAINDOC_MAX_UNZIP_MB", 1024))
    max_ratio: float = 200.0
    max_members: int = 10_000
    max_json_bytes: int = field(default_factory=lambda: _env_mb("TRAINDOC_MAX_JSON_MB", 64))


@dataclass(frozen=True)
class Entry:
    """One file to import: its path (posix, relative inside a zip or folder) and its bytes."""

    path: str
    data: bytes

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def folder(self) -> str:
        return self.path.rsplit("/", 1)[0] if "/" in self.path else ""


@dataclass(frozen=True)
class Parsed:
    """What a format reader returns: tidy rows with original names (plus an optional ``line``)."""

    frame: pd.DataFrame
    axis: str = "step"  # "epoch" when the log has one row per epoch and its step *is* the epoch
    config: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    where: str = "line"  # what the frame's optional ``line`` column counts: text lines or JSON/TB records
    # Canonical names this format alone makes unambiguous (MMEngine's ``time`` is seconds per
    # iteration; elsewhere a bare ``time`` is cumulative): applied over the vocabulary's mapping.
    names: dict[str, str] = field(default_factory=dict)
    # The step is the row's place in the log (no step was logged): how far apart the values are then
    # says nothing of how often the loss was logged (``vocabulary.loss_per_epoch``'s ``gap``).
    counted: bool = False


@dataclass(frozen=True)
class ImportedRun:
    """One run read from a log: tidy rows (original names), config, name mapping, notes for the user."""

    name: str
    source: str
    format: str
    frame: pd.DataFrame
    mapping: dict[str, str]
    axis: str = "step"
    config: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    # A big table's rows, read again as they are written (``runner.importers.stream``): then ``frame`` is
    # empty and ``stream.counts`` holds the points per original name.
    stream: Any = None

    @property
    def rows(self) -> int:
        return len(self.frame) if self.stream is None else len(self.stream)

    def mapping_table(self) -> pd.DataFrame:
        """``original, name, split, kind, better, points`` per metric: what the upload page shows and edits."""
        from traindoc.core.vocabulary import role

        counts = self.frame["name"].value_counts() if self.stream is None else self.stream.counts
        rows = []
        for original, name in self.mapping.items():
            r = role(name)
            rows.append((original, name, r.split, r.kind, r.better, int(counts.get(original, 0))))
        return pd.DataFrame(rows, columns=["original", "name", "split", "kind", "better", "points"])
