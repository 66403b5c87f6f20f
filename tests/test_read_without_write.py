"""Reads never need a write: listing runs works on a database that cannot be written (a full disk).

Reading the runs judges them first (a gone process is ``crashed``), and that verdict is a
write. When it cannot be written, the verdict is shown (marked as not saved) and the row is
left as it was, so the next read that can write stores it. The database is made unwritable
with ``PRAGMA query_only`` (every write fails as on a read-only file), and, when the tests run
as root, by filling a small tmpfs for real.
"""

from __future__ import annotations

import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest

from runner import cli
from runner.store import Store
from runner.store.core import UNSAVED
from runner.store.liveness import VERDICT
from tests.disks import fill

ROOT = Path(__file__).resolve().parents[1]
UNWRITABLE = {"query_only": 1}  # SQLite then refuses every write: "attempt to write a readonly database"


def _gone_run(store: Store, name: str = "gone") -> int:
    """A running run whose process is gone (our pid, but one that started earlier: a reused pid)."""
    run_id = store.create_run(name)
    store.mark_running(run_id, pid=os.getpid())
    store.conn.execute("UPDATE runs SET pid_started = pid_started - 100 WHERE id=?", (run_id,))
    return run_id


def _stored_status(db_path: Path, run_id: int) -> str:
    return Store(db_path).conn.execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone()[0]


def test_a_verdict_that_cannot_be_stored_is_shown_not_stored(db_path: Path) -> None:
    run_id = _gone_run(Store(db_path))
    reader = Store(db_path, pragmas=UNWRITABLE)
    runs = reader.runs()
    (row,) = runs[runs.id == run_id].itertuples()
    assert row.status == "crashed"
    assert row.error.startswith(f"{VERDICT}: process {os.getpid()} on ")
    assert row.error.endswith(f"({UNSAVED}: attempt to write a readonly database)")
    assert _stored_status(db_path, run_id) == "running"  # nothing was written


def test_the_next_read_that_can_write_stores_the_verdict(db_path: Path) -> None:
    run_id = _gone_run(Store(db_path))
    Store(db_path, pragmas=UNWRITABLE).runs()
    writer = Store(db_path)
    assert writer.runs().set_index("id").loc[run_id, "status"] == "crashed"
    assert writer.unsaved_verdicts == {}
    assert _stored_status(db_path, run_id) == "crashed"
    assert UNSAVED not in writer.run(run_id)["error"]


def test_a_stall_that_cannot_be_stored_is_shown(db_path: Path) -> None:
    store = Store(db_path)
    run_id = store.create_run("late")
    store.mark_running(run_id)  # this process: alive
    store.conn.execute("UPDATE runs SET heartbeat = heartbeat - 3600 WHERE id=?", (run_id,))
    reader = Store(db_path, pragmas=UNWRITABLE)
    row = reader.runs().set_index("id").loc[run_id]
    assert (row.status, row.error) == ("stalled", f"{UNSAVED}: attempt to write a readonly database")
    assert _stored_status(db_path, run_id) == "running"


def test_find_runs_and_the_overview_read_too(db_path: Path) -> None:
    run_id = _gone_run(Store(db_path))
    found = Store(db_path, pragmas=UNWRITABLE).find_runs()
    assert found.set_index("id").loc[run_id, "status"] == "crashed"


def test_runner_list_works_on_a_database_it_cannot_write(db_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    store = Store(db_path)
    run_id = _gone_run(store)
    store.create_run("waiting")  # queued: the list would restart the scheduler, which is a write
    monkeypatch.setattr(cli, "Store", partial(Store, pragmas=UNWRITABLE))
    assert cli.main(["--db", str(db_path), "list"]) == 0
    out, err = capsys.readouterr()
    assert f"{run_id:>4}  crashed" in out
    assert "warning: 1 run verdict(s) shown but not saved (attempt to write a readonly database)" in err
    assert "warning: the scheduler could not be restarted" in err
    assert _stored_status(db_path, run_id) == "running"


# -- a real full disk -----------------------------------------------------------------------
DISK_BYTES = 4 * 1024 * 1024  # room for a fresh database and its WAL, little else (tests/disks.py)




def _list(db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runner", "--db", str(db), "list"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow  # a full tmpfs and `python -m runner` subprocesses
def test_runner_list_on_a_full_disk(small_disk: Path) -> None:
    db = small_disk / "traindoc.db"
    holder = Store(db)  # held open, as a live run would: the WAL and its index exist
    run_id = _gone_run(holder)
    holder.write_metrics([(run_id, i, None, "train/loss", 1.0, 0.0) for i in range(100)])
    filler = fill(small_disk)
    listed = _list(db)
    assert listed.returncode == 0, listed.stderr
    assert f"{run_id:>4}  crashed" in listed.stdout
    assert "shown but not saved (database or disk is full)" in listed.stderr
    assert holder.conn.execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone()[0] == "running"
    filler.unlink()  # space is back: the next read stores the verdict
    listed = _list(db)
    assert listed.returncode == 0 and "not saved" not in listed.stderr, listed.stderr
    assert holder.conn.execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone()[0] == "crashed"
    holder.close()
