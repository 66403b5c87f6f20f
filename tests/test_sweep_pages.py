"""Compare and launch pages (AppTest) on a real ε sweep and a real fix group, and their pure figure
builders and table: log axis, seed spread, highlighted differences, CSV."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest_ui import ROOT
from streamlit.testing.v1 import AppTest

from diagnostics.rundata import RunData
from diagnostics.sweep_figures import overlay_figure, parallel_figure, sensitivity_figure
from diagnostics.sweeps import curves_for, differing_keys, style_differences, summary_table
from runner.execute import execute
from runner.plan import Plan, fix_plan, submit
from runner.presets import PRESETS
from runner.store import Store
from traindoc.handoff import load_run

APP = str(ROOT / "app.py")


@pytest.fixture(scope="module")
def sweep_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """An ε sweep (3 values x 2 seeds, the adam_eps sweep preset's base, 4 epochs), a softmax_nll run
    and its fix group: all trained in-process (~3 s)."""
    path = tmp_path_factory.mktemp("sweep-ui") / "s.db"
    store = Store(path)
    base = PRESETS["adam_eps_small"].config({"optim.lr": 3e-4, "train.epochs": 4}).to_flat()
    group, ids = submit(store, Plan("eps", base, {"optim.eps": [0.1, 1e-4, 1e-8]}, seeds=2), start_scheduler=False)
    parent = store.create_run("softmax_nll", PRESETS["softmax_nll"].config({"train.epochs": 6}).to_flat())
    fixes = [("Use LogSoftmax", {"model.head": "log_softmax"})]
    fix_group, fix_ids = submit(store, fix_plan({**store.run(parent)}, "negative_loss", "critical", fixes),
                                start_scheduler=False)
    for run_id in [*ids, parent, *fix_ids]:
        assert execute(store, run_id) == "finished"
    return path, {"group": group, "parent": parent, "fix_group": fix_group}


def _app(db: Path, monkeypatch: pytest.MonkeyPatch, page: str, **query: str) -> AppTest:
    monkeypatch.setenv("TRAINDOC_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page(page)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def _text(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "error", "subheader") for e in getattr(at, kind)]
    return re.sub(r"\\(.)", r"\1", "\n".join(str(p) for p in parts))


def _runs(db: Path, group: int) -> list[RunData]:
    store = Store(db)
    return [load_run(store, int(i)) for i in sorted(store.runs(group_id=group).id)]


@pytest.mark.slow
def test_compare_page_shows_sensitivity_and_the_epsilon_finding(sweep_db: tuple[Path, dict[str, int]],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    db, ids = sweep_db
    at = _app(db, monkeypatch, "pages/compare.py", group=str(ids["group"]))
    assert not at.exception
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    titles = [s["layout"]["title"]["text"] for s in specs]
    assert titles == ["val/auc — colour: optim.eps (log)", "Sensitivity: val/auc best vs optim.eps"]
    assert specs[1]["layout"]["xaxis"]["type"] == "log"
    assert len(specs[0]["data"]) == 6  # one curve per run
    text = _text(at)
    assert "Sensitive to optim.eps" in text and "epsilon_sensitivity" in text
    table = at.dataframe[0].value
    assert sorted(table["optim.eps"].unique()) == [1e-8, 1e-4, 0.1]
    assert at.get("download_button")[0].proto.label == "Download CSV"


@pytest.mark.slow
def test_compare_page_on_a_fix_group_includes_the_parent(sweep_db: tuple[Path, dict[str, int]],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    db, ids = sweep_db
    at = _app(db, monkeypatch, "pages/compare.py", group=str(ids["fix_group"]))
    assert not at.exception
    assert at.dataframe[0].value["run"].tolist()[0] == ids["parent"]


@pytest.mark.slow
def test_run_page_offers_the_fix_and_shows_the_verdict(sweep_db: tuple[Path, dict[str, int]],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    db, ids = sweep_db
    at = _app(db, monkeypatch, "pages/run.py", run=str(ids["parent"]))
    assert not at.exception
    labels = [b.label for b in at.button]
    assert any(label.startswith("Try this fix: Replace nn.Softmax") for label in labels)
    assert "Try all 2 fixes" in labels
    text = _text(at)
    assert "Fixes tried" in text and "verified" in text and "negative_loss is gone" in text
    titles = [json.loads(c.proto.spec)["layout"].get("title", {}).get("text") for c in at.get("plotly_chart")]
    assert "Before / after: train/loss_epoch" in titles and "Before / after: val/acc" in titles


def test_launch_page_refuses_a_bad_value_with_its_range(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _app(tmp_path / "l.db", monkeypatch, "pages/launch.py")
    assert not at.exception
    start = at.selectbox[0].value
    assert start == "sweep · adam_eps"
    assert next(b for b in at.button if b.label.startswith("Queue")).label == "Queue 15 runs"
    at.text_input(key=f"{start}:optim.lr").input("-1").run()
    assert "optim.lr=-1.0: allowed range is 1e-08 to 100" in _text(at)
    assert next(b for b in at.button if b.label.startswith("Queue")).disabled
    assert "Nothing queued yet" in at.info[0].value


@pytest.mark.slow
def test_table_highlights_differing_keys_and_figures_use_log_axes(sweep_db: tuple[Path, dict[str, int]]) -> None:
    db, ids = sweep_db
    runs = _runs(db, ids["group"])
    assert differing_keys([dict(r.config) for r in runs]) == ["optim.eps"]
    table = summary_table(runs)
    assert list(table.columns[:5]) == ["run", "name", "status", "optim.eps", "train.seed"]
    html = style_differences(table).to_html()
    css = html.split("</style>")[0]
    highlighted = set(re.findall(r"row(\d+)_col(\d+)", css))
    assert highlighted == {(str(i), "3") for i in range(len(runs))}  # every optim.eps cell, nothing else
    assert "background-color: #fff3cd" in css
    assert ">1e-08<" in html  # not 0.0000
    fig = sensitivity_figure(table, "optim.eps", "val/auc best")
    mean = fig.data[1]
    assert list(mean.x) == [1e-8, 1e-4, 0.1] and len(mean.error_y.array) == 3
    assert fig.layout.xaxis.type == "log"
    overlay = overlay_figure(curves_for(runs, "val/auc", ["optim.eps"]), "val/auc", "optim.eps")
    colours = {t.name.split(" · ")[0]: t.line.color for t in overlay.data}
    assert len(set(colours.values())) == 3  # one colour per ε, shared by its seeds


def test_parallel_coordinates_log_scale_the_log_keys() -> None:
    import pandas as pd

    table = pd.DataFrame({"optim.eps": [0.1, 1e-8, 0.1, 1e-8], "model.activation": ["relu", "relu", "tanh", "tanh"],
                          "val/auc best": [0.6, 0.9, 0.62, 0.88]})
    fig = parallel_figure(table, ["optim.eps", "model.activation"], "val/auc best")
    dims = fig.data[0].dimensions
    assert [d.label for d in dims] == ["log10 optim.eps", "model.activation", "val/auc best"]
    assert list(dims[0].values) == [-1.0, -8.0, -1.0, -8.0]
    assert list(dims[1].ticktext) == ["relu", "tanh"]


def test_a_categorical_key_is_drawn_as_choices_best_first_never_a_line() -> None:
    import pandas as pd

    table = pd.DataFrame({"optim.name": ["sgd", "sgd", "adam", "adam", "rmsprop", "rmsprop"],
                          "val/acc best": [0.70, 0.72, 0.93, 0.95, 0.85, 0.83]})
    fig = sensitivity_figure(table, "optim.name", "val/acc best")
    mean = fig.data[1]
    assert mean.mode == "markers"  # no line joins the choices
    assert list(mean.x) == ["adam", "rmsprop", "sgd"] and len(mean.error_y.array) == 3
    assert fig.layout.xaxis.type == "category" and list(fig.layout.xaxis.categoryarray) == ["adam", "rmsprop", "sgd"]
    loss = pd.DataFrame({"optim.name": ["sgd", "adam"], "val/loss best": [0.9, 0.3]})
    assert list(sensitivity_figure(loss, "optim.name", "val/loss best").data[1].x) == ["adam", "sgd"]  # lower first
