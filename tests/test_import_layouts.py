"""Real log layouts found in public repositories (issue 11): each read into the right curves.

Fixtures are small literals, or written by the real library where it is installed
(pandas for a Keras history saved with ``DataFrame(history.history).to_csv()``).
"""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from runner.importers import read_upload
from traindoc.handoff import from_imported

HISTORY = {"loss": [0.9, 0.6, 0.5], "accuracy": [0.5, 0.7, 0.8], "val_loss": [0.8, 0.7, 0.75],
           "val_accuracy": [0.55, 0.65, 0.66]}


def _curves(name: str, data: bytes) -> dict[str, list[float]]:
    (run,) = read_upload(name, data)
    rd = from_imported(run)
    return {n: rd.series[n].values.tolist() for n in rd.names}


def _history_csv(index: bool) -> bytes:
    buf = io.StringIO()
    pd.DataFrame(HISTORY).to_csv(buf, index=index)
    return buf.getvalue().encode()


def test_pandas_history_csv_with_its_index_column_is_one_row_per_epoch() -> None:
    (run,) = read_upload("history.csv", _history_csv(index=True))
    assert run.axis == "epoch"
    rd = from_imported(run)
    assert rd.series["val/loss"].steps.tolist() == [0, 1, 2]
    assert rd.series["train/loss_epoch"].values.tolist() == [0.9, 0.6, 0.5]
    assert "Unnamed: 0" not in run.mapping


def test_pandas_history_csv_without_index_takes_the_row_as_the_epoch() -> None:
    curves = _curves("history.csv", _history_csv(index=False))
    assert curves["val/acc"] == [0.55, 0.65, 0.66]
    assert curves["train/loss_epoch"] == [0.9, 0.6, 0.5]


def test_headerless_row_per_series_csv() -> None:
    data = b"3.0,2.0,1.0,-0.5,-1.0\n5.0,4.0,3.5,3.0,2.9\n"
    curves = _curves("losses.csv", data)
    assert curves == {"row_1": [3.0, 2.0, 1.0, -0.5, -1.0], "row_2": [5.0, 4.0, 3.5, 3.0, 2.9]}


def test_headerless_column_table() -> None:
    data = b"".join(f"{i},{1 / (i + 1):.3f}\n".encode() for i in range(20))
    curves = _curves("log.csv", data)
    assert curves["column_2"][:2] == [1.0, 0.5]


def test_json_list_of_records() -> None:
    doc = [{"epoch": e, "train_loss": 1 / (e + 1), "val_loss": 1.2 / (e + 1)} for e in range(4)]
    curves = _curves("training_history.json", json.dumps(doc, indent=2).encode())
    assert curves["val/loss"] == pytest.approx([1.2, 0.6, 0.4, 0.3])


def test_rl_progress_csv_uses_its_timestep_column() -> None:
    data = b"rollout/ep_rew_mean,time/total_timesteps,train/loss\n-70,10,40.0\n-60,20,30.0\n-50,30,20.0\n"
    (run,) = read_upload("progress.csv", data)
    rd = from_imported(run)
    loss = next(s for s in rd.series.values() if s.original == "train/loss")
    assert loss.steps.tolist() == [10, 20, 30]


def test_epoch_summaries_beside_restarting_batch_lines() -> None:
    lines = []
    for epoch in range(3):
        lines += [f"2018-01-27 10:38:45,165 INFO    : train --- Current batch:{b}/400  loss:[ 0.{5 + b // 200}]"
                  for b in (200, 400)]
        lines.append(f"2018-01-27 10:42:38,904 INFO    : Epoch [{epoch}]/[199] \t Training Phase Loss: "
                     f"0.0{7 - epoch} \t Accuracy: 0.{5 + epoch}")
        lines.append(f"2018-01-27 10:42:58,879 INFO    : Epoch [{epoch}]/[199] \t Validation Phase Loss: "
                     f"0.0{6 - epoch} \t Accuracy: 0.{6 + epoch}")
    (run,) = read_upload("resnet.log", "\n".join(lines).encode())
    rd = from_imported(run)
    assert rd.series["val/loss"].values.tolist() == [0.06, 0.05, 0.04]
    assert rd.series["train/acc"].values.tolist() == [0.5, 0.6, 0.7]
    assert rd.series["val/acc"].values.tolist() == [0.6, 0.7, 0.8]
    assert any("per-batch line" in n for n in run.warnings)


def test_step_of_total_lines_with_interleaved_validation() -> None:
    text = ("warmup_step:1/20\nstep:0/200 val_loss:6.9 val_bpb:4.1 train_time:0ms\n"
            "step:1/200 train_loss:6.94 train_time:24ms step_avg:23.99ms\n"
            "step:2/200 train_loss:6.5 train_time:67ms step_avg:33.39ms\n"
            "step:2/200 val_loss:6.1 val_bpb:3.9 train_time:70ms\n")
    (run,) = read_upload("train.log", text.encode())
    by_name = {n: g for n, g in run.frame.groupby("name")}
    assert by_name["train_loss"]["step"].tolist() == [1, 2]
    assert by_name["val_loss"]["value"].tolist() == [6.9, 6.1]
    assert "warmup_step" not in by_name


def test_cp1252_text_is_decoded() -> None:
    text = "Epoch 1: Train Loss: 0.5, Val Loss: 0.6 – ok\nEpoch 2: Train Loss: 0.4, Val Loss: 0.55 – ok\n"
    curves = _curves("loss_log.txt", text.encode("cp1252"))
    assert curves["val/loss"] == [0.6, 0.55]


@pytest.mark.slow
def test_lightning_csvlogger_short_overfitting_run_written_by_lightning(tmp_path) -> None:
    """A 6-epoch run as Lightning's own CSVLogger writes it: step rows for train, epoch rows for val."""
    loggers = pytest.importorskip("lightning.pytorch.loggers")
    from diagnostics.engine import diagnose

    logger = loggers.CSVLogger(str(tmp_path), name="run")
    val = [0.60, 0.52, 0.55, 0.61, 0.68, 0.74]
    step = 0
    for epoch, v in enumerate(val):
        for _ in range(10):
            logger.log_metrics({"train_loss_step": 0.9 * 0.8 ** (step / 10), "epoch": epoch}, step=step)
            step += 1
        logger.log_metrics({"val_loss": v, "train_loss_epoch": 0.9 * 0.8 ** epoch, "epoch": epoch}, step=step - 1)
    logger.save()
    path = next(tmp_path.rglob("metrics.csv"))
    (run,) = read_upload("metrics.csv", path.read_bytes())
    rd = from_imported(run)
    assert {"train/loss", "train/loss_epoch", "val/loss"} <= set(rd.names)
    rules = {f.rule: f for f in diagnose(rd)}
    assert "overfitting" in rules and "likely overfitting" in rules["overfitting"].summary
