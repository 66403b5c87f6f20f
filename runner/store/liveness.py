"""Run states over time: claims, beats and verdicts (alive, stalled, crashed, revived, ended).

Why verdicts are revisable: a heartbeat only says "heard from lately". On this host the
process itself is the authority (pid plus its start time): a live process with a late
beat is ``stalled``, never ``crashed``. Another host's run can only be judged by its
beats, so it may be judged ``crashed`` and then beat again: it is ``running`` again,
and ``meta["verdicts"]`` keeps the story (what was said, when, why) for the UI.
Standard library only, so the cheap entry of a background process can beat with it.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from typing import Any

from runner import procs
from runner.faultnote import clear_note, read_note
from runner.store.base import STALE_AFTER_SECONDS, StoreError
from traindoc.core.statuses import ACTIVE, STATUSES

# The prefix of every error a reconcile writes: such a verdict is a guess and may be revised.
VERDICT = "runner stopped without finishing"
_ACTIVE_SQL = "('queued','running','stalled')"
# what a beat or a true end may overturn: still active, or crashed by a guess
# error and meta read as bytes and decoded here with bad bytes replaced (``_text``): a damaged row
# (text that is not UTF-8, which sqlite3 refuses to decode) must still be able to beat, be judged
# and end. Non-text values come back as their text form, so the parsers below see what is there.
_TEXT_OF_ERROR = "CAST(error AS BLOB)"
_TEXT_OF_META = "CAST(meta AS BLOB)"


def _text(value: bytes | None) -> str | None:
    return None if value is None else bytes(value).decode("utf-8", "replace")
_REVISABLE = f"(status IN {_ACTIVE_SQL} OR (status='crashed' AND error LIKE '{VERDICT}%'))"


def _story(meta_json: str | None, **entry: Any) -> str:
    meta = _loads(meta_json)
    meta.setdefault("verdicts", []).append({"at": round(time.time(), 3), **entry})
    return json.dumps(meta, default=str)


def _unsaved_because(exc: StoreError) -> str:
    """What SQLite said, without the file name and hint the full message carries."""
    cause = exc.__cause__
    return str(cause) if cause is not None else str(exc)


def _loads(text: str | bytes | None) -> dict[str, Any]:
    """A meta column as a dict; a damaged one is replaced, not fatal (the run must still end)."""
    try:
        value = json.loads(_text(text) if isinstance(text, bytes) else text or "{}")
    except (ValueError, TypeError, RecursionError):  # not JSON, not text, or nested too deep
        return {}
    return value if isinstance(value, dict) else {}


class LivenessMixin:
    # the last reconcile's verdicts that could not be written: run id -> (status, error, why unsaved)
    unsaved_verdicts: dict[int, tuple[str, str, str]] = {}  # noqa: RUF012 - reconcile binds a new dict

    def mark_running(self, run_id: int, device: str = "cpu", pid: int | None = None) -> bool:
        """The run's process is up; False when the run was ended meanwhile (e.g. cancelled)."""
        now, pid = time.time(), pid or os.getpid()
        cur = self._write(
            "UPDATE runs SET status='running', started_at=COALESCE(started_at, ?), heartbeat=?, pid=?,"
            f" pid_started=?, host=?, device=?, ended_at=NULL WHERE id=? AND {_REVISABLE}",
            (now, now, pid, procs.start_time(pid), socket.gethostname(), device, run_id),
        )
        return cur.rowcount == 1

    def claim_queued(self, run_id: int, pid: int) -> bool:
        """Atomically move a queued run to running for a launcher; False if someone else did."""
        now = time.time()
        cur = self._write(
            "UPDATE runs SET status='running', started_at=?, heartbeat=?, pid=?, pid_started=?, host=?"
            " WHERE id=? AND status='queued'",
            (now, now, pid, procs.start_time(pid), socket.gethostname(), run_id),
        )
        return cur.rowcount == 1

    def set_pid(self, run_id: int, pid: int) -> None:
        """The process that now carries the run (its start time too, so a reused pid is not it)."""
        self._write("UPDATE runs SET pid=?, pid_started=?, host=?, heartbeat=? WHERE id=?",
                    (pid, procs.start_time(pid), socket.gethostname(), time.time(), run_id))

    def finish(self, run_id: int, status: str, error: str | None = None) -> bool:
        """End a run; a run already ended keeps its first verdict, unless that was a guess (crashed
        while its process lived on) and this is the process telling how it really ended."""
        if status not in STATUSES or status in ACTIVE:
            raise ValueError(f"final status {status!r} must be one of finished/failed/crashed/cancelled")

        def body(conn: sqlite3.Connection) -> bool:
            row = conn.execute(f"SELECT status, {_TEXT_OF_ERROR}, {_TEXT_OF_META} FROM runs WHERE id=? AND "
                               f"{_REVISABLE}", (run_id,)).fetchone()
            if row is None or (row[0] == "crashed" and status == "crashed"):
                return False
            row = (row[0], _text(row[1]), _text(row[2]))
            meta = row[2] if row[0] != "crashed" else _story(row[2], status=status, why=f"ended after: {row[1]}")
            conn.execute(
                "UPDATE runs SET status=?, ended_at=?, error=?, meta=?,"
                " progress=CASE WHEN ?='finished' THEN 1 ELSE progress END WHERE id=?",
                (status, time.time(), error if error is not None or row[0] == "crashed" else row[1], meta,
                 status, run_id))
            return True

        ended: bool = self._transaction(body)
        if ended:  # a fault note that waited to tell this end (``runner.faultnote``) has nothing left to say
            clear_note(self.path, run_id)
        return ended

    def heartbeat(self, run_id: int, progress: float | None = None) -> str:
        """Record a beat; a run judged stalled or crashed that beats is running again. Returns the status
        (``cancelled`` tells a remote loop to stop)."""
        def body(conn: sqlite3.Connection) -> str:
            row = conn.execute(f"SELECT status, {_TEXT_OF_ERROR}, {_TEXT_OF_META} FROM runs WHERE id=?",
                               (run_id,)).fetchone()
            if row is None:
                raise KeyError(f"no run with id {run_id} in {self.path}")
            status, error, meta = row[0], _text(row[1]), _text(row[2])
            if status == "stalled" or (status == "crashed" and (error or "").startswith(VERDICT)):
                conn.execute(
                    "UPDATE runs SET status='running', ended_at=NULL, error=NULL, meta=?, heartbeat=?,"
                    " progress=COALESCE(?, progress) WHERE id=?",
                    (_story(meta, status="running", why=f"beat again after being judged {status}"
                            + (f" ({error})" if error else "")), time.time(), progress, run_id))
                return "running"
            conn.execute("UPDATE runs SET heartbeat=?, progress=COALESCE(?, progress) WHERE id=?",
                         (time.time(), progress, run_id))
            return status

        return self._transaction(body)

    def update_meta(self, run_id: int, **fields: Any) -> None:
        """Merge ``fields`` into the run's meta, read and written in one transaction."""
        def body(conn: sqlite3.Connection) -> None:
            row = conn.execute(f"SELECT {_TEXT_OF_META} FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                raise KeyError(f"no run with id {run_id} in {self.path}")
            conn.execute("UPDATE runs SET meta=? WHERE id=?",
                         (json.dumps({**_loads(row[0]), **fields}, default=str), run_id))

        self._transaction(body)

    def register_rank(self, run_id: int, rank: int, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into ``meta["ranks"][rank]`` and keep ``meta["hosts"]`` (every rank's host) in
        step, in one transaction (ranks register at once); returns the run's ranks as stored."""
        def body(conn: sqlite3.Connection) -> dict[str, Any]:
            row = conn.execute(f"SELECT {_TEXT_OF_META} FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                raise KeyError(f"no run with id {run_id} in {self.path}")
            meta = _loads(row[0])
            ranks = meta.get("ranks") if isinstance(meta.get("ranks"), dict) else {}
            ranks[str(int(rank))] = {**ranks.get(str(int(rank)), {}), **fields}
            meta["ranks"] = dict(sorted(ranks.items(), key=lambda item: int(item[0])))
            meta["hosts"] = sorted({r["host"] for r in ranks.values() if r.get("host")})
            conn.execute("UPDATE runs SET meta=? WHERE id=?", (json.dumps(meta, default=str), run_id))
            return meta["ranks"]

        return self._transaction(body)

    def request_cancel(self, run_id: int) -> dict[str, Any]:
        """Mark a run cancelled and return it as it was, so the caller can signal its process."""
        run = self.run(run_id)
        self.finish(run_id, "cancelled", error="cancelled by user")
        return run

    def reconcile(self, now: float | None = None) -> list[int]:
        """Judge active runs: a gone process is ``crashed``; a live one with a late beat ``stalled``
        (and ``running`` again once it beats); another host's run is judged by its beats alone.

        Judging is a read that writes its verdicts. A verdict that cannot be written (a full disk,
        a file that turned read-only, a lock held throughout) does not fail the read: it is kept
        in ``unsaved_verdicts`` (run id → status, error, why unsaved) for the caller to show, and
        since the row still reads as it was, the next read judges it again and retries the write.
        """
        unsaved: dict[int, tuple[str, str, str]] = {}
        self.unsaved_verdicts = unsaved
        if self.read_only:
            return []  # a read-only view shows the runs as they were written; judging them is a write
        now = time.time() if now is None else now
        host = socket.gethostname()
        rows = self.conn.execute(
            "SELECT id, status, pid, pid_started, host, heartbeat FROM runs WHERE status IN ('running','stalled')"
        ).fetchall()
        dead = []
        for run_id, status, pid, started, run_host, beat in rows:
            late = beat is None or now - beat > STALE_AFTER_SECONDS
            local = run_host == host and pid is not None
            if self._noted_end(run_id, local and procs.alive(pid, started), unsaved):
                continue
            if local:
                if procs.alive(pid, started):
                    if late and status == "running":
                        why = f"no heartbeat for over {STALE_AFTER_SECONDS:.0f} s; process {pid} is alive"
                        try:
                            self._stall(run_id, why)
                        except StoreError as exc:
                            unsaved[run_id] = ("stalled", "", _unsaved_because(exc))
                    continue
                why = f"process {pid} on {host} is gone"
            elif late:
                why = f"no heartbeat for over {STALE_AFTER_SECONDS:.0f} s"
            else:
                continue
            try:
                if self.finish(run_id, "crashed", error=f"{VERDICT}: {why}"):
                    dead.append(run_id)
            except StoreError as exc:
                unsaved[run_id] = ("crashed", f"{VERDICT}: {why}", _unsaved_because(exc))
                dead.append(run_id)
        return dead

    def _noted_end(self, run_id: int, alive: bool, unsaved: dict[int, tuple[str, str, str]]) -> bool:
        """A run whose fault note (``runner.faultnote``) holds its end: store that end now (the note
        goes); when the store cannot take it either, show the run ``stalled`` with the note's reason
        while its process lives on (it is retrying), else the end itself. False: no such note."""
        note = read_note(self.path, run_id)
        end = note.get("end") if note is not None else None
        if not isinstance(end, dict) or end.get("status") not in STATUSES or end.get("status") in ACTIVE:
            return False
        error = end.get("error") if isinstance(end.get("error"), str) else None
        try:
            self.finish(run_id, end["status"], error=error)  # the note goes with it
        except StoreError as exc:
            reason = str(note.get("reason") or error or "")
            unsaved[run_id] = ("stalled", reason, _unsaved_because(exc)) if alive \
                else (end["status"], error or "", _unsaved_because(exc))
        return True

    def _stall(self, run_id: int, why: str) -> None:
        def body(conn: sqlite3.Connection) -> None:
            row = conn.execute(f"SELECT {_TEXT_OF_META} FROM runs WHERE id=? AND status='running'",
                               (run_id,)).fetchone()
            if row is not None:
                conn.execute("UPDATE runs SET status='stalled', meta=? WHERE id=?",
                             (_story(row[0], status="stalled", why=why), run_id))

        self._transaction(body)
