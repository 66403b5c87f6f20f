"""The dashboard's pure parts: chart options (x-axis, panels, density smoothing, NaN tail), view-models
(names, lengths, comparable runs, reports)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from diagnostics.figures import auto_smoothing, curve_figure
from diagnostics.findings import Evidence, Finding, Fix
from runner.store import Store
from traindoc.core.vocabulary import partner
from traindoc.views.charts import default_metrics
from traindoc.views.overview import length_caption, run_length, short
from traindoc.views.report import report_html, report_markdown
from traindoc.views.uploads import folder_name, name_uploaded


def test_auto_smoothing_leaves_sparse_curves_alone_and_draws_their_points() -> None:
    assert auto_smoothing(60) == 0.0 and 0.9 < auto_smoothing(2000) < 1
    epochs = np.arange(60)
    fig = curve_figure({"val/loss": (epochs, 1 / (epochs + 1.0))}, smoothing="auto")
    (line,) = fig.data
    assert line.mode == "lines+markers" and np.allclose(np.asarray(line.y, dtype=float), 1 / (epochs + 1.0))
    steps = np.arange(3000)
    dense = curve_figure({"train/loss": (steps, np.random.default_rng(0).normal(size=3000))}, smoothing="auto")
    assert [t.name for t in dense.data] == ["train/loss (raw)", "train/loss"]  # raw stays visible


def test_panels_x_axis_and_the_nan_tail() -> None:
    steps = np.arange(240)
    loss = np.where(steps < 12, 1.0, np.nan)
    loss[11] = np.inf
    fig = curve_figure({"train/loss": (steps, loss), "val/acc": (steps, steps / 240)}, panels=True,
                       x_map=(steps, steps / 24), x_title="epoch")
    assert fig.layout.yaxis2 is not None and fig.layout.xaxis2.title.text == "epoch"
    tail = next(t for t in fig.data if t.name == "train/loss NaN/inf")
    assert max(tail.x) == pytest.approx(239 / 24)  # the chart reaches the end of the run
    labels = [t for t in fig.data if t.mode == "markers+text"]
    assert {t.textposition for t in labels} == {"top right", "bottom right"}  # first inf/NaN apart


def test_default_metrics_pair_val_with_its_train_loss() -> None:
    keras = ["train/acc", "train/loss_epoch", "val/acc", "val/loss"]
    assert default_metrics(keras, []) == ["val/loss", "train/loss_epoch"]
    assert partner("train/loss_epoch", keras) == "val/loss" and partner("lr", keras) is None


def test_short_names_and_upload_names(tmp_path: Path) -> None:
    assert short("x" * 100).endswith("…") and len(short("x" * 100)) == 48 and short("a\n b") == "a b"
    assert folder_name("logs.zip/lightning_logs/version_0/metrics.csv", "logs.zip") == "lightning_logs/version_0"
    assert folder_name("metrics.csv", "metrics.csv") is None
    assert folder_name("tb.zip/runs/overfit", "tb.zip") == "runs/overfit"  # a TensorBoard folder run
    store = Store(tmp_path / "u.db")
    ids = [store.create_run("version_0", {}, status="finished", source="upload",
                            meta={"file": f"logs.zip/lightning_logs/version_{i}/metrics.csv", "axis": "epoch"})
           for i in range(2)]
    name_uploaded(store, ids, "logs.zip")
    assert [store.run(i)["name"] for i in ids] == ["lightning_logs/version_0", "lightning_logs/version_1"]
    name_uploaded(store, ids[:1], "logs.zip", "baseline ")
    assert store.run(ids[0])["name"] == "baseline"
    store.write_metrics([(ids[0], e, float(e), "val/loss", 1.0, 0.0) for e in range(60)])
    assert length_caption(store, ids[0]) == "60 epochs" and run_length(store, ids[0]) == ("Epochs", "60")


def test_report_has_the_findings_and_escapes_names() -> None:
    run = {"id": 3, "name": "<b>x</b>", "status": "finished", "source": "runner", "last_step": 99,
           "started_at": 0.0, "ended_at": 12.0, "note": "try lr"}
    finding = Finding("negative_loss", "critical", "Loss below zero", "train/loss fell to -0.9",
                      Evidence("train/loss"), fixes=(Fix("Use LogSoftmax", "NLL wants logs", {"model.head": "ls"}),))
    text = report_markdown(run, [finding], ["cifar"])
    assert "[critical] Loss below zero" in text and '{"model.head": "ls"}' in text and "cifar" in text
    fig = curve_figure({"train/loss": (np.arange(5), -np.arange(5.0))})
    page = report_html(run, [finding], fig)
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page and "plotly" in page.lower()


def test_the_overview_judges_a_live_run_once_per_window_and_an_ended_run_by_its_last_step(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from traindoc.views import overview

    clock = [1000.0]
    monkeypatch.setattr(overview.time, "time", lambda: clock[0])
    live = {"id": 7, "status": "running"}
    keys = [overview._judged_key("a.db", live, step) for step in (10, 20, 30)]
    clock[0] += overview.LIVE_JUDGED_EVERY
    keys.append(overview._judged_key("a.db", live, 40))
    assert keys == [10, 10, 10, 40]  # new rows within a window reuse the diagnosis; the next window re-judges
    assert overview._judged_key("b.db", live, 50) == 50  # another database's run 7 is another run
    assert overview._judged_key("a.db", {"id": 7, "status": "finished"}, 60) == 60


def test_compare_legend_keeps_a_sweep_value_and_tells_same_named_keys_apart() -> None:
    from diagnostics.rundata import RunData
    from traindoc.views.compare import labels, short_keys

    assert short_keys(["data.name", "loss.name", "optim.lr"]) == {"data.name": "data.name",
                                                                 "loss.name": "loss.name", "optim.lr": "lr"}
    sweep = [RunData({}, {"optim.eps": eps}, {"run_id": i, "name": f"adam_eps_small sweep [optim.eps={eps:g}]"})
             for i, eps in ((5, 0.1), (6, 1e-8))]
    assert [label for label, _ in labels(sweep, ["optim.eps"]).values()] == [
        "#5 adam_eps_small sweep [optim.eps=0.1]", "#6 adam_eps_small sweep [optim.eps=1e-08]"]
    picked = [RunData({}, {"data.name": d, "loss.name": n}, {"run_id": i, "name": f"r{i}"})
              for i, d, n in ((1, "moons", "cross_entropy"), (4, "digits", "mse"))]
    assert labels(picked, ["data.name", "loss.name"])[4][0] == "#4 r4 · data.name=digits · loss.name=mse"


def test_curve_legend_names_a_lone_curve_and_a_metric_that_is_only_nan() -> None:
    steps = np.arange(20)
    lone = curve_figure({"initial_phi_loss": (steps, steps / 20.0)})
    assert lone.layout.showlegend is True and lone.data[0].name == "initial_phi_loss"
    fig = curve_figure({"train/loss": (steps, steps / 20.0), "val/loss": (steps, np.full(20, np.nan))})
    shown = [t.name for t in fig.data if t.showlegend is not False and t.x is not None and len(t.x)]
    assert shown == ["train/loss", "val/loss (only NaN/inf)"]


def test_the_key_metric_is_the_score_with_its_direction(tmp_path: Path) -> None:
    """The overview's key metric picks the score as compare and verdicts do (val AUC/acc before val loss)."""
    from traindoc.views.cache import key_metric

    store = Store(tmp_path / "k.db")
    scored = store.create_run("scored")
    store.write_metrics([(scored, i, None, n, v, 0.0) for i in range(5)
                         for n, v in (("val/loss", 1.0 - i / 10), ("val/acc", [0.5, 0.9, 0.7, 0.6, 0.6][i]))])
    nan_end = store.create_run("nan end")
    store.write_metrics([(nan_end, i, None, "val/loss", float("nan") if i == 4 else 1.0, 0.0) for i in range(5)])
    train_only = store.create_run("train only")
    store.write_metrics([(train_only, i, None, "train/loss", 2.0 - i / 10, 0.0) for i in range(5)])
    db = str(tmp_path / "k.db")
    assert key_metric(db, scored, 4) == "val/acc best 0.9 · last 0.6"
    assert key_metric(db, nan_end, 4) == "val/loss last NaN · best 1"
    assert key_metric(db, train_only, 4) == "train/loss last 1.6"
    assert key_metric(db, store.create_run("empty"), None) == ""


def test_system_metrics_orders_time_throughput_memory_and_skips_limits():
    from traindoc.views.charts import system_metrics

    names = ["sys/rss_mb", "sys/ram_total_mb", "train/loss", "sys/step_time@2", "sys/samples_per_sec",
             "sys/step_time", "sys/step_time@1", "sys/cuda_alloc_mb", "sys/cuda_total_mb"]
    assert system_metrics(names) == ["sys/step_time", "sys/step_time@1", "sys/step_time@2", "sys/samples_per_sec",
                                     "sys/cuda_alloc_mb", "sys/rss_mb"]
    assert system_metrics(["train/loss", "val/loss"]) == []


def test_a_log_without_the_usual_losses_opens_on_its_loss_never_on_a_constant() -> None:
    """An uploaded JSON-lines log (``n_parameters`` first, a constant) opens on its training loss; with
    no loss at all, on a moving score, never on a series that never changes."""
    from traindoc.views.charts import default_metrics

    names = ["n_parameters", "lr", "epoch_time", "train_loss_total", "val_acc1"]
    assert default_metrics(names, []) == ["train_loss_total"]
    assert default_metrics(["n_parameters", "lr", "val_acc1"], [], constant={"n_parameters"}) == ["val_acc1"]
    assert default_metrics(["n_parameters", "batch"], [], constant={"n_parameters"}) == ["batch"]
    assert default_metrics(["n_parameters"], [], constant={"n_parameters"}) == ["n_parameters"]  # all there is


def test_shared_x_range_spans_every_chart_mapped_like_the_curves():
    import numpy as np

    from traindoc.views.charts import shared_x_range

    loss = {"train/loss": (np.arange(1, 30), np.ones(29))}
    system = {"sys/rss_mb": (np.arange(10, 41, 10), np.ones(4)), "sys/step_time": (np.array([]), np.array([]))}
    assert shared_x_range(None, loss, system) == [1.0, 40.0]  # the System group ran past the last loss row
    minutes = (np.array([1.0, 40.0]), np.array([0.0, 13.0]))  # wall time: step 1 at 0 min, step 40 at 13 min
    assert shared_x_range(minutes, loss, system) == [0.0, 13.0]
    assert shared_x_range(None, {}, {"sys/rss_mb": (np.array([5]), np.array([1.0]))}) is None  # one point: no span
