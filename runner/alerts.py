"""Alerts: a JSON POST to the database's webhook per new warning or critical finding of a live run, and
when a run fails, crashes, stalls or is stopped by the doctor.

Where the news comes from: findings from the live doctor (``traindoc.live_doctor``, which runs beside
every live run of any source once a webhook is set), statuses from the store itself
(``runner.store.alerts``: every end goes through ``finish``, every stall through ``reconcile``).
Each (run, news) is claimed in the database first, so it is sent once even when several processes
see it. Where it goes: ``alert_url`` (the database's setting, made on the dashboard's Overview), else
``TRAINDOC_ALERT_URL``. A Slack incoming webhook gets Slack's ``{"text": ...}``; any other URL a
generic JSON body (ntfy takes it as a plain POST and shows its ``Title``/``Click`` headers).

Why a queue and a thread: a webhook may hang or refuse; the training loop and the dashboard must not
wait on it. Delivery is bounded (a timeout per try, a few tries with backoff); a delivery that still
fails is noted in the run's meta (``alert_failed``, shown on the run page) and never raised. Standard
library only (urllib), so any runner process can send.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from traindoc.core.statuses import STATUS_ALERTS

if TYPE_CHECKING:
    import urllib.request

ENV_URL = "TRAINDOC_ALERT_URL"
ENV_DASHBOARD = "TRAINDOC_DASHBOARD_URL"
SETTING_URL = "alert_url"
SETTING_DASHBOARD = "dashboard_url"
DEFAULT_DASHBOARD = "http://localhost:8501"  # where `streamlit run app.py` serves by default
SEVERITIES = ("warning", "critical")  # an info finding (where to stop, ...) is not worth a message
TIMEOUT_SECONDS = 5.0  # a webhook answers in well under a second; one that hangs must not hold the queue
ATTEMPTS = 3  # a reset or a 5xx is often transient; more tries only delay the alerts queued behind
BACKOFF_SECONDS = 1.0  # before the 2nd try; doubled before each next one (1 s, 2 s)
QUEUE_LIMIT = 100  # pending alerts per process: past that the webhook is down, and the run says so
EXIT_WAIT_SECONDS = 15.0  # a script's last alerts still leave at exit, but its exit is never held longer
RESPONSE_BYTES = 4096  # read of the answer: enough for an error text, never a large page
# a status's severity: dead or stopped on a critical finding is critical; stalled may come back
STATUS_SEVERITY = {"failed": "critical", "crashed": "critical", "stopped": "critical", "stalled": "warning"}
STATUS_WORDS = {"failed": "failed", "crashed": "crashed", "stalled": "stalled", "stopped": "was stopped by the doctor"}
SLACK_HOSTS = ("hooks.slack.com",)  # Slack's incoming webhooks


@dataclass(frozen=True)
class Alert:
    """One message: what happened to which run, and the link to its page."""

    event: str  # "finding", "status" or "test"
    run_id: int | None
    name: str
    severity: str
    title: str
    summary: str
    link: str
    rule: str | None = None
    onset: int | None = None  # the finding's first step, or the last step a dead run logged
    status: str | None = None
    key: str = ""  # what was claimed: "finding:<rule>:<severity>" or "status:<status>"

    def text(self) -> str:
        """One plain line, for a phone notification or a chat."""
        run = f"run #{self.run_id} {self.name}" if self.run_id is not None else self.name
        return f"{self.severity.upper()} {self.title} ({run}): {self.summary}"

    def generic(self) -> dict[str, Any]:
        return {"source": "traindoc", "event": self.event, "run_id": self.run_id, "name": self.name,
                "rule": self.rule, "severity": self.severity, "title": self.title, "summary": self.summary,
                "onset": self.onset, "status": self.status, "url": self.link, "text": self.text()}

    def slack(self) -> dict[str, Any]:
        run = f"run #{self.run_id} {self.name}" if self.run_id is not None else self.name
        return {"text": f"*{_slack_escape(self.severity.upper())} {_slack_escape(self.title)}* "
                        f"({_slack_escape(run)})\n{_slack_escape(self.summary)}\n<{self.link}|Open the run>"}


def _slack_escape(text: str) -> str:
    """Slack reads ``<``, ``>`` and ``&`` as markup: a run name must stay text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _header(text: str) -> str:
    """A header value: one line of ASCII (a run's name is user data)."""
    return " ".join(text.split()).encode("ascii", "replace").decode()[:200]


def check_url(url: str) -> str:
    """The URL stripped, or a ValueError naming what is wrong: only http(s) is sent to."""
    url = url.strip()
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"alert URL {url!r} is not an http(s) URL: give e.g. https://hooks.slack.com/services/..."
                         " or https://ntfy.sh/your-topic")
    return url


def host_of(url: str) -> str:
    """The host alone: what is shown and stored about a webhook (its path is often its secret)."""
    return urllib.parse.urlsplit(url).hostname or "?"


def is_slack(url: str) -> bool:
    return host_of(url) in SLACK_HOSTS


def alert_url(store: Any) -> str | None:
    """The webhook: this database's setting, else ``TRAINDOC_ALERT_URL``; None when neither is set."""
    url = (store.setting(SETTING_URL) or os.environ.get(ENV_URL) or "").strip()
    return url or None


def dashboard_url(store: Any) -> str:
    """Where the links point: the setting, else ``TRAINDOC_DASHBOARD_URL``, else Streamlit's default."""
    return (store.setting(SETTING_DASHBOARD) or os.environ.get(ENV_DASHBOARD) or DEFAULT_DASHBOARD).rstrip("/")


def run_link(store: Any, run_id: int) -> str:
    return f"{dashboard_url(store)}/run?run={run_id}"


def request_for(url: str, alert: Alert) -> urllib.request.Request:
    """The POST for this webhook: Slack's body for Slack, the generic one (with ntfy's headers) otherwise."""
    import urllib.request  # here, not at the top: a process that never sends (runner list) skips http

    headers = {"Content-Type": "application/json", "User-Agent": "traindoc-alerts"}
    if is_slack(url):
        body = alert.slack()
    else:
        body = alert.generic()
        headers |= {"Title": _header(alert.title), "Click": _header(alert.link)}
    return urllib.request.Request(check_url(url), data=json.dumps(body).encode(), headers=headers, method="POST")


def post(url: str, alert: Alert, timeout: float = TIMEOUT_SECONDS) -> int:
    """Send once; the HTTP status, or an ``OSError`` (``urllib.error.URLError``, ``HTTPError``, timeout)."""
    import urllib.request

    with urllib.request.urlopen(request_for(url, alert), timeout=timeout) as response:  # noqa: S310 - http(s) only
        response.read(RESPONSE_BYTES)
        return int(response.status)


def _retryable(exc: BaseException) -> bool:
    """A refused request (4xx: a wrong URL or token) fails the same way again; too-many-requests does not."""
    import urllib.error

    return not isinstance(exc, urllib.error.HTTPError) or exc.code >= 500 or exc.code == 429


def deliver(url: str, alert: Alert, attempts: int = ATTEMPTS, timeout: float = TIMEOUT_SECONDS,
            backoff: float = BACKOFF_SECONDS, sleep: Callable[[float], None] = time.sleep) -> tuple[bool, str, int]:
    """Up to ``attempts`` tries: (delivered, what happened, tries used); never raises."""
    import http.client

    error = "not tried"
    for attempt in range(1, attempts + 1):
        try:
            status = post(url, alert, timeout)
            return True, f"HTTP {status}", attempt
        except (OSError, ValueError, http.client.HTTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"
            if attempt == attempts or not _retryable(exc):
                return False, error, attempt
            sleep(backoff * 2 ** (attempt - 1))
    return False, error, attempts


class Dispatcher:
    """A queue drained by one daemon thread per process; ``submit`` never blocks and never raises."""

    def __init__(self, attempts: int = ATTEMPTS, timeout: float = TIMEOUT_SECONDS,
                 backoff: float = BACKOFF_SECONDS) -> None:
        self.attempts, self.timeout, self.backoff = attempts, timeout, backoff
        self._pending: deque[tuple[Any, str, Alert]] = deque()
        self._busy = 0  # queued plus the one being sent
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, store: Any, url: str, alert: Alert) -> bool:
        """Queue one alert; False (and noted on the run) when the queue is full."""
        with self._cond:
            if self._busy >= QUEUE_LIMIT:
                full = True
            else:
                full = False
                self._pending.append((store, url, alert))
                self._busy += 1
                self._cond.notify_all()
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._loop, daemon=True, name="traindoc-alerts")
                    self._thread.start()
        if full:
            note_failure(store, url, alert, f"not sent: {QUEUE_LIMIT} alerts already waiting", 0)
        return not full

    def drain(self, timeout: float) -> bool:
        """Wait until every queued alert was sent or given up (at most ``timeout`` s); True when none is left."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    self._cond.wait()
                store, url, alert = self._pending.popleft()
            try:
                ok, what, tries = deliver(url, alert, self.attempts, self.timeout, self.backoff)
                if not ok:
                    note_failure(store, url, alert, what, tries)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()


def note_failure(store: Any, url: str, alert: Alert, error: str, tries: int) -> None:
    """Record on the run that an alert did not reach the webhook (its host only: the path may be a secret)."""
    if alert.run_id is None:
        return
    with contextlib.suppress(Exception):  # nothing about an alert may reach the training, not even this
        store.update_meta(alert.run_id, alert_failed={"at": round(time.time(), 3), "key": alert.key,
                                                      "title": alert.title, "host": host_of(url),
                                                      "error": error, "tries": tries})


def failure_line(meta: dict[str, Any]) -> str | None:
    """The run page's line about an alert that did not arrive, or None."""
    failed = meta.get("alert_failed") if isinstance(meta, dict) else None
    if not isinstance(failed, dict):
        return None
    tries = failed.get("tries") or 0
    return (f"An alert could not be delivered to {failed.get('host', '?')}"
            + (f" after {tries} {'try' if tries == 1 else 'tries'}" if tries else "")
            + f": {failed.get('title', '')} ({failed.get('error', '')}). Check the webhook under Overview → Alerts.")


_dispatcher: Dispatcher | None = None
_lock = threading.Lock()


def dispatcher() -> Dispatcher:
    """This process's dispatcher; at exit it gets up to ``EXIT_WAIT_SECONDS`` to send what is queued."""
    global _dispatcher
    with _lock:
        if _dispatcher is None:
            _dispatcher = Dispatcher()
            atexit.register(_dispatcher.drain, EXIT_WAIT_SECONDS)
        return _dispatcher


def enabled(store: Any) -> bool:
    """Whether a webhook is set for this database (the live doctor then watches every live run)."""
    try:
        return alert_url(store) is not None
    except Exception:  # noqa: BLE001 - a store without settings (an old proxy) has no alerts
        return False


def _send(store: Any, alert: Alert) -> bool:
    """Claim the news for the run, then queue it; False when another process (or an earlier look) had it."""
    url = alert_url(store)
    if url is None or alert.run_id is None or not store.claim_alert(alert.run_id, alert.key):
        return False
    dispatcher().submit(store, url, alert)
    return True


def notify_findings(store: Any, run: dict[str, Any], findings: Iterable[Any]) -> list[Alert]:
    """An alert per warning or critical finding this run was not alerted about yet (per rule and severity).

    ``findings`` are ``diagnostics`` Findings (rule, severity, title, summary, evidence.start_step): the
    caller diagnoses, so this layer never imports the diagnostics."""
    if alert_url(store) is None:
        return []
    sent = []
    for finding in findings:
        if finding.severity not in SEVERITIES:
            continue
        alert = Alert("finding", int(run["id"]), run["name"], finding.severity, finding.title, finding.summary,
                      run_link(store, int(run["id"])), rule=finding.rule, onset=finding.evidence.start_step,
                      status=run["status"], key=f"finding:{finding.rule}:{finding.severity}")
        if _send(store, alert):
            sent.append(alert)
    return sent


def notify_status(store: Any, run_id: int, status: str) -> Alert | None:
    """The alert for a run that failed, crashed, stalled or was stopped, once per run and status."""
    if status not in STATUS_ALERTS or alert_url(store) is None:
        return None
    run = store.run(run_id)
    why = run["error"] or ""
    if status == "stalled":
        verdicts = run["meta"].get("verdicts") or [{}]
        why = verdicts[-1].get("why", "") if isinstance(verdicts[-1], dict) else ""
    alert = Alert("status", run_id, run["name"], STATUS_SEVERITY[status], f"Run #{run_id} {STATUS_WORDS[status]}",
                  why or f"the run is {status}", run_link(store, run_id), onset=run["last_step"], status=status,
                  key=f"status:{status}")
    return alert if _send(store, alert) else None


def send_test(store: Any, url: str | None = None) -> tuple[bool, str]:
    """Send one test alert now (one try, in this thread): (delivered, a sentence saying what happened)."""
    url = url or alert_url(store)
    if not url:
        return False, f"No webhook set: enter one above, or set {ENV_URL}."
    try:
        url = check_url(url)
    except ValueError as exc:
        return False, str(exc)
    alert = Alert("test", None, "traindoc", "info", "Test alert from traindoc",
                  "alerts from this database reach this webhook", dashboard_url(store), key="test")
    ok, what, _ = deliver(url, alert, attempts=1)
    return ok, (f"Delivered to {host_of(url)} ({what})." if ok else f"Could not deliver to {host_of(url)}: {what}")
