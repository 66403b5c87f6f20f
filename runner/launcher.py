"""Background runs: detached processes started with an argument list (never a shell)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from runner import procs
from runner.store import Store
from runner.store.liveness import VERDICT
from traindoc.core.statuses import STARTED

PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # the folder holding runner/ and traindoc/


def runner_argv(store: Store, *words: str) -> list[str]:
    """``python -P -m runner --db DB WORDS...``: ``-P`` keeps the working folder off the child's import
    path, so a ``runner/`` of the user's own there cannot stand in for this one."""
    return [sys.executable, "-P", "-m", "runner", "--db", str(store.path.resolve()), *words]


def child_env() -> dict[str, str]:
    """This environment, with the folder holding this ``runner`` last on ``PYTHONPATH``: a child started
    in the user's working folder (not in site-packages or the checkout) imports the same traindoc."""
    path = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(PACKAGE_ROOT)) if p)
    return {**os.environ, "PYTHONPATH": path}


def log_path(store: Store, run_id: int) -> Path:
    """Where a background run's stdout/stderr go: ``<db>.logs/run-<id>.log``."""
    folder = store.path.with_name(store.path.name + ".logs")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"run-{run_id}.log"


def run_argv(store: Store, run_id: int) -> list[str]:
    """The argument list of a background run (never a shell): the one place it is built."""
    return runner_argv(store, "_exec", str(run_id))


def spawn(store: Store, run_id: int) -> int:
    """Start ``python -m runner _exec RUN_ID`` detached from this process, in this process's working
    folder (the user's: relative paths in a config mean what they meant there); returns its pid.

    The child beats (and records its pid) itself before its heavy imports; recording the pid
    here too covers the moment before it gets that far.
    """
    with open(log_path(store, run_id), "ab") as log:
        proc = subprocess.Popen(
            run_argv(store, run_id),
            env=child_env(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # survives the dashboard or shell that started it
        )
    store.set_pid(run_id, proc.pid)
    return proc.pid


def launch(store: Store, run_id: int) -> int:
    """Claim a queued run and start it in the background; returns the pid."""
    if not store.claim_queued(run_id, pid=os.getpid()):
        raise RuntimeError(f"run {run_id} is not queued (status {store.run(run_id)['status']})")
    return spawn(store, run_id)


def cancel(store: Store, run_id: int) -> str:
    """Cancel a queued, running or stalled run: mark it, then SIGTERM its process so it flushes and exits.

    A run judged crashed whose process still lives (the same pid *and* start time) is signalled
    too: the verdict was a guess. A Ray run is only marked: the answer to its next heartbeat
    stops it on its worker. Nor is a job of many ranks (``runner.job``): its pid is rank 0's, and a
    signal there alone would leave the other ranks hanging in their next all-reduce; every rank
    reads the cancel and they leave after one step that rank 0 sets.
    """
    run = store.request_cancel(run_id)
    if run["meta"].get("executor") == "ray":
        return store.run(run_id)["status"]  # its pid is the scheduler's; the task stops at its next heartbeat
    if len(run["meta"].get("ranks") or {}) > 1:
        return store.run(run_id)["status"]  # every rank watches its run (runner.job.JobStop)
    judged = run["status"] == "crashed" and (run["error"] or "").startswith(VERDICT)
    if (run["status"] in STARTED or judged) and run["host"] == socket.gethostname() \
            and run["pid"] != run["meta"].get("scheduler_pid") and procs.alive(run["pid"], run["pid_started"]):
        with contextlib.suppress(ProcessLookupError):  # it ended by itself meanwhile
            os.kill(run["pid"], signal.SIGTERM)
    return store.run(run_id)["status"]
