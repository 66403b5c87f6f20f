"""Imported logs: whole runs written in one transaction, corrected names, sweep tags."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from runner.store.base import SOURCES, ImportedRunRows

# Page cache of the connection while a big import writes (then set back): 64 MiB, a constant.
IMPORT_CACHE_KIB = 65536


class ImportsMixin:
    def import_runs(self, runs: Sequence[ImportedRunRows], *, source: str = "upload", group_id: int | None = None,
                    progress: Any = None, chunk: int = 50_000) -> list[int]:
        """Create each run, write all its rows and finish it, in ONE transaction: all or nothing.

        ``runs`` holds ``(name, config, meta, rows)`` with rows ``(step, epoch, name, value, wall_time)``,
        or an iterable of row chunks with a length (``runner.importers.save.RowChunks``), made as they
        are written so memory holds one chunk; a failure anywhere (a bad value, a locked file past the
        retries) leaves the database as it was. ``progress(done_rows, total_rows)`` is called between
        chunks so a page can show a bar. The WAL the one big transaction grew is truncated after it.
        """
        if source not in SOURCES:
            raise ValueError(f"source {source!r} not in {SOURCES}")
        total = sum(len(rows) for *_, rows in runs)

        def body(conn: sqlite3.Connection) -> list[int]:
            ids, done = [], 0
            for name, config, meta, rows in runs:
                run_id = conn.execute(
                    "INSERT INTO runs (name, status, source, group_id, config, meta, created_at, progress)"
                    " VALUES (?, 'finished', ?, ?, ?, ?, ?, 1)",
                    (name, source, group_id, json.dumps(config or {}, default=str),
                     json.dumps(meta or {}, default=str), time.time()),
                ).lastrowid
                first = last = None
                for part in _chunks(rows, chunk):
                    walls = [r[4] for r in part]
                    low, high = min(walls), max(walls)
                    first, last = (low, high) if first is None else (min(first, low), max(last, high))
                    part = [(run_id, *row) for row in part]
                    for sql, params in self._metric_statements(part):
                        conn.executemany(sql, params)
                    done += len(part)
                    if progress is not None:
                        progress(done, total)
                conn.execute("UPDATE runs SET started_at=?, ended_at=? WHERE id=?", (first, last, run_id))
                ids.append(run_id)
            return ids

        conn = self.conn
        before = conn.execute("PRAGMA cache_size").fetchone()[0]
        conn.execute(f"PRAGMA cache_size={-IMPORT_CACHE_KIB}")  # the index's hot pages stay in memory
        try:
            ids = self._transaction(body)
        finally:
            conn.execute(f"PRAGMA cache_size={int(before)}")
        if total > chunk:  # give the disk back: the WAL held the whole import until this commit
            with contextlib.suppress(sqlite3.DatabaseError):
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return ids

    def rename_metrics(self, run_id: int, renames: dict[str, str], meta: dict[str, Any] | None = None) -> None:
        """Rename a run's metrics (a corrected name mapping) and update its meta, in one transaction.

        Refuses a new name that another metric of the run already has, so two curves never merge.
        """
        renames = {old: new for old, new in renames.items() if old != new}

        def body(conn: sqlite3.Connection) -> None:
            existing = {r[0] for r in conn.execute("SELECT DISTINCT name FROM metrics WHERE run_id=?", (run_id,))}
            after = (existing - set(renames)) | set(renames.values())
            if len(after) < len(existing) or len(set(renames.values())) < len(renames):
                clash = sorted(set(renames.values()) & (existing - set(renames))) or sorted(renames.values())
                raise ValueError(f"run {run_id}: metric name {clash[0]!r} would be used twice")
            # two passes through temporary names, so swaps (a→b, b→a) work
            for table in ("metrics", "metric_rollups", "metric_stats"):
                for i, old in enumerate(renames):
                    conn.execute(f"UPDATE {table} SET name=? WHERE run_id=? AND name=?", (f"\x00{i}", run_id, old))
                for i, new in enumerate(renames.values()):
                    conn.execute(f"UPDATE {table} SET name=? WHERE run_id=? AND name=?", (new, run_id, f"\x00{i}"))
            if meta is not None:
                conn.execute("UPDATE runs SET meta=? WHERE id=?", (json.dumps(meta, default=str), run_id))

        self._transaction(body)

    def tag_runs(self, group_id: int, patches: dict[int, dict[str, Any]]) -> None:
        """Put runs into a group and merge a config patch into each (e.g. the ε each uploaded file used)."""

        def body(conn: sqlite3.Connection) -> None:
            for run_id, patch in patches.items():
                row = conn.execute("SELECT config, meta FROM runs WHERE id=?", (run_id,)).fetchone()
                if row is None:
                    raise KeyError(f"no run with id {run_id} in {self.path}")
                config, meta = {**json.loads(row[0]), **patch}, {**json.loads(row[1]), "swept": patch}
                conn.execute("UPDATE runs SET group_id=?, config=?, meta=? WHERE id=?",
                             (group_id, json.dumps(config, default=str), json.dumps(meta, default=str), run_id))

        self._transaction(body)


def _chunks(rows: Sequence[tuple] | Iterable[Sequence[tuple]], size: int) -> Iterator[Sequence[tuple]]:
    """A run's rows in parts: a row sequence is sliced; a chunked source (``__iter__`` of lists) is
    passed through as it makes them."""
    if isinstance(rows, Sequence):
        for start in range(0, len(rows), size):
            yield rows[start:start + size]
    else:
        yield from (part for part in rows if part)
