"""Every dashboard page under Streamlit's AppTest, on an empty database and on real runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest_ui import FAST_PRESET, app_test, page_text, real_db_in
from streamlit.testing.v1 import AppTest

from diagnostics.findings import Evidence, Finding, Fix
from runner.store import Store
from traindoc.ui import shared as _shared
from traindoc.views.charts import system_metrics


@pytest.fixture(scope="module")
def real_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    return real_db_in(tmp_path_factory)




def test_overview_empty_db_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app_test(tmp_path / "empty.db", monkeypatch)
    assert not at.exception
    assert "No runs yet" in at.info[0].value
    assert "python -m runner run --preset healthy" in at.main.code[0].value
    assert "python -m runner launch --preset overfitting" in at.main.code[0].value
    assert str((tmp_path / "empty.db").resolve()) in at.sidebar.text[0].value  # which DB is shown
    assert _links(at) == {"launch", "upload"}  # no terminal needed to get started


def _links(at: AppTest) -> set[str]:
    """The pages the main area links to (page_link has no typed AppTest element)."""
    return {e.proto.page for e in at.main.get("page_link")}


def test_overview_lists_runs(real_db: tuple[Path, dict[str, int]], monkeypatch: pytest.MonkeyPatch) -> None:
    db, ids = real_db
    at = app_test(db, monkeypatch)
    assert not at.exception
    table = at.dataframe[0].value
    assert table["name"].tolist() == [FAST_PRESET, "bad_lr"]
    assert table["status"].tolist() == ["finished", "failed"]
    assert table["key metric"].iloc[0].startswith("val/acc best 0.")  # the score (val acc before val loss)
    assert table["device"].iloc[0] == "cpu" and table["steps"].iloc[0] > 0
    assert table["worst finding"].iloc[0].startswith("CRITICAL: ")  # negative_loss, from the engine
    finished = f"#{ids[FAST_PRESET]} {FAST_PRESET} (finished)"
    assert at.selectbox[0].options == [finished, f"#{ids['bad_lr']} bad_lr (failed)"]


def test_run_page_shows_chart_and_config(real_db: tuple[Path, dict[str, int]],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    db, ids = real_db
    at = app_test(db, monkeypatch, "pages/run.py", run=str(ids[FAST_PRESET]))
    assert not at.exception
    assert FAST_PRESET.replace("_", "\\_") in at.title[0].value
    assert at.multiselect[0].value[:2] == ["train/loss", "val/loss"]
    charts = at.get("plotly_chart")
    # the curves, then the System group when the run lived past the sink's first flushes
    assert len(charts) == 1 + bool(system_metrics(Store(db).metric_names(ids[FAST_PRESET])))
    assert '"name":"train\\u002floss"' in charts[0].proto.spec  # the curve itself is in the figure
    # the config as a Markdown table (no data grid: the page loads no pyarrow and no grid script)
    assert "| model.head | softmax |" in page_text(at)
    assert not at.dataframe
    assert not at.error


def test_run_page_shows_a_system_group_when_the_run_logged_system_signals(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path / "s.db")
    run_id = store.create_run("ddp", {}, status="running")
    rows = [(run_id, s, None, "train/loss", 1 / s, 0.0) for s in range(1, 30)]
    rows += [(run_id, s, None, name, v, 0.0) for s in range(10, 30)  # sampled from the first flushes on
             for name, v in (("sys/step_time", 0.1), ("sys/step_time@1", 0.2), ("sys/rss_mb", 900.0 + s))]
    store.write_metrics(rows)
    store.finish(run_id, "finished")
    at = app_test(tmp_path / "s.db", monkeypatch, "pages/run.py", run=str(run_id))
    assert not at.exception
    assert "System" in [h.value for h in at.subheader]
    system = at.get("plotly_chart")[1].proto.spec
    assert all(f'"text":"{n}"'.replace("/", "\\u002f") in system
               for n in ("sys/step_time", "sys/step_time@1", "sys/rss_mb"))  # one panel each
    assert "Rank 1" in page_text(at)  # rank_straggler's card
    # one x range for both charts, every System panel included: step 10 of rss sits under step 10 of the loss
    layouts = [json.loads(chart.proto.spec)["layout"] for chart in at.get("plotly_chart")]
    ranges = [v["range"] for layout in layouts for k, v in layout.items() if k.startswith("xaxis")]
    assert len(ranges) == 1 + 3 and all(r == [1, 29] for r in ranges), ranges


def test_run_page_failed_run_shows_its_error(real_db: tuple[Path, dict[str, int]],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    db, ids = real_db
    at = app_test(db, monkeypatch, "pages/run.py", run=str(ids["bad_lr"]))
    assert not at.exception
    assert "This run failed" in at.error[0].value
    assert "optim.lr=-1.0: allowed range is" in page_text(at)
    assert "logged no metrics" in page_text(at)


def test_run_page_unknown_id_says_so_and_shows_no_other_run(real_db: tuple[Path, dict[str, int]],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    db, _ = real_db
    at = app_test(db, monkeypatch, "pages/run.py", run="999")
    assert not at.exception
    assert "no run with id 999" in at.error[0].value
    assert at.title[0].value == "Run not found" and not at.get("plotly_chart")
    assert at.query_params["run"] in ("999", ["999"])  # the URL is not rewritten to another run


def test_run_page_empty_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app_test(tmp_path / "empty.db", monkeypatch, "pages/run.py")
    assert not at.exception and "No runs yet" in at.info[0].value
    assert _links(at) == {"launch", "upload"}


def test_run_page_draws_findings_as_cards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Findings (hand-made here, so the page is tested on its own) become cards with fixes and patches."""
    store = Store(tmp_path / "f.db")
    parent = store.create_run("parent", {}, status="finished")
    run_id = store.create_run("nll", {"model.head": "softmax"}, status="running", parent_id=parent)
    store.write_metrics([(run_id, s, None, "train/loss", -s / 10, 0.0) for s in range(10)])
    store.finish(run_id, "finished")
    finding = Finding(
        rule="negative_loss", severity="critical", title="Loss below zero: Softmax fed to NLLLoss",
        summary="train/loss fell to -0.9", evidence=Evidence("train/loss", 1, 9, marks=(
            {"kind": "hline", "value": 0.0, "label": "0"},)),
        fixes=(Fix("Use LogSoftmax", "NLLLoss expects log-probabilities", {"model.head": "log_softmax"}),),
    )
    monkeypatch.setattr(_shared, "diagnose_run", lambda *a: ([finding], None))
    at = app_test(tmp_path / "f.db", monkeypatch, "pages/run.py", run=str(run_id))
    assert not at.exception
    text = page_text(at)
    assert "Loss below zero: Softmax fed to NLLLoss" in text and "critical" in text
    assert "Use LogSoftmax" in text and "NLLLoss expects log-probabilities" in text
    assert '{"model.head": "log_softmax"}' in [c.value for c in at.code]
    assert '"type":"line"' in at.get("plotly_chart")[0].proto.spec  # the hline at 0
    link = at.get("page_link")[0].proto
    assert link.label == f"Derived from run #{parent}" and link.query_string == f"run={parent}"


def test_catalog_page_renders(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    at = app_test(tmp_path / "c.db", monkeypatch, "pages/catalog.py")
    assert not at.exception
    assert "Rule catalog" in at.title[0].value
    labels = [e.label for e in at.expander]
    assert any("`overfitting`" in label for label in labels)
    assert any("`negative_loss`" in label for label in labels)
    assert "What it detects" in page_text(at) and "Suggested fix" in page_text(at)
    at.text_input[0].input("nllloss").run()  # the search narrows the list to the rule that names it
    assert [e.label for e in at.expander] == [label for label in labels if "`negative_loss`" in label]


def test_catalog_parameter_lines() -> None:
    text = "threshold: dead share of a layer\n  that counts.\njudge_from: share skipped."
    assert _shared._parameter_lines(text) == {"threshold": "dead share of a layer that counts.",
                                              "judge_from": "share skipped."}


def test_helpers() -> None:
    assert _shared.md("a_b*c [x](y)") == "a\\_b\\*c \\[x\\]\\(y\\)"
    assert _shared.duration({"started_at": 0.0, "ended_at": 75.0}) == "1m 15s"
    assert _shared.duration({"started_at": 0.0, "ended_at": 3.25}) == "3.2s"
    assert _shared.duration({"started_at": None, "ended_at": None}) == ""
    table = _shared.config_table({"optim": {"lr": 0.1, "name": "adam"}, "seed": 1})
    assert table.values.tolist() == [["optim.lr", "0.1"], ["optim.name", "adam"], ["seed", "1"]]
    names = ["lr", "train/loss", "val/acc", "val/loss"]
    finding = Finding("val_above_train", "warning", "t", "s", Evidence("val/acc"))
    assert _shared.default_metrics(names, [finding]) == ["train/loss", "val/loss", "val/acc"]
    assert _shared.default_metrics(["lr"], []) == ["lr"]


def test_db_path_flag_beats_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`streamlit run app.py -- --db FILE` wins over TRAINDOC_DB, which wins over ./traindoc.db."""
    monkeypatch.setenv("TRAINDOC_DB", str(tmp_path / "env.db"))
    monkeypatch.setattr("sys.argv", ["app.py", "--db", str(tmp_path / "flag.db")])
    assert _shared.db_path() == str((tmp_path / "flag.db").resolve())
    monkeypatch.setattr("sys.argv", ["app.py"])
    assert _shared.db_path() == str((tmp_path / "env.db").resolve())
    monkeypatch.delenv("TRAINDOC_DB")
    monkeypatch.chdir(tmp_path)
    assert _shared.db_path() == str(tmp_path.resolve() / "traindoc.db")


def test_unreadable_db_is_an_error_not_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "notes.db"
    bad.write_text("this is not a database " * 100)
    at = app_test(bad, monkeypatch)
    assert not at.exception
    assert "Cannot open the database" in at.error[0].value and "TRAINDOC_DB=" in at.error[0].value


def test_every_run_status_has_an_icon() -> None:
    from runner.store import STATUSES
    from traindoc.ui.shared import STATUS_ICONS

    assert set(STATUS_ICONS) == set(STATUSES)


def test_run_page_header_names_the_ray_node_a_run_trained_on(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path / "r.db")
    node = "9b94e7069cf1e2b91575521bcd19bfc2024ceab7403758d7aefebd54"
    run_id = store.create_run("on ray", {}, status="running", meta={"executor": "ray", "ray_node_id": node,
                                                                    "ray_host": "worker-3"})
    store.finish(run_id, "finished")
    local = store.create_run("local", {}, status="finished")
    at = app_test(tmp_path / "r.db", monkeypatch, "pages/run.py", run=str(run_id))
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Node"] == "worker-3 · 9b94e706"
    at = app_test(tmp_path / "r.db", monkeypatch, "pages/run.py", run=str(local))
    assert "Node" not in {m.label for m in at.metric}  # a local run has no node to name
