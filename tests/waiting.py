"""Waiting for a background run to reach a state, as a user refreshing the page would."""

from __future__ import annotations

import time
from collections.abc import Callable

from runner.store import Store


def wait_for_run(store: Store, run_id: int, until: Callable[[dict], bool], timeout: float = 90) -> dict:
    """Poll (reconciling, like the dashboard) until ``until(run)``; fail with the run's last state."""
    deadline = time.time() + timeout
    while True:
        store.reconcile()
        run = store.run(run_id)
        if until(run) or time.time() > deadline:
            break
        time.sleep(0.2)
    assert until(run), f"run {run_id} never got there: {run}"
    return run
