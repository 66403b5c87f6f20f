"""One run's lifecycle (start, beat, finish, fail), the same for a background run, a Ray task and
the logging API.

Why one module: the three used to write it three ways, and each got a different corner wrong
(a bad config, a writer that failed at the last flush, a cancel seen only by some). Here the
order is fixed: a bad config fails before training; ``start`` marks the run running and opens
the sink (whose writer beats from then on); ``end`` closes the sink first, so a failed last
write turns the verdict into ``failed``, then records the verdict once.

``store`` is a :class:`~runner.store.Store`, or anything with the same lifecycle writes (the
Ray actor's proxy on a worker). torch loads only when a run trains.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from runner import boot
from runner.store.base import StoreError, disk_full_reason, is_disk_full

if TYPE_CHECKING:
    from runner.faultnote import FaultNote
    from runner.sink import MetricSink
    from runner.train import ProgressCallback

Verdict = tuple[str, "str | None"]

# A run whose end meets a full disk retries recording it with a back-off from DISK_FULL_FIRST_DELAY
# to DISK_FULL_MAX_DELAY seconds, for at most the wait its entry point allows (a background run:
# DISK_FULL_WAIT_SECONDS, long enough for someone to free space; a user's script: none, it is told).
DISK_FULL_FIRST_DELAY = 0.5
DISK_FULL_MAX_DELAY = 15.0
DISK_FULL_WAIT_SECONDS = float(os.environ.get("TRAINDOC_DISK_FULL_WAIT_SECONDS", "600"))


class Watcher(Protocol):
    """What watches a training run from beside it (the live doctor): it may ask the loop to stop. A watcher
    in this process also has ``last_look()``, called once the run has ended (alerts on its last rows)."""

    @property
    def stop_requested(self) -> bool: ...

    def close(self) -> None: ...


# Makes the watcher of one run (or None: nothing to watch). Handed in by the entry point that starts the
# run (``python -m runner``, ``traindoc``, a test): the live doctor composes the store and the diagnostics,
# a floor above the runner, so the runner never imports it.
WatchFactory = Callable[[Any, int], "Watcher | None"]


def describe_error(exc: BaseException) -> str:
    """The error text stored with a failed run: type, message and where it was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


class RunLifecycle:
    """The writes that move one run from queued to its end, in the one right order."""

    def __init__(self, store: Any, run_id: int, note: FaultNote | None = None, wait_for_space: float = 0.0) -> None:
        """With ``note`` (a ``runner.faultnote.FaultNote``), an end that meets a full disk is said there
        and retried for up to ``wait_for_space`` seconds before the ``DiskFullError`` is raised."""
        self.store = store
        self.run_id = run_id
        self.note = note
        self.wait_for_space = wait_for_space
        self.sink: MetricSink | None = None

    def start(self, device: str, pid: int | None = None, on_cancel: Any = None,
              spill: Any = None) -> MetricSink | None:
        """Mark the run running and open its sink (with ``spill``, a ``runner.spill.SpillFile``, the
        sink keeps rows the store refuses); None when the run already ended (cancelled meanwhile)."""
        from runner.sink import MetricSink  # torch

        if not self.store.mark_running(self.run_id, device=device, pid=pid):
            return None
        self.sink = MetricSink(self.store, self.run_id, on_cancel=on_cancel, spill=spill)
        boot.stop_beating()  # the sink's writer beats from here on
        return self.sink

    def fail(self, error: str) -> Verdict:
        """End the run ``failed`` before (or instead of) training."""
        return self.record("failed", error)

    def record(self, status: str, error: str | None, meta: Mapping[str, Any] | None = None) -> Verdict:
        """Store the run's end (and ``meta`` first). A full disk is said in the note (``stalled`` to a
        reader, the end kept there for the first reader that can write it) and retried with a bounded
        back-off; after ``wait_for_space`` the ``DiskFullError`` is raised, the note left in place."""
        started, delay = time.monotonic(), DISK_FULL_FIRST_DELAY
        while True:
            try:
                if meta:
                    self.store.update_meta(self.run_id, **meta)
                self.store.finish(self.run_id, status, error=error)
            except StoreError as exc:
                if self.note is None or not is_disk_full(exc):
                    raise
                self.note.write(f"{disk_full_reason(exc)}; waiting for space to record the run's end ({status})",
                                end=(status, error))
                left = self.wait_for_space - (time.monotonic() - started)
                if left <= 0:
                    raise
                time.sleep(min(delay, left))
                delay = min(delay * 2, DISK_FULL_MAX_DELAY)
                continue
            if self.note is not None:
                self.note.clear()
            return status, error

    @staticmethod
    def verdict(exc: BaseException | None = None, cancelled: bool = False) -> Verdict:
        """The exception's verdict, a cancel's, or finished; a full disk is ``failed`` with ``disk full: ...``."""
        if isinstance(exc, KeyboardInterrupt):
            return "cancelled", describe_error(exc)
        if exc is not None and is_disk_full(exc):
            return "failed", disk_full_reason(exc)
        if exc is not None:
            return "failed", describe_error(exc)
        if cancelled:
            return "cancelled", "cancelled by user"
        return "finished", None

    def end(self, exc: BaseException | None = None, cancelled: bool = False,
            verdict: Verdict | None = None) -> Verdict:
        """Close the sink, then record the verdict: the exception's, a cancel's, ``verdict`` (another
        rank's end, ``runner.job``), or finished."""
        status, error = verdict or self.verdict(exc, cancelled)
        meta = None
        if self.sink is not None:
            try:
                self.sink.close()
            except Exception as close_exc:  # noqa: BLE001 - the run's verdict, not a crash of the caller
                if exc is None:
                    status, error = ("failed", disk_full_reason(close_exc)) if is_disk_full(close_exc) \
                        else ("failed", f"could not write metrics: {close_exc}")
            else:  # what the writer acknowledged: a reader can check that none of it went missing
                meta = {"rows_logged": self.sink.rows_logged, "rows_written": self.sink.rows_written}
        return self.record(status, error, meta)


def parse_config(config: Any) -> Any:
    """A stored config as a validated ``RunConfig``; anything else is a ``ConfigError`` ("bad config")."""
    from runner.config import ConfigError, from_flat

    if not isinstance(config, Mapping):
        raise ConfigError(f"the stored config is a {type(config).__name__}, not an object of key: value")
    return from_flat(dict(config))


def train_run(store: Any, run_id: int, config: Any, cancel: threading.Event,
              progress: ProgressCallback | None = None, pid: int | None = None,
              watch: WatchFactory | None = None, note: FaultNote | None = None,
              wait_for_space: float = 0.0) -> Verdict:
    """Train one run from its stored config to its verdict; the body of every trained run.

    ``watch`` is handed in by the entry point (``traindoc.live_doctor.for_run``; None: unwatched): where
    the store is a file here, the live doctor reads it in this process; a Ray task (whose store is a
    proxy) watches from the head instead.
    ``note`` and ``wait_for_space``: how an end that meets a full disk is told and retried (``RunLifecycle``).
    """
    from runner.config import ConfigError
    from runner.train import resolve_device, train  # torch, sklearn

    life = RunLifecycle(store, run_id, note, wait_for_space)
    try:
        cfg = parse_config(config)
        device = resolve_device(cfg.train.device)
    except (ConfigError, RuntimeError, TypeError, ValueError) as exc:
        return life.fail(f"bad config: {exc}")
    sink = life.start(device_label(device), pid=pid, on_cancel=cancel.set)
    if sink is None:
        return "cancelled", None
    # the launch form's "stop on a critical finding", or the alerts
    doctor = watch(store, run_id) if watch is not None else None
    pruning = search_pruning(store, run_id, cfg.train.eval_every)  # a search's --prune: judged at each evaluation
    error: Exception | None = None
    try:
        outcome = train(cfg, sink, progress=_judged(progress, pruning),
                        should_stop=lambda: cancel.is_set() or bool(doctor and doctor.stop_requested)
                        or bool(pruning and pruning.stop_requested))
        if outcome.stopped_early and not cancel.is_set():
            pruned = pruning.reason if pruning is not None and pruning.stop_requested else None
            store.update_meta(run_id, stopped_early=pruned or outcome.stopped_early)
    except Exception as exc:  # noqa: BLE001 - recorded as the run's error
        error = exc
    finally:
        if doctor is not None:
            doctor.close()
    verdict = life.end(error) if error is not None else life.end(cancelled=cancel.is_set())
    last_look = getattr(doctor, "last_look", None)  # a watcher at the Ray head has none: it sees the end there
    if last_look is not None:
        last_look()  # the last flush's rows, stored only by the end: a finding there still alerts
    return verdict


def search_pruning(store: Any, run_id: int, eval_every: int = 0) -> Any:
    """The pruning a search group asked for (``runner.pruning.Pruning``), or None; only where the store is
    the database itself (a Ray task's proxy cannot read the other trials: there runs go unpruned)."""
    from runner.store import Store

    if not isinstance(store, Store):
        return None
    from runner import pruning

    return pruning.for_run(store, store.run(run_id), eval_every)


def _judged(progress: ProgressCallback | None, pruning: Any) -> ProgressCallback | None:
    """The progress callback, with the pruner fed each evaluation's metrics after it."""
    if pruning is None:
        return progress

    warned: list[BaseException] = []  # said once per run, not at every evaluation

    def both(fraction: float, step: int, metrics: dict[str, float]) -> None:
        if progress is not None:
            progress(fraction, step, metrics)
        try:
            pruning.report(step, metrics)
        except Exception as exc:  # noqa: BLE001 - a pruner that cannot judge leaves the trial to run on
            if not warned:
                warned.append(exc)
                warnings.warn(f"the search's pruner could not judge this trial, which runs on unpruned: "
                              f"{type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=2)

    return both


def device_label(device: Any) -> str:
    """``cpu``, or ``cuda (<name>)``: what the dashboard shows a run trained on."""
    if device.type == "cuda":
        import torch

        return f"cuda ({torch.cuda.get_device_name(device)})"
    return "cpu"
