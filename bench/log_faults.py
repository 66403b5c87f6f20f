"""``log()`` latency while the store fails under a training loop: p50 / p99 / worst per fault.

A loop logs 4 scalars per step (a 1 ms stand-in for the training step) through
``traindoc.start_run``; at a third of the loop a fault strikes: none, the database deleted,
replaced, its folder made read-only, the write lock held by another process, the disk full (a
small tmpfs, root only). The table shows the latency of the ``log()`` calls after the fault,
and the rows accounted for after the run: stored + spilled = logged, and stored after the next
open (which puts spilled rows back).

    python bench/log_faults.py [--seconds 6] [--lock-seconds 20]

Target (issue 25): no ``log()`` call over 50 ms in any fault.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import traindoc  # noqa: E402
from runner.sink import StoreFaultWarning  # noqa: E402
from runner.spill import read_spill, spill_files  # noqa: E402
from runner.store import Store  # noqa: E402

STEP_SECONDS = 0.001  # the stand-in for one training step
TARGET_MS = 50.0
DISK_BYTES = 16 * 1024 * 1024  # room for the whole loop once the filler is gone
MS = 1000.0


def _remove(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


@contextlib.contextmanager
def _folder(fault: str) -> Iterator[Path | None]:
    """A folder for the database: a small tmpfs for the full disk (None when it cannot be mounted)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "runs"
        folder.mkdir()
        if fault != "disk full":
            yield folder
            return
        mount = ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(folder)]
        mounted = os.geteuid() == 0 and subprocess.run(mount, capture_output=True).returncode == 0
        try:
            yield folder if mounted else None
        finally:
            if mounted:
                subprocess.run(["umount", "-l", str(folder)], check=False)


def _faults(db: Path, lock_seconds: float) -> dict[str, tuple[Callable[[], None], Callable[[], None]]]:
    """Each fault: what strikes at a third of the loop, and what (if anything) undoes it at two thirds."""
    holder: list[subprocess.Popen] = []

    def lock() -> None:
        proc = subprocess.Popen([sys.executable, "-c", "import sqlite3, sys, time\n"
                                 "conn = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
                                 "conn.execute('BEGIN IMMEDIATE'); print('locked', flush=True)\n"
                                 "time.sleep(float(sys.argv[2])); conn.execute('COMMIT')\n",
                                 str(db), str(lock_seconds)], stdout=subprocess.PIPE, text=True)
        proc.stdout.readline()
        holder.append(proc)

    def replace() -> None:
        _remove(db)
        Store(db, recover_spills=False).create_run("a new file")

    def read_only() -> None:
        db.chmod(0o444)
        db.parent.chmod(0o555)

    def fill() -> None:
        with open(db.parent / "filler", "wb") as fh, contextlib.suppress(OSError):
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()

    def nothing() -> None:
        pass

    return {
        "none": (nothing, nothing),
        "deleted": (lambda: _remove(db), nothing),
        "replaced": (replace, nothing),
        "folder read-only": (read_only, lambda: (db.parent.chmod(0o755), db.chmod(0o644))),
        f"write-locked {lock_seconds:g} s": (lock, lambda: holder and holder[0].wait()),
        "disk full": (fill, lambda: (db.parent / "filler").unlink(missing_ok=True)),
    }


def measure(fault: str, seconds: float, lock_seconds: float) -> dict[str, float] | None:
    with _folder(fault) as folder:
        if folder is None:
            return None
        db = folder / "traindoc.db"
        Store(db)
        strike, undo = _faults(db, lock_seconds)[fault]
        latencies: list[float] = []
        logged, step, struck, undone = 0, 0, False, False
        started = time.monotonic()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StoreFaultWarning)
            with traindoc.start_run("bench", db=db) as run:
                while time.monotonic() - started < seconds:
                    elapsed = time.monotonic() - started
                    if not struck and elapsed > seconds / 3:
                        strike()
                        struck = True
                    if struck and not undone and elapsed > 2 * seconds / 3 and "locked" not in fault:
                        undo()
                        undone = True
                    time.sleep(STEP_SECONDS)
                    metrics = {"train/loss": 1.0 / (step + 1), "train/acc": 0.5, "grad_norm": 1.0, "lr": 1e-3}
                    t0 = time.perf_counter()
                    run.log(metrics, step=step)
                    if struck:
                        latencies.append(time.perf_counter() - t0)
                    logged += len(metrics)
                    step += 1
            if not undone:
                undo()
        stored_then = _rows(db)
        spilled = sum(len(read_spill(p).rows) for p in spill_files(db))
        Store(db)  # the next open puts spilled rows back
        latencies.sort()
        return {"p50": statistics.median(latencies) * MS, "p99": latencies[int(0.99 * (len(latencies) - 1))] * MS,
                "worst": latencies[-1] * MS, "logged": logged, "stored": stored_then, "spilled": spilled,
                "after_open": _rows(db), "calls": len(latencies)}


def _rows(db: Path) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="loop length per fault (default 6)")
    parser.add_argument("--lock-seconds", type=float, default=20.0, help="how long the lock is held (default 20)")
    args = parser.parse_args()
    print(f"{'fault':<22}{'calls':>7}{'p50 ms':>9}{'p99 ms':>9}{'worst ms':>10}"
          f"{'logged':>8}{'stored':>8}{'spilled':>8}{'after open':>11}")
    seconds_for = {True: max(args.seconds, args.lock_seconds * 1.5), False: args.seconds}
    for fault in _faults(Path("x"), args.lock_seconds):
        result = measure(fault, seconds_for["locked" in fault], args.lock_seconds)
        if result is None:
            print(f"{fault:<22}  skipped: a small tmpfs needs root and mount")
            continue
        flag = "" if result["worst"] <= TARGET_MS else f"  over {TARGET_MS:g} ms"
        print(f"{fault:<22}{result['calls']:>7}{result['p50']:>9.3f}{result['p99']:>9.3f}{result['worst']:>10.2f}"
              f"{result['logged']:>8}{result['stored']:>8}{result['spilled']:>8}{result['after_open']:>11}{flag}")


if __name__ == "__main__":
    main()
