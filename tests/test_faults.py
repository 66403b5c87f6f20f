"""Faults done for real: long readers, held locks, a full disk, a read-only file, training that raises."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from unittest import mock

import pytest
import torch

from runner import train as train_module
from runner.execute import execute
from runner.presets import PRESETS
from runner.store import Store, StoreError


def _integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def test_a_long_read_transaction_blocks_no_writer_and_loses_no_row(db_path: Path) -> None:
    store = Store(db_path)
    run_id = store.create_run("r", status="running")
    reader = sqlite3.connect(db_path, isolation_level=None)
    reader.execute("BEGIN")
    before = reader.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
    for batch in range(50):  # the reader holds its snapshot through all of these
        store.write_metrics([(run_id, batch * 100 + i, None, "train/loss", 1.0, 0.0) for i in range(100)])
    assert reader.execute("SELECT COUNT(*) FROM metrics").fetchone()[0] == before  # its snapshot
    reader.execute("COMMIT")
    assert reader.execute("SELECT COUNT(*) FROM metrics").fetchone()[0] == 5000
    assert store.metric_series(run_id, "train/loss")[0].size == 5000


def test_a_held_write_lock_is_retried_then_reported_never_dropped(db_path: Path) -> None:
    Store(db_path)
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer that never lets go
    store = Store(db_path, busy_timeout_ms=50)
    slept: list[float] = []
    real_sleep = time.sleep
    with mock.patch("runner.store.base.time.sleep", side_effect=lambda s: slept.append(s) or real_sleep(s)), \
            pytest.raises(StoreError, match=r"write failed after 6 attempts: database is locked — another process"):
        store.create_run("blocked")
    assert len(slept) == 5 and sum(slept) < 2.0  # bounded backoff: the waits themselves, not the wall clock
    holder.execute("ROLLBACK")


def test_a_lock_released_during_the_backoff_is_a_success(db_path: Path) -> None:
    Store(db_path)
    holder = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    threading.Timer(0.3, lambda: holder.execute("ROLLBACK")).start()
    store = Store(db_path, busy_timeout_ms=50)
    run_id = store.create_run("eventually")
    assert store.run(run_id)["name"] == "eventually"


@pytest.mark.slow
def test_disk_full_fails_the_run_clearly_keeps_earlier_rows_and_the_file_intact(db_path: Path) -> None:
    setup = Store(db_path)
    cfg = PRESETS["healthy"].config({"train.epochs": 200})
    run_id = setup.create_run("filling", cfg.to_flat())
    pages = setup.conn.execute("PRAGMA page_count").fetchone()[0]
    full = Store(db_path, pragmas={"max_page_count": pages + 60})  # room for a few batches only
    assert execute(full, run_id) == "failed"
    run = setup.run(run_id)
    assert "database or disk is full — free disk space" in run["error"]
    assert setup.metric_series(run_id, "train/loss")[0].size > 0  # what was flushed before stays
    assert _integrity(db_path) == "ok"


def test_read_only_database_is_one_clear_error(db_path: Path) -> None:
    Store(db_path).create_run("existing")
    read_only = Store(db_path, pragmas={"query_only": 1})
    assert read_only.run(1)["name"] == "existing"  # reads still work
    with pytest.raises(StoreError, match="attempt to write a readonly database — the file or its folder is read-only"):
        read_only.create_run("new")
    assert _integrity(db_path) == "ok"


def test_not_a_database_is_one_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="junk.db: cannot open: file is not a database — .* pass another --db"):
        Store(junk)


def test_nan_policy_fail_marks_the_run_failed_and_keeps_its_rows(store: Store) -> None:
    cfg = PRESETS["divergence"].config({"train.nan_policy": "fail"})
    run_id = store.create_run("nan", cfg.to_flat())
    assert execute(store, run_id) == "failed"
    run = store.run(run_id)
    assert run["error"].startswith("TrainingError: training loss became nan by step")
    assert "train.nan_policy=fail" in run["error"]
    assert store.metric_series(run_id, "train/loss")[0].size > 0


def test_out_of_memory_mid_run_is_recorded_with_rows_kept(store: Store) -> None:
    cfg = PRESETS["healthy"].config({"train.epochs": 5})
    run_id = store.create_run("oom", cfg.to_flat())
    real_forward = train_module.MLP.forward
    calls = {"n": 0}

    def forward(self: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        if calls["n"] == 30:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")
        return real_forward(self, x)

    with mock.patch.object(train_module.MLP, "forward", forward):
        assert execute(store, run_id) == "failed"
    run = store.run(run_id)
    assert run["error"].startswith("OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB")
    assert store.metric_series(run_id, "train/loss")[0].size >= 20


def test_a_hostile_stored_config_fails_before_training(store: Store) -> None:
    run_id = store.create_run("hostile", {**PRESETS["healthy"].config().to_flat(), "model.head": "; rm -rf /"})
    assert execute(store, run_id) == "failed"
    assert store.run(run_id)["error"] == (
        "bad config: model.head='; rm -rf /': allowed values are logits, log_softmax, softmax")
    assert store.metric_names(run_id) == []
