"""Ingest: points per second into SQLite, with the read index in place.

traindoc's two write paths — the runner's sink (``run.log`` per step, batched by a
background thread) and ``Store.write_metrics`` (what importers call with a whole file)
— against what a user would otherwise write: raw ``executemany`` in one WAL
transaction on the same schema and index, and sqlite-utils ``insert_all`` with its
defaults. Same machine, same run, so the ratios hold even when timings are noisy.

    python bench/ingest.py [--points 1000000]
"""

from __future__ import annotations

import argparse
import math
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from runner.sink import MetricSink  # noqa: E402
from runner.store import Store  # noqa: E402

NAMES = ("train/loss", "lr", "grad_norm", "train/acc")  # 4 scalars per step, like a training loop


def rows_for(run_id: int, points: int) -> list[tuple]:
    return [(run_id, i // 4, None, NAMES[i % 4], math.sin(i / 997.0), 1.7e9 + i * 1e-4) for i in range(points)]


def raw_executemany(tmp: Path, points: int) -> float:
    conn = sqlite3.connect(tmp / "raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE metrics (run_id INTEGER, step INTEGER, epoch REAL, name TEXT, value REAL,"
                 " wall_time REAL)")
    conn.execute("CREATE INDEX metrics_run_name_step ON metrics(run_id, name, step)")
    rows = rows_for(1, points)
    start = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO metrics VALUES (?,?,?,?,?,?)", rows)
    conn.execute("COMMIT")
    return time.perf_counter() - start


def sqlite_utils_insert_all(tmp: Path, points: int) -> float:
    import sqlite_utils

    db = sqlite_utils.Database(tmp / "su.db")
    db.enable_wal()
    table = db["metrics"]
    table.create({"run_id": int, "step": int, "epoch": float, "name": str, "value": float, "wall_time": float})
    table.create_index(["run_id", "name", "step"])
    records = [dict(zip(("run_id", "step", "epoch", "name", "value", "wall_time"), r, strict=True))
               for r in rows_for(1, points)]
    start = time.perf_counter()
    table.insert_all(records)
    return time.perf_counter() - start


def store_write_metrics(tmp: Path, points: int) -> float:
    store = Store(tmp / "store.db")
    rows = rows_for(store.create_run("bench"), points)
    start = time.perf_counter()
    store.write_metrics(rows)
    return time.perf_counter() - start


def runner_sink(tmp: Path, points: int) -> float:
    """End to end: one ``log`` call per step from the training thread until all rows are committed."""
    store = Store(tmp / "sink.db")
    run_id = store.create_run("bench", status="running")
    start = time.perf_counter()
    sink = MetricSink(store, run_id)
    for step in range(points // 4):
        sink.log({"train/loss": math.sin(step), "lr": 1e-3, "grad_norm": 1.0, "train/acc": 0.5}, step=step)
    sink.close()
    return time.perf_counter() - start


PATHS: dict[str, Callable[[Path, int], float]] = {
    "raw executemany (1 txn)": raw_executemany,
    "sqlite-utils insert_all": sqlite_utils_insert_all,
    "traindoc write_metrics": store_write_metrics,
    "traindoc sink (run.log)": runner_sink,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=3, help="interleaved repetitions; the median counts")
    args = parser.parse_args()
    samples: dict[str, list[float]] = {name: [] for name in PATHS}
    for _ in range(args.reps):
        for name, path in PATHS.items():
            with tempfile.TemporaryDirectory() as tmp:
                samples[name].append(path(Path(tmp), args.points))
    rates = {name: args.points / statistics.median(times) for name, times in samples.items()}
    raw = rates["raw executemany (1 txn)"]
    print(f"{args.points:,} points, WAL, index (run_id, name, step) in place, median of {args.reps}\n")
    print(f"  {'path':26s} {'points/s':>12s} {'vs raw':>8s}")
    for name, rate in rates.items():
        print(f"  {name:26s} {rate:12,.0f} {rate / raw:7.2f}x")
    print(f"\nsummary: write_metrics {rates['traindoc write_metrics']:,.0f} pts/s "
          f"({rates['traindoc write_metrics'] / raw:.2f}x raw executemany, "
          f"{rates['traindoc write_metrics'] / rates['sqlite-utils insert_all']:.1f}x sqlite-utils); "
          f"sink end to end {rates['traindoc sink (run.log)']:,.0f} pts/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
