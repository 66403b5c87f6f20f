"""Alerts: findings and statuses of live runs reach a webhook (a real receiver on 127.0.0.1), once each,
off the training thread; a webhook that fails is retried, then noted on the run, never raised."""

from __future__ import annotations

import json
import math
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest_ui import app_test, page_text

import traindoc
from runner import alerts
from runner.execute import execute
from runner.presets import PRESETS
from runner.store import STALE_AFTER_SECONDS, Store
from traindoc.live_doctor import for_run

DASHBOARD = "http://dashboard.example:8501"
ONSET = 40  # the first NaN step of the logged curves below
WAIT_S = 60.0  # bound on waits for a delivery; they end as soon as it arrives


class Receiver:
    """A webhook on 127.0.0.1: records every POST (headers and JSON body); answers with ``codes`` in turn,
    then 200."""

    def __init__(self, codes: tuple[int, ...] = ()) -> None:
        self.posts: list[dict[str, Any]] = []
        self.codes = list(codes)
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver.cond:
                    code = receiver.codes.pop(0) if receiver.codes else 200
                    receiver.posts.append({"body": body, "headers": dict(self.headers), "code": code})
                    receiver.cond.notify_all()
                self.send_response(code)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def bodies(self, **match: Any) -> list[dict[str, Any]]:
        with self.cond:
            return [p["body"] for p in self.posts if all(p["body"].get(k) == v for k, v in match.items())]

    def wait_for(self, timeout: float = WAIT_S, **match: Any) -> dict[str, Any]:
        """The first POST whose body has ``match``; waits for it at most ``timeout`` seconds."""
        with self.cond:
            self.cond.wait_for(lambda: self.bodies(**match), timeout)
        found = self.bodies(**match)
        assert found, f"no alert with {match} among {[p['body'] for p in self.posts]}"
        return found[0]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.server.shutdown()
    rec.server.server_close()


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> alerts.Dispatcher:
    """This process's dispatcher with short backoffs: a failing webhook gives up in milliseconds."""
    fresh = alerts.Dispatcher(backoff=0.01)
    monkeypatch.setattr(alerts, "_dispatcher", fresh)
    return fresh


@pytest.fixture
def alerting(store: Store, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.delenv(alerts.ENV_URL, raising=False)
    store.set_setting(alerts.SETTING_URL, receiver.url)
    store.set_setting(alerts.SETTING_DASHBOARD, DASHBOARD)
    return store


def _finding(rule: str = "divergence", severity: str = "critical", onset: int = ONSET) -> Any:
    from diagnostics.findings import Evidence, Finding

    return Finding(rule, severity, f"{rule} title", f"{rule} summary", Evidence("train/loss", start_step=onset))


def _diverging(run: Any, steps: int = 400) -> None:
    for step in range(1, steps):
        run.log({"train/loss": 1.0 / math.sqrt(step) if step < ONSET else float("nan")}, step=step)


def test_a_diverging_logging_api_run_alerts_once_with_a_link_to_its_page(alerting: Store,
                                                                         receiver: Receiver) -> None:
    with traindoc.start_run("nan at 3 a.m.", db=alerting.path) as run:
        _diverging(run)
    alerts.dispatcher().drain(WAIT_S)
    body = receiver.wait_for(rule="divergence")
    assert body == {**body, "source": "traindoc", "event": "finding", "run_id": run.id, "name": "nan at 3 a.m.",
                    "severity": "critical", "onset": ONSET, "url": f"{DASHBOARD}/run?run={run.id}"}
    assert body["title"] and body["summary"] and body["text"].startswith("CRITICAL ")
    assert len(receiver.bodies(rule="divergence")) == 1
    assert Store(alerting.path).run(run.id)["status"] == "finished"  # an alert ends nothing


def test_no_webhook_no_watcher_and_no_alert(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(alerts.ENV_URL, raising=False)
    with traindoc.start_run("quiet", db=store.path) as run:
        assert run.doctor is None
        _diverging(run, steps=60)
    assert store.alerts_claimed(run.id) == []


def test_each_finding_alerts_once_per_rule_and_severity_even_across_processes(alerting: Store,
                                                                              receiver: Receiver) -> None:
    run_id = alerting.create_run("r", status="running")
    other = Store(alerting.path)  # another process's handle on the same file
    run = alerting.run(run_id)
    first = alerts.notify_findings(alerting, run, [_finding(), _finding("overfitting", "warning"),
                                                   _finding("best_epoch", "info")])
    again = alerts.notify_findings(other, run, [_finding(), _finding("overfitting", "warning")])
    worse = alerts.notify_findings(other, run, [_finding("overfitting", "critical")])
    assert [a.key for a in first] == ["finding:divergence:critical", "finding:overfitting:warning"]
    assert again == [] and [a.key for a in worse] == ["finding:overfitting:critical"]
    alerts.dispatcher().drain(WAIT_S)
    assert sorted((b["rule"], b["severity"]) for b in receiver.bodies()) == [
        ("divergence", "critical"), ("overfitting", "critical"), ("overfitting", "warning")]


def test_a_run_that_fails_crashes_stalls_or_is_stopped_alerts_once_and_one_that_finishes_does_not(
        alerting: Store, receiver: Receiver) -> None:
    ids = {s: alerting.create_run(s, status="running") for s in ("failed", "stopped", "finished", "cancelled")}
    alerting.finish(ids["failed"], "failed", error="ValueError: boom (at train.py:12)")
    alerting.finish(ids["stopped"], "stopped", error="stopped by the doctor: divergence: NaN")
    pruned = alerting.create_run("pruned", status="running")  # a search trial its pruner stopped: expected
    alerting.update_meta(pruned, pruned={"step": 2, "metric": "val/auc"})
    alerting.finish(pruned, "stopped", error="pruned at epoch 2: val AUC 0.6 below the median 0.9")
    alerting.finish(ids["finished"], "finished")
    alerting.finish(ids["cancelled"], "cancelled", error="cancelled by user")
    gone = subprocess.Popen(["true"])
    gone.wait()
    ids["crashed"] = alerting.create_run("crashed", status="running")
    alerting.mark_running(ids["crashed"], pid=gone.pid)  # a process that is gone: judged crashed
    ids["stalled"] = alerting.create_run("stalled", status="running")
    alerting.mark_running(ids["stalled"], pid=None)  # this process: alive, so a late beat is a stall
    late = alerting.runs(reconcile=False)["heartbeat"].max() + STALE_AFTER_SECONDS + 1
    for _ in range(2):  # the second judgement finds nothing new to say
        alerting.reconcile(now=late)
        alerting.finish(ids["failed"], "failed", error="again")
    alerts.dispatcher().drain(WAIT_S)
    said = {b["status"]: b for b in receiver.bodies(event="status")}
    assert sorted(said) == ["crashed", "failed", "stalled", "stopped"]
    assert len(receiver.bodies(event="status")) == 4
    assert said["failed"] == {**said["failed"], "run_id": ids["failed"], "severity": "critical",
                              "title": f"Run #{ids['failed']} failed", "summary": "ValueError: boom (at train.py:12)",
                              "url": f"{DASHBOARD}/run?run={ids['failed']}"}
    assert said["stalled"]["severity"] == "warning" and "no heartbeat" in said["stalled"]["summary"]
    assert "is gone" in said["crashed"]["summary"]
    assert said["stopped"]["title"] == f"Run #{ids['stopped']} was stopped by the doctor"
    assert pruned not in {b["run_id"] for b in receiver.bodies(event="status")}


def test_a_failing_webhook_is_retried_then_noted_on_the_run_never_raised(
        store: Store, fast_retries: alerts.Dispatcher, monkeypatch: pytest.MonkeyPatch) -> None:
    failing = Receiver(codes=(500,) * alerts.ATTEMPTS)
    try:
        monkeypatch.setenv(alerts.ENV_URL, failing.url)  # the environment's webhook, no setting
        with traindoc.start_run("unheard", db=store.path) as run:
            _diverging(run)
        fast_retries.drain(WAIT_S)
        assert len(failing.posts) == alerts.ATTEMPTS
    finally:
        failing.server.shutdown()
        failing.server.server_close()
    stored = store.run(run.id)
    assert stored["status"] == "finished"
    failed = stored["meta"]["alert_failed"]
    assert failed == {**failed, "host": "127.0.0.1", "tries": alerts.ATTEMPTS, "key": "finding:divergence:critical"}
    assert "500" in failed["error"] and failing.url not in json.dumps(failed)  # the host only: a path may be secret
    line = alerts.failure_line(stored["meta"])
    assert line is not None and line.startswith(f"An alert could not be delivered to 127.0.0.1 after {alerts.ATTEMPTS}")


def test_a_refused_connection_is_noted_too(store: Store, fast_retries: alerts.Dispatcher,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    closed = Receiver()
    url = closed.url
    closed.server.server_close()  # nothing listens there any more
    monkeypatch.setenv(alerts.ENV_URL, url)
    run_id = store.create_run("r", status="running")
    store.finish(run_id, "failed", error="boom")
    fast_retries.drain(WAIT_S)
    assert store.run(run_id)["meta"]["alert_failed"]["tries"] == alerts.ATTEMPTS


@pytest.mark.parametrize(("codes", "delivered", "tries"),
                         [((503, 200), True, 2), ((404,), False, 1), ((429, 200), True, 2)],
                         ids=["a 5xx is retried", "a 4xx is not", "too-many-requests is"])
def test_which_answers_are_retried(codes: tuple[int, ...], delivered: bool, tries: int) -> None:
    rec = Receiver(codes=codes)
    try:
        alert = alerts.Alert("test", 1, "r", "critical", "t", "s", "http://x/run?run=1", key="k")
        ok, what, used = alerts.deliver(rec.url, alert, backoff=0.0)
        assert (ok, used, len(rec.posts)) == (delivered, tries, tries)
        assert what == "HTTP 200" if ok else "404" in what
    finally:
        rec.server.shutdown()
        rec.server.server_close()


def test_slack_gets_slacks_body_and_any_other_url_the_generic_one_with_ntfy_headers() -> None:
    alert = alerts.Alert("finding", 7, "<b>net</b> & co", "critical", "Loss diverged → NaN", "NaN from step 40",
                         "http://localhost:8501/run?run=7", rule="divergence", onset=40, status="running",
                         key="finding:divergence:critical")
    slack = alerts.request_for("https://hooks.slack.com/services/T0/B0/XYZ", alert)
    assert json.loads(slack.data) == {"text": "*CRITICAL Loss diverged → NaN* (run #7 &lt;b&gt;net&lt;/b&gt; &amp; co)"
                                              "\nNaN from step 40\n<http://localhost:8501/run?run=7|Open the run>"}
    generic = alerts.request_for("https://ntfy.sh/my-runs", alert)
    assert json.loads(generic.data) == {
        "source": "traindoc", "event": "finding", "run_id": 7, "name": "<b>net</b> & co", "rule": "divergence",
        "severity": "critical", "title": "Loss diverged → NaN", "summary": "NaN from step 40", "onset": 40,
        "status": "running", "url": "http://localhost:8501/run?run=7",
        "text": "CRITICAL Loss diverged → NaN (run #7 <b>net</b> & co): NaN from step 40"}
    assert generic.get_header("Title") == "Loss diverged ? NaN"  # a header is one line of ASCII
    assert generic.get_header("Click") == "http://localhost:8501/run?run=7"


def test_the_database_setting_wins_over_the_environment(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(alerts.ENV_URL, "https://env.example/hook")
    monkeypatch.setenv(alerts.ENV_DASHBOARD, "http://board.example:9000/")
    assert alerts.alert_url(store) == "https://env.example/hook"
    assert alerts.run_link(store, 3) == "http://board.example:9000/run?run=3"
    store.set_setting(alerts.SETTING_URL, "https://db.example/hook")
    assert alerts.alert_url(store) == "https://db.example/hook"
    store.set_setting(alerts.SETTING_URL, "")
    monkeypatch.delenv(alerts.ENV_URL)
    monkeypatch.delenv(alerts.ENV_DASHBOARD)
    assert alerts.alert_url(store) is None and alerts.dashboard_url(store) == alerts.DEFAULT_DASHBOARD


@pytest.mark.parametrize("url", ["file:///etc/passwd", "hooks.slack.com/services/x", "ftp://x/y", ""])
def test_only_http_urls_are_sent_to(url: str) -> None:
    with pytest.raises(ValueError, match="not an http"):
        alerts.check_url(url)


def test_overview_alerts_saves_the_webhook_and_sends_a_test(db_path: Path, receiver: Receiver,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(alerts.ENV_URL, raising=False)
    Store(db_path)
    at = app_test(db_path, monkeypatch)
    at.text_input(key="alerts:url").input(receiver.url)
    at.text_input(key="alerts:dashboard").input("http://me.example:8501")
    at.button(key="alerts:save").click().run()
    assert "Saved: alerts go to 127.0.0.1." in page_text(at)
    store = Store(db_path)
    assert (alerts.alert_url(store), alerts.dashboard_url(store)) == (receiver.url, "http://me.example:8501")
    at.button(key="alerts:test").click().run()
    assert "Delivered to 127.0.0.1 (HTTP 200)." in page_text(at)
    assert receiver.wait_for(event="test")["url"] == "http://me.example:8501"
    at.text_input(key="alerts:url").input("ntfy.sh/topic")
    at.button(key="alerts:save").click().run()
    assert "is not an http(s) URL" in page_text(at) and alerts.alert_url(store) == receiver.url


def test_the_run_page_says_when_an_alert_was_not_delivered(store: Store, db_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    run_id = store.create_run("unheard", status="finished", source="api")
    store.update_meta(run_id, alert_failed={"at": 0, "key": "status:failed", "title": "Run #1 failed",
                                            "host": "hooks.example", "error": "HTTPError: HTTP Error 500", "tries": 3})
    at = app_test(db_path, monkeypatch, page="pages/run.py", run=str(run_id))
    assert "An alert could not be delivered to hooks.example after 3 tries" in page_text(at)


@pytest.mark.slow
def test_a_diverging_preset_alerts_with_its_finding(alerting: Store, receiver: Receiver) -> None:
    """A trained run (the runner's lifecycle, as the scheduler starts it) is watched for the alerts."""
    cfg = PRESETS["divergence"].config({"train.epochs": 20})
    run_id = alerting.create_run("divergence", cfg.to_flat())
    execute(alerting, run_id, watch=for_run)  # the watcher python -m runner hands in
    alerts.dispatcher().drain(WAIT_S)
    body = receiver.wait_for(rule="divergence")
    assert (body["run_id"], body["severity"], body["url"]) == (run_id, "critical", f"{DASHBOARD}/run?run={run_id}")
