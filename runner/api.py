"""The logging API for users' own scripts: stream into the same store as the runner.

    with runner.start_run("exp", config={"optim.lr": 1e-3}) as run:
        for step, batch in enumerate(loader):
            loss = ...
            run.log({"train/loss": loss}, step=step)   # tensors welcome: no sync

Leaving the block finishes the run; an exception marks it failed (with the error
text) and is re-raised; metrics logged before the error are kept.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from runner.lifecycle import RunLifecycle, describe_error
from runner.sink import MetricSink
from runner.store import Store

__all__ = ["Run", "describe_error", "start_run"]


class Run:
    """A live run: ``log`` buffers metrics, the sink writes them in batches off-thread."""

    def __init__(self, store: Store, run_id: int, sink: MetricSink) -> None:
        self.store = store
        self.id = run_id
        self._sink = sink

    def log(self, metrics: Mapping[str, Any], step: int, epoch: float | None = None) -> None:
        self._sink.log(metrics, step=step, epoch=epoch)

    def set_progress(self, fraction: float) -> None:
        """Optional: a 0..1 progress for the dashboard's progress bar."""
        self._sink.progress = min(max(float(fraction), 0.0), 1.0)

    def flush(self) -> None:
        self._sink.flush()


@contextmanager
def start_run(name: str, config: Mapping[str, Any] | None = None, db: str | os.PathLike | None = None,
              group_id: int | None = None) -> Iterator[Run]:
    """Create a run (source ``api``), yield it, and finish or fail it on the way out.

    A script that traindoc launched (``TRAINDOC_RUN_ID``) joins its queued run instead. A metric
    write that fails (a full disk) surfaces at the next ``log`` as an exception, which fails the
    run like any other; one that fails at the last flush fails it and is raised here.
    """
    from runner.scripts import attach_or_create

    store, run_id = attach_or_create(name, config, db, group_id)
    life = RunLifecycle(store, run_id)
    sink = life.start("user script")
    if sink is None:
        raise RuntimeError(f"run {run_id} ended before it started")
    try:
        yield Run(store, run_id, sink)
    except BaseException as exc:
        life.end(exc)
        raise
    status, error = life.end()
    if status == "failed":
        raise RuntimeError(f"run {run_id} failed: {error}")
