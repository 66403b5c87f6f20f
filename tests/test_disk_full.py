"""A full disk keeps the story (issue 20): a run that meets it ends ``failed`` with ``disk full: ...``,
not ``crashed: process gone``; while it cannot write, its fault note (``runner.faultnote``) tells a
reader why, and the run reads ``stalled`` with that reason; the logging API raises ``DiskFullError``.

The first tests need no root (a store that refuses writes, a store double); the last ones fill a
small tmpfs for real (root and mount(8) only, skipped with the reason otherwise; CI runs as root).
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

import traindoc
from runner import launcher, procs
from runner.faultnote import NOTE_BYTES, FaultNote, note_path, read_note
from runner.lifecycle import RunLifecycle
from runner.presets import PRESETS
from runner.store import DiskFullError, Store, StoreError
from runner.store.core import UNSAVED
from tests.disks import fill

UNWRITABLE = {"query_only": 1}  # every write fails, as on a full disk
REASON = "disk full: /x/traindoc.db: write failed: database or disk is full — free disk space"


def _running_run(store: Store, alive: bool) -> int:
    """A running run carried by this (live) process, or by a gone one (our pid with an earlier start)."""
    run_id = store.create_run("noted")
    store.mark_running(run_id, pid=os.getpid())
    if not alive:
        store.conn.execute("UPDATE runs SET pid_started = pid_started - 100 WHERE id=?", (run_id,))
    return run_id


def _stored(db: Path, run_id: int) -> tuple[str, str | None]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT status, error FROM runs WHERE id=?", (run_id,)).fetchone()
    finally:
        conn.close()


# -- the note ------------------------------------------------------------------------------------
def test_a_note_is_reserved_at_full_size_then_rewritten_in_place(db_path: Path) -> None:
    note = FaultNote(db_path, 7)
    assert note.reserve()
    path = note_path(db_path, 7)
    assert path.stat().st_size == NOTE_BYTES and read_note(db_path, 7) is None  # blanks: nothing to tell
    assert note.write("x" * 100_000, end=("failed", "é" * 100_000))  # escaped text is cut to fit
    assert path.stat().st_size == NOTE_BYTES
    said = read_note(db_path, 7)
    assert said["end"]["status"] == "failed" and said["pid"] == os.getpid()
    note.clear()
    assert not path.exists() and read_note(db_path, 7) is None


def test_a_note_that_could_not_be_reserved_is_written_once_the_disk_takes_it(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    note = FaultNote(blocked / "traindoc.db", 1)  # its folder cannot be made: as a disk with no room
    assert not note.reserve() and not note.write("disk full")
    blocked.unlink()
    blocked.mkdir()
    assert note.write("disk full", end=("failed", "disk full")) and read_note(blocked / "traindoc.db", 1)


# -- the reader ----------------------------------------------------------------------------------
def test_a_reader_stores_the_noted_end_instead_of_crashed_process_gone(db_path: Path) -> None:
    run_id = _running_run(Store(db_path), alive=False)
    FaultNote(db_path, run_id).write(REASON, end=("failed", REASON))
    runs = Store(db_path).runs().set_index("id")
    assert (runs.loc[run_id, "status"], runs.loc[run_id, "error"]) == ("failed", REASON)
    assert _stored(db_path, run_id) == ("failed", REASON)
    assert read_note(db_path, run_id) is None  # stored: the note went


def test_a_live_run_whose_end_cannot_be_stored_reads_stalled_with_the_reason(db_path: Path) -> None:
    run_id = _running_run(Store(db_path), alive=True)
    FaultNote(db_path, run_id).write(REASON + "; waiting for space", end=("failed", REASON))
    runs = Store(db_path, pragmas=UNWRITABLE).runs().set_index("id")
    assert runs.loc[run_id, "status"] == "stalled"
    assert runs.loc[run_id, "error"].startswith(REASON + "; waiting for space") and UNSAVED in runs.loc[run_id, "error"]
    assert _stored(db_path, run_id) == ("running", None)  # reading wrote nothing


def test_a_gone_run_whose_end_cannot_be_stored_reads_as_its_noted_end(db_path: Path) -> None:
    run_id = _running_run(Store(db_path), alive=False)
    FaultNote(db_path, run_id).write(REASON, end=("failed", REASON))
    runs = Store(db_path, pragmas=UNWRITABLE).runs().set_index("id")
    assert runs.loc[run_id, "status"] == "failed" and runs.loc[run_id, "error"].startswith(REASON)


# -- the writer: bounded retries of the end --------------------------------------------------------
class _FullUntil:
    """A store double whose writes meet a full disk ``full_for`` times, then succeed."""

    def __init__(self, full_for: int) -> None:
        self.full_for, self.tries, self.ended = full_for, 0, None

    def update_meta(self, run_id: int, **fields: Any) -> None:
        pass

    def finish(self, run_id: int, status: str, error: str | None = None) -> bool:
        self.tries += 1
        if self.tries <= self.full_for:
            raise DiskFullError("/x/traindoc.db: write failed: database or disk is full — free disk space")
        self.ended = (status, error)
        return True


def test_an_end_that_meets_a_full_disk_is_retried_with_a_bounded_backoff_then_stored(db_path: Path) -> None:
    store, note = _FullUntil(full_for=4), FaultNote(db_path, 3)
    note.reserve()
    seen: list[dict | None] = []
    with mock.patch("runner.lifecycle.time.sleep", side_effect=lambda s: seen.append(read_note(db_path, 3))) as slept:
        verdict = RunLifecycle(store, 3, note, wait_for_space=60).record("failed", REASON)
    assert verdict == ("failed", REASON) and store.ended == verdict
    assert [call.args[0] for call in slept.call_args_list] == [0.5, 1.0, 2.0, 4.0]  # doubling back-off
    assert all(n is not None and n["end"]["status"] == "failed" and "waiting for space" in n["reason"] for n in seen)
    assert read_note(db_path, 3) is None and not note_path(db_path, 3).exists()


def test_an_end_that_waited_its_bound_raises_and_leaves_the_note_for_a_reader(db_path: Path) -> None:
    store, note = _FullUntil(full_for=10**6), FaultNote(db_path, 3)
    with pytest.raises(DiskFullError, match="database or disk is full"):
        RunLifecycle(store, 3, note, wait_for_space=0).record("finished", None)
    assert read_note(db_path, 3)["end"] == {"status": "finished", "error": None}


@pytest.mark.slow  # a real training run
def test_a_full_disk_in_training_ends_the_run_failed_disk_full(db_path: Path) -> None:
    from runner.execute import execute

    setup = Store(db_path)
    run_id = setup.create_run("filling", PRESETS["healthy"].config({"train.epochs": 200}).to_flat())
    pages = setup.conn.execute("PRAGMA page_count").fetchone()[0]
    assert execute(Store(db_path, pragmas={"max_page_count": pages + 60}), run_id) == "failed"
    status, error = _stored(db_path, run_id)
    assert status == "failed" and error.startswith("disk full: ") and "free disk space" in error
    assert not note_path(db_path, run_id).exists()  # the end was stored: no note left behind


def test_disk_full_error_is_a_store_error_named_by_traindoc() -> None:
    assert traindoc.DiskFullError is DiskFullError and issubclass(DiskFullError, StoreError)


# -- a full disk for real --------------------------------------------------------------------------
DISK_BYTES = 6 * 1024 * 1024  # a fresh database, its WAL and a few thousand rows (tests/disks.py)
STARTED_WITHIN = 180.0  # a background run's first rows, its imports included, on a loaded machine
JUDGED_WITHIN = 120.0


def _until(check: Any, within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert value, f"never: {what}"
    return value


def _has_rows(db: Path, run_id: int) -> bool:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT COUNT(*) FROM metrics WHERE run_id=?", (run_id,)).fetchone()[0] > 0
    finally:
        conn.close()


def _launched(db: Path, monkeypatch: pytest.MonkeyPatch, wait_for_space: float) -> tuple[Store, int, int]:
    monkeypatch.setenv("TRAINDOC_DISK_FULL_WAIT_SECONDS", str(wait_for_space))
    store = Store(db)
    run_id = store.create_run("filling", PRESETS["healthy"].config({"train.epochs": 100_000}).to_flat())
    pid = launcher.launch(store, run_id)
    _until(lambda: _has_rows(db, run_id), STARTED_WITHIN, "the run logged its first rows")
    return store, run_id, pid


def _status(db: Path, run_id: int) -> tuple[str, str]:
    """What a reader sees (judging included), from a fresh process's view of the file."""
    row = Store(db).runs().set_index("id").loc[run_id]
    return row["status"], str(row["error"])


@pytest.mark.slow
def test_a_background_run_on_a_full_disk_stalls_with_the_reason_then_ends_failed_disk_full(
        small_disk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = small_disk / "traindoc.db"
    store, run_id, pid = _launched(db, monkeypatch, wait_for_space=600)
    filler = fill(small_disk)
    try:
        status, error = _until(lambda: (s := _status(db, run_id))[0] == "stalled" and s, JUDGED_WITHIN,
                               "the run read stalled")
        assert error.startswith("disk full: ") and "waiting for space" in error
        assert procs.alive(pid)  # it stays to record why
        assert read_note(db, run_id)["end"]["status"] == "failed"
    finally:
        filler.unlink()
    # no reader judges from here on: the run's own process stores its end once space is back
    status, error = _until(lambda: (s := _stored(db, run_id))[0] not in ("running", "stalled") and s,
                           JUDGED_WITHIN, "the run stored its end")
    assert status == "failed" and error.startswith("disk full: ") and "database or disk is full" in error
    _until(lambda: not procs.alive(pid), JUDGED_WITHIN, "the run's process exited")
    assert not note_path(db, run_id).exists()
    store.close()


@pytest.mark.slow
def test_a_background_run_that_gave_up_waiting_is_failed_disk_full_not_crashed(
        small_disk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = small_disk / "traindoc.db"
    store, run_id, pid = _launched(db, monkeypatch, wait_for_space=1)
    filler = fill(small_disk)
    try:
        _until(lambda: not procs.alive(pid), JUDGED_WITHIN, "the run's process gave up and exited")
        status, error = _status(db, run_id)  # still full: shown, not stored
        assert status == "failed" and error.startswith("disk full: ") and UNSAVED in error
    finally:
        filler.unlink()
    status, error = _status(db, run_id)  # space is back: the first reader stores the noted end
    assert status == "failed" and error.startswith("disk full: ") and UNSAVED not in error
    assert _stored(db, run_id)[0] == "failed" and not note_path(db, run_id).exists()
    store.close()


@pytest.mark.slow
def test_the_strict_logging_api_raises_disk_full_at_the_log_that_met_it(small_disk: Path) -> None:
    db = small_disk / "traindoc.db"
    filler: Path | None = None
    logged = 0
    with pytest.raises(traindoc.DiskFullError, match="database or disk is full — free disk space") as raised, \
            traindoc.start_run("strict", db=db, strict=True) as run:
        for step in range(100_000):
            run.log({"train/loss": 1.0 / (step + 1)}, step=step)
            logged += 1
            if step == 50:
                run.flush()
                _until(lambda: _has_rows(db, run.id), JUDGED_WITHIN, "the first rows were stored")
                filler = fill(small_disk)
            time.sleep(0.001)
    assert filler is not None and 50 < logged < 100_000
    assert "metric writer failed" in str(raised.value)
    run_id = run.id
    filler.unlink()
    status, error = _status(db, run_id)  # stored at the block's exit, or from the note by this reader
    assert status == "failed" and error.startswith("disk full: ")

