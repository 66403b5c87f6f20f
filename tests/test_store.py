"""The SQLite store: round trips, NaN vs not-logged, migrations, crash detection, concurrency."""

from __future__ import annotations

import math
import multiprocessing
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from runner.store import MIGRATIONS, STALE_AFTER_SECONDS, Store


def test_metrics_round_trip_in_step_order(store: Store) -> None:
    run_id = store.create_run("r", {"optim.lr": 0.1}, status="running")
    store.write_metrics([
        (run_id, 2, 0.2, "train/loss", 0.5, 10.0),
        (run_id, 1, 0.1, "train/loss", 0.9, 9.0),
        (run_id, 1, 0.1, "lr", 0.1, 9.0),
    ])
    frame = store.metrics(run_id, ["train/loss"])
    assert frame[["step", "epoch", "name", "value"]].values.tolist() == [
        [1, 0.1, "train/loss", 0.9], [2, 0.2, "train/loss", 0.5]]
    assert store.metric_names(run_id) == ["lr", "train/loss"]
    assert store.run(run_id)["last_step"] == 2
    assert store.run(run_id)["config"] == {"optim.lr": 0.1}


def test_nan_is_told_apart_from_not_logged(store: Store) -> None:
    run_id = store.create_run("r")
    store.write_metrics([(run_id, 1, None, "train/loss", 1.0, 0.0), (run_id, 2, None, "train/loss", math.nan, 0.0),
                         (run_id, 3, None, "train/loss", math.inf, 0.0), (run_id, 3, None, "val/loss", -math.inf, 0.0)])
    steps, values = store.metric_series(run_id, "train/loss")
    assert steps.tolist() == [1, 2, 3]  # step 2 was logged: as NaN
    assert values[0] == 1.0 and math.isnan(values[1]) and values[2] == math.inf
    assert store.metric_series(run_id, "val/loss")[1].tolist() == [-math.inf]
    assert store.metric_series(run_id, "val/acc")[0].size == 0  # never logged: no rows at all
    frame = store.metrics(run_id)
    assert frame.value.isna().sum() == 1


def test_store_is_wal_with_busy_timeout_and_read_index(store: Store) -> None:
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    plan = store.conn.execute(
        "EXPLAIN QUERY PLAN SELECT step, value FROM metrics WHERE run_id=1 AND name='x' ORDER BY step"
    ).fetchall()
    assert "metrics_run_name_step" in str(plan) and "TEMP B-TREE" not in str(plan)


def test_migrations_apply_once_and_reopen_keeps_data(db_path: Path) -> None:
    first = Store(db_path)
    run_id = first.create_run("kept")
    second = Store(db_path)
    assert second.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert second.run(run_id)["name"] == "kept"


def test_an_old_database_upgrades_in_place_with_its_runs(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    for script in MIGRATIONS[:3]:  # the schema as stop 8 shipped it
        conn.executescript(script)
    conn.execute("PRAGMA user_version=3")
    conn.execute("INSERT INTO runs (name, status, source, created_at, pid) VALUES ('old', 'finished', 'api', 1.0, 7)")
    conn.commit()
    conn.close()
    store = Store(db_path)
    run = store.run(1)
    assert (run["name"], run["status"], run["source"], run["pid"]) == ("old", "finished", "api", 7)
    assert (run["note"], run["archived"], run["pid_started"]) == ("", 0, None)
    store.conn.execute("UPDATE runs SET status='stopped', source='script' WHERE id=1")
    with pytest.raises(sqlite3.IntegrityError):
        store.conn.execute("UPDATE runs SET status='weird' WHERE id=1")


def test_env_var_and_default_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRAINDOC_DB", raising=False)
    assert Store().path == Path("traindoc.db")
    monkeypatch.setenv("TRAINDOC_DB", str(tmp_path / "x.db"))
    assert Store().path == tmp_path / "x.db"
    assert Store(tmp_path / "y.db").path == tmp_path / "y.db"


def test_finish_keeps_the_first_verdict(store: Store) -> None:
    run_id = store.create_run("r", status="running")
    store.finish(run_id, "cancelled", error="cancelled by user")
    store.finish(run_id, "finished")
    run = store.run(run_id)
    assert (run["status"], run["error"]) == ("cancelled", "cancelled by user")


def test_reconcile_marks_dead_process_crashed(store: Store) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    run_id = store.create_run("r")
    store.mark_running(run_id, pid=proc.pid)
    assert store.runs().set_index("id").loc[run_id, "status"] == "crashed"
    assert "gone" in store.run(run_id)["error"]


def test_reconcile_marks_a_stale_heartbeat_of_another_host_crashed(store: Store) -> None:
    run_id = store.create_run("r")
    store.mark_running(run_id, pid=12345)
    store.conn.execute("UPDATE runs SET host='elsewhere' WHERE id=?", (run_id,))  # no pid to ask there
    assert store.reconcile(now=time.time() + 1) == []
    assert store.reconcile(now=time.time() + STALE_AFTER_SECONDS + 1) == [run_id]
    assert store.run(run_id)["status"] == "crashed"


def _writer(db: str, run_id: int, n_batches: int, batch: int) -> None:
    store = Store(db)
    for b in range(n_batches):
        store.write_metrics([(run_id, b * batch + i, None, "train/loss", float(i), 0.0) for i in range(batch)])


@pytest.mark.slow  # writer processes
def test_concurrent_writers_and_a_reader_lose_nothing(db_path: Path) -> None:
    store = Store(db_path)
    run_ids = [store.create_run(f"w{i}", status="running") for i in range(3)]
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(db_path), rid, 40, 500)) for rid in run_ids]
    for p in procs:
        p.start()
    reads = 0
    while any(p.is_alive() for p in procs):
        for rid in run_ids:
            store.metric_series(rid, "train/loss")  # the dashboard's read, concurrently
            reads += 1
    for p in procs:
        p.join()
        assert p.exitcode == 0
    assert reads > 0
    for rid in run_ids:
        steps, _ = store.metric_series(rid, "train/loss")
        assert np.array_equal(steps, np.arange(40 * 500))


def test_unknown_run_is_a_clear_error(store: Store) -> None:
    with pytest.raises(KeyError, match="no run with id 42"):
        store.run(42)


def test_bad_status_is_refused_by_the_schema(store: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        store.conn.execute("INSERT INTO runs (name, status, created_at) VALUES ('x', 'weird', 0)")


@pytest.mark.slow  # long curves written and read in batches
def test_chart_reads_of_long_curves_keep_spikes_and_nans_across_batches(store: Store) -> None:
    run_id = store.create_run("long")
    n = 200_000
    values = np.sin(np.arange(n) / 5000.0)
    values[123_457] = 50.0  # one spike
    values[150_001] = math.nan  # one NaN
    for start in range(0, n, 7_000):  # batches that do not align with the buckets
        store.write_metrics([(run_id, s, None, "train/loss", float(values[s]), 0.0)
                             for s in range(start, min(start + 7_000, n))])
    steps, shown = store.chart_series(run_id, "train/loss")
    assert len(steps) < 10_000  # bounded by the screen, not the run
    assert np.all(np.diff(steps) >= 0)
    assert shown[steps == 123_457].tolist() == [50.0]
    assert 150_001 in steps[np.isnan(shown)]
    assert np.nanmin(shown) == pytest.approx(values[~np.isnan(values)].min())
    assert store.metric_names(run_id) == ["train/loss"]


def test_chart_reads_of_short_curves_are_the_raw_points(store: Store) -> None:
    run_id = store.create_run("short")
    store.write_metrics([(run_id, s, None, "val/loss", 1.0 / (s + 1), 0.0) for s in range(100)])
    steps, values = store.chart_series(run_id, "val/loss")
    assert steps.tolist() == list(range(100)) and values[3] == 0.25


def test_reads_for_diagnosis_stride_long_curves_but_keep_every_nan(store: Store) -> None:
    run_id = store.create_run("long")
    rows = [(run_id, s, s / 100, "train/loss", 1.0 / (s + 1), 0.0) for s in range(50_000)]
    rows[12_345] = (run_id, 12_345, 123.45, "train/loss", math.nan, 0.0)
    rows += [(run_id, s, s / 100, "val/loss", 0.5, 0.0) for s in range(0, 50_000, 100)]
    store.write_metrics(rows)
    frame = store.metrics(run_id, max_points=5_000)
    loss = frame[frame.name == "train/loss"]
    assert len(loss) == 5_001 and loss.step.is_monotonic_increasing
    assert loss.step.iloc[:3].tolist() == [0, 10, 20]
    assert loss[loss.value.isna()].step.tolist() == [12_345]  # off the stride, still there
    assert len(frame[frame.name == "val/loss"]) == 500  # short curves come whole
    assert len(store.metrics(run_id)) == 50_500
