"""The shared run queue and the lock that lets exactly one scheduler serve it."""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

from runner import procs
from runner.store.base import SCHEDULER_HUNG_FACTOR, SCHEDULER_STALE_SECONDS, row_dict


class QueueMixin:
    def active_queue(self) -> list[dict[str, Any]]:
        """Queued, running and stalled runs in id order, each with its group's spec (concurrency, executor).

        A group whose spec is damaged gets ``{"_bad_spec": why}``: its runs fail, the queue goes on.
        """
        rows = self.conn.execute(
            "SELECT r.id, r.group_id, r.status, g.spec FROM runs r LEFT JOIN groups g ON g.id = r.group_id"
            " WHERE r.status IN ('queued','running','stalled') ORDER BY r.id"
        ).fetchall()
        return [{"id": i, "group_id": g, "status": s, "spec": _spec(spec)} for i, g, s, spec in rows]

    def assign_trial(self, run_id: int, name: str, config: dict[str, Any], meta: dict[str, Any]) -> bool:
        """Give a queued search trial the values drawn for it (``runner.search.assign``); False when the
        run is no longer queued (cancelled meanwhile): it keeps what it had."""
        cur = self._write("UPDATE runs SET name=?, config=?, meta=? WHERE id=? AND status='queued'",
                          (name, json.dumps(config, default=str), json.dumps(meta, default=str), run_id))
        return cur.rowcount == 1

    def groups_of_parent(self, parent_run_id: int) -> list[dict[str, Any]]:
        """Groups launched from a run (its fix verifications), newest first."""
        cur = self.conn.execute("SELECT * FROM groups WHERE parent_run_id=? ORDER BY id DESC", (parent_run_id,))
        return [row_dict(cur, row, ("spec",)) for row in cur.fetchall()]

    def scheduler_holder(self, now: float | None = None) -> dict[str, Any] | None:
        """The live scheduler (pid, host, heartbeat), or None when there is none or it is dead/stale."""
        row = self.conn.execute("SELECT pid, host, heartbeat, started_at FROM scheduler WHERE id=1").fetchone()
        if row is None or not _holder_alive(row, time.time() if now is None else now):
            return None
        return dict(zip(("pid", "host", "heartbeat", "started_at"), row, strict=True))

    def acquire_scheduler(self, pid: int) -> bool:
        """Take the scheduler lock for ``pid`` on this host unless another live scheduler holds it.

        One ``BEGIN IMMEDIATE`` transaction reads and writes the row: a compare-and-swap, so of
        two processes asking at once exactly one wins.
        """
        host, now = socket.gethostname(), time.time()

        def body(conn: sqlite3.Connection) -> bool:
            row = conn.execute("SELECT pid, host, heartbeat, started_at FROM scheduler WHERE id=1").fetchone()
            if row is not None and (row[0], row[1]) != (pid, host) and _holder_alive(row, now):
                return False
            conn.execute("INSERT OR REPLACE INTO scheduler (id, pid, host, heartbeat, started_at)"
                         " VALUES (1,?,?,?,?)", (pid, host, now, now))
            return True

        return self._transaction(body)

    def spawn_scheduler(self, spawn: Callable[[], int]) -> int | None:
        """Unless a live scheduler holds the lock, call ``spawn()`` and record its pid as the holder,
        in one transaction; returns that pid, or None.

        Holding the lock row from the moment of the spawn is what makes a spawn *pending*: every
        other caller sees a live holder (the child, alive, just beaten) and spawns nothing.
        """
        def body(conn: sqlite3.Connection) -> int | None:
            now = time.time()
            row = conn.execute("SELECT pid, host, heartbeat, started_at FROM scheduler WHERE id=1").fetchone()
            if row is not None and _holder_alive(row, now):
                return None
            pid = spawn()
            taken = time.time()  # after the child started: its start time is no later than this
            conn.execute("INSERT OR REPLACE INTO scheduler (id, pid, host, heartbeat, started_at)"
                         " VALUES (1,?,?,?,?)", (pid, socket.gethostname(), taken, taken))
            return pid

        return self._transaction(body)

    def scheduler_beat(self, pid: int) -> bool:
        """Refresh the lock; False when this process no longer holds it (it must stop scheduling)."""
        cur = self._write("UPDATE scheduler SET heartbeat=? WHERE id=1 AND pid=? AND host=?",
                          (time.time(), pid, socket.gethostname()))
        return cur.rowcount == 1

    def release_scheduler(self, pid: int, only_if_idle: bool = False) -> bool:
        """Drop the lock held by ``pid``; with ``only_if_idle``, only while no run is queued.

        Checking the queue and releasing in one transaction closes the race with a session
        that queues runs just as the scheduler decides to leave: either the scheduler sees
        the new runs, or the session sees no scheduler and starts one.
        """
        def body(conn: sqlite3.Connection) -> bool:
            if only_if_idle and conn.execute("SELECT 1 FROM runs WHERE status='queued' LIMIT 1").fetchone():
                return False
            cur = conn.execute("DELETE FROM scheduler WHERE id=1 AND pid=? AND host=?", (pid, socket.gethostname()))
            return cur.rowcount == 1

        return self._transaction(body)


def _holder_alive(row: Sequence[Any], now: float) -> bool:
    """A holder lives if it beat lately. On this host its pid must run and have started before it
    took the lock (a pid reused since is another process); such a running holder is given
    SCHEDULER_HUNG_FACTOR times the stale limit, since its beat may only be waiting for a lock."""
    pid, host, beat, taken = row[0], row[1], row[2], row[3]
    if host != socket.gethostname():
        return now - beat <= SCHEDULER_STALE_SECONDS
    if not procs.started_by(pid, taken):
        return False
    return now - beat <= SCHEDULER_STALE_SECONDS * SCHEDULER_HUNG_FACTOR


def _spec(text: str | None) -> dict[str, Any]:
    try:
        spec = json.loads(text) if text else {}
    except ValueError as exc:
        return {"_bad_spec": f"group spec is not JSON: {exc}"}
    except RecursionError:  # nested deeper than Python's limit: damaged, and it must not stop the queue
        return {"_bad_spec": "group spec is nested too deep to read"}
    return spec if isinstance(spec, dict) else {"_bad_spec": f"group spec is not a JSON object: {text[:40]}"}
