"""The cheap first moments of a background run or scheduler, before any heavy import.

Why: importing torch and scikit-learn takes seconds of CPU, and tens of seconds of wall time
on a saturated machine. A run that is silent meanwhile looks dead; a scheduler that takes
its lock only after those imports lets a burst of duplicates start. So ``python -m runner
_exec ID`` beats (and records its pid and start time) and ``_scheduler`` takes the lock with
the standard library only, and a small thread keeps beating until the real loop takes over.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from runner.store.base import HEARTBEAT_SECONDS, StoreBase, StoreError, resolve_db_path
from runner.store.liveness import LivenessMixin
from runner.store.queue import QueueMixin

_beater: threading.Event | None = None


class _LightStore(LivenessMixin, QueueMixin, StoreBase):
    """The store's lifecycle and lock writes without numpy/pandas (the reads of ``Store`` are not needed)."""


def _parse(argv: Sequence[str]) -> tuple[str | None, list[str]]:
    """``--db`` (anywhere) and the positional words, as ``runner.cli`` would read them."""
    db, words, it = None, [], iter(argv)
    for token in it:
        if token == "--db":
            db = next(it, None)
        elif token.startswith("--db="):
            db = token[5:]
        elif not token.startswith("-"):
            words.append(token)
    return db, words


def prepare(argv: Sequence[str]) -> None:
    """Beat for ``_exec ID``; take the lock for ``_scheduler`` (or exit at once when it is held)."""
    db, words = _parse(argv)
    if not words or words[0] not in ("_exec", "_scheduler"):
        return
    try:
        _prepare(resolve_db_path(db), words)
    except StoreError:
        return  # the command itself reports it, in its one-line form


def _prepare(db: Path, words: list[str]) -> None:
    store = _LightStore(db)
    pid = os.getpid()
    if words[0] == "_exec" and len(words) > 1 and words[1].isdigit():
        run_id = int(words[1])
        store.set_pid(run_id, pid)
        status = store.heartbeat(run_id)
        if status not in ("queued", "running"):
            sys.exit(0 if status == "finished" else 1)  # cancelled before it started: nothing to load
        _keep_beating(lambda: store.heartbeat(run_id) not in ("cancelled",))
    elif words[0] == "_scheduler":
        if not store.acquire_scheduler(pid):
            sys.exit(0)  # another live scheduler serves this database
        _keep_beating(lambda: store.scheduler_beat(pid))


def _keep_beating(beat: Callable[[], bool], every: float = HEARTBEAT_SECONDS / 2) -> None:
    global _beater
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every):
            try:
                if not beat():
                    return
            except Exception:  # noqa: BLE001 - the real loop reports store errors; this one only helps
                return

    threading.Thread(target=loop, name="traindoc-boot-beat", daemon=True).start()
    _beater = stop


def stop_beating() -> None:
    """The real loop beats from now on (the sink's writer, the scheduler's beat thread)."""
    global _beater
    if _beater is not None:
        _beater.set()
        _beater = None
