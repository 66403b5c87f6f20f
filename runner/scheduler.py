"""The one scheduler: starts queued runs of every group, within each group's concurrency limit.

Why one process and not a loop in the page: the queue lives in the database, so any
number of browser sessions and CLIs may add to it, and exactly one process (holding
the ``scheduler`` lock row) turns queued runs into running ones. Whoever queues runs,
and whoever reads the queue (``list``, the overview), calls :func:`ensure_running`; if no
live scheduler holds the lock it spawns one and records the child as the holder in the
same transaction, so a spawn pending is a lock held and nobody spawns a second. The child
takes the lock before any heavy import (``runner.boot``); a scheduler started by hand that
finds the lock held exits before importing anything. The
scheduler leaves when nothing is queued and nothing depends on it, releasing the lock
in the same transaction that checks the queue, so a run queued meanwhile is never
orphaned.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from runner import boot, executors, launcher
from runner.store import ACTIVE, Store

if TYPE_CHECKING:
    from runner.lifecycle import WatchFactory

# Two cores run two trainings at full speed; more only queue for the CPU.
DEFAULT_MAX_PARALLEL = int(os.environ.get("TRAINDOC_MAX_PARALLEL", str(os.cpu_count() or 2)))
POLL_SECONDS = float(os.environ.get("TRAINDOC_SCHEDULER_POLL", "0.5"))
# linger a little: a session often queues a second group right after the first
IDLE_EXIT_SECONDS = float(os.environ.get("TRAINDOC_SCHEDULER_IDLE", "3"))


def plan_starts(active: list[dict[str, Any]], max_parallel: int) -> list[dict[str, Any]]:
    """Which queued runs to start now: oldest first, within each group's limit and the global one.

    ``active`` rows are ``{"id", "group_id", "status", "spec"}`` (``Store.active_queue``).
    A run outside any group counts against the global limit only.
    """
    running = Counter(r["group_id"] for r in active if r["status"] != "queued")  # stalled still holds a slot
    total = sum(running.values())
    picked = []
    for row in active:
        if row["status"] != "queued" or total >= max_parallel:
            continue
        limit = int(row["spec"].get("concurrency") or max_parallel)
        group = row["group_id"]
        if group is not None and running[group] >= limit:
            continue
        picked.append(row)
        running[group] += 1
        total += 1
    return picked


class Scheduler:
    """The loop body, separated from the process so tests can drive single ticks."""

    def __init__(self, store: Store, max_parallel: int = DEFAULT_MAX_PARALLEL,
                 watch: WatchFactory | None = None) -> None:
        """``watch``: the entry point's live doctor, for runs that train in this process's reach (Ray's
        head); a local run's own process gets it from its entry point."""
        self.store = store
        self.watch = watch
        self.max_parallel = max_parallel
        self.pid = os.getpid()
        self._executors: dict[tuple[str, str | None], executors.Executor] = {}

    def tick(self) -> int:
        """One pass: reconcile, let executors collect, start what fits; returns runs still queued."""
        self.store.reconcile()
        for ex in self._executors.values():
            ex.poll(self.store)
        active = self.store.active_queue()
        for row in plan_starts(active, self.max_parallel):
            self._start(row)
        return sum(r["status"] == "queued" for r in self.store.active_queue())

    def _start(self, row: dict[str, Any]) -> None:
        if "_bad_spec" in row["spec"]:
            self.store.finish(row["id"], "failed", error=f"bad config: {row['spec']['_bad_spec']}")
            return
        try:
            key = executors.executor_key(row["spec"])
            ex = self._executors.get(key) or self._executors.setdefault(key, executors.build(*key, watch=self.watch))
        except Exception as exc:  # noqa: BLE001 - a bad executor fails its runs, not the scheduler
            self.store.finish(row["id"], "failed", error=f"executor unavailable: {type(exc).__name__}: {exc}")
            return
        if (row["spec"].get("search") or {}).get("sampler") == "tpe":
            try:  # a TPE trial's values come from the trials finished so far
                from runner.search import assign

                assign(self.store, row["id"])
            except Exception as exc:  # noqa: BLE001 - a trial that cannot be drawn fails, the queue goes on
                self.store.finish(row["id"], "failed", error=f"search: {type(exc).__name__}: {exc}")
                return
        try:
            # recorded before the start, so a cancel already knows how to reach the run
            self.store.update_meta(row["id"], scheduler_pid=self.pid, executor=ex.name)
            ex.start(self.store, row["id"])
        except (ValueError, TypeError) as exc:  # a damaged row fails that run; the queue goes on
            self.store.finish(row["id"], "failed", error=f"bad config: {type(exc).__name__}: {exc}")

    def busy(self) -> bool:
        return any(ex.busy() for ex in self._executors.values())

    def close(self) -> None:
        for ex in self._executors.values():
            ex.close()

    def serve(self, poll: float = POLL_SECONDS, idle_exit: float = IDLE_EXIT_SECONDS) -> bool:
        """Hold the lock and schedule until idle; False when another scheduler already holds it."""
        if not self.store.acquire_scheduler(self.pid):
            return False
        lost = threading.Event()
        stop = threading.Event()
        # the lock is kept fresh off the loop: connecting to Ray can take longer than the stale limit
        beat = threading.Thread(target=self._beat, args=(poll, stop, lost), daemon=True, name="scheduler-beat")
        beat.start()
        boot.stop_beating()  # the cheap entry's beat, if this process started through it
        idle_since: float | None = None
        try:
            while not lost.is_set():
                queued = self.tick()
                if queued or self.busy():
                    idle_since = None
                elif idle_since is None:
                    idle_since = time.monotonic()
                elif time.monotonic() - idle_since >= idle_exit and \
                        self.store.release_scheduler(self.pid, only_if_idle=True):
                    return True
                time.sleep(poll)
            return True  # declared stale and replaced: the newer scheduler carries on
        finally:
            stop.set()
            self.close()
            self.store.release_scheduler(self.pid)

    def _beat(self, every: float, stop: threading.Event, lost: threading.Event) -> None:
        while not stop.wait(every):
            if not self.store.scheduler_beat(self.pid):
                lost.set()
                return


def ensure_running(store: Store) -> int | None:
    """Start the shared scheduler unless a live one holds the lock (or is being spawned); returns the
    new pid, if any."""
    if store.scheduler_holder() is not None:  # the cheap common answer, without a write
        return None
    log = launcher.log_path(store, 0).with_name("scheduler.log")

    def spawn() -> int:
        with open(log, "ab") as out:
            return subprocess.Popen(
                launcher.runner_argv(store, "_scheduler"),
                env=launcher.child_env(), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives the page or CLI that asked for it
            ).pid

    return store.spawn_scheduler(spawn)


def revive(store: Store) -> int | None:
    """For readers: restart a dead scheduler when runs wait in the queue (e.g. it was killed)."""
    if not store.queued(limit=1):
        return None
    return ensure_running(store)


def wait_for(store: Store, group_id: int) -> None:
    """Stay in the foreground until every run of the group has ended (``--wait``), with a count on stderr;
    a scheduler that died meanwhile is started again so the queue drains."""
    shown = -1
    while True:
        runs = store.runs(group_id=group_id)
        done = int((~runs.status.isin(ACTIVE)).sum())
        if done != shown:
            print(f"\r[group {group_id}] {done}/{len(runs)} done", end="", file=sys.stderr, flush=True)
            shown = done
        if done == len(runs):
            print(file=sys.stderr)
            return
        if (runs.status == "queued").any():
            ensure_running(store)  # e.g. the scheduler was killed: a new one takes over
        time.sleep(0.5)
