"""How many concurrent writers one SQLite store takes: N processes logging at full speed into one file.

    python bench/writers.py [--writers 1 2 4 8 16] [--seconds 5] [--mode api|store] [--batch 512]
    python bench/writers.py --mode store --rate 1000 --writers 16 32 64 128

``api``: each writer is a user script on the logging API (``traindoc.start_run``, ``run.log`` of
4 scalars a step, as fast as Python goes); its sink batches rows and a writer thread commits
them. ``store``: each writer commits batches of ``--batch`` rows straight through
``Store.write_metrics`` (the path every sink ends in), so the figure is SQLite's, not Python's.
Every transaction is timed from ``BEGIN IMMEDIATE`` (waiting for the write lock) to ``COMMIT``:
that is the flush latency. Rows stored are counted in the file afterwards (rows logged = rows
stored). Writers start together behind a barrier; imports and run creation are not timed.

``--rate R`` (store mode) paces each writer like a training process under the sink's default
cadence: one transaction of R rows a second, at a random phase. Full speed finds the ceiling
in rows/s; paced writers find how many processes a store takes before the lock queue grows.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

NAMES = ("train/loss", "lr", "grad_norm", "train/acc")


def _timed_store_class():  # noqa: ANN202 - the Store class, its transactions timed into a list
    from runner.store import Store

    latencies: list[float] = []
    write = Store.write_metrics

    def timed(self, rows):  # noqa: ANN001, ANN202
        start = time.perf_counter()
        try:
            return write(self, rows)
        finally:
            latencies.append(time.perf_counter() - start)

    Store.write_metrics = timed
    return Store, latencies


def _writer(db: str, mode: str, batch: int, seconds: float, ready: mp.Barrier, out: mp.Queue,
            rate: int = 0) -> None:
    """One writer process: log for ``seconds`` after the barrier, report rows, seconds, latencies, error."""
    store_cls, latencies = _timed_store_class()
    rows, error = 0, ""
    try:
        if mode == "api":
            import traindoc

            with traindoc.start_run(f"writer-{os.getpid()}", db=db) as run:
                ready.wait()
                start = time.perf_counter()
                deadline = start + seconds
                step = 0
                while time.perf_counter() < deadline:
                    for _ in range(100):
                        run.log({"train/loss": math.sin(step), "lr": 1e-3, "grad_norm": 1.0, "train/acc": 0.5},
                                step=step)
                        step += 1
                rows = step * len(NAMES)
            elapsed = time.perf_counter() - start  # until the last row is committed (the block's close)
        else:
            store = store_cls(db)
            run_id = store.create_run(f"writer-{os.getpid()}", status="running")
            ready.wait()
            start = time.perf_counter()
            deadline = start + seconds
            step = 0
            size = rate or batch
            tick = start + np.random.default_rng(os.getpid()).uniform(0, 1) if rate else start
            while time.perf_counter() < deadline:
                if rate:  # one flush a second, like a sink below its flush_every
                    time.sleep(max(0.0, tick - time.perf_counter()))
                    tick += 1.0
                store.write_metrics([(run_id, step + i, None, NAMES[i % 4], 0.5, time.time())
                                     for i in range(size)])
                step += size
            rows = step
            elapsed = time.perf_counter() - start
            store.finish(run_id, "finished")
    except Exception as exc:  # noqa: BLE001 - reported in the table, not raised in a child
        error, elapsed = f"{type(exc).__name__}: {exc}", seconds
    out.put((rows, elapsed, latencies, error))


def measure(n: int, mode: str, batch: int, seconds: float, rate: int = 0) -> dict[str, float | str]:
    ctx = mp.get_context("fork")
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "writers.db")
        init = ctx.Process(target=_create, args=(db,))
        init.start()
        init.join()
        ready, out = ctx.Barrier(n), ctx.Queue()
        procs = [ctx.Process(target=_writer, args=(db, mode, batch, seconds, ready, out, rate)) for _ in range(n)]
        for p in procs:
            p.start()
        results = [out.get(timeout=seconds * 20 + 120) for _ in procs]
        for p in procs:
            p.join()
        stored = sqlite3.connect(db).execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
    rows = sum(r[0] for r in results)
    wall = max(r[1] for r in results)
    lat = np.concatenate([np.asarray(r[2]) for r in results]) * 1000 if results else np.empty(0)
    errors = [r[3] for r in results if r[3]]
    return {"writers": n, "rows_s": rows / wall, "per_writer": rows / wall / n, "flushes": len(lat),
            "rows_per_flush": rows / max(len(lat), 1), "p50": float(np.percentile(lat, 50)) if len(lat) else math.nan,
            "p99": float(np.percentile(lat, 99)) if len(lat) else math.nan,
            "max": float(lat.max()) if len(lat) else math.nan, "lost": rows - stored,
            "errors": "; ".join(errors)[:80]}


def _create(db: str) -> None:
    from runner.store import Store

    Store(db).create_run("schema", status="finished")  # migrations once, before the writers race


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--mode", choices=("api", "store"), default="api")
    parser.add_argument("--batch", type=int, default=512, help="rows per transaction in --mode store")
    parser.add_argument("--rate", type=int, default=0, help="--mode store: rows/s per writer, one flush a second")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cpus, sqlite {sqlite3.sqlite_version}, mode {args.mode}"
          + (f" ({args.rate} rows/s per writer, one flush a second)" if args.rate else
             f" (batches of {args.batch} rows)" if args.mode == "store" else " (4 scalars/step, sink batching)")
          + f", {args.seconds:g} s per point\n")
    print(f"{'writers':>7s} {'rows/s':>9s} {'per writer':>10s} {'flushes':>7s} {'rows/flush':>10s} "
          f"{'p50 ms':>7s} {'p99 ms':>7s} {'max ms':>7s} {'lost':>5s}  errors")
    for n in args.writers:
        r = measure(n, args.mode, args.batch, args.seconds, args.rate)
        print(f"{r['writers']:>7d} {r['rows_s']:>9,.0f} {r['per_writer']:>10,.0f} {r['flushes']:>7d} "
              f"{r['rows_per_flush']:>10,.0f} {r['p50']:>7.1f} {r['p99']:>7.1f} {r['max']:>7.1f} {r['lost']:>5d}  "
              f"{r['errors']}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
