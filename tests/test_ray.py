"""The Ray executor on a real two-node Ray cluster on this host (head + one worker node).

Why a real cluster and not ``ray.init()`` in-process: what broke before (a store proxy the
lifecycle could not use, runs that never left the head, a lost node) only shows with a
second raylet. One cluster serves the module; it is stopped, by the pids of its processes,
even when a test fails. The fault test kills the worker node, so it runs last.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# This module's clusters authenticate with a token of their own (Ray 2.59+ authenticates local
# clusters by a token, by default the one in ~/.ray/auth_token, which another cluster on the host may
# have replaced). Ray reads the setting when it is first imported, so it is set before that.
_AUTH_DIR = Path(tempfile.mkdtemp(prefix="tdray-auth-"))
(_AUTH_DIR / "token").write_text(secrets.token_hex(32))
(_AUTH_DIR / "token").chmod(0o600)
os.environ.update({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(_AUTH_DIR / "token")})
atexit.register(shutil.rmtree, _AUTH_DIR, True)
ray = pytest.importorskip("ray")

from runner import plan  # noqa: E402 - after the skip: nothing to test without Ray
from runner.presets import PRESETS  # noqa: E402
from runner.store import ACTIVE, Store  # noqa: E402

pytestmark = pytest.mark.slow  # a real two-node Ray cluster

RAY = str(Path(sys.executable).with_name("ray")) if Path(sys.executable).with_name("ray").exists() else "ray"
START_TIMEOUT = 240.0  # a loaded two-core box starts a node in ~5-60 s
RUN_TIMEOUT = 300.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node_ports() -> list[str]:
    """Explicit ports for the per-node services whose defaults are fixed (two nodes on one host)."""
    return ["--dashboard-agent-listen-port", str(_free_port()), "--metrics-export-port", str(_free_port()),
            "--runtime-env-agent-port", str(_free_port())]


@dataclass
class Cluster:
    address: str
    head: subprocess.Popen
    worker: subprocess.Popen
    temp: Path

    def alive(self) -> list[dict[str, Any]]:
        return [n for n in ray.nodes() if n["Alive"]]

    def worker_node_id(self) -> str:
        return next(n["NodeID"] for n in self.alive() if "node:__internal_head__" not in n["Resources"])

    @staticmethod
    def kill_node(proc: subprocess.Popen) -> list[int]:
        """SIGKILL every process of a node: ``ray start --block`` leads a session its raylet,
        agents and workers share (workers have their own process group, not their own session)."""
        pids = _pids(lambda pid: os.getsid(pid) == proc.pid)
        _kill(pids)
        proc.wait(timeout=30)
        return pids


def _pids(match: Any) -> list[int]:
    """This host's processes for which ``match(pid)`` holds (ours only: by session or command line)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            with contextlib.suppress(OSError):  # gone meanwhile, or not ours to read
                if match(int(entry)):
                    found.append(int(entry))
    return found


def _kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):  # gone meanwhile
            os.kill(pid, signal.SIGKILL)


def _wait(what: str, ok: Any, timeout: float, every: float = 0.5, nodes: tuple[subprocess.Popen, ...] = ()) -> Any:
    """Poll ``ok()`` until it is truthy; fail at once when a node's ``ray start`` has exited."""
    deadline = time.monotonic() + timeout
    while True:
        for node in nodes:
            assert node.poll() is None, f"ray start exited ({node.returncode}) while waiting for {what}: {node.args}"
        try:
            value = ok()
        except Exception:  # noqa: BLE001 - not up yet
            value = None
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)


def _connect(address: str) -> bool:
    ray.init(address=address, log_to_driver=False)
    return True


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A head (1 CPU) and a worker node (1 CPU) on this host, ready when ``ray.nodes()`` shows both."""
    temp = Path(tempfile.mkdtemp(prefix="tdray-", dir="/tmp"))  # short: Ray's socket paths must fit 107 bytes
    # a dead node is declared after 3 missed health checks of 1 s (Ray's default: 5 of 3 s)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_health_check_period_ms": "1000",
           "RAY_health_check_failure_threshold": "3"}
    port = _free_port()
    address = f"127.0.0.1:{port}"
    # fewer processes to start on a loaded box: no log monitor (no logs go to drivers), no autoscaler
    common = ["--num-cpus", "1", "--disable-usage-stats", "--include-log-monitor", "false", "--block"]
    logs = []
    procs: list[subprocess.Popen] = []

    def start(args: list[str], name: str) -> subprocess.Popen:
        log = open(temp / f"{name}.log", "w")  # noqa: SIM115 - closed in teardown
        logs.append(log)
        proc = subprocess.Popen([RAY, "start", *args, *common, *_node_ports()], stdout=log,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)
        procs.append(proc)
        return proc

    try:
        head = start(["--head", "--port", str(port), "--temp-dir", str(temp / "t"), "--include-dashboard", "false",
                      "--no-monitor", "--ray-client-server-port", str(_free_port()),
                      "--dashboard-port", str(_free_port())], "head")
        try:
            _wait("the head node", lambda: _connect(address), START_TIMEOUT, every=1.0, nodes=(head,))
        except AssertionError as exc:  # say why: the node's own last lines
            raise AssertionError(f"{exc}; head log: {(temp / 'head.log').read_text()[-1500:]}") from None
        worker = start(["--address", address], "worker")
        c = Cluster(address, head, worker, temp)
        _wait("the worker node", lambda: len(c.alive()) == 2, START_TIMEOUT, nodes=(head, worker))
        yield c
    finally:
        ray.shutdown()
        for proc in reversed(procs):
            Cluster.kill_node(proc)
        # anything of this cluster's left outside the two sessions (found by its temp dir); never
        # `ray stop`, which would stop every Ray cluster on the host, other users' included
        _kill(_pids(lambda pid: str(temp).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()))
        for log in logs:
            log.close()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(autouse=True)
def _fast_scheduler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAINDOC_SCHEDULER_IDLE", "0.5")


def _finish(store: Store, group_id: int, timeout: float = RUN_TIMEOUT) -> list[dict[str, Any]]:
    """Every run of the group once none is active."""
    _wait("the sweep to end", lambda: not store.runs(group_id=group_id).status.isin(ACTIVE).any(), timeout)
    return [store.run(int(i)) for i in store.runs(group_id=group_id).id]


def _config(preset: str, **overrides: Any) -> dict[str, Any]:
    return PRESETS[preset].config(overrides).to_flat()


def test_a_sweep_spreads_over_both_nodes_and_every_row_reaches_the_store(cluster: Cluster, tmp_path: Path) -> None:
    """Each run trains on its own node (one CPU each), records it, and its rows all reach the head's file;
    the live doctor, asked at launch, watches from the head and stops the diverging run."""
    store = Store(tmp_path / "ray.db")
    # 2000 epochs (24,000 steps): minutes, so only the doctor's stop ends it within the test
    sweep = plan.Plan("lr", _config("divergence", **{"train.epochs": 2000}), executor="ray",
                      address=cluster.address, extra_spec={"stop_on": ["divergence"]},
                      variants=(("lr 5", {"optim.lr": 5.0}), ("lr 0.05", {"optim.lr": 0.05, "train.epochs": 3})))
    group_id, (diverging, healthy) = plan.submit(store, sweep)
    _finish(store, group_id)
    # the doctor ends a run before its worker has left the loop; the worker's counts follow
    _wait("the row counts", lambda: all("rows_received" in store.run(i)["meta"] for i in (diverging, healthy)),
          RUN_TIMEOUT)
    runs = {i: store.run(i) for i in (diverging, healthy)}

    assert runs[healthy]["status"] == "finished", runs[healthy]["error"]
    assert runs[diverging]["status"] == "stopped", runs[diverging]["error"]
    assert runs[diverging]["meta"]["stopped_by"]["rule"] == "divergence"
    nodes = {n["NodeID"] for n in cluster.alive()}
    assert {r["meta"]["ray_node_id"] for r in runs.values()} == nodes  # one run on each node
    for run in runs.values():
        meta = run["meta"]
        assert meta["executor"] == "ray" and meta["ray_host"] == socket.gethostname()
        assert meta["ray_worker_pid"] != meta["scheduler_pid"]
        stored = len(store.metrics(run["id"]))
        # logged on the worker = acknowledged to it = received by the actor = stored
        assert stored > 0 and meta["rows_logged"] == meta["rows_written"] == meta["rows_received"] == stored
    assert runs[healthy]["progress"] == 1.0
    assert store.metric_series(healthy, "val/loss")[0].size == 3  # one per epoch
    # the stop reached the worker's loop: it left long before its 2000 epochs
    assert runs[diverging]["last_step"] < 2000 * 12 / 2


def test_a_slow_store_holds_the_logging_back_instead_of_queueing_rows(cluster: Cluster, tmp_path: Path) -> None:
    """Back-pressure through the actor: while the head's file is locked, the actor's write waits, so does
    the sink's writer thread (one call at a time), and once the sink's bounded queue is full ``log`` waits.
    Rows are held back, never piled up or dropped: released, all of them reach the store."""
    from runner.ray_executor import StoreWriter, _ActorStore
    from runner.sink import MetricSink

    db = tmp_path / "ray.db"
    store = Store(db)
    run_id = store.create_run("slow store", status="running")
    writer = StoreWriter.remote(str(db))
    sink = MetricSink(_ActorStore(writer), run_id, flush_every=10, flush_seconds=3600, max_batches=2)
    lock = sqlite3.connect(db, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # another writer holds the file (well under the 30 s busy timeout)
    done = threading.Event()

    def train() -> None:
        for step in range(1000):
            sink.log({"train/loss": 1.0}, step=step)
        done.set()

    loop = threading.Thread(target=train, daemon=True)
    loop.start()
    try:
        _wait("the sink's queue to fill", sink._queue.full, 60, every=0.05)
        # held back: 2 batches queued, 1 in the writer's hands, 1 waiting to be queued
        assert not done.is_set() and sink.rows_logged <= 4 * 10
    finally:
        lock.execute("ROLLBACK")
    loop.join(timeout=120)
    sink.close()
    assert done.is_set()
    assert sink.rows_logged == sink.rows_written == len(store.metrics(run_id)) == 1000
    ray.kill(writer)


def test_a_node_lost_mid_run_crashes_its_run_and_the_sweep_goes_on(cluster: Cluster, tmp_path: Path) -> None:
    """Kill the worker node while a run trains there: the run ends ``crashed`` with Ray's reason and keeps
    its rows; the next run of the sweep trains on the head under the same scheduler and finishes.

    Placement is made certain, not left to timing: a sleeping task holds the head's CPU until the kill,
    so the sweep's first run (one at a time) can only go to the worker node, and it is far too long to
    end by itself first."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    store = Store(tmp_path / "ray.db")
    worker_node = cluster.worker_node_id()
    head_node = next(n["NodeID"] for n in cluster.alive() if n["NodeID"] != worker_node)
    def sleep(seconds: float) -> None:  # local: Ray ships it by value, no test module on the workers
        time.sleep(seconds)

    hold = ray.remote(sleep).options(num_cpus=1, scheduling_strategy=NodeAffinitySchedulingStrategy(
        head_node, soft=False)).remote(RUN_TIMEOUT)
    _wait("the head's CPU to be held", lambda: ray.available_resources().get("CPU", 0) == 1, START_TIMEOUT)
    sweep = plan.Plan("fault", _config("adam_eps_small"), executor="ray", address=cluster.address, concurrency=1,
                      variants=(("long", {"train.epochs": 5000}), ("after", {"train.epochs": 2})))
    group_id, (long, after) = plan.submit(store, sweep)
    _wait("the long run to store rows on the worker node",
          lambda: store.run(long)["status"] == "running" and (store.run(long)["last_step"] or 0) > 0, RUN_TIMEOUT)
    assert store.run(long)["meta"]["ray_node_id"] == worker_node
    assert Cluster.kill_node(cluster.worker)
    ray.cancel(hold, force=True)  # the head's CPU is free for the rest of the sweep
    runs = {r["id"]: r for r in _finish(store, group_id)}

    crashed = runs[long]
    assert crashed["status"] == "crashed", (crashed["status"], crashed["error"])
    assert "NodeDiedError" in crashed["error"] and worker_node in crashed["error"]  # Ray's reason, kept
    assert len(store.metrics(long)) > 0  # what reached the store before the node died stays
    assert runs[after]["status"] == "finished", runs[after]["error"]
    assert runs[after]["meta"]["ray_node_id"] == head_node
    assert runs[after]["meta"]["scheduler_pid"] == crashed["meta"]["scheduler_pid"]  # one scheduler throughout
    assert len(store.metrics(after)) == runs[after]["meta"]["rows_logged"] > 0
