"""Imported runs into the store (one transaction) and corrections of their name mapping.

Stored metric names are the mapped (canonical) ones, so every page and rule reads an
uploaded run like a runner run; the original names stay in the run's meta
(``mapping``: original → stored), where a correction from the upload page updates them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Sized
from itertools import repeat
from typing import TYPE_CHECKING, Any

import numpy as np

from runner.importers.base import ImportedRun

if TYPE_CHECKING:  # reading a log for a diagnosis needs no database
    from runner.store import Store

# Rows turned into Python tuples per write; a tuple row costs ~150 bytes, so ~8 MB at a time.
CHUNK_ROWS = 50_000


def rows(run: ImportedRun, mapping: Mapping[str, str] | None = None) -> list[tuple]:
    """``(step, epoch, name, value, wall_time)`` with mapped names; a missing wall time is the import time."""
    return [row for part in row_chunks(run, mapping) for row in part]


def row_chunks(run: ImportedRun, mapping: Mapping[str, str] | None = None) -> Sized | Iterable[list[tuple]]:
    """A run's rows in chunks as the store writes them: made from its frame, or read again from its
    bytes when it was streamed (a big table: ``runner.importers.stream``)."""
    if run.stream is None:
        return RowChunks(run, mapping)
    return _Streamed(run.stream, dict(mapping or run.mapping))


class _Streamed:
    """A streamed run's rows with a length (the store's progress counts them)."""

    def __init__(self, stream: Any, mapping: dict[str, str]) -> None:
        self.stream, self.mapping = stream, mapping

    def __len__(self) -> int:
        return len(self.stream)

    def __iter__(self) -> Iterator[list[tuple]]:
        return self.stream.chunks(self.mapping)


class RowChunks:
    """A run's rows, made ``CHUNK_ROWS`` at a time as the store writes them, one metric after another.

    Why: a list of every row as Python tuples costs ~20x the parsed frame (6 GB for a 195 MB
    CSV); made per chunk, the write path holds one chunk however big the file. Metric by metric
    in step order, the rows land at the end of the (run, name, step) index instead of at four
    places at once, which is most of the time an import takes.
    """

    def __init__(self, run: ImportedRun, mapping: Mapping[str, str] | None = None,
                 chunk_rows: int | None = None) -> None:
        self.frame = run.frame
        self.mapping = dict(mapping or run.mapping)
        self.chunk_rows = chunk_rows or CHUNK_ROWS
        self.imported_at = time.time()

    def __len__(self) -> int:
        return len(self.frame)

    def __iter__(self) -> Iterator[list[tuple]]:
        frame = self.frame
        steps, epochs = frame["step"].to_numpy(), frame["epoch"].to_numpy(dtype=float)
        values, walls = frame["value"].to_numpy(dtype=float), frame["wall_time"].to_numpy(dtype=float)
        pending: list[tuple] = []  # short metrics share a chunk: a 10,000-column table is not 10,000 writes
        for original, where in frame.groupby("name", sort=False).indices.items():
            name = self.mapping.get(original, original)
            where = where[np.argsort(steps[where], kind="stable")]
            for start in range(0, len(where), self.chunk_rows):
                idx = where[start:start + self.chunk_rows]
                wall = np.where(walls[idx] > 0, walls[idx], self.imported_at)
                part = list(zip(steps[idx].tolist(), epochs[idx].tolist(), repeat(name, len(idx)),
                                values[idx].tolist(), wall.tolist(), strict=True))
                if pending and len(pending) + len(part) > self.chunk_rows:
                    yield pending
                    pending = []
                pending.extend(part)
        if pending:
            yield pending


def meta(run: ImportedRun) -> dict[str, Any]:
    return {**run.meta, "mapping": dict(run.mapping), "mapped": True, "import_notes": list(run.warnings)}


def save(store: Store, runs: Sequence[ImportedRun], *, source: str = "upload", group_id: int | None = None,
         progress: Callable[[int, int], None] | None = None) -> list[int]:
    """Write the runs, all or nothing, in bounded chunks; returns their ids in order."""
    payload = [(run.name, dict(run.config), meta(run), row_chunks(run)) for run in runs]
    return store.import_runs(payload, source=source, group_id=group_id, progress=progress)


def remap(store: Store, run_id: int, corrected: Mapping[str, str]) -> dict[str, str]:
    """Apply a corrected original → name mapping to a stored run; returns the mapping now in force."""
    info = store.run(run_id)
    current = dict(info["meta"].get("mapping", {}))
    new = {o: (corrected.get(o) or current[o]).strip() for o in current}
    renames = {current[o]: new[o] for o in current if current[o] != new[o]}
    store.rename_metrics(run_id, renames, meta={**info["meta"], "mapping": new})
    return new
