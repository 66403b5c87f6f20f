"""AppTests of the daily-use dashboard: launch form state, run management, compare picks, bad URLs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest_ui import app_test, page_text
from streamlit.testing.v1 import AppTest

from runner import plan
from runner.store import Store


def _launch_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Store, AppTest]:
    """The Launch page on a fresh database; submitting queues runs without starting a scheduler."""
    db = tmp_path / "l.db"
    real_submit = plan.submit
    monkeypatch.setattr(plan, "submit", lambda s, p: real_submit(s, p, start_scheduler=False))
    return Store(db), app_test(db, monkeypatch, "pages/launch.py")


def _queue_button(at: AppTest):  # noqa: ANN202 - an AppTest element
    return at.button(key="launch:queue")


def test_launch_form_keeps_its_state_when_a_run_finishes_and_queue_disables_after_submit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, at = _launch_page(tmp_path, monkeypatch)
    at.selectbox(key="launch:start").select("preset · healthy").run()
    at.text_input(key="preset · healthy:train.epochs").input("40").run()
    at.text_input(key="preset · healthy:group-name").input("my group").run()
    assert _queue_button(at).label == "Queue 1 run"
    run_id = store.create_run("elsewhere", {}, status="running")  # a run finishing elsewhere adds an option
    store.finish(run_id, "finished")
    at.run()
    assert at.selectbox(key="launch:start").value == "preset · healthy"
    assert at.text_input(key="preset · healthy:train.epochs").value == "40"
    assert at.text_input(key="preset · healthy:group-name").value == "my group"
    assert _queue_button(at).label == "Queue 1 run"
    _queue_button(at).click().run()
    button = _queue_button(at)
    assert button.disabled and button.label.startswith("Queued as group #")
    group = store.groups().iloc[0]
    assert group["name"] == "my group"
    assert json.loads(store.runs(group_id=int(group["id"])).iloc[0]["config"])["train.epochs"] == 40
    at.text_input(key="preset · healthy:train.epochs").input("41").run()
    assert _queue_button(at).label == "Queue 1 run" and not _queue_button(at).disabled


def test_launch_invalid_value_names_it_instead_of_queue_0_runs(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    at = app_test(tmp_path / "l.db", monkeypatch, "pages/launch.py")
    at.selectbox(key="launch:start").select("preset · healthy").run()
    at.text_input(key="preset · healthy:optim.lr").input("abc").run()
    button = _queue_button(at)
    assert button.disabled and "0 runs" not in button.label and "optim.lr" in button.label
    assert "optim.lr" in page_text(at)


def _unrelated(db: Path) -> list[int]:
    """Three runs with nothing in common but a train loss: two configured runs, one upload without config."""
    store = Store(db)
    base = {f"model.k{i}": i for i in range(30)}
    ids = [store.create_run("a very long run name that goes on and on " * 3, {**base, "optim.lr": 0.1},
                            status="finished"),
           store.create_run("other", {**base, "optim.lr": 0.01, "train.seed": 2}, status="finished", source="api"),
           store.create_run("lightning_logs/version_0", {}, status="finished", source="upload")]
    for run_id, extra in zip(ids, ("val/loss", "val/acc", "val/auc"), strict=True):
        store.write_metrics([(run_id, s, None, name, 1.0 / (s + 1), 0.0) for s in range(50)
                             for name in ("train/loss", extra)])
    return ids


def test_compare_of_unrelated_runs_stays_readable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _unrelated(tmp_path / "c.db")
    at = app_test(tmp_path / "c.db", monkeypatch, "pages/compare.py", runs=",".join(map(str, ids)))
    assert not at.exception
    assert at.selectbox[0].value == "train/loss"  # the one metric all three share, not val/auc
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert len(specs) == 1  # no sensitivity or parallel coordinates for runs that are not a sweep
    names = [t["name"] for t in specs[0]["data"]]
    assert len(names) == 3 and all(len(n) < 60 for n in names)
    assert names[0].endswith("lr=0.1") and "(no config)" in specs[0]["data"][2]["hovertemplate"]
    table = at.dataframe[0].value
    assert [c for c in table.columns if "." in c] == ["optim.lr", "train.seed"]


def test_bad_group_url_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _unrelated(tmp_path / "c.db")
    at = app_test(tmp_path / "c.db", monkeypatch, "pages/compare.py", group="999")
    assert not at.exception and "no group with id 999" in at.error[0].value and not at.get("plotly_chart")


def test_a_tried_fix_says_so_on_its_card_with_full_labels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from diagnostics.findings import Evidence, Finding, Fix
    from traindoc.ui import shared as _shared

    store = Store(tmp_path / "f.db")
    run_id = store.create_run("nll", {"model.head": "softmax"}, status="finished")
    store.write_metrics([(run_id, s, None, "train/loss", -s / 10, 0.0) for s in range(10)])
    fixes = (Fix("Apply LogSoftmax before NLLLoss", "", {"model.head": "log_softmax"}),
             Fix("Apply CrossEntropyLoss to the raw logits", "", {"model.head": "linear"}))
    finding = Finding("negative_loss", "critical", "Loss below zero", "s", Evidence("train/loss"), fixes=fixes)
    monkeypatch.setattr(_shared, "diagnose_run", lambda *a: ([finding], None))
    group, _ = plan.submit(store, plan.fix_plan(store.run(run_id), "negative_loss", "critical",
                                                [(fixes[0].text, dict(fixes[0].config_patch))]),
                           start_scheduler=False)
    at = app_test(tmp_path / "f.db", monkeypatch, "pages/run.py", run=str(run_id))
    assert not at.exception  # still queued: no second launch of the same fix, a link to follow it
    busy = next(b for b in at.button if b.label.endswith("Apply LogSoftmax before NLLLoss"))
    assert busy.label.startswith("Trying now") and busy.disabled
    assert f"Trying in group #{group}: follow it" in [link.proto.label for link in at.get("page_link")]
    for fix_run in store.runs(group_id=group).id:  # ended before logging a step: last_step stays None
        store.finish(int(fix_run), "finished")
    at = app_test(tmp_path / "f.db", monkeypatch, "pages/run.py", run=str(run_id))
    labels = [b.label for b in at.button]
    assert "Try again: Apply LogSoftmax before NLLLoss" in labels
    assert "Try this fix: Apply CrossEntropyLoss to the raw logits" in labels
    links = [link.proto for link in at.get("page_link")]
    assert any(link.label == f"Tried in group #{group}: see the result" and link.query_string == f"group={group}"
               for link in links)
    assert [b.label for b in at.get("download_button")] == ["Report (Markdown)", "Report (HTML + chart)"]


def test_overview_progress_in_whole_percent_and_scheduler_status_follows_the_queue(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path / "o.db")
    running = store.create_run("live", {}, status="queued")
    store.mark_running(running)  # this process: alive, so the run is not reconciled as crashed
    store.heartbeat(running, progress=0.2492)
    group = store.create_group("g ", spec={})
    store.create_run("waiting", {}, group_id=group)
    at = app_test(tmp_path / "o.db", monkeypatch)
    assert not at.exception
    table = at.dataframe[0].value
    assert table.set_index("id").loc[running, "progress"] == 25
    at = app_test(tmp_path / "o.db", monkeypatch, "pages/launch.py")
    assert "Scheduler: starting for 1 queued run…" in page_text(at)
    assert "**Group #1 g**" in [p.proto.text for p in at.get("progress")][0]  # trailing space: no literal **
    links = [link.proto.label for link in at.get("page_link")]
    assert "Run #2" in links  # a queued run links to its run page


def test_live_run_page_has_a_cancel_button_and_a_live_header(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path / "r.db")
    run_id = store.create_run("live " * 40, {}, status="queued")
    store.mark_running(run_id)
    store.write_metrics([(run_id, s, None, "train/loss", 1.0, 0.0) for s in range(10)])
    at = app_test(tmp_path / "r.db", monkeypatch, "pages/run.py", run=str(run_id))
    assert not at.exception
    assert at.button(key="run:cancel").label == "Cancel run"
    assert len(at.title[0].value) < 120 and "live live" in at.caption[0].value  # cut title, full name below
    store.write_metrics([(run_id, s, None, "train/loss", 1.0, 0.0) for s in range(10, 30)])
    at.run()
    assert [m.value for m in at.metric if m.label == "Steps"] == ["30"]  # the header follows the run


def test_register_with_empty_fields_asks_for_a_name_and_a_path(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    at = app_test(tmp_path / "s.db", monkeypatch, "pages/launch.py")
    next(b for b in at.button if b.label == "Register").click().run()
    assert not at.exception
    assert "name and the path" in page_text(at) and "script name ''" not in page_text(at)
    assert not Store(tmp_path / "s.db").scripts()



def test_open_a_run_label_follows_the_status_and_keeps_the_pick(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path / "o.db")
    first = store.create_run("first", {}, status="finished")
    live = store.create_run("live", {}, status="running")
    at = app_test(tmp_path / "o.db", monkeypatch)
    box = next(s for s in at.selectbox if s.label == "Open a run")
    box.select(first).run()
    store.finish(live, "finished")
    at.run()
    box = next(s for s in at.selectbox if s.label == "Open a run")
    assert box.options == [f"#{live} live (finished)", f"#{first} first (finished)"] and box.value == first


def test_launch_asks_once_before_queueing_a_large_sweep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first screen (a 15-run built-in sweep) queues nothing until the user confirms the count."""
    store, at = _launch_page(tmp_path, monkeypatch)
    button = _queue_button(at)
    assert button.label == "Queue 15 runs" and button.disabled
    [confirm] = [c for c in at.checkbox if c.label.startswith("Yes, queue all 15 runs")]
    confirm.check().run()
    assert not _queue_button(at).disabled
    _queue_button(at).click().run()
    assert len(store.runs()) == 15
    # a small submission does not ask
    at.selectbox(key="launch:start").select("preset · healthy").run()
    assert not _queue_button(at).disabled and not [c for c in at.checkbox if c.label.startswith("Yes, queue")]


def test_compare_opens_a_diverged_run_on_a_log_axis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run at 1e30 beside a healthy one: the overlay opens on log y (the healthy curve stays readable);
    the user can turn it off."""
    db = tmp_path / "d.db"
    store = Store(db)
    ids = [store.create_run(name, {"optim.lr": lr}, status="finished") for name, lr in (("ok", 0.01), ("boom", 10.0))]
    store.write_metrics([(ids[0], s, None, "train/loss", 1.0 / (s + 1), 0.0) for s in range(50)])
    store.write_metrics([(ids[1], s, None, "train/loss", 10.0 ** (s * 0.6), 0.0) for s in range(50)])
    at = app_test(db, monkeypatch, "pages/compare.py", runs=",".join(map(str, ids)))
    assert not at.exception
    toggle = at.toggle(key="compare:log:train/loss")
    assert toggle.value
    overlay = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert overlay["layout"]["yaxis"]["type"] == "log"
    toggle.set_value(False).run()
    overlay = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert overlay["layout"]["yaxis"].get("type", "linear") == "linear"


def test_run_page_opens_wide_curves_on_log_y_and_plain_ones_linear(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "r.db"
    store = Store(db)
    boom = store.create_run("boom", {}, status="finished")
    store.write_metrics([(boom, s, None, "train/loss", 10.0 ** (s * 0.6), 0.0) for s in range(50)])
    calm = store.create_run("calm", {}, status="finished")
    store.write_metrics([(calm, s, None, "train/loss", 2.0 - s / 50, 0.0) for s in range(50)])
    at = app_test(db, monkeypatch, "pages/run.py", run=str(boom))
    assert not at.exception and at.toggle(key=f"run:log:{boom}").value
    assert json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["yaxis"]["type"] == "log"
    at = app_test(db, monkeypatch, "pages/run.py", run=str(calm))
    assert not at.exception and not at.toggle(key=f"run:log:{calm}").value


def test_launch_offers_a_categorical_keys_choices_and_queues_one_run_per_choice(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, at = _launch_page(tmp_path, monkeypatch)
    at.selectbox(key="launch:start").select("preset · healthy").run()
    at.multiselect(key="preset · healthy:sweep-keys").select("optim.name").run()
    choices = at.multiselect(key="preset · healthy:choices:optim.name")
    assert "adam" in choices.options and "sgd" in choices.options  # its allowed values, not numbers
    assert _queue_button(at).disabled and "optim.name" in page_text(at)  # nothing picked yet: says what to do
    choices.select("sgd").select("adam").run()
    assert _queue_button(at).label == "Queue 2 runs"
    _queue_button(at).click().run()
    names = sorted(json.loads(c)["optim.name"] for c in store.runs().config)
    assert names == ["adam", "sgd"]


def test_a_baseline_is_overlaid_and_every_run_is_measured_against_it(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from traindoc.views.overview import overview_table

    db = tmp_path / "b.db"
    store = Store(db)
    group = store.create_group("lr sweep")
    ids = [store.create_run(n, {"optim.lr": lr}, status="finished", group_id=group)
           for n, lr in (("base", 1e-3), ("good", 3e-3), ("bad", 1e-1))]
    for run_id, acc in zip(ids, (0.85, 0.93, 0.60), strict=True):
        store.write_metrics([(run_id, s, None, name, value, 0.0) for s in range(1, 21)
                             for name, value in (("train/loss", 1.0 / s), ("val/acc", acc * s / 20))])
    store.set_baseline(ids[0])
    table = overview_table(str(db), store.find_runs()).set_index("id")
    assert table.loc[ids[0], "vs baseline"] == "baseline (group)"
    assert table.loc[ids[1], "vs baseline"].startswith("better (+0.08")
    assert table.loc[ids[2], "vs baseline"].startswith("worse (-0.25")
    at = app_test(db, monkeypatch, "pages/run.py", run=str(ids[1]))
    assert not at.exception
    assert f"Against baseline #{ids[0]}" in at.success[0].value and "better than the baseline" in at.success[0].value
    traces = [t["name"] for t in json.loads(at.get("plotly_chart")[0].proto.spec)["data"]]
    assert any(t.startswith(f"baseline #{ids[0]}: ") for t in traces)
