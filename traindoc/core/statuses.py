"""The run statuses, in one place: what a run can be, and which of those are not over yet.

A leaf module (it imports nothing), so the store, the launcher, the live doctor and the pages
share one answer instead of each spelling its own tuple. ``runner.store`` re-exports both.
"""

from __future__ import annotations

STATUSES: tuple[str, ...] = ("queued", "running", "stalled", "finished", "failed", "crashed", "cancelled", "stopped")
# alive or about to be: not finished (a stalled run's process may still live and come back)
ACTIVE: tuple[str, ...] = ("queued", "running", "stalled")
# claimed by a process (it has a pid that can be signalled): the active ones past the queue
STARTED: tuple[str, ...] = tuple(s for s in ACTIVE if s != "queued")
# the statuses worth waking someone for: the run died (failed, crashed), hangs (stalled), or the doctor
# ended it (stopped); finished and cancelled are what the user expected
STATUS_ALERTS: tuple[str, ...] = ("failed", "crashed", "stalled", "stopped")
