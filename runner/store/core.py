"""The Store: runs, groups and metrics (writes in batches, reads as frames and arrays)."""

from __future__ import annotations

import json
import os
import sqlite3
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from runner import rollup
from runner.store.alerts import AlertsMixin
from runner.store.base import (
    BUSY_TIMEOUT_MS,
    SOURCES,
    MetricRow,
    StoreBase,
    StoreError,
    row_dict,
)
from runner.store.imports import ImportsMixin
from runner.store.liveness import LivenessMixin
from runner.store.manage import ManageMixin
from runner.store.queue import QueueMixin
from runner.store.schema import _UPSERT_ROLLUP, _UPSERT_STATS
from runner.store.scripts import ScriptsMixin
from traindoc.core.statuses import ACTIVE, STATUSES

# A damaged row's description quotes at most this much of what SQLite or the JSON parser said: a
# damaged column can hold megabytes, and the reason is shown on one line of the run list.
REASON_CHARS = 300


# How a verdict shown but not written is marked in the error column (the run list shows it).
UNSAVED = "verdict shown, not saved"


class DamagedRow(ValueError):
    """A run's stored row cannot be read (not JSON, too deeply nested, not UTF-8): that run fails alone."""


def clip(text: str, limit: int = REASON_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how much was cut."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text) - limit} more characters)"


# The steps first, first+stride, ... up to last, each looked up in the (run_id, name, step) index:
# the read costs max_points seeks however long the run (8 live runs of 200k steps: 1.6 s -> ms).
_STRIDED = """
WITH RECURSIVE wanted(step) AS (SELECT ? UNION ALL SELECT step + ? FROM wanted WHERE step + ? <= ?)
SELECT m.step, m.epoch, m.value, m.wall_time FROM wanted CROSS JOIN metrics m
WHERE m.run_id = ? AND m.name = ? AND m.step = wanted.step ORDER BY m.step
"""


class Store(AlertsMixin, ImportsMixin, ManageMixin, QueueMixin, ScriptsMixin, LivenessMixin, StoreBase):
    """Thread-safe handle on one database file (one connection per thread)."""

    def __init__(self, db: str | os.PathLike | None = None, busy_timeout_ms: int = BUSY_TIMEOUT_MS,
                 pragmas: dict[str, Any] | None = None, recover_spills: bool = True) -> None:
        """Open (create, migrate) the file; rows a logging run spilled beside it while it could not be
        written go back in now (``runner.spill``), unless ``recover_spills=False``."""
        super().__init__(db, busy_timeout_ms, pragmas)
        self.recovered: list[dict[str, Any]] = []
        if recover_spills and not self.read_only:
            from runner import spill

            if spill.spill_files(self.path):
                try:
                    self.recovered = spill.recover(self)
                except (StoreError, OSError, ValueError, KeyError) as exc:  # the open itself succeeded
                    warnings.warn(f"traindoc: spilled rows for {self.path} not recovered yet: {exc}", stacklevel=2)

    def salvage(self, run_id: int) -> tuple[dict[str, Any] | None, list[MetricRow]]:
        """A run and its rows, read through this thread's open connection: after the file was deleted or
        replaced that connection still reads the old file, so what it held can be spilled, not lost."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            return None, []
        try:
            cur = conn.execute("SELECT * FROM runs WHERE id=?", (run_id,))
            row = cur.fetchone()
            run = None if row is None else row_dict(cur, row, ("config", "meta"))
            rows = conn.execute("SELECT run_id, step, epoch, name, value, wall_time FROM metrics WHERE run_id=?"
                                " ORDER BY rowid", (run_id,)).fetchall()
        except sqlite3.DatabaseError:
            return None, []
        return run, rows

    # -- groups and runs ---------------------------------------------------
    def create_group(self, name: str, kind: str = "sweep", spec: dict | None = None,
                     parent_run_id: int | None = None) -> int:
        return self._write(
            "INSERT INTO groups (name, kind, parent_run_id, spec, created_at) VALUES (?,?,?,?,?)",
            (name, kind, parent_run_id, json.dumps(spec or {}), time.time()),
        ).lastrowid

    def create_run(self, name: str, config: dict[str, Any] | None = None, *, source: str = "runner",
                   status: str = "queued", group_id: int | None = None, parent_id: int | None = None,
                   meta: dict[str, Any] | None = None, job_key: str | None = None) -> int:
        """A new run; with ``job_key`` (a many-process job, ``runner.ranks``) the run takes the key over
        from any older run that held it, in the same transaction, so the other ranks find this one."""
        if status not in STATUSES:
            raise ValueError(f"status {status!r} not in {STATUSES}")
        if source not in SOURCES:
            raise ValueError(f"source {source!r} not in {SOURCES}")

        def body(conn: sqlite3.Connection) -> int:
            if job_key is not None:
                conn.execute("UPDATE runs SET job_key=NULL WHERE job_key=?", (job_key,))
            return conn.execute(
                "INSERT INTO runs (name, status, source, group_id, parent_id, config, meta, created_at, job_key)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                (name, status, source, group_id, parent_id, json.dumps(config or {}, default=str),
                 json.dumps(meta or {}, default=str), time.time(), job_key),
            ).lastrowid

        return self._transaction(body)

    def job_run(self, job_key: str) -> int | None:
        """The active run of a many-process job, by its key (None until rank 0 created it)."""
        row = self.conn.execute(f"SELECT id FROM runs WHERE job_key=? AND status IN ({','.join('?' * len(ACTIVE))})",
                                (job_key, *ACTIVE)).fetchone()
        return None if row is None else int(row[0])

    # -- metrics -----------------------------------------------------------
    def write_metrics(self, rows: Sequence[MetricRow]) -> int:
        """Insert many metric rows in one transaction.

        SQLite binds a NaN as NULL by itself, which is exactly the "logged NaN" encoding,
        so rows go in untouched (no per-row Python on this hot path).
        """
        if not rows:
            return 0
        self._write_many(self._metric_statements(rows))
        return len(rows)

    @staticmethod
    def _metric_statements(rows: Sequence[MetricRow]) -> list[tuple[str, Any]]:
        """What writing rows takes (the rows, their rollups and stats, the runs' last step): one list for
        ``write_metrics`` and ``import_runs``, so both keep the chart summaries in step with the rows."""
        buckets, stats = rollup.summarise(rows)
        last = [(last_step, run_id) for run_id, _name, _n, _first, last_step in stats]
        return [
            ("INSERT INTO metrics (run_id, step, epoch, name, value, wall_time) VALUES (?,?,?,?,?,?)", rows),
            (_UPSERT_ROLLUP, buckets),
            (_UPSERT_STATS, stats),
            ("UPDATE runs SET last_step=MAX(COALESCE(last_step, ?1), ?1) WHERE id=?2", last),
        ]


    def metrics(self, run_id: int, names: Sequence[str] | None = None,
                max_points: int | None = None) -> pd.DataFrame:
        """Long frame ``step, epoch, name, value, wall_time`` in step order; NULL → NaN.

        With ``max_points``, a metric logged more often than that is read at a regular
        step stride, plus every NaN/inf the rollups know of, so reading a 10-million-step
        run for diagnosis costs what the judgement needs (trends, noise, first NaN), not
        what the run logged.
        """
        wanted = self.metric_names(run_id) if names is None else list(names)
        stats = dict(((name, (n, first, last)) for name, n, first, last in self.conn.execute(
            "SELECT name, n, first_step, last_step FROM metric_stats WHERE run_id=?", (run_id,))))
        frames = []
        for name in wanted:
            n, first, last = stats.get(name, (0, 0, 0))
            if not n:
                continue
            stride = max(1, -(-(last - first + 1) // max_points)) if max_points and n > max_points else 1
            if stride > 1:  # one index seek per wanted step, not a scan of every row filtered by modulo
                rows = self.conn.execute(_STRIDED, (first, stride, stride, last, run_id, name)).fetchall()
            else:
                rows = self.conn.execute("SELECT step, epoch, value, wall_time FROM metrics WHERE run_id=? AND"
                                         " name=? ORDER BY step", (run_id, name)).fetchall()
            if stride > 1:
                rows += self.conn.execute(  # every bucket's first NaN, at full resolution
                    "SELECT nan_step, NULL, NULL, NULL FROM metric_rollups WHERE run_id=? AND name=? AND width=?"
                    " AND nan_step IS NOT NULL AND (nan_step - ?) % ? != 0",
                    (run_id, name, rollup.WIDTHS[0], first, stride)).fetchall()
                rows.sort(key=lambda row: row[0])
            arr = np.array(rows, dtype=float).reshape(-1, 4)
            frames.append(pd.DataFrame({"step": arr[:, 0].astype(np.int64), "epoch": arr[:, 1], "name": name,
                                        "value": arr[:, 2], "wall_time": arr[:, 3]}))
        if not frames:
            return pd.DataFrame({"step": pd.Series(dtype=np.int64), "epoch": pd.Series(dtype=float),
                                 "name": pd.Series(dtype=object), "value": pd.Series(dtype=float),
                                 "wall_time": pd.Series(dtype=float)})
        return pd.concat(frames, ignore_index=True)

    def metric_series(self, run_id: int, name: str) -> tuple[Any, Any]:
        """``(steps, values)`` numpy arrays for one metric, the hot path of the charts."""
        rows = self._read("SELECT step, value FROM metrics WHERE run_id=? AND name=? ORDER BY step", (run_id, name))
        if not rows:
            return np.empty(0, dtype=np.int64), np.empty(0)
        arr = np.array(rows, dtype=float)
        return arr[:, 0].astype(np.int64), arr[:, 1]

    def chart_series(self, run_id: int, name: str) -> tuple[Any, Any]:
        """``(steps, values)`` for a chart: every point of a short curve, or per-bucket min/max
        (spikes and the first NaN kept) of a long one, so the cost follows the screen, not the run."""
        stats = self.conn.execute("SELECT n, first_step, last_step FROM metric_stats WHERE run_id=? AND name=?",
                                  (run_id, name)).fetchone()
        if stats is None or stats[0] <= rollup.RAW_READ_LIMIT:
            return self.metric_series(run_id, name)
        rows = self.conn.execute(
            "SELECT min_step, min_value, max_step, max_value, nan_step FROM metric_rollups"
            " WHERE run_id=? AND name=? AND width=? ORDER BY bucket",
            (run_id, name, rollup.pick_width(stats[1], stats[2])),
        ).fetchall()
        return rollup.points(rows)

    def metric_names(self, run_id: int) -> list[str]:
        """The names a run logged; a damaged file is a ``StoreError`` (the overview's key metric asks first)."""
        rows = self._read("SELECT name FROM metric_stats WHERE run_id=? ORDER BY name", (run_id,))
        return [r[0] for r in rows]

    def run_extent(self, run_id: int) -> tuple[int, int, int, int] | None:
        """(first step, last step, most points of one metric, distinct epochs of that metric), or None
        when nothing is logged: how long a run is, counted in steps or in epochs."""
        row = self.conn.execute(
            "SELECT MIN(first_step), MAX(last_step), MAX(n) FROM metric_stats WHERE run_id=?", (run_id,)).fetchone()
        if row is None or row[0] is None:
            return None
        epochs = self.conn.execute(
            "SELECT COUNT(DISTINCT epoch) FROM metrics WHERE run_id=? AND epoch IS NOT NULL AND name=("
            "SELECT name FROM metric_stats WHERE run_id=? ORDER BY n DESC LIMIT 1)", (run_id, run_id)).fetchone()[0]
        return int(row[0]), int(row[1]), int(row[2]), int(epochs)

    # -- reads of runs -----------------------------------------------------
    def run(self, run_id: int) -> dict[str, Any]:
        """One run as a dict, config and meta parsed; ``DamagedRow`` when its stored row cannot be read."""
        try:
            cur = self.conn.execute("SELECT * FROM runs WHERE id=?", (run_id,))
            row = cur.fetchone()
        except sqlite3.OperationalError as exc:
            if "decode" not in str(exc):  # sqlite3's "Could not decode to UTF-8 column 'x' with text ..."
                raise
            column = str(exc).split("'")[1] if str(exc).count("'") >= 2 else "?"
            raise DamagedRow(f"the stored row's {column} column is not UTF-8 text") from None
        if row is None:
            raise KeyError(f"no run with id {run_id} in {self.path}")
        out = row_dict(cur, row)
        for column in ("config", "meta"):
            try:
                out[column] = json.loads(out[column])
            except (ValueError, TypeError, RecursionError) as exc:  # RecursionError: JSON nested too deep
                raise DamagedRow(f"the stored row is not JSON: its {column} column: {type(exc).__name__}: "
                                 f"{clip(str(exc))}") from None
        return out

    def runs(self, group_id: int | None = None, reconcile: bool = True) -> pd.DataFrame:
        """All runs newest first; stale ``running`` runs are marked crashed first.

        Reading never needs a write: a verdict the store could not write (a full disk) is shown
        in the frame, its error saying it was not saved, and retried on the next read.
        """
        if reconcile:
            self.reconcile()
        sql = "SELECT * FROM runs"
        params: tuple = ()
        if group_id is not None:
            sql, params = sql + " WHERE group_id=?", (group_id,)
        frame = pd.read_sql_query(sql + " ORDER BY id DESC", self.conn, params=params)
        if reconcile:
            for run_id, (status, error, why) in self.unsaved_verdicts.items():
                rows = (frame["id"] == run_id) & frame["status"].isin(list(ACTIVE))
                frame.loc[rows, "status"] = status
                frame.loc[rows, "error"] = f"{error} ({UNSAVED}: {why})" if error else f"{UNSAVED}: {why}"
        return frame

    def groups(self) -> pd.DataFrame:
        return pd.read_sql_query("SELECT * FROM groups ORDER BY id DESC", self.conn)

    def group(self, group_id: int) -> dict[str, Any]:
        cur = self.conn.execute("SELECT * FROM groups WHERE id=?", (group_id,))
        row = cur.fetchone()
        if row is None:
            raise KeyError(f"no group with id {group_id} in {self.path}")
        return row_dict(cur, row, ("spec",))

    def queued(self, limit: int | None = None) -> list[int]:
        sql = "SELECT id FROM runs WHERE status='queued' ORDER BY id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [r[0] for r in self.conn.execute(sql)]

    def count_running(self) -> int:
        """Runs whose process holds a slot: running, or alive with a late beat (stalled)."""
        return self.conn.execute("SELECT COUNT(*) FROM runs WHERE status IN ('running','stalled')").fetchone()[0]
