"""The doctor that watches a live run and, when asked, stops it on a critical finding.

It lives in ``traindoc`` (beside ``handoff``) because it composes the two layers: it reads the
store and runs the diagnostics; the runner loads it lazily, only for a run that asked for it
(what may stop a run is ``runner.stop_on``).

Why a thread beside the training loop and not a step in it: diagnosing reads the stored
curves, which costs milliseconds, not microseconds; a training step must not wait for it.
Every ``interval`` seconds the thread reads the run's last stored step (one indexed row), and
only when the sink has written a new batch does it diagnose what is stored, so a finding
appears within one sink flush interval of its onset plus one poll. When a critical finding of a rule in ``stop_on``
appears it records the finding in the run's meta, ends the run ``stopped`` and sets
``stop_requested``; the training loop (or the integration) then leaves at its next step.
The dashboard's run page already re-diagnoses a live run every two seconds.

When the database has a webhook (``runner.alerts``) the doctor watches every live run, whatever
asked for it, and hands each new warning or critical finding to the alerts; ``last_look`` after
the run's end sees the rows of its last flush, which the loop no longer does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

from runner import alerts
from runner.stop_on import check_stop_on, requested
from runner.store import Store
from traindoc.core.statuses import ACTIVE

DEFAULT_INTERVAL = 0.1  # seconds between polls of the last stored step; a diagnosis only follows a new batch


class LiveDoctor:
    """Diagnoses run ``run_id`` every ``interval`` seconds until closed or until it stops the run;
    with ``alert``, each new warning or critical finding also goes to the database's webhook."""

    def __init__(self, store: Store, run_id: int, stop_on: Iterable[str] | str,
                 interval: float = DEFAULT_INTERVAL, alert: bool = False) -> None:
        self.store = store
        self.run_id = run_id
        self.stop_on = check_stop_on(stop_on)
        self.interval = interval
        self.alert = alert
        self.stopped_by: dict[str, Any] | None = None
        self.looks = 0  # diagnoses run (one per batch the sink wrote, at most)
        self._seen_step: int | None = None
        self._done = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name=f"traindoc-doctor-{run_id}")
        self._thread.start()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def close(self) -> None:
        self._done.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._done.wait(self.interval):
            try:
                if self.look():
                    return
            except Exception:  # noqa: BLE001 - a failed look must never take the training down
                continue

    def look(self) -> bool:
        """One diagnosis of what is stored; True when it stopped the run."""
        from diagnostics import diagnose
        from traindoc.handoff import load_run

        run = self.store.run(self.run_id)
        if run["status"] not in ACTIVE:
            return True  # it ended meanwhile: nothing left to watch
        if run["last_step"] is None or run["last_step"] == self._seen_step:
            return False  # nothing new since the last diagnosis
        self._seen_step = run["last_step"]
        self.looks += 1
        findings = diagnose(load_run(self.store, self.run_id))
        self._alert(run, findings)
        critical = [f for f in findings if f.severity == "critical" and f.rule in self.stop_on]
        if not critical:
            return False
        finding = critical[0]
        self.stopped_by = {"rule": finding.rule, "summary": finding.summary, "onset_step": finding.evidence.start_step,
                           "detected_at_step": run["last_step"], "detected_at": time.time()}
        self.store.update_meta(self.run_id, stopped_by=self.stopped_by)
        self.store.finish(self.run_id, "stopped", error=f"stopped by the doctor: {finding.rule}: {finding.summary}")
        self._stop.set()
        return True


    def last_look(self) -> None:
        """After the run's end (its last rows flushed): alert on what the loop did not see; never raises."""
        if not self.alert:
            return
        from diagnostics import diagnose
        from traindoc.handoff import load_run

        try:
            run = self.store.run(self.run_id)
            if run["last_step"] is not None and run["last_step"] != self._seen_step:
                self._seen_step = run["last_step"]
                self._alert(run, diagnose(load_run(self.store, self.run_id)))
        except Exception:  # noqa: BLE001 - the run has ended as it ended; an alert changes nothing of it
            return

    def _alert(self, run: dict[str, Any], findings: list[Any]) -> None:
        if not self.alert:
            return
        try:
            alerts.notify_findings(self.store, run, findings)
        except Exception:  # noqa: BLE001 - a webhook or its bookkeeping never stops the watch (or a stop)
            return


def for_run(store: Store, run_id: int, **kw: Any) -> LiveDoctor | None:
    """The doctor a launched run asked for (``requested``), or one that only alerts when the database has a
    webhook; None when neither."""
    stop_on = requested(store, store.run(run_id))
    alert = alerts.enabled(store)
    return LiveDoctor(store, run_id, stop_on, alert=alert, **kw) if stop_on or alert else None
