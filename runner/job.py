"""One run per many-process job: rank 0 leads (creates, hands the id over, waits for the others'
exit), every other rank follows (attaches, logs nothing unless asked, marks its exit).

Why the ends are marked in the run's meta: the run must end ``finished`` only when every rank
left the block, and ``failed`` as soon as one raises, even when rank 0 is then killed by the
launcher while it waits in a collective. So a follower that raises fails the run itself; rank 0
waits a bounded time (``TRAINDOC_RANK_WAIT``) for the others' marks and ends the run ``crashed``
when one never comes (a rank killed without running its ``finally``).

A stop reaches every rank (``JobStop``): the live doctor on rank 0, the dashboard's Cancel or
``python -m runner cancel`` ends the run in the store; rank 0 then writes the step after which
every rank leaves (``meta["stop_step"]``), far enough ahead that each rank's watcher has read it
before it gets there. DDP ranks move in lockstep (every step all-reduces), so a rank that left
one step before the others would leave them hanging in the next all-reduce; leaving after the
same step, they all reach the end of the block, and the run keeps the stop's status and reason.

Rank 0's metrics are the run's metrics. A follower's ``log`` is a no-op unless
``all_ranks=True``: then its series go into the same run as ``name@rank`` (``train/loss@1``,
``traindoc.core.vocabulary.rank_name``), written by its own sink, so a straggler or a rank whose loss
differs is visible beside rank 0's curve.
"""

from __future__ import annotations

import math
import os
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any

from runner import ranks as ranks_mod
from runner.lifecycle import RunLifecycle, Verdict
from runner.ranks import Ranks
from runner.sink import STORE_FAULTS, MetricSink, StoreFaultWarning, user_stacklevel
from runner.spill import SpillFile
from runner.store import Store
from runner.sysmetrics import SystemSampler
from traindoc.core.statuses import ACTIVE
from traindoc.core.vocabulary import rank_name

WAIT_ENV = "TRAINDOC_RANK_WAIT"
# How long rank 0 waits for the other ranks' exit marks (seconds). The ranks of one DDP job leave
# their loop within a step of each other (every step all-reduces); a minute covers a slow last
# flush of a follower's sink, not a hang.
DEFAULT_EXIT_WAIT = 60.0
# How long a follower waits for rank 0's run to appear under the job key (seconds): rank 0 may
# still be importing torch or opening (creating, migrating) the store on a loaded machine.
JOIN_WAIT = 120.0
# How often a waiting rank reads the store again (seconds): one indexed read, cheap.
POLL_SECONDS = 0.2
# How a verdict that another rank gave the run begins ("rank 1: ValueError: ..."): rank 0's block
# then ended well, and ``start_run`` does not raise there for it.
OTHER_RANK = "rank "
# How often each rank's stop watcher reads its run (seconds): one indexed row, five times a second.
STOP_POLL = 0.2
# How far ahead of rank 0's last step the stop step lies, in seconds of training at rank 0's pace:
# ten polls, so a follower on a loaded machine (a poll late, a slow read) has read it in time.
STOP_LEAD_SECONDS = 10 * STOP_POLL


def exit_wait() -> float:
    """``TRAINDOC_RANK_WAIT`` seconds, else ``DEFAULT_EXIT_WAIT``."""
    try:
        return max(float(os.environ[WAIT_ENV]), 0.0)
    except (KeyError, ValueError):
        return DEFAULT_EXIT_WAIT


def current(ranks: Ranks | None = None) -> Ranks:
    """``ranks`` when given, else the launcher's environment, else an initialised process group's view."""
    if ranks is not None:
        return ranks
    found = ranks_mod.from_env()
    dist = ranks_mod.process_group()
    if not found.many and dist is not None and dist.get_world_size() > 1:
        return Ranks(dist.get_rank(), dist.get_world_size(), dist.get_rank(), "torch.distributed")
    return found


def _warn(message: str) -> None:
    warnings.warn(StoreFaultWarning(message), stacklevel=user_stacklevel())


class JobStop:
    """Where every rank of a job leaves after the run was stopped: rank 0 picks the step, the others read it.

    A thread per rank reads the run every ``STOP_POLL`` seconds; the training loop only tells it
    each step it logs (``logged``: two assignments, no read). Once the run has ended in the store
    (stopped by the doctor, cancelled by the user, failed by another rank) rank 0 writes
    ``stop_step``: its last logged step plus ``STOP_LEAD_SECONDS`` at its measured pace.
    ``requested`` is true on a rank once it has logged that step, so each rank leaves at the same
    point of its loop. A follower whose rank 0 has already left (it will write nothing) stops at
    once.
    """

    def __init__(self, store: Store, run_id: int, rank: int) -> None:
        self.store = store
        self.run_id = run_id
        self.rank = rank
        self.stop_step: int | None = None
        self.reason: str | None = None  # the run's status and error once it ended: why this rank leaves
        self._first: tuple[int, float] | None = None  # (step, monotonic time) of the first log
        self._last: tuple[int, float] | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name=f"traindoc-stop-{run_id}-{rank}")
        self._thread.start()

    def logged(self, step: int) -> None:
        """The training loop logged ``step`` (on the training thread: no store access here)."""
        now = time.monotonic()
        if self._first is None:
            self._first = (step, now)
        self._last = (step, now)

    @property
    def requested(self) -> bool:
        """This rank has logged the stop step: it should leave its loop now."""
        return self.stop_step is not None and self._last is not None and self._last[0] >= self.stop_step

    def close(self) -> None:
        self._done.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._done.wait(STOP_POLL):
            try:
                if self.look():
                    return
            except Exception:  # noqa: BLE001 - a failed read must never take the training down; read again
                continue

    def look(self) -> bool:
        """One read of the run; True once the stop step is known (nothing left to watch)."""
        run = self.store.run(self.run_id)
        if run["status"] in ACTIVE:
            return False
        self.reason = f"{run['status']}: {run['error']}" if run["error"] else run["status"]
        step = run["meta"].get("stop_step")
        if step is not None:
            self.stop_step = int(step)
            if self._last is not None and self._last[0] > self.stop_step:  # read too late to leave with the others
                warnings.warn(f"rank {self.rank} read the job's stop step {self.stop_step} after logging step "
                              f"{self._last[0]}: it leaves now, and the other ranks may wait for it in their next "
                              "collective until the process group times out", RuntimeWarning, stacklevel=2)
            return True
        if self.rank == 0:
            step = self._pick()
            if step is None:
                return False  # not yet two steps logged: the pace is unknown
            self.store.update_meta(self.run_id, stop_step=step)
            self.stop_step = step
            return True
        mark = (run["meta"].get("ranks") or {}).get("0") or {}
        if mark.get("status", "running") != "running":  # rank 0 left without writing a step: leave now
            self.stop_step = self._last[0] if self._last is not None else -1
            return True
        return False

    def _pick(self) -> int | None:
        """Rank 0's last logged step plus ``STOP_LEAD_SECONDS`` at its pace since its first log."""
        if self._first is None or self._last is None or self._last[0] <= self._first[0]:
            return None
        pace = (self._last[1] - self._first[1]) / (self._last[0] - self._first[0])  # seconds per step
        ahead = math.ceil(STOP_LEAD_SECONDS / pace) if pace > 0 else 1
        return self._last[0] + max(ahead, 1)


class Lead:
    """Rank 0's side: the run is created with the job's key and size, its id shared, the others awaited."""

    def __init__(self, ranks: Ranks, rank_zero_only: bool = False) -> None:
        """``rank_zero_only``: the other ranks never call ``start_run`` (a Lightning logger), so nothing
        is shared with them and nobody is waited for (without it, a process group's broadcast
        would wait for them); the meta still says how many ranks ran."""
        self.ranks = ranks
        self.rank_zero_only = rank_zero_only
        self.key = None if rank_zero_only else ranks_mod.job_key()
        self._dist = None if rank_zero_only else ranks_mod.process_group()
        self._shared = False
        self.stop: JobStop | None = None  # the step every rank leaves at once the run is stopped

    def create_args(self) -> dict[str, Any]:
        """What the run is created with: the job's key and the ranks' meta."""
        meta = {"world_size": self.ranks.world_size, "launcher": self.ranks.launcher}
        if self.key:
            meta["job_key"] = self.key
        return {"job_key": self.key, "meta": meta}

    def share(self, run_id: int | None) -> None:
        """Hand the id to the other ranks through the process group (once; None when no run was made)."""
        if self._dist is not None and not self._shared:
            self._shared = True
            ranks_mod.share(run_id, self._dist)

    def started(self, store: Store, run_id: int, strict: bool) -> None:
        """Share the id, then register rank 0 (its host) in the run's meta."""
        self.share(run_id)
        try:
            store.register_rank(run_id, 0, status="running", **ranks_mod.describe(self.ranks))
        except STORE_FAULTS as exc:
            if strict:
                raise
            _warn(f"traindoc: run {run_id}: rank 0 not registered ({exc}); training goes on")
        if not self.rank_zero_only:  # with followers, a stop must reach them at a step they all log
            self.stop = JobStop(store, run_id, 0)

    def await_others(self, store: Store, run_id: int, strict: bool) -> Verdict | None:
        """Wait (bounded) for every other rank's exit mark: a failure or a missing mark is the run's verdict."""
        if self.rank_zero_only:
            return None
        wait = exit_wait()
        deadline = time.monotonic() + wait
        others = range(1, self.ranks.world_size)
        try:
            while True:
                marks = store.run(run_id)["meta"].get("ranks") or {}
                pending = [r for r in others if (marks.get(str(r)) or {}).get("status", "running") == "running"]
                if not pending or time.monotonic() >= deadline:
                    break
                time.sleep(POLL_SECONDS)
        except (*STORE_FAULTS, KeyError) as exc:
            if strict:
                raise
            _warn(f"traindoc: run {run_id}: the other ranks' ends could not be read ({exc})")
            return None
        stuck = [r for r in pending if str(r) in marks]
        absent = [r for r in pending if str(r) not in marks]
        if absent:  # never attached: likely only rank 0 calls start_run; their fate is not this run's
            self._absent(store, run_id, absent, wait)
        if stuck:
            return "crashed", f"{OTHER_RANK}{', '.join(map(str, stuck))} did not leave the block within {wait:.0f} s"
        for wanted in ("failed", "cancelled"):
            for r in others:
                mark = marks.get(str(r)) or {}
                if mark.get("status") == wanted:
                    return wanted, f"{OTHER_RANK}{r}: {mark.get('error')}"
        return None

    def _absent(self, store: Store, run_id: int, absent: list[int], wait: float) -> None:
        """Ranks that never attached: noted in the meta (``absent_ranks``) and said once."""
        with suppress(*STORE_FAULTS):
            store.update_meta(run_id, absent_ranks=absent)
        _warn(f"traindoc: run {run_id}: rank {', '.join(map(str, absent))} never attached to the job's run"
              f" (waited {wait:.0f} s); when only rank 0 calls start_run, pass rank_zero_only=True")

    def stop_watch(self) -> None:
        """Stop watching for a stop: rank 0 has left its block (the others are awaited next)."""
        if self.stop is not None:
            self.stop.close()

    def left(self, store: Store, run_id: int, verdict: Verdict) -> None:
        """Rank 0's own exit mark (bookkeeping: a fault here changes nothing); ``stopped`` when it left for a stop."""
        self.stop_watch()
        if verdict[0] == "finished" and self.stop is not None and self.stop.requested:
            verdict = "stopped", self.stop.reason
        with suppress(STORE_FAULTS):
            store.register_rank(run_id, 0, status=verdict[0], error=verdict[1])


class FollowerRun:
    """What ``start_run`` yields on a rank other than 0: ``log`` is a no-op unless ``all_ranks=True``."""

    def __init__(self, store: Store | None, run_id: int | None, ranks: Ranks) -> None:
        self.store = store
        self.id = run_id
        self.ranks = ranks
        self.sink: MetricSink | None = None
        self.stop: JobStop | None = None if run_id is None else JobStop(store, run_id, ranks.rank)

    @property
    def stop_requested(self) -> bool:
        """The run was stopped and this rank has logged the step where every rank leaves."""
        return self.stop is not None and self.stop.requested

    def log(self, metrics: Mapping[str, Any], step: int, epoch: float | None = None, all_ranks: bool = False) -> None:
        """With ``all_ranks``, this rank's series as ``name@rank`` in the job's run; else nothing (but the
        step counts: a stop takes every rank out after the same logged step)."""
        if self.stop is not None:
            self.stop.logged(step)
        if not all_ranks or self.id is None:
            return
        if self.sink is None:
            run = self.store.run(self.id)
            header = {"run_id": self.id, "name": run["name"], "config": run["config"], "created_at": run["created_at"]}
            self.sink = MetricSink(self.store, self.id, spill=SpillFile(self.store.path, header))
            self.sink.system = SystemSampler(rank=self.ranks.rank, follow_cuda=True)  # as sys/…@rank
        rank = self.ranks.rank
        self.sink.log({rank_name(name, rank): value for name, value in metrics.items()}, step=step, epoch=epoch)

    def set_progress(self, fraction: float) -> None:
        """Rank 0 says the run's progress."""

    def flush(self) -> None:
        if self.sink is not None:
            self.sink.flush()

    def leave(self, exc: BaseException | None, strict: bool) -> None:
        """Close this rank's sink, mark its exit; a rank that raised fails the run at once, with its reason."""
        if self.id is None:
            return
        status, error = RunLifecycle.verdict(exc)
        if self.stop is not None:
            self.stop.close()
            if exc is None and self.stop.requested:
                status, error = "stopped", self.stop.reason
        rows = 0
        if self.sink is not None:
            try:
                self.sink.close()
            except Exception as close_exc:  # noqa: BLE001 - this rank's verdict, not a crash of the caller
                if exc is None:
                    status, error = "failed", f"could not write metrics: {close_exc}"
            rows = self.sink.rows_logged
            self.sink.release(None if self.sink.fault_free and not self.sink.rows_spilled else (status, error))
        try:
            self.store.register_rank(self.id, self.ranks.rank, status=status, error=error, rows_logged=rows)
            if status == "failed":
                self.store.finish(self.id, "failed", error=f"{OTHER_RANK}{self.ranks.rank}: {error}")
        except STORE_FAULTS as fault:
            if strict:
                raise
            _warn(f"traindoc: run {self.id}: rank {self.ranks.rank}'s end not recorded ({fault})")


def _find(ranks: Ranks, db: str | os.PathLike | None) -> tuple[Store | None, int | None, str]:
    """The job's run as rank 0 made it: through the process group, a launched run's id, or the job key."""
    from runner.scripts import ENV_DB, ENV_RUN_ID

    dist = ranks_mod.process_group()
    if dist is not None:
        run_id = ranks_mod.share(None, dist)  # rank 0 sends the id it created (None: it made none)
        os.environ.pop(ENV_RUN_ID, None)
        return (Store(os.environ.get(ENV_DB) or db), run_id, "") if run_id is not None else \
            (None, None, "rank 0 made no run")
    launched = os.environ.pop(ENV_RUN_ID, None)
    if launched:
        return Store(os.environ.get(ENV_DB) or db), int(launched), ""
    key = ranks_mod.job_key()
    if key is None:
        return None, None, ("no process group is initialised and the launcher set no job id"
                            " (TORCHELASTIC_RUN_ID, SLURM_JOB_ID, MASTER_ADDR/MASTER_PORT)")
    store = Store(db)
    deadline = time.monotonic() + JOIN_WAIT
    while (run_id := _joinable(store, key, ranks.rank)) is None:
        if time.monotonic() >= deadline:
            return None, None, f"no run of job {key} appeared within {JOIN_WAIT:.0f} s"
        time.sleep(POLL_SECONDS)
    return store, run_id, ""


def _joinable(store: Store, key: str, rank: int) -> int | None:
    """The job's active run, unless this rank already left it: a script with two ``start_run`` blocks
    in a row must not find the first run again while rank 0 still waits for the exit marks."""
    run_id = store.job_run(key)
    if run_id is None:
        return None
    mark = (store.run(run_id)["meta"].get("ranks") or {}).get(str(rank)) or {}
    return None if mark.get("status", "running") != "running" else run_id


@contextmanager
def follow(ranks: Ranks, db: str | os.PathLike | None, strict: bool) -> Iterator[FollowerRun]:
    """A rank other than 0 inside ``start_run``: attach, register, yield, mark the exit.

    No run is ever made here: a rank that cannot find its job's run warns once and logs nothing
    (``strict``: raises)."""
    try:
        store, run_id, why = _find(ranks, db)
        if run_id is not None:
            store.register_rank(run_id, ranks.rank, status="running", **ranks_mod.describe(ranks))
    except STORE_FAULTS as exc:
        store, run_id, why = None, None, str(exc)
    if run_id is None:
        message = f"traindoc: rank {ranks.rank} found no run of its job ({why}); its log() calls are dropped"
        if strict:
            raise RuntimeError(message)
        _warn(message + " — rank 0's run holds the job's metrics")
    run = FollowerRun(store, run_id, ranks)
    try:
        yield run
    except BaseException as exc:
        run.leave(exc, strict)
        raise
    run.leave(None, strict)
