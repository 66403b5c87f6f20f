"""Load: 8 runs writing at full speed while the dashboard reads, then a 50-run sweep at concurrency 4.

    python bench/load.py [--writers 8] [--seconds 20] [--sweep-runs 50] [--concurrency 4]

Prints rows written vs rows read (they must match), read latency p50/p99/max, errors,
and how many of the sweep's runs finished.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.loadgen import run_load  # noqa: E402
from runner.plan import Plan, submit  # noqa: E402
from runner.presets import PRESETS  # noqa: E402
from runner.store import Store  # noqa: E402


def sweep(db: Path, runs: int, concurrency: int) -> tuple[dict[str, int], float]:
    store = Store(db)
    base = PRESETS["healthy"].config({"train.epochs": 2})
    start = time.perf_counter()
    group_id, _ = submit(store, Plan("load sweep", base.to_flat(), {"train.seed": list(range(runs))},
                                     concurrency=concurrency))
    while True:
        runs_df = store.runs(group_id=group_id)
        if not runs_df.status.isin(["queued", "running"]).any():
            break
        time.sleep(0.5)
    return runs_df.status.value_counts().to_dict(), time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--sweep-runs", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = run_load(Path(tmp) / "load.db", args.writers, args.seconds)
        print(f"{args.writers} writers x {args.seconds:g} s at full speed, dashboard reads in a loop")
        print(f"  rows written {result.rows_written:,}  rows read back {result.rows_read:,}  "
              f"errors {len(result.errors)}")
        print(f"  reads {result.reads:,}: p50 {result.p50_ms:.1f} ms  p99 {result.p99_ms:.1f} ms  "
              f"max {result.max_ms:.1f} ms")
        counts, seconds = sweep(Path(tmp) / "sweep.db", args.sweep_runs, args.concurrency)
        print(f"\nsweep of {args.sweep_runs} queued runs at concurrency {args.concurrency}: {counts} "
              f"in {seconds:.0f} s")
    ok = result.rows_read == result.rows_written and not result.errors and counts.get("finished") == args.sweep_runs
    print(f"\nsummary: {'OK' if ok else 'FAILED'}: {result.rows_read:,}/{result.rows_written:,} rows, "
          f"p99 read {result.p99_ms:.0f} ms, {counts.get('finished', 0)}/{args.sweep_runs} sweep runs finished")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
