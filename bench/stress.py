"""Sweeps over several databases on a saturated machine, watched all along (issue 14).

    python bench/stress.py [--minutes 3] [--dbs 2] [--runs 3] [--burners 2]

Every database gets sweep after sweep (``--runs`` short trainings each, two at a time) while
``--burners`` processes spin on the CPU and heartbeats are judged strictly
(``TRAINDOC_STALE_SECONDS=3``). A watcher samples every 0.2 s and counts, per database, the
scheduler processes alive and every run marked ``crashed`` while its process lives. At the
end every run must be finished and hold exactly the rows its writer acknowledged.
The suite runs the same function briefly (tests/test_stress.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runner import procs, scheduler  # noqa: E402
from runner.plan import Plan, submit  # noqa: E402
from runner.presets import PRESETS  # noqa: E402
from runner.store import ACTIVE, Store  # noqa: E402

TINY = {"train.epochs": 2, "data.n_samples": 400, "model.width": 16}


@dataclass
class Report:
    """What the watcher saw; ``ok`` when every promise held."""

    runs: int = 0
    finished: int = 0
    sweeps: int = 0
    samples: int = 0
    max_schedulers: dict[str, int] = field(default_factory=dict)
    crashed_while_alive: list[str] = field(default_factory=list)
    rows_written: int = 0
    rows_read: int = 0
    not_finished: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (not self.crashed_while_alive and not self.not_finished and self.rows_written == self.rows_read
                and all(n <= 1 for n in self.max_schedulers.values()))

    def line(self) -> str:
        return (f"{self.sweeps} sweeps, {self.runs} runs over {len(self.max_schedulers)} databases in "
                f"{self.seconds:.0f} s: {self.finished} finished, {len(self.crashed_while_alive)} crashed while "
                f"alive, rows written {self.rows_written:,} = read {self.rows_read:,}"
                f" ({self.rows_written - self.rows_read:+,}), schedulers per database at most "
                f"{max(self.max_schedulers.values(), default=0)} over {self.samples} samples")


def _schedulers(db: Path) -> int:
    """Scheduler processes of ``db`` alive now (zombies are dead)."""
    count, needle = 0, f"{db}\0_scheduler".encode()
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if needle in (proc / "cmdline").read_bytes() and procs.alive(int(proc.name)):
                count += 1
    return count


def _crashed_alive(store: Store) -> list[str]:
    rows = store.conn.execute("SELECT id, pid, pid_started FROM runs WHERE status='crashed'").fetchall()
    return [f"{store.path.name}#{i}" for i, pid, started in rows if procs.alive(pid, started)]


def stress(folder: Path, seconds: float, dbs: int = 2, runs: int = 3, burners: int = 2,
           deadline: float = 600) -> Report:
    """Submit sweeps to ``dbs`` databases for ``seconds`` (one each at least), watch until all end."""
    os.environ["TRAINDOC_STALE_SECONDS"] = "3"  # children judge beats strictly: the worst case
    os.environ.setdefault("TRAINDOC_SCHEDULER_IDLE", "1")
    stores = [Store(folder / f"stress{i}.db") for i in range(dbs)]
    report = Report(max_schedulers={s.path.name: 0 for s in stores})
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(burners)]
    started = time.monotonic()
    base = PRESETS["healthy"].config(TINY).to_flat()
    try:
        while True:
            elapsed = time.monotonic() - started
            if elapsed < seconds or report.sweeps < dbs:
                for store in stores:
                    if not store.queued(limit=1):  # a new sweep when the last one is under way
                        submit(store, Plan(f"stress {report.sweeps}", base, {"optim.lr": [1e-3, 3e-3, 1e-2][:runs]},
                                           seeds=max(1, runs // 3), concurrency=2))
                        report.sweeps += 1
            active = 0
            for store in stores:
                report.crashed_while_alive += [r for r in _crashed_alive(store) if r not in report.crashed_while_alive]
                report.max_schedulers[store.path.name] = max(report.max_schedulers[store.path.name],
                                                             _schedulers(store.path))
                status = store.runs()["status"]  # a reader: reconciles, like the dashboard
                active += int(status.isin(ACTIVE).sum())
                if store.queued(limit=1):
                    scheduler.ensure_running(store)  # as `sweep --wait` does, every sample
            report.samples += 1
            if (active == 0 and elapsed >= seconds and report.sweeps >= dbs) or elapsed > deadline:
                break
            time.sleep(0.2)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
        for store in stores:  # nothing may outlive the check
            for pid, in store.conn.execute("SELECT pid FROM runs WHERE status IN ('queued','running','stalled')"):
                with contextlib.suppress(ProcessLookupError, TypeError):
                    os.kill(pid, signal.SIGKILL)
            holder = store.scheduler_holder()
            if holder:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(holder["pid"], signal.SIGKILL)
    report.seconds = time.monotonic() - started
    for store in stores:
        for run_id, status, meta in store.conn.execute("SELECT id, status, meta FROM runs"):
            report.runs += 1
            report.finished += status == "finished"
            if status != "finished":
                report.not_finished.append(f"{store.path.name}#{run_id} {status}")
            report.rows_written += int(json.loads(meta).get("rows_written", 0))
        report.rows_read += store.conn.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=3)
    parser.add_argument("--dbs", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--burners", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="traindoc-stress-") as folder:
        report = stress(Path(folder), args.minutes * 60, args.dbs, args.runs, args.burners)
    print(report.line())
    for problem in report.crashed_while_alive + report.not_finished:
        print("  ", problem)
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
