"""The run underneath ``traindoc.start_run`` (the one public logging API): stream into the same store
as the runner. ``open_run`` is the lifecycle (create or join, sink, spill, ranks, finish or fail);
``traindoc.session`` adds the config, the live doctor and the clean cancel on top.

Leaving the block finishes the run; an exception marks it failed (with the error
text) and is re-raised; metrics logged before the error are kept.

No fault of the store stops or stalls the loop: a store that cannot be opened, locked, full,
read-only, deleted or replaced is one ``StoreFaultWarning``; the rows wait in memory, then in a
spill file beside the database (``runner.spill``), and go back in when the store answers, or at
its next open (``python -m runner recover-spill``). ``strict=True`` or ``TRAINDOC_STRICT=1``
raises instead, for tests and CI gates.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from runner import job
from runner.faultnote import FaultNote
from runner.job import FollowerRun
from runner.lifecycle import RunLifecycle, Verdict, describe_error
from runner.ranks import Ranks
from runner.sink import STORE_FAULTS, MetricSink, StoreFaultWarning, user_stacklevel
from runner.spill import SpillFile
from runner.store import DISK_FULL, DiskFullError, Store, resolve_db_path
from runner.sysmetrics import SystemSampler

__all__ = ["STRICT_ENV", "LeadRun", "StoreFaultWarning", "describe_error", "open_run", "strict_mode"]

STRICT_ENV = "TRAINDOC_STRICT"


def strict_mode(strict: bool | None = None) -> bool:
    """``strict`` when given, else ``TRAINDOC_STRICT`` (1/true/yes/on): store faults raise."""
    if strict is not None:
        return bool(strict)
    return os.environ.get(STRICT_ENV, "").strip().lower() in ("1", "true", "yes", "on")


class LeadRun:
    """The run of a lone process or of rank 0 (``runner.job.FollowerRun`` is another rank's): ``log``
    buffers metrics, the sink writes them in batches off-thread. Users get it wrapped in ``traindoc.Run``."""

    def __init__(self, store: Store | None, run_id: int | None, sink: MetricSink,
                 stop: job.JobStop | None = None) -> None:
        """``store`` and ``run_id`` are None when the store could not be opened: rows go to the spill file.
        ``stop``: rank 0 of a many-process job, where a stop takes every rank out at one step."""
        self.store = store
        self.id = run_id
        self._sink = sink
        self.stop = stop

    @property
    def stop_requested(self) -> bool:
        """A many-process job's run was stopped and this rank has logged the step where all leave."""
        return self.stop is not None and self.stop.requested

    def log(self, metrics: Mapping[str, Any], step: int, epoch: float | None = None, all_ranks: bool = False) -> None:
        """Buffer metrics. ``all_ranks`` matters on the other ranks of a many-process job (``runner.job``):
        here, rank 0 (or a lone process), the names are the run's own curves."""
        if self.stop is not None:
            self.stop.logged(step)
        self._sink.log(metrics, step=step, epoch=epoch)

    def set_progress(self, fraction: float) -> None:
        """Optional: a 0..1 progress for the dashboard's progress bar."""
        self._sink.progress = min(max(float(fraction), 0.0), 1.0)

    def flush(self) -> None:
        self._sink.flush()


@contextmanager
def open_run(name: str, config: Mapping[str, Any] | None = None, db: str | os.PathLike | None = None,
              group_id: int | None = None, strict: bool | None = None, *, ranks: Ranks | None = None,
              rank_zero_only: bool = False) -> Iterator[LeadRun | FollowerRun]:
    """Create a run (source ``api``), yield it, and finish or fail it on the way out.

    A script that traindoc launched (``TRAINDOC_RUN_ID``) joins its queued run instead. By default a
    fault of the store is a warning and the rows are kept (see the module); in strict mode a metric
    write that fails surfaces at the next ``log`` as an exception, which fails the run like any
    other, and one that fails at the last flush fails it and is raised here.

    Under a launcher of many processes (``ranks``, default: the environment, ``runner.ranks``) the
    job has one run: rank 0 creates it and the other ranks attach (``runner.job``); with an
    initialised process group this is a collective (call it on every rank). ``rank_zero_only``:
    only rank 0 ever calls it (a Lightning logger); nothing is handed over or awaited.
    """
    ranks = job.current(ranks)
    if ranks.many and not ranks.is_zero:
        if rank_zero_only:  # never meant to run here: a silent run that logs nothing
            yield FollowerRun(None, None, ranks)
            return
        with job.follow(ranks, db, strict_mode(strict)) as follower:
            yield follower
        return
    lead = job.Lead(ranks, rank_zero_only) if ranks.many else None
    if strict_mode(strict):
        with _strict_run(name, config, db, group_id, lead) as run:
            yield run
        return
    store, run_id, life, sink = _open_tolerant(name, config, db, group_id, lead)
    try:
        yield LeadRun(store, run_id, sink, lead.stop if lead is not None else None)
    except BaseException as exc:
        _end_tolerant(life, sink, exc, lead)
        raise
    status, error = _end_tolerant(life, sink, lead=lead)
    if status == "failed" and not (error or "").startswith(job.OTHER_RANK):
        raise RuntimeError(f"run {run_id} failed: {error}")


@contextmanager
def _strict_run(name: str, config: Mapping[str, Any] | None, db: str | os.PathLike | None,
                group_id: int | None, lead: job.Lead | None) -> Iterator[LeadRun]:
    from runner.scripts import attach_or_create

    try:
        store, run_id = attach_or_create(name, config, db, group_id, **(lead.create_args() if lead else {}))
    except BaseException:
        if lead is not None:
            lead.share(None)  # the others learn that no run was made
        raise
    if lead is not None:
        lead.started(store, run_id, strict=True)
    note = _reserved_note(store, run_id)
    life = RunLifecycle(store, run_id, note)
    sink = life.start("user script")
    if sink is None:
        if lead is not None:
            lead.stop_watch()
        raise RuntimeError(f"run {run_id} ended before it started")
    sink.system = SystemSampler(follow_cuda=True)  # step time and memory at each flush, as the runner.s loop
    try:
        try:
            yield LeadRun(store, run_id, sink, lead.stop if lead is not None else None)
        except BaseException as exc:
            try:
                verdict = life.end(exc)
            except DiskFullError:  # the end is in the note for a reader; the caller's error is the one to raise
                verdict = RunLifecycle.verdict(exc)
            if lead is not None:
                lead.left(store, run_id, verdict)
            raise
        others = lead.await_others(store, run_id, strict=True) if lead is not None else None
        status, error = life.end(verdict=others)
    finally:
        if not note.written:
            note.clear()
    if lead is not None:
        lead.left(store, run_id, RunLifecycle.verdict() if others else (status, error))
    if status == "failed" and (error or "").startswith(DISK_FULL):
        raise DiskFullError(f"run {run_id} failed: {error}")
    if status == "failed" and not (error or "").startswith(job.OTHER_RANK):
        raise RuntimeError(f"run {run_id} failed: {error}")


def _reserved_note(store: Store, run_id: int) -> FaultNote:
    """The run's fault note, its room taken now: an end that meets a full disk is said there
    (``runner.faultnote``) and stored by the first reader that can write."""
    note = FaultNote(store.path, run_id)
    note.reserve()
    return note


def _open_tolerant(name: str, config: Mapping[str, Any] | None, db: str | os.PathLike | None,
                   group_id: int | None, lead: job.Lead | None = None,
                   ) -> tuple[Store | None, int | None, RunLifecycle | None, MetricSink]:
    """The run and its sink with a spill file; a store that cannot even start a run gives a sink that
    spills everything (the next open of the database makes the run from the file)."""
    from runner.scripts import attach_or_create

    header: dict[str, Any] = {"run_id": None, "name": name, "config": dict(config or {}), "created_at": time.time()}
    try:
        try:
            store, run_id = attach_or_create(name, config, db, group_id, **(lead.create_args() if lead else {}))
        except BaseException:
            if lead is not None:
                lead.share(None)  # the others learn that no run was made, and log nothing
            raise
        if lead is not None:
            lead.started(store, run_id, strict=False)
        stored = store.run(run_id)
        # from here a spill file names this run: recovery puts the rows into it if it is still there
        header = {"run_id": run_id, "name": stored["name"], "config": stored["config"],
                  "created_at": stored["created_at"]}
        life = RunLifecycle(store, run_id)
        sink = life.start("user script", spill=SpillFile(store.path, header))
        if sink is not None:
            sink.system = SystemSampler(follow_cuda=True)  # at each flush: host-side counters, no device sync
            life.note = _reserved_note(store, run_id)
    except STORE_FAULTS as exc:
        return None, None, None, _spilling_sink(db, header, f"cannot start the run: {exc}")
    if sink is None:  # the run ended before this process began (another rank failed first, a cancel):
        # training goes on, and its rows are kept, not dropped
        ended = store.run(run_id)
        return None, None, None, _spilling_sink(
            db, header, f"run {run_id} had already ended ({ended['status']}) when this process started")
    return store, run_id, life, sink


def _spilling_sink(db: str | os.PathLike | None, header: dict[str, Any], reason: str) -> MetricSink:
    """A sink that sends every row to a spill file, with the one warning saying why and where."""
    sink = MetricSink(None, None, spill=SpillFile(resolve_db_path(db), header))
    sink.fault = reason
    try:
        sink.spill.fault(sink.fault)  # the file exists from now on: where the warning says the rows are
    except OSError as spill_exc:
        sink.fault += f"; cannot spill either: {spill_exc}"
    warnings.warn(StoreFaultWarning(
        f"traindoc: {sink.fault} — training goes on; its rows go to {sink.spill.where()} and go back into"
        f" {resolve_db_path(db).name} at its next open (or `python -m runner recover-spill`)"),
        stacklevel=user_stacklevel())
    sink._warned = True  # noqa: SLF001 - this was the one warning
    return sink


def _end_tolerant(life: RunLifecycle | None, sink: MetricSink, exc: BaseException | None = None,
                  lead: job.Lead | None = None) -> Verdict:
    """Close the sink and record the verdict (with ``lead``, after the other ranks left: theirs when one
    failed); a verdict the store cannot take goes to the spill file."""
    if life is None:
        if lead is not None:
            lead.stop_watch()
        sink.close()
        verdict = RunLifecycle.verdict(exc)
        sink.release(verdict)
        return verdict
    try:
        others = lead.await_others(life.store, life.run_id, strict=False) if lead is not None and exc is None \
            else None
        verdict = life.end(exc, verdict=others)
        if lead is not None:
            lead.left(life.store, life.run_id, RunLifecycle.verdict(exc) if others else verdict)
    except STORE_FAULTS as fault:
        verdict = RunLifecycle.verdict(exc)
        sink.fault = sink.fault or f"cannot record the run's end: {fault}"
        sink.release(verdict)
        return verdict
    sink.release(None if sink.fault_free and not sink.rows_spilled else verdict)
    return verdict
