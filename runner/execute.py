"""Run one queued run to its end in this process: the body of every background runner."""

from __future__ import annotations

import signal
import threading

from runner.lifecycle import RunLifecycle, train_run
from runner.store import Store
from runner.store.liveness import VERDICT
from runner.train import ProgressCallback
from traindoc.statuses import ACTIVE


def execute(store: Store, run_id: int, progress: ProgressCallback | None = None) -> str:
    """Train run ``run_id`` from its stored config; returns the final status.

    SIGTERM (a cancel) sets a flag the loop checks each step, so buffered metrics are
    flushed before the process exits and the run ends ``cancelled``.
    """
    cancel = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: cancel.set())
    try:
        run = store.run(run_id)
    except ValueError as exc:  # a damaged row: that run fails, clearly
        RunLifecycle(store, run_id).fail(f"bad config: the stored row is not JSON: {exc}")
        return "failed"
    judged = run["status"] == "crashed" and (run["error"] or "").startswith(VERDICT)
    if run["status"] not in ACTIVE and not judged:
        return run["status"]  # cancelled before it started
    if run["source"] == "script":  # a registered user script: it runs as a child (runner/scripts.py)
        from runner.scripts import execute_script

        return execute_script(store, run_id)
    train_run(store, run_id, run["config"], cancel, progress=progress)
    return store.run(run_id)["status"]
