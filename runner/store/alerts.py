"""Alert bookkeeping (settings, what a run was alerted about) and the hooks that raise status alerts.

Why the status hooks live in the store: every way a run ends goes through ``finish`` (its own
process, the reconcile of the dashboard, the scheduler or ``runner list``, the Ray head, the live
doctor), and a stall is judged only in ``reconcile``. Hooking those two here is the one place that
sees them all, whoever wrote the status. Sending is ``runner.alerts``' job; this only says that a
status is news. ``claim_alert`` is one ``INSERT OR IGNORE``, so of all the processes that see the same
news exactly one sends it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Sequence

from runner.store.base import StoreError
from traindoc.core.statuses import STATUS_ALERTS


class AlertsMixin:
    """Settings of this database, alert claims, and status alerts raised where statuses are written."""

    def setting(self, key: str) -> str | None:
        """A setting of this database (e.g. ``alert_url``), or None when unset."""
        row = self.conn.execute("SELECT value FROM settings WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_setting(self, key: str, value: str | None) -> None:
        """Set a setting; None or an empty string removes it (back to the environment's default)."""
        if value:
            self._write("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET"
                        " value=excluded.value", (key, value))
        else:
            self._write("DELETE FROM settings WHERE key=?", (key,))

    def claim_alert(self, run_id: int, key: str) -> bool:
        """True for the one caller (of any process) that claims ``key`` for this run first: it sends."""
        return self._write("INSERT OR IGNORE INTO alerts_sent (run_id, key, created_at) VALUES (?, ?, ?)",
                           (run_id, key, time.time())).rowcount == 1

    def alerts_claimed(self, run_id: int) -> list[str]:
        """The alert keys a run has had, oldest first."""
        return [r[0] for r in self.conn.execute(
            "SELECT key FROM alerts_sent WHERE run_id=? ORDER BY created_at, key", (run_id,))]

    def finish(self, run_id: int, status: str, error: str | None = None) -> bool:
        """``LivenessMixin.finish``, then an alert when the run died or was stopped (never an error here)."""
        ended: bool = super().finish(run_id, status, error=error)
        if ended and status in STATUS_ALERTS and not (status == "stopped" and self._pruned(run_id)):
            self._status_alert(run_id, status)
        return ended

    def _pruned(self, run_id: int) -> bool:
        """A search trial its pruner stopped (meta ``pruned``): an expected end, not worth waking anyone."""
        try:
            row = self.conn.execute("SELECT json_extract(meta, '$.pruned') FROM runs WHERE id=?", (run_id,)).fetchone()
        except sqlite3.DatabaseError:
            return False
        return bool(row and row[0])

    def reconcile(self, now: float | None = None) -> list[int]:
        """``LivenessMixin.reconcile``; a run it judged stalled raises an alert (a crash does in ``finish``)."""
        running = self._ids("SELECT id FROM runs WHERE status='running'") \
            if not self.read_only and self._alerting() else []
        dead: list[int] = super().reconcile(now)
        if running:
            marks = ",".join("?" * len(running))
            for run_id in self._ids(f"SELECT id FROM runs WHERE status='stalled' AND id IN ({marks})", running):
                self._status_alert(run_id, "stalled")
        return dead

    def _ids(self, sql: str, params: Sequence[int] = ()) -> list[int]:
        """Run ids of a read; none when the file cannot be read (the judging itself says why, not this)."""
        try:
            return [int(r[0]) for r in self.conn.execute(sql, tuple(params)).fetchall()]
        except (sqlite3.DatabaseError, StoreError):
            return []

    def _alerting(self) -> bool:
        from runner import alerts

        return alerts.enabled(self)  # False too when the setting cannot be read: judging goes on

    def _status_alert(self, run_id: int, status: str) -> None:
        from runner import alerts

        with contextlib.suppress(Exception):  # an alert never changes how a run ends, nor who ended it
            alerts.notify_status(self, run_id, status)
