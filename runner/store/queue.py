"""The shared run queue and the lock that lets exactly one scheduler serve it."""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from runner.store.base import SCHEDULER_STALE_SECONDS, _pid_alive, row_dict


class QueueMixin:
    def active_queue(self) -> list[dict[str, Any]]:
        """Queued and running runs in id order, each with its group's spec (concurrency, executor)."""
        rows = self.conn.execute(
            "SELECT r.id, r.group_id, r.status, g.spec FROM runs r LEFT JOIN groups g ON g.id = r.group_id"
            " WHERE r.status IN ('queued','running') ORDER BY r.id"
        ).fetchall()
        return [{"id": i, "group_id": g, "status": s, "spec": json.loads(spec) if spec else {}}
                for i, g, s, spec in rows]

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
        """Take the scheduler lock for ``pid`` on this host unless a live scheduler holds it."""
        host, now = socket.gethostname(), time.time()

        def body(conn: sqlite3.Connection) -> bool:
            row = conn.execute("SELECT pid, host, heartbeat, started_at FROM scheduler WHERE id=1").fetchone()
            if row is not None and (row[0], row[1]) != (pid, host) and _holder_alive(row, now):
                return False
            conn.execute("INSERT OR REPLACE INTO scheduler (id, pid, host, heartbeat, started_at)"
                         " VALUES (1,?,?,?,?)", (pid, host, now, now))
            return True

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
    pid, host, beat = row[0], row[1], row[2]
    if host == socket.gethostname() and not _pid_alive(pid):
        return False
    return now - beat <= SCHEDULER_STALE_SECONDS
