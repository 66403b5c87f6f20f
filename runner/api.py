"""The logging API for users' own scripts: stream into the same store as the runner.

    with runner.start_run("exp", config={"optim.lr": 1e-3}) as run:
        for step, batch in enumerate(loader):
            loss = ...
            run.log({"train/loss": loss}, step=step)   # tensors welcome: no sync

Leaving the block finishes the run; an exception marks it failed (with the error
text) and is re-raised; metrics logged before the error are kept.
"""

from __future__ import annotations

import contextlib
import os
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from runner.sink import MetricSink
from runner.store import Store


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


def describe_error(exc: BaseException) -> str:
    """The error text stored with a failed run: type, message and where it was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


@contextmanager
def start_run(name: str, config: Mapping[str, Any] | None = None, db: str | os.PathLike | None = None,
              group_id: int | None = None) -> Iterator[Run]:
    """Create a run (source ``api``), yield it, and finish or fail it on the way out."""
    from runner.scripts import attach_or_create

    store, run_id = attach_or_create(name, config, db, group_id)  # a launched script joins its queued run
    store.mark_running(run_id, device="user script")
    sink = MetricSink(store, run_id)
    try:
        yield Run(store, run_id, sink)
    except BaseException as exc:
        _close_quietly(sink)
        status = "cancelled" if isinstance(exc, KeyboardInterrupt) else "failed"
        store.finish(run_id, status, error=describe_error(exc))
        raise
    else:
        sink.close()
        store.finish(run_id, "finished")


def _close_quietly(sink: MetricSink) -> None:
    with contextlib.suppress(Exception):  # the original error matters more than a failed last flush
        sink.close()
