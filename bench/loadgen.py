"""Synthetic load for the store: writer processes logging at full speed, a reader timing its reads.

Used by the load test (seconds) and ``bench/load.py`` (longer), so both measure the same thing. It lives
under bench/: nothing in the product runs it.
"""

from __future__ import annotations

import math
import multiprocessing
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from runner.sink import MetricSink
from runner.store import Store

NAMES = ("train/loss", "lr", "grad_norm", "train/acc")


def write_for(db: str, run_id: int, seconds: float, out: multiprocessing.Queue) -> None:
    """Log 4 scalars per step as fast as possible for ``seconds``; report how many rows."""
    store = Store(db)
    sink = MetricSink(store, run_id)
    deadline = time.monotonic() + seconds
    step = 0
    while time.monotonic() < deadline:
        for _ in range(100):
            sink.log({"train/loss": math.sin(step), "lr": 1e-3, "grad_norm": 1.0, "train/acc": 0.5}, step=step)
            step += 1
    sink.close()
    store.finish(run_id, "finished")
    out.put((run_id, step * len(NAMES)))


@dataclass(frozen=True)
class LoadResult:
    rows_written: int
    rows_read: int
    reads: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: list[str]


def run_load(db: Path, writers: int = 8, seconds: float = 2.0) -> LoadResult:
    """``writers`` processes write while this process reads like the dashboard does, in a loop."""
    store = Store(db)
    run_ids = [store.create_run(f"load {i}", status="running") for i in range(writers)]
    # fork: the writers start in milliseconds instead of re-importing torch eight times
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    out: multiprocessing.Queue = ctx.Queue()
    procs = [ctx.Process(target=write_for, args=(str(db), rid, seconds, out)) for rid in run_ids]
    for proc in procs:
        proc.start()
    latencies, errors = [], []
    while any(p.is_alive() for p in procs) or len(latencies) < 10:
        for rid in run_ids:
            start = time.perf_counter()
            try:
                store.runs(reconcile=False)
                store.chart_series(rid, "train/loss")
                store.metric_series(rid, "grad_norm")
            except Exception as exc:  # counted, not hidden: the test asserts there are none
                errors.append(repr(exc))
            latencies.append(time.perf_counter() - start)
    for proc in procs:
        proc.join()
        if proc.exitcode != 0:
            errors.append(f"writer exited with {proc.exitcode}")
    written = dict(out.get(timeout=10) for _ in procs)
    read = sum(store.conn.execute("SELECT COUNT(*) FROM metrics WHERE run_id=?", (rid,)).fetchone()[0]
               for rid in run_ids)
    ms = np.asarray(latencies) * 1000
    return LoadResult(sum(written.values()), read, len(latencies), float(np.percentile(ms, 50)),
                      float(np.percentile(ms, 99)), float(ms.max()), errors)
