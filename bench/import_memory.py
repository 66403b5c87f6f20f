"""Memory and time of importing one big CSV the way the upload page does (issue 14).

    python bench/import_memory.py [--mb 195] [--keep]

Writes a wide training-log CSV of about ``--mb`` MB in a temporary folder (step, epoch and
four metrics per line), imports it in a child process through ``import_upload`` (the page's
call: the bytes of the file in memory), and prints wall time, the child's peak RSS, and the
database and WAL sizes after. Everything is deleted afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

_CHILD = """
import json, os, sys, time
from runner.importers.upload import import_upload
from runner.store import Store
data = open(sys.argv[1], 'rb').read()
start = time.perf_counter()
out = import_upload(Store(sys.argv[2]), 'big.csv', data)
seconds = time.perf_counter() - start
wal = os.path.getsize(sys.argv[2] + '-wal') if os.path.exists(sys.argv[2] + '-wal') else 0  # while open
print(json.dumps({"seconds": seconds, "runs": out.run_ids, "error": out.error, "wal": wal}))
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=195)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="traindoc-import-"))
    csv, db = folder / "big.csv", folder / "big.db"
    try:
        lines = write_csv(csv, args.mb)
        started = time.perf_counter()
        env = {**os.environ, "TRAINDOC_MAX_UPLOAD_SECONDS": "3600"}  # measure it, however loaded the machine
        out = subprocess.run([sys.executable, "-c", _CHILD, str(csv), str(db)], cwd=ROOT, capture_output=True,
                             text=True, check=False, env=env)
        wall = time.perf_counter() - started
        if out.returncode:
            print(out.stderr, file=sys.stderr)
            return 1
        result = json.loads(out.stdout.strip().splitlines()[-1])
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"csv {csv.stat().st_size / 1e6:.0f} MB, {lines:,} lines, {lines * 4:,} points: "
              f"import {result['seconds']:.1f} s (process {wall:.1f} s), peak RSS {peak_mb:,.0f} MB, "
              f"db {db.stat().st_size / 1e6:,.0f} MB, wal while open {result['wal'] / 1e6:,.0f} MB"
              + (f", error: {result['error']}" if result["error"] else ""))
    finally:
        if not args.keep:
            for path in folder.iterdir():
                path.unlink()
            folder.rmdir()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
