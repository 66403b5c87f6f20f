"""Reliability under load and faults: a live run is never declared dead, one scheduler per
database, no hang, no silent loss (issue 14). Each test names the defect it pins down."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from runner import cli, launcher, procs, scheduler
from runner.execute import execute
from runner.presets import PRESETS
from runner.sink import MetricSink
from runner.store import STALE_AFTER_SECONDS, Store, StoreError
from runner.store.base import SCHEDULER_HUNG_FACTOR, SCHEDULER_STALE_SECONDS
from runner.store.liveness import VERDICT

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def sleeper() -> subprocess.Popen:
    """A live process on this host standing in for a run's process."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def _late() -> float:
    return time.time() + STALE_AFTER_SECONDS + 5


# -- 1. live runs are never marked crashed -------------------------------------------------
def test_a_live_process_with_a_late_beat_is_stalled_never_crashed(store: Store, sleeper: subprocess.Popen) -> None:
    run_id = store.create_run("slow start")
    store.mark_running(run_id, pid=sleeper.pid)
    assert store.reconcile(now=_late()) == []
    run = store.run(run_id)
    assert run["status"] == "stalled"
    assert "process" in run["meta"]["verdicts"][-1]["why"]
    assert store.heartbeat(run_id) == "running"  # it beats again: running, and the story is kept
    assert [v["status"] for v in store.run(run_id)["meta"]["verdicts"]] == ["stalled", "running"]


def test_a_reused_pid_is_not_the_run(store: Store) -> None:
    run_id = store.create_run("gone")
    store.mark_running(run_id, pid=os.getpid())
    store.conn.execute("UPDATE runs SET pid_started = pid_started - 100 WHERE id=?", (run_id,))
    assert store.reconcile() == [run_id]
    assert "is gone" in store.run(run_id)["error"]


def test_a_run_judged_crashed_that_beats_again_is_running_and_can_finish(store: Store) -> None:
    run_id = store.create_run("remote")
    store.mark_running(run_id, pid=4242)
    store.conn.execute("UPDATE runs SET host='elsewhere' WHERE id=?", (run_id,))
    assert store.reconcile(now=_late()) == [run_id]
    assert store.run(run_id)["status"] == "crashed"
    assert store.heartbeat(run_id, progress=0.5) == "running"
    run = store.run(run_id)
    assert (run["status"], run["error"], run["ended_at"]) == ("running", None, None)
    assert run["meta"]["verdicts"][-1]["why"].startswith("beat again after being judged crashed")
    store.finish(run_id, "finished")
    assert store.run(run_id)["status"] == "finished"


def test_the_true_end_overturns_a_guessed_crash_but_not_a_cancel(store: Store) -> None:
    guessed, cancelled = store.create_run("a"), store.create_run("b")
    store.conn.execute("UPDATE runs SET status='crashed', error=? WHERE id=?", (f"{VERDICT}: no heartbeat", guessed))
    store.finish(cancelled, "cancelled", error="cancelled by user")
    for run_id in (guessed, cancelled):
        store.finish(run_id, "finished")
        store.heartbeat(run_id)
    assert store.run(guessed)["status"] == "finished"
    assert store.run(cancelled)["status"] == "cancelled"


def test_cancel_signals_a_stalled_run_and_a_live_run_judged_crashed(store: Store) -> None:
    procs_ = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) for _ in range(2)]
    try:
        stalled, judged = store.create_run("stalled"), store.create_run("judged")
        store.mark_running(stalled, pid=procs_[0].pid)
        store.mark_running(judged, pid=procs_[1].pid)
        store.reconcile(now=_late())
        store.conn.execute("UPDATE runs SET status='crashed', error=? WHERE id=?", (f"{VERDICT}: late", judged))
        assert launcher.cancel(store, stalled) == "cancelled"
        assert launcher.cancel(store, judged) == "cancelled"
        assert [p.wait(timeout=10) for p in procs_] == [-signal.SIGTERM, -signal.SIGTERM]
    finally:
        for p in procs_:
            p.kill()
            p.wait()


def test_the_spawned_process_beats_before_any_heavy_import(store: Store) -> None:
    run_id = store.create_run("starting")
    assert store.claim_queued(run_id, pid=os.getpid())
    store.conn.execute("UPDATE runs SET heartbeat=0 WHERE id=?", (run_id,))
    before = time.time()  # the beat must be the child's, written after this (not a clock tolerance)
    probe = ("import sys, time; from runner import boot; boot.prepare(sys.argv[1:]); time.sleep(2.5);"
             "print(sorted(m for m in ('torch', 'sklearn', 'pandas', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe, "--db", str(store.path), "_exec", str(run_id)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    run = store.run(run_id)
    assert out.stdout.strip() == "[]"  # beat, pid and start time written with the standard library only
    assert run["heartbeat"] >= before and run["pid"] != os.getpid() and run["pid_started"] > 0


def test_a_cancelled_run_exits_at_the_cheap_entry(store: Store) -> None:
    run_id = store.create_run("cancelled early")
    store.finish(run_id, "cancelled", error="cancelled by user")
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "runner", "--db", str(store.path), "_exec",
                          str(run_id)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    imported = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines()}
    assert out.returncode == 1 and not imported & {"torch", "pandas"}


# -- 2. one scheduler per database -----------------------------------------------------------
def _kill(pid: int | None) -> None:
    if pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_a_burst_of_ensure_running_spawns_one_scheduler(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAINDOC_SCHEDULER_IDLE", "0.5")
    Store(db_path)
    spawned: list[int | None] = []
    gate = threading.Barrier(8)

    def ask() -> None:
        store = Store(db_path)
        gate.wait()
        spawned.append(scheduler.ensure_running(store))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pids = [p for p in spawned if p]
    try:
        assert len(pids) == 1, spawned
        assert scheduler.ensure_running(Store(db_path)) is None  # still pending or serving: no second
    finally:
        for pid in pids:
            _kill(pid)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def test_a_scheduler_that_finds_the_lock_held_exits_before_heavy_imports(db_path: Path) -> None:
    store = Store(db_path)
    assert store.acquire_scheduler(os.getpid())
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "runner", "--db", str(db_path), "_scheduler"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    imported = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines()}
    assert not imported & {"pandas", "numpy", "torch", "runner.cli"}, sorted(imported & {"pandas", "torch"})


def test_a_running_scheduler_with_a_late_beat_is_not_replaced_until_it_looks_hung(db_path: Path) -> None:
    """A beat can wait on the write lock or a starved CPU: on its own host a holder whose process
    runs keeps the lock past the stale limit (a second scheduler would run beside it); a holder
    silent far longer is hung and replaced; on another host only the beat counts."""
    store = Store(db_path)
    assert store.acquire_scheduler(os.getpid())

    def beat_ago(seconds: float, host: str | None = None) -> None:
        store.conn.execute("UPDATE scheduler SET heartbeat=?, host=? WHERE id=1",
                           (time.time() - seconds, host or socket.gethostname()))

    late = SCHEDULER_STALE_SECONDS * 2
    beat_ago(late)
    assert store.scheduler_holder() is not None
    assert not store.acquire_scheduler(os.getpid() + 1)
    beat_ago(SCHEDULER_STALE_SECONDS * (SCHEDULER_HUNG_FACTOR + 1))
    assert store.scheduler_holder() is None
    beat_ago(late, host="another-host")
    assert store.scheduler_holder() is None


def test_list_restarts_a_killed_scheduler_when_runs_wait(db_path: Path, capsys: pytest.CaptureFixture) -> None:
    store = Store(db_path)
    run_id = store.create_run("waiting")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store.conn.execute("INSERT INTO scheduler (id, pid, host, heartbeat, started_at) VALUES (1,?,?,?,?)",
                       (dead.pid, os.uname().nodename, time.time(), time.time()))
    holder = None
    try:
        assert cli.main(["--db", str(db_path), "list"]) == 0
        holder = store.scheduler_holder()
        assert holder is not None and holder["pid"] != dead.pid
    finally:
        store.request_cancel(run_id)
        _kill(holder and holder["pid"])


class _RecordingExecutor:
    """Starts runs the way the Ray executor does (reading the stored row), without processes."""

    name = "local"

    def __init__(self) -> None:
        self.started: list[int] = []

    def start(self, store: Store, run_id: int) -> bool:
        store.run(run_id)  # a damaged row raises here, as it would in a real executor
        self.started.append(run_id)
        return store.claim_queued(run_id, pid=os.getpid())

    def poll(self, store: Store) -> None:
        pass

    def busy(self) -> bool:
        return False

    def close(self) -> None:
        pass


def test_a_bad_queued_row_fails_that_run_and_the_queue_goes_on(store: Store,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    ex = _RecordingExecutor()
    monkeypatch.setattr(scheduler.executors, "build", lambda *_, **__: ex)
    bad_json, good = store.create_run("bad json"), store.create_run("good")
    store.conn.execute("UPDATE runs SET config='{not json' WHERE id=?", (bad_json,))
    bad_group = store.create_group("bad spec")
    in_bad_group = store.create_run("in a bad group", group_id=bad_group)
    store.conn.execute("UPDATE groups SET spec='[1,2' WHERE id=?", (bad_group,))
    scheduler.Scheduler(store, max_parallel=4).tick()
    assert ex.started == [good]
    assert store.conn.execute("SELECT status FROM runs WHERE id=?", (good,)).fetchone()[0] == "running"
    for run_id in (bad_json, in_bad_group):
        status, error = store.conn.execute("SELECT status, error FROM runs WHERE id=?", (run_id,)).fetchone()
        assert status == "failed" and error.startswith("bad config:"), (status, error)


@pytest.mark.parametrize(("config", "expected"), [
    ("{not json", "bad config: the stored row is not JSON"),
    ("[1,2]", "bad config: the stored config is a list, not an object"),
])
def test_a_run_with_a_damaged_config_fails_as_bad_config(store: Store, config: str, expected: str) -> None:
    run_id = store.create_run("damaged")
    store.conn.execute("UPDATE runs SET config=? WHERE id=?", (config, run_id))
    assert execute(store, run_id) == "failed"
    error = store.conn.execute("SELECT error FROM runs WHERE id=?", (run_id,)).fetchone()[0]
    assert error.startswith(expected), error


# -- 3. the sink never blocks forever --------------------------------------------------------
class _FullDisk:
    """A store whose metric writes fail as a full disk does."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def write_metrics(self, rows: list) -> int:
        time.sleep(0.05)
        raise OSError(28, "No space left on device")

    def heartbeat(self, run_id: int, progress: float | None = None) -> str:
        return self.store.heartbeat(run_id, progress)


def test_a_failing_writer_fails_the_next_log_instead_of_blocking(store: Store) -> None:
    run_id = store.create_run("full disk", status="running")
    sink = MetricSink(_FullDisk(store), run_id, flush_every=1, max_batches=2)  # type: ignore[arg-type]
    outcome: list[BaseException] = []

    def train() -> None:
        try:
            for step in range(10_000):
                sink.log({"train/loss": 1.0}, step=step)
        except RuntimeError as exc:
            outcome.append(exc)
        with contextlib.suppress(RuntimeError):
            sink.close()

    worker = threading.Thread(target=train, daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "log() blocked on a dead writer"
    assert "No space left on device" in str(outcome[0])


@pytest.mark.slow
def test_a_full_disk_fails_a_strict_api_run_and_its_script_exits(db_path: Path) -> None:
    """Strict mode (CI gates): the old contract. By default the rows are kept instead (test_log_faults.py)."""
    script = (
        "import sys, time, traindoc\n"
        "from runner.store import core\n"
        "def full(self, rows):\n"
        "    time.sleep(2)  # the queue fills meanwhile: a dead writer must not leave it full\n"
        "    raise OSError(28, 'No space left on device')\n"
        "core.Store.write_metrics = full\n"
        "with traindoc.start_run('api', db=sys.argv[1], strict=True) as run:\n"
        "    for step in range(5_000_000):\n"
        "        run.log({'train/loss': 1.0}, step=step)\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(db_path)], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 1 and "No space left on device" in out.stderr
    run = Store(db_path).run(1)
    assert run["status"] == "failed" and "No space left on device" in run["error"]


def test_json_meta_story_is_valid_json(store: Store, sleeper: subprocess.Popen) -> None:
    run_id = store.create_run("story")
    store.mark_running(run_id, pid=sleeper.pid)
    store.reconcile(now=_late())
    raw = store.conn.execute("SELECT meta FROM runs WHERE id=?", (run_id,)).fetchone()[0]
    assert json.loads(raw)["verdicts"][0]["status"] == "stalled"
    assert procs.alive(sleeper.pid, store.run(run_id)["pid_started"])


@pytest.mark.slow
def test_a_preset_still_trains_to_finished_through_the_one_lifecycle(store: Store) -> None:
    run_id = store.create_run("tiny", PRESETS["healthy"].config({"train.epochs": 1}).to_flat())
    assert execute(store, run_id) == "finished"
    assert store.metric_names(run_id)


# -- 5. a vanished or replaced database; a read-only one ---------------------------------------
@pytest.mark.parametrize("fate", ["deleted", "replaced"])
def test_a_database_deleted_or_replaced_under_a_run_fails_it_loudly(db_path: Path, fate: str) -> None:
    store = Store(db_path)
    run_id = store.create_run("r", status="running")
    store.write_metrics([(run_id, 0, None, "train/loss", 1.0, 0.0)])
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    if fate == "replaced":
        Store(db_path).create_run("a new file")
    with pytest.raises(StoreError, match=f"the database file was {fate}"):
        store.write_metrics([(run_id, 1, None, "train/loss", 1.0, 0.0)])


@pytest.mark.slow
def test_a_training_run_whose_database_vanishes_exits_with_the_error(db_path: Path) -> None:
    script = (
        "import sys, threading, os\n"
        "from runner.store import Store\n"
        "from runner.execute import execute\n"
        "from runner.presets import PRESETS\n"
        "store = Store(sys.argv[1])\n"
        "run_id = store.create_run('r', PRESETS['healthy'].config({'train.epochs': 400}).to_flat())\n"
        "def vanish():\n"
        "    for s in ('', '-wal', '-shm'):\n"
        "        if os.path.exists(sys.argv[1] + s): os.unlink(sys.argv[1] + s)\n"
        "threading.Timer(1.0, vanish).start()\n"
        "print(execute(store, run_id))\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(db_path)], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode != 0 and "the database file was deleted" in out.stderr
    assert "finished" not in out.stdout


def test_a_read_only_database_opens_read_only_and_says_so(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Store(db_path).mark_running(Store(db_path).create_run("existing"), pid=4242)  # active: a reader would judge it
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if mode == os.W_OK else real_access(p, mode))
    view = Store(db_path)  # tests run as root, who may write anything: the check is what is tested
    assert view.read_only and view.run(1)["name"] == "existing" and len(view.runs()) == 1
    with pytest.raises(StoreError, match="the database is open read-only — the file or its folder is read-only"):
        view.create_run("new")


# -- 6. imports stream, uploads are bounded --------------------------------------------------
def test_an_import_is_written_in_bounded_chunks_not_one_list(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd

    from runner.importers.base import ImportedRun

    save_module = importlib.import_module("runner.importers.save")  # the package re-exports save()

    n = 12_000
    frame = pd.DataFrame({"step": range(n), "epoch": [float("nan")] * n, "name": ["loss"] * n,
                          "value": [1.0] * n, "wall_time": [0.0] * n})
    run = ImportedRun(name="big", source="big.csv", format="csv", frame=frame, mapping={"loss": "train/loss"})
    monkeypatch.setattr(save_module, "CHUNK_ROWS", 1000)
    sizes: list[int] = []
    real = store._metric_statements
    monkeypatch.setattr(store, "_metric_statements", lambda rows: sizes.append(len(rows)) or real(rows))
    (run_id,) = save_module.save(store, [run])
    assert max(sizes) == 1000 and sum(sizes) == n  # never the whole run at once
    steps, _ = store.metric_series(run_id, "train/loss")
    assert steps.size == n and store.run(run_id)["started_at"] > 0


def test_a_zip_whose_members_inflate_past_one_upload_is_refused(store: Store) -> None:
    import io
    import zipfile

    from runner.importers.base import Limits
    from runner.importers.upload import import_upload

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for i in range(5):
            zf.writestr(f"run{i}/metrics.csv", "step,loss\n" + "1,0.5\n" * 40_000)  # 240 kB each, 1.2 MB total
    limits = Limits(max_file_bytes=1_000_000, max_total_bytes=1024 * 1024 * 1024, max_ratio=1e9)
    outcome = import_upload(store, "many.zip", buf.getvalue(), limits=limits)
    assert outcome.error and "expand to" in outcome.error and "limit" in outcome.error, outcome
    assert store.runs(reconcile=False).empty


def test_an_upload_past_its_time_budget_is_stopped_and_saves_nothing(store: Store,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from runner.importers import upload

    monkeypatch.setattr(upload, "MAX_UPLOAD_SECONDS", -1.0)
    outcome = upload.import_upload(store, "slow.csv", b"step,loss\n1,0.5\n2,0.4\n")
    assert outcome.error and "was stopped (nothing saved)" in outcome.error
    assert store.runs(reconcile=False).empty


# -- 7. safe exports and terminals, config limits, a partly corrupt file ---------------------
def test_csv_cells_that_start_like_a_formula_are_neutralised() -> None:
    import pandas as pd

    from runner.textsafe import csv_text

    text = csv_text(pd.DataFrame({"=HYPERLINK(1)": ["=cmd|' /C calc'!A0", "+1", "@SUM(A1)", "-2+3", "ok"],
                                  "value": [-1.5, 2.0, 3.0, 4.0, 5.0]}))
    lines = text.splitlines()
    assert lines[0] == "'=HYPERLINK(1),value"
    assert [line.split(",")[0] for line in lines[1:]] == ["'=cmd|' /C calc'!A0", "'+1", "'@SUM(A1)", "'-2+3", "ok"]
    assert lines[1].endswith(",-1.5")  # numbers stay numbers


def test_runner_list_escapes_control_characters_in_names(db_path: Path, capsys: pytest.CaptureFixture) -> None:
    store = Store(db_path)
    store.create_run("evil\n   9  finished  100%  forged\x1b]0;pwned\x07\x1b[31m", status="finished")
    assert cli.main(["--db", str(db_path), "list"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert len(out.strip().splitlines()) == 2  # the header and one row: no forged row
    assert "evil\\n" in out and "\\x1b]0;pwned" in out


def test_a_config_that_cannot_fit_the_machine_is_refused_with_its_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    from runner.config import ConfigError, from_flat

    monkeypatch.setenv("TRAINDOC_MEMORY_GB", "16")
    base = PRESETS["healthy"].config().to_flat()
    with pytest.raises(ConfigError, match=r"needs about 63\.0 GiB \(model 63\.0 GiB.*this machine's 16 GiB"):
        from_flat({**base, "model.width": 8192, "model.depth": 64})
    with pytest.raises(ConfigError, match=r"data 45\.8 GiB"):
        from_flat({**base, "data.name": "classification", "data.n_samples": 1_000_000, "data.n_features": 4096})
    assert from_flat({**base, "model.width": 1024, "model.depth": 4}).model.width == 1024


def test_the_overview_survives_a_partly_corrupt_database(db_path: Path) -> None:
    store = Store(db_path)
    run_id = store.create_run("damaged later")
    store.write_metrics([(run_id, i, None, "val/loss", float(i), 0.0) for i in range(30_000)])
    store.close()
    size = db_path.stat().st_size
    with open(db_path, "r+b") as fh:  # the metrics pages, past the runs table at the start
        fh.seek(size // 2)
        fh.write(b"\xff" * (size // 3))
    with pytest.raises(StoreError, match="read failed: database disk image is malformed — the file is corrupt"):
        Store(db_path).metric_series(run_id, "val/loss")
    from traindoc.ui.shared import key_metric

    assert key_metric(str(db_path), run_id, None) == "unreadable (damaged database)"
