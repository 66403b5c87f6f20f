"""Sweep runs as Ray tasks on a cluster; their metrics reach the one store through a Ray actor.

Why this shape: the SQLite file lives on the machine of the scheduler (the head node);
workers elsewhere cannot open it. So one actor, pinned to the scheduler's node, owns a
``Store`` and is the only writer for Ray runs. On a worker the unchanged training loop
logs into the usual :class:`MetricSink`, whose store is a thin proxy: each batch the
sink would have written in one transaction becomes one actor call (Ray's own
transport: no home-made protocol). The worker's writer thread waits for each call, and
the sink's queue is bounded, so a slow head slows the loop (back-pressure) instead of
piling batches up in memory. The heartbeat's answer carries the run's status, so a
cancel in the UI, or a stop by the live doctor (which reads the file, so it runs in the
actor), reaches the remote loop within a heartbeat.

Each run records where it ran (``ray_node_id``, ``ray_host``, ``ray_node_ip``,
``ray_worker_pid`` in its meta). A task is never retried: when its node dies the run
ends ``crashed`` with Ray's reason, keeping the rows already stored.

Optional extra: ``pip install -r requirements-ray.txt``. Workers need the same Python
packages (torch, scikit-learn, ...); traindoc's own packages are shipped with the job
through ``runtime_env={"py_modules": [...]}``.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ray
from ray.exceptions import RayTaskError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from runner.store import Store

if TYPE_CHECKING:
    from runner.lifecycle import WatchFactory

RUNNER_DIR = Path(__file__).resolve().parent
# shipped to every worker: runner imports traindoc's vocabulary; the head's live doctor, diagnostics
PY_MODULES = [str(RUNNER_DIR.parent / name) for name in ("runner", "traindoc", "diagnostics")]


def _first_line(exc: BaseException) -> str:
    """Ray's errors carry pages of traceback; the stored reason is their first line."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


@ray.remote(num_cpus=0)
class StoreWriter:
    """The single writer of Ray runs' rows into the store (lives on the scheduler's node).

    It also hosts the live doctor of the runs that asked for one: the doctor reads the store,
    which only this node has. Calls from one worker run in order, one at a time, so a worker
    waiting on ``write`` is the back-pressure: its sink's queue is bounded (``MetricSink``).
    """

    def __init__(self, db: str, watch: WatchFactory | None = None) -> None:
        """``watch``: the live doctor's factory the scheduler's entry point handed in (None: no doctor)."""
        if not Path(db).exists():  # a client elsewhere (ray://): a new empty file here would swallow the rows
            raise FileNotFoundError(f"{db} is not on the node this actor runs on: run traindoc on the head node")
        self.store = Store(db)
        self.rows: dict[int, int] = {}  # rows received per run: what the workers handed over
        self.doctors: dict[int, Any] = {}
        self.make_watcher = watch

    def write(self, rows: Sequence[tuple]) -> int:
        for row in rows:
            self.rows[row[0]] = self.rows.get(row[0], 0) + 1
        return self.store.write_metrics(list(rows))

    def heartbeat(self, run_id: int, progress: float | None) -> str:
        """Beat, and tell the worker the run's status (``cancelled``/``stopped`` mean stop)."""
        return self.store.heartbeat(run_id, progress)

    def mark_running(self, run_id: int, device: str, pid: int | None) -> bool:
        return self.store.mark_running(run_id, device=device, pid=pid)

    def update_meta(self, run_id: int, fields: dict[str, Any]) -> None:
        self.store.update_meta(run_id, **fields)

    def finish(self, run_id: int, status: str, error: str | None) -> bool:
        """The worker's verdict; the rows this actor received for the run go in its meta first (a
        third count beside the worker's logged/acknowledged and the rows stored)."""
        self.store.update_meta(run_id, rows_received=self.rows.pop(run_id, 0))
        return self.store.finish(run_id, status, error=error)

    def watch(self, run_id: int) -> bool:
        """Start the live doctor for a run that asked for one (here, beside the file); True if started."""
        doctor = self.make_watcher(self.store, run_id) if self.make_watcher is not None else None
        if doctor is not None:
            self.doctors[run_id] = doctor
        return doctor is not None

    def unwatch(self, run_id: int) -> None:
        doctor = self.doctors.pop(run_id, None)
        if doctor is not None:
            doctor.close()


class _ActorStore:
    """The lifecycle writes a run makes (``runner.lifecycle``), forwarded to the actor: a worker has no file."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer
        self.status: str | None = None  # the last heartbeat's answer

    def write_metrics(self, rows: Sequence[tuple]) -> int:
        return ray.get(self.writer.write.remote(rows))  # blocking: batches stay ordered, memory bounded

    def heartbeat(self, run_id: int, progress: float | None = None) -> str:
        self.status = ray.get(self.writer.heartbeat.remote(run_id, progress))
        return self.status

    def mark_running(self, run_id: int, device: str, pid: int | None = None) -> bool:
        return ray.get(self.writer.mark_running.remote(run_id, device, pid))

    def update_meta(self, run_id: int, **fields: Any) -> None:
        ray.get(self.writer.update_meta.remote(run_id, fields))

    def finish(self, run_id: int, status: str, error: str | None = None) -> bool:
        return ray.get(self.writer.finish.remote(run_id, status, error))


class _HeadDoctor:
    """The worker's side of a live doctor running in the actor: a stop arrives as a heartbeat's answer."""

    def __init__(self, store: _ActorStore, run_id: int) -> None:
        self.store = store
        self.run_id = run_id

    @property
    def stop_requested(self) -> bool:
        return self.store.status == "stopped"

    def close(self) -> None:
        ray.get(self.store.writer.unwatch.remote(self.run_id))


def _watch_from_head(store: _ActorStore, run_id: int) -> _HeadDoctor | None:
    """The watcher handed to the lifecycle on a worker: the doctor reads the store on the head."""
    return _HeadDoctor(store, run_id) if ray.get(store.writer.watch.remote(run_id)) else None


def where() -> dict[str, Any]:
    """The node this task runs on, as recorded in the run's meta (and shown on the run page)."""
    ctx = ray.get_runtime_context()
    return {"ray_node_id": ctx.get_node_id(), "ray_host": socket.gethostname(),
            "ray_node_ip": ray.util.get_node_ip_address(), "ray_worker_pid": os.getpid()}


# max_retries=0: a run is not silently re-run elsewhere when its node dies (its rows would
# double up); the scheduler records it ``crashed`` with Ray's reason instead.
@ray.remote(num_cpus=1, max_retries=0)
def train_task(run_id: int, config: dict[str, Any], writer: Any, scheduler_pid: int) -> tuple[str, str | None]:
    """The body of one Ray run: the same lifecycle as a local run, its writes through the actor.

    The run's pid is the scheduler's (on the head, where the file is): it babysits the task.
    """
    from runner.lifecycle import train_run

    ray.get(writer.update_meta.remote(run_id, where()))
    return train_run(_ActorStore(writer), run_id, config, threading.Event(), pid=scheduler_pid,
                     watch=_watch_from_head)


class RayExecutor:
    """Submits runs as Ray tasks and records their outcome; lives inside the scheduler process."""

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None,
                 watch: WatchFactory | None = None) -> None:
        runtime_env = {"py_modules": PY_MODULES}
        if address:
            ray.init(address=address, runtime_env=runtime_env, ignore_reinit_error=True, log_to_driver=False)
        else:  # a local Ray instance on this machine
            cpus = num_cpus or int(os.environ.get("TRAINDOC_RAY_CPUS", "0")) or None
            ray.init(num_cpus=cpus, runtime_env=runtime_env, ignore_reinit_error=True, include_dashboard=False,
                     log_to_driver=False)
        self._writers: dict[str, Any] = {}
        self._watch = watch
        self._inflight: dict[Any, int] = {}

    def _writer(self, store: Store) -> Any:
        db = str(store.path.resolve())
        if db not in self._writers:  # on this (the head's) node: the DB file is here
            here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
            self._writers[db] = StoreWriter.options(scheduling_strategy=here).remote(db, self._watch)
        return self._writers[db]

    def start(self, store: Store, run_id: int) -> bool:
        if not store.claim_queued(run_id, pid=os.getpid()):
            return False
        task = train_task.options(scheduling_strategy="SPREAD")  # a sweep spreads over the nodes
        ref = task.remote(run_id, store.run(run_id)["config"], self._writer(store), os.getpid())
        self._inflight[ref] = run_id
        return True

    def poll(self, store: Store) -> None:
        if not self._inflight:
            return
        done, _ = ray.wait(list(self._inflight), num_returns=len(self._inflight), timeout=0)
        for ref in done:
            run_id = self._inflight.pop(ref)
            try:
                status, error = ray.get(ref)
            except RayTaskError as exc:  # the task's own code raised: a bug, not a lost machine
                cause = exc.cause if isinstance(exc.cause, BaseException) else exc
                status, error = "failed", f"Ray task failed: {type(cause).__name__}: {_first_line(cause)}"
            except Exception as exc:  # noqa: BLE001 - a node or worker lost: the run did not end by itself
                status, error = "crashed", f"Ray lost the run's worker: {type(exc).__name__}: {_first_line(exc)}"
            store.finish(run_id, status, error=error)

    def busy(self) -> bool:
        return bool(self._inflight)

    def close(self) -> None:
        ray.shutdown()
