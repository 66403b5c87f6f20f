"""A run's fault note: why a run cannot write its database, readable without the database.

Why a file of its own: when the disk under the database fills, the database cannot take the
reason either, and the run log (on the same disk) stays empty. So a run reserves a small file
beside the database at its start (``<db>.logs/run-<id>.fault``, ``NOTE_BYTES`` of blanks, while
there is room) and, when a write meets the full disk, rewrites that file in place: overwriting
blocks a file already holds needs no free space. A note that could not be reserved is kept in
the process and written as soon as the disk takes it.

A note says ``reason`` (what is wrong now) and, once the run has ended, ``end`` (its status and
error). A reader (``LivenessMixin.reconcile``) shows a live run with a note as ``stalled`` with
the reason, and stores a note's ``end`` as the run's verdict as soon as it can write (instead of
``crashed: process gone``); the note goes once its end is stored. Standard library only: the
store's liveness reads it.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

NOTE_SUFFIX = ".fault"
# Reserved at the run's start: a reason and an end of a few hundred characters each fit.
NOTE_BYTES = 4096
# A reason longer than this is cut, so the note always fits its reserved size.
REASON_CHARS = 1500


def note_path(db_path: str | os.PathLike, run_id: int) -> Path:
    """``<db>.logs/run-<id>.fault``: beside the run's log (``runner.launcher.log_path``)."""
    db = Path(os.path.abspath(db_path))
    return db.with_name(db.name + ".logs") / f"run-{int(run_id)}{NOTE_SUFFIX}"


def _clip(text: str, limit: int = REASON_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def read_note(db_path: str | os.PathLike, run_id: int) -> dict[str, Any] | None:
    """The run's note, or None (no file, only the reserved blanks, or not readable)."""
    try:
        text = note_path(db_path, run_id).read_bytes().decode("utf-8", "replace").strip()
    except OSError:
        return None
    if not text:
        return None
    try:
        note = json.loads(text)
    except ValueError:
        return None
    return note if isinstance(note, dict) else None


def clear_note(db_path: str | os.PathLike, run_id: int) -> None:
    """The run's end is stored: its note goes."""
    with contextlib.suppress(OSError):
        note_path(db_path, run_id).unlink()


class FaultNote:
    """The writer's side of one run's note."""

    def __init__(self, db_path: str | os.PathLike, run_id: int) -> None:
        self.db_path = Path(os.path.abspath(db_path))
        self.run_id = int(run_id)
        self.path = note_path(self.db_path, run_id)
        self.reserved = False
        self.written = False  # a note with content is on disk (a reader sees it)

    def reserve(self) -> bool:
        """Create the file at its full size now, while the disk has room; False when it cannot."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                blank = b" " * (NOTE_BYTES - 1) + b"\n"
                if os.write(fd, blank) != len(blank):
                    raise OSError("short write")
            finally:
                os.close(fd)
        except OSError:
            with contextlib.suppress(OSError):
                self.path.unlink()
            return False
        self.reserved = True
        return True

    def write(self, reason: str, end: tuple[str, str | None] | None = None) -> bool:
        """Say ``reason`` (and the run's ``end`` when it is over); True when a reader can now see it.

        Rewrites the reserved bytes in place; without a reserved file it tries to make one now.
        """
        limit = REASON_CHARS
        while True:
            record = {"run_id": self.run_id, "pid": os.getpid(), "at": round(time.time(), 3),
                      "reason": _clip(reason, limit)}
            if end is not None:
                record["end"] = {"status": end[0], "error": None if end[1] is None else _clip(end[1], limit)}
            data = json.dumps(record).encode()
            if len(data) < NOTE_BYTES or limit == 0:  # escaped text may grow: cut until it fits
                break
            limit //= 2
        if not self.reserved and not self.reserve():
            return False
        try:
            fd = os.open(self.path, os.O_WRONLY)
            try:
                os.pwrite(fd, data.ljust(NOTE_BYTES - 1) + b"\n", 0)
            finally:
                os.close(fd)
        except OSError:
            return False
        self.written = True
        return True

    def clear(self) -> None:
        """The run's end is stored: the note goes."""
        clear_note(self.db_path, self.run_id)
        self.reserved = self.written = False
