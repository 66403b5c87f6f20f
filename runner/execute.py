"""Run one queued run to its end in this process: the body of every background runner."""

from __future__ import annotations

import signal
import threading
from typing import Any

from runner.config import ConfigError
from runner.faultnote import FaultNote
from runner.lifecycle import DISK_FULL_WAIT_SECONDS, RunLifecycle, WatchFactory, parse_config, train_run
from runner.store import DiskFullError, Store, disk_full_reason
from runner.store.core import DamagedRow, clip
from runner.store.liveness import VERDICT
from runner.train import ProgressCallback
from traindoc.core.statuses import ACTIVE

# What a damaged stored row can raise while it is read and checked, whatever the damage: a parse
# error (ValueError, and UnicodeError within it), a column of the wrong type (TypeError), JSON or a
# value nested too deep (RecursionError), or one too large to hold (MemoryError).
DAMAGE = (ValueError, TypeError, RecursionError, MemoryError)


def execute(store: Store, run_id: int, progress: ProgressCallback | None = None,
            watch: WatchFactory | None = None) -> str:
    """Train run ``run_id`` from its stored config, watched by what ``watch`` makes (the entry point's
    live doctor; ``runner.lifecycle.train_run``); returns the final status.

    SIGTERM (a cancel) sets a flag the loop checks each step, so buffered metrics are
    flushed before the process exits and the run ends ``cancelled``. A stored row that
    cannot be read or is not a config fails that run as ``bad config: ...`` before anything
    starts, so the scheduler and the other runs go on.

    A full disk ends the run ``failed`` with ``disk full: ...``: the process stays to record that,
    retrying for up to ``DISK_FULL_WAIT_SECONDS`` while its fault note (``runner.faultnote``) tells
    readers why it is stalled; a note still there when it gives up is the end a reader stores.
    """
    cancel = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: cancel.set())
    note = FaultNote(store.path, run_id)
    note.reserve()  # now, while the disk has room: rewriting it later needs none
    try:
        return _execute(store, run_id, note, cancel, progress, watch)
    except DiskFullError as exc:  # a write outside the run's end (its start, a meta update) met the full disk
        if note.written:  # the end itself waited for space and gave up: the note holds it for a reader
            raise
        RunLifecycle(store, run_id, note, DISK_FULL_WAIT_SECONDS).record("failed", disk_full_reason(exc))
        return "failed"
    finally:
        if not note.written:  # nothing to tell: the reserved blanks go
            note.clear()


def _execute(store: Store, run_id: int, note: FaultNote, cancel: threading.Event,
             progress: ProgressCallback | None, watch: WatchFactory | None) -> str:
    try:
        run = _checked_row(store, run_id)
    except DAMAGE as exc:
        reason = str(exc) if isinstance(exc, (DamagedRow, ConfigError)) else f"{type(exc).__name__}: {exc}"
        RunLifecycle(store, run_id, note, DISK_FULL_WAIT_SECONDS).fail(f"bad config: {clip(reason)}")
        return "failed"
    judged = run["status"] == "crashed" and str(run["error"] or "").startswith(VERDICT)
    if run["status"] not in ACTIVE and not judged:
        return run["status"]  # cancelled before it started
    if run["source"] == "script":  # a registered user script: it runs as a child (runner/scripts.py)
        from runner.scripts import execute_script

        return execute_script(store, run_id)
    train_run(store, run_id, run["config"], cancel, progress=progress, watch=watch, note=note,
              wait_for_space=DISK_FULL_WAIT_SECONDS)
    return store.run(run_id)["status"]


def _checked_row(store: Store, run_id: int) -> dict[str, Any]:
    """The stored row, its meta an object and (for a trained run) its config a valid one; else one of DAMAGE."""
    run = store.run(run_id)
    if not isinstance(run["meta"], dict):
        raise DamagedRow(f"the stored row's meta is a {type(run['meta']).__name__}, not an object of key: value")
    if run["source"] != "script":
        parse_config(run["config"])
    return run
