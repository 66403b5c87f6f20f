"""Memory and time of importing CSVs the way the upload page does (issues 14, 20, 23), against plain pandas.

    python bench/import_memory.py [--sizes 10,50,200] [--wide 10000x50] [--keep]

For each size writes a training-log CSV of about that many MB in a temporary folder (step,
epoch and four metrics per line), and one wide CSV (``--wide COLUMNSxROWS``); each in its own
child process: imports it through ``import_upload`` (the page's call: the bytes of the file in
memory, read and written to a fresh database), reads it only (``read_upload`` as the import
does: every cell parsed and judged, nothing stored), and reads it with a plain
``pandas.read_csv`` of the same file. Prints, per file: wall time and the child's own peak RSS
of each, the ratios of reading to pandas, and the database size after. Everything is deleted
afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

_IMPORT = """
import json, os, resource, sys, time
from runner.importers.upload import import_upload
from runner.store import Store
data = open(sys.argv[1], 'rb').read()
start = time.perf_counter()
out = import_upload(Store(sys.argv[2]), os.path.basename(sys.argv[1]), data)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak, "error": out.error}))
"""
# Reading only, as the import reads (a big table's first pass; a small one's whole frame), nothing stored.
_READ = """
import json, os, resource, sys, time
from runner.importers.registry import read_upload
from runner.importers.upload import upload_limits
data = open(sys.argv[1], 'rb').read()
start = time.perf_counter()
runs = read_upload(os.path.basename(sys.argv[1]), data, upload_limits(), stream=True)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak, "error": None}))
"""
# The yardstick: the same file read by pandas with its defaults (numbers parsed, nothing stored).
_PANDAS = """
import json, resource, sys, time
import pandas as pd
start = time.perf_counter()
frame = pd.read_csv(sys.argv[1])
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "error": None}))
"""


def write_csv(path: Path, megabytes: float) -> int:
    """A CSV of about ``megabytes`` MB; returns its number of data lines."""
    rng = np.random.default_rng(0)
    lines = int(megabytes * 1e6 / 50)
    with open(path, "w") as fh:
        fh.write("step,epoch,train/loss,val/loss,lr,train/acc\n")
        for start in range(0, lines, 200_000):
            n = min(200_000, lines - start)
            step = np.arange(start, start + n)
            block = np.column_stack([step, step / 1000, 1 / (1 + step / 1e4) + rng.normal(0, 0.01, n),
                                     rng.random(n), np.full(n, 1e-3), rng.random(n)])
            np.savetxt(fh, block, fmt=["%d", "%.3f", "%.6f", "%.6f", "%.1e", "%.6f"], delimiter=",")
    return lines


def write_wide(path: Path, columns: int, rows: int) -> None:
    """A CSV of ``columns`` metric columns and ``rows`` rows (a step column first)."""
    rng = np.random.default_rng(0)
    with open(path, "w") as fh:
        fh.write("step," + ",".join(f"m{i}" for i in range(columns)) + "\n")
        np.savetxt(fh, np.column_stack([np.arange(rows), rng.random((rows, columns))]),
                   fmt=["%d"] + ["%.5f"] * columns, delimiter=",")


def _child(code: str, *args: Path) -> dict:
    """Run ``code`` in a fresh interpreter; its last line of output is a JSON summary."""
    env = {**os.environ, "TRAINDOC_MAX_UPLOAD_SECONDS": "3600"}  # measure it, however loaded the machine
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                         check=False, env=env)
    if out.returncode:
        return {"seconds": float("nan"), "peak_mb": float("nan"), "error": out.stderr.strip().splitlines()[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(csv: Path, db: Path, label: str) -> None:
    """Import ``csv``, read it only, and read it with pandas, each in its own process; print one line."""
    ours, read, plain = _child(_IMPORT, csv, db), _child(_READ, csv), _child(_PANDAS, csv)
    size = db.stat().st_size / 1e6 if db.exists() else 0.0
    print(f"{label:<34} import {ours['seconds']:6.1f} s {ours['peak_mb']:6,.0f} MB | read {read['seconds']:5.2f} s "
          f"{read['peak_mb']:5,.0f} MB | pandas.read_csv {plain['seconds']:5.2f} s {plain['peak_mb']:5,.0f} MB | "
          f"read/pandas {read['seconds'] / plain['seconds']:4.1f}x time {read['peak_mb'] / plain['peak_mb']:3.1f}x "
          f"memory | db {size:,.0f} MB" + (f" | error: {ours['error']}" if ours["error"] else ""), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10,50,200", help="MB of the long CSVs, comma-separated")
    parser.add_argument("--wide", default="10000x50", help="COLUMNSxROWS of the wide CSV ('' for none)")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="traindoc-import-"))
    try:
        for mb in [float(x) for x in args.sizes.split(",") if x.strip()]:
            csv = folder / f"long-{mb:g}mb.csv"
            lines = write_csv(csv, mb)
            measure(csv, folder / f"long-{mb:g}mb.db",
                    f"{csv.stat().st_size / 1e6:.0f} MB CSV, {lines:,} lines")
        if args.wide:
            columns, rows = (int(x) for x in args.wide.lower().split("x"))
            csv = folder / "wide.csv"
            write_wide(csv, columns, rows)
            measure(csv, folder / "wide.db", f"{columns:,} columns x {rows} rows ({csv.stat().st_size / 1e6:.1f} MB)")
    finally:
        if not args.keep:
            for path in folder.iterdir():
                path.unlink()
            folder.rmdir()
        else:
            print(f"kept in {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
