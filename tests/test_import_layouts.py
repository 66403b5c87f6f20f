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


# --- issue 17: the two console layouts and plural JSON histories ---
FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures_import"


def _fixture_curves(rel: str) -> tuple[object, dict[str, tuple[list[float], list[float]]]]:
    (run,) = read_upload(rel.rsplit("/", 1)[-1], (FIXTURES / rel).read_bytes())
    rd = from_imported(run)
    return run, {n: (rd.series[n].steps.tolist(), rd.series[n].values.tolist()) for n in rd.names}


def test_lightning_console_with_rank_prefix_is_a_console_log_not_json() -> None:
    run, curves = _fixture_curves("console/lightning_rank.log")
    assert (run.format, run.meta["console_style"]) == ("console", "tqdm")
    assert "v_num" not in run.mapping  # the logger version shown on the bar is not a metric
    # a validation value is read once per epoch (the bar repeats it on every redraw of the next one)
    assert curves["val/loss"] == ([50, 100, 150, 200], [0.8, 0.66, 0.57, 0.52])
    assert curves["val/acc"][1] == [0.61, 0.72, 0.79, 0.83]
    assert curves["train/loss"] == ([20, 40, 50, 70, 90, 100, 120, 140, 150, 170, 190, 200],
                                    [0.92, 0.91, 0.91, 0.73, 0.72, 0.72, 0.59, 0.58, 0.58, 0.5, 0.49, 0.49])


def test_epoch_lines_of_titled_pairs_with_percentages_and_a_settings_header() -> None:
    run, curves = _fixture_curves("console/epoch_pairs.log")
    assert run.axis == "epoch"
    assert curves["train/loss_epoch"] == ([1, 2, 3], [1.0591, 0.8123, 0.6402])
    assert curves["val/loss"][1] == [1.1, 0.93, 0.85]
    assert curves["val/acc"][1] == pytest.approx([0.52, 0.61, 0.66])  # "52.00%" is the fraction
    assert curves["train/acc"][1] == pytest.approx([0.41, 0.55, 0.66])
    assert "lr" not in curves and any("settings" in n for n in run.warnings)


def test_json_history_with_plural_keys_and_settings_beside_the_lists() -> None:
    run, curves = _fixture_curves("generic/history_plural.json")
    assert set(curves) == {"train/loss_epoch", "val/loss", "train/acc", "val/acc"}
    assert curves["val/loss"][1] == [1.3, 1.0, 0.9, 0.88]
    assert run.config["optim.lr"] == 0.001 and run.config["best_val_acc"] == 0.64


def test_json_history_of_per_epoch_batch_lists_is_read_per_step() -> None:
    run, curves = _fixture_curves("generic/history_batches.json")
    assert run.axis == "step"
    assert curves["train/loss"] == (list(range(1, 10)), [1.2, 1.1, 1.0, 0.9, 0.85, 0.8, 0.7, 0.68, 0.66])
    assert curves["val/loss"] == ([3, 6, 9], [1.05, 0.86, 0.75])


def test_a_one_line_record_with_a_short_list_is_still_a_record() -> None:
    (run,) = read_upload("r.json", b'{"epoch": 1, "loss": 0.5, "tags": [1]}')
    assert run.format == "jsonl"


def test_a_step_count_in_the_header_does_not_hide_the_epoch_lines() -> None:
    """``Total steps: 600`` names no metric: the log does not count steps, its epoch lines are the run."""
    text = "Total steps: 600\n" + "".join(f"Epoch {e}/200, Train Loss: {1 / e:.3f}, Val Loss: {1.1 / e:.3f}\n"
                                         for e in range(1, 4))
    curves = _curves("train.log", text.encode())
    assert curves["val/loss"] == [1.1, 0.55, 0.367]


def test_a_console_log_opening_with_a_bracketed_tag_is_not_json() -> None:
    text = "[INFO] epoch 1 loss: 0.50 val_loss: 0.61\n[INFO] epoch 2 loss: 0.40 val_loss: 0.55\n"
    (run,) = read_upload("train.log", text.encode())
    assert run.format == "console"
    assert _curves("train.log", text.encode())["val/loss"] == [0.61, 0.55]
    with pytest.raises(ValueError, match="JSON"):
        read_upload("broken.json", b'[{"epoch": 1, "loss": 0.5},\n')  # a JSON array stays JSON, errors and all


@pytest.mark.parametrize(("name", "expected"), [
    ("train_losses", "train/loss_epoch"), ("val_losses", "val/loss"), ("train_accuracies", "train/acc"),
    ("val_accs", "val/acc"), ("train_acc_history", "train/acc"), ("lr_history", "lr"), ("my_history", "my_history"),
])
def test_plural_and_history_keys_reach_the_canonical_names(name: str, expected: str) -> None:
    from traindoc.core.vocabulary import canonical

    assert canonical(name, epoch_level=True) == expected


def test_a_json_list_of_values_is_one_series_named_by_its_file() -> None:
    """``json.dump(losses)``: nothing inside names the series, the file name does."""
    (run,) = read_upload("losses.json", b"[1.17, 0.78, 0.79, null, 0.70]")
    assert run.format == "values"
    assert _curves("losses.json", b"[1.17, 0.78, 0.79, null, 0.70]")["train/loss"][:3] == [1.17, 0.78, 0.79]


@pytest.mark.parametrize("text", [b"0.69\n0.68\n0.67\r\n0.66\n", b"0.69, 0.68, 0.67, 0.66", b"0.69 0.68\t0.67 0.66\n"])
def test_text_of_bare_values_one_per_line_or_on_one_line(text: bytes) -> None:
    (run,) = read_upload("train_loss.txt", text)
    assert run.format == "values"
    assert _curves("train_loss.txt", text)["train/loss"] == [0.69, 0.68, 0.67, 0.66]


def test_rows_of_values_are_several_series_none_guessed_as_the_training_loss() -> None:
    text = b"0.76 0.56 0.38 0.60\n1.10 1.30 1.20 0.90\n"
    (run,) = read_upload("losses.txt", text)
    curves = _curves("losses.txt", text)
    assert curves["losses_1"] == [0.76, 0.56, 0.38, 0.6] and curves["losses_2"] == [1.1, 1.3, 1.2, 0.9]
    assert "train/loss" not in curves and any("which is which" in w for w in run.warnings)


def test_prose_with_a_number_is_still_a_console_log_and_says_why_it_has_no_values() -> None:
    with pytest.raises(ValueError, match="no metric values"):
        read_upload("notes.txt", b"trained for 3 epochs\nit went well\n")


def test_a_summary_object_with_one_list_of_epoch_records() -> None:
    doc = {"seed": 42, "config": {"lr": 3e-4}, "history": [
        {"epoch": e, "train_loss": 1 / e, "val_loss": 1.1 / e, "epoch_time_sec": 27.9} for e in range(1, 5)]}
    (run,) = read_upload("results.json", json.dumps(doc).encode())
    assert run.format == "jsonl"
    assert _curves("results.json", json.dumps(doc).encode())["val/loss"][:2] == [1.1, 0.55]


def test_csv_cells_printed_as_tensors_are_their_numbers() -> None:
    text = (b'losses_g,losses_d\r\n"tensor(10.5290, grad_fn=<BinaryCrossEntropyBackward0>)","tensor(0.0009)"\r\n'
            b'"tensor(9.9135, grad_fn=<BinaryCrossEntropyBackward0>)","tensor(nan)"\r\n')
    curves = _curves("losses.csv", text)
    assert curves["losses_g"] == [10.529, 9.9135]
    assert curves["losses_d"][0] == 0.0009


# -- issue 23: a per-step table is read per step -------------------------------------------
@pytest.mark.parametrize(("name", "text"), [
    ("log.csv", "step,train_loss,val_loss\n" + "".join(f"{i},{1 / (i + 1):.4f},{1.1 / (i + 1):.4f}\n"
                                                        for i in range(60))),
    ("log.csv", "step,epoch,train_loss,val_loss\n" + "".join(f"{i},{i // 20},{1 / (i + 1):.4f},{0.5 + i // 20}\n"
                                                              for i in range(60))),
    ("log.jsonl", "".join(json.dumps({"step": i, "train_loss": 1 / (i + 1), "val_loss": 1.1 / (i + 1)}) + "\n"
                          for i in range(60))),
], ids=["csv", "csv-with-epochs", "jsonl"])
def test_a_loss_logged_at_every_step_is_the_per_step_curve(name: str, text: str) -> None:
    """A row per step with a val loss in every row: ``train_loss`` is the per-step loss, not an epoch mean."""
    (run,) = read_upload(name, text.encode())
    assert run.mapping["train_loss"] == "train/loss" and run.mapping["val_loss"] == "val/loss"
    assert "train/loss_epoch" not in from_imported(run).names


def test_a_train_mean_logged_with_each_evaluation_stays_the_interval_mean() -> None:
    """Steps 16 apart, a val loss in every row: the train value is the mean since the last evaluation."""
    text = "step,train_loss,val_loss\n" + "".join(f"{16 * i},{1 / i:.4f},{1.1 / i:.4f}\n" for i in range(1, 30))
    (run,) = read_upload("log.csv", text.encode())
    assert run.mapping["train_loss"] == "train/loss_epoch"


@pytest.mark.parametrize(("header", "expected"), [
    ("Epoch,TrainLoss,ValLoss,TrainAccuracy,ValAccuracy", ("train/loss_epoch", "val/loss", "train/acc", "val/acc")),
    ("Epoch,Train Loss,Val Loss,Train Acc,Val Acc", ("train/loss_epoch", "val/loss", "train/acc", "val/acc")),
    ("epoch,trn_loss,vld_loss,trn_acc,vld_acc", ("train/loss_epoch", "val/loss", "train/acc", "val/acc")),
    ("EPOCH,LOSS_TRAIN,LOSS_VAL,ACC_TRAIN,ACC_VAL", ("train/loss_epoch", "val/loss", "train/acc", "val/acc")),
    ("epoch,trainloss,testloss,trainacc,testacc", ("train/loss_epoch", "val/loss", "train/acc", "val/acc")),
], ids=["camel", "spaced", "abbreviated", "upper-suffixed", "fused"])
def test_hand_written_headers_reach_the_canonical_names(header: str, expected: tuple[str, ...]) -> None:
    rows = "".join(f"{e},{1 / e:.3f},{1.2 / e:.3f},{1 - 1 / (e + 1):.3f},{0.9 - 1 / (e + 2):.3f}\n"
                   for e in range(1, 6))
    (run,) = read_upload("training_log.csv", f"{header}\n{rows}".encode())
    assert tuple(run.mapping[c] for c in header.split(",")[1:]) == expected


# -- issue 20: a log cut off mid-row ---------------------------------------------------------
@pytest.mark.parametrize(("name", "text", "why"), [
    ("log.csv", "step,loss,val_loss\n1,0.5,0.6\n2,0.4,0.5\n3,0.3", "2 of 3 fields"),
    ("log.csv", "step,loss,val_loss\n1,0.5,0.6\n2,0.4,0.5\n3,0.3,0.", "its last cell '0.' is cut short"),
    ("log.csv", "step,loss,val_loss\n1,0.5,0.6\n2,0.4,0.5\n3,0.3,4.1e-", "its last cell '4.1e-' is cut short"),
    ("log.tsv", "step\tloss\tval_loss\n1\t0.5\t0.6\n2\t0.4\t0.5\n3\t0.3\t", "its last cell '' is cut short"),
], ids=["fields", "dot", "exponent", "tsv"])
def test_a_table_cut_off_mid_row_drops_that_row_with_a_note(name: str, text: str, why: str) -> None:
    (run,) = read_upload(name, text.encode())
    assert sorted(run.frame["step"].unique().tolist()) == [1, 2]
    (note,) = [w for w in run.warnings if "cut off" in w]
    assert note.startswith("line 4 is cut off mid-row") and why in note and "dropped" in note


def test_a_complete_last_row_without_a_newline_is_kept() -> None:
    (run,) = read_upload("log.csv", b"step,loss,val_loss\n1,0.5,0.6\n2,0.4,0.5\n3,0.3,0.45")
    assert sorted(run.frame["step"].unique().tolist()) == [1, 2, 3] and run.warnings == ()


def test_json_lines_cut_off_mid_object_drop_that_line_with_a_note() -> None:
    text = b'{"step": 1, "loss": 0.5}\n{"step": 2, "loss": 0.4}\n{"step": 3, "lo'
    (run,) = read_upload("metrics.jsonl", text)
    assert run.frame["step"].tolist() == [1, 2]
    assert any(w.startswith("line 3 is a JSON object cut off before its end") for w in run.warnings)
    with pytest.raises(ValueError, match="line 2"):  # a broken line that is not the last is still an error
        read_upload("metrics.jsonl", b'{"step": 1, "loss": 0.5}\n{"step": 2, "lo\n{"step": 3, "loss": 0.3}\n')


def test_numbered_lines_without_a_logged_step_keep_the_epoch_reading() -> None:
    """Lines counted by their order (no step in the log) are one apart whatever they hold: their gap is no
    evidence of a per-step loss, so a train loss beside a val loss in each line stays the epoch mean."""
    text = "".join(f"Epoch {e}: Train Loss: {1 / e:.4f}, Val Loss: {1.1 / e:.4f}\n" for e in range(1, 30))
    (run,) = read_upload("train.txt", text.encode())
    assert run.mapping == {"Train_Loss": "train/loss_epoch", "Val_Loss": "val/loss"}


def test_a_stray_carriage_return_in_the_last_row_is_read_not_raised() -> None:
    """Found by the fuzzer: the csv module refuses a lone CR inside a line; the row is still judged."""
    (run,) = read_upload("log.csv", b"step,loss,val_loss\n1,0.5,0.6\n2,0.4,0.5\n3\r0.3")
    assert sorted(run.frame["step"].unique().tolist()) == [1, 2] and "cut off" in run.warnings[0]


# --- appended runs and repeated epochs (issue 17) ------------------------------------------------------------


def test_keras_csvlogger_appended_by_one_epoch_fits_keeps_every_row_in_file_order() -> None:
    # CSVLogger(append=True) around fit(epochs=1) in a loop: every row says epoch 0
    losses = [0.39, 0.37, 0.35, 1.67, 0.73, 0.54]
    text = "epoch,accuracy,loss,val_accuracy,val_loss\n" + "".join(
        f"0,{0.8 + i / 100},{v},{0.85 + i / 100},{v * 0.9}\n" for i, v in enumerate(losses))
    (run,) = read_upload("training_log.csv", text.encode())
    assert run.format == "keras_csv" and run.axis == "epoch"
    rd = from_imported(run)
    assert rd.series["train/loss_epoch"].values.tolist() == losses
    assert rd.series["train/loss_epoch"].steps.tolist() == [0, 1, 2, 3, 4, 5]
    assert rd.series["val/loss"].steps.tolist() == [0, 1, 2, 3, 4, 5]
    assert run.frame["epoch"].eq(0).all()  # the logged epoch is kept
    assert any("epoch column repeats on 5 consecutive row(s): read in file order" in w for w in run.warnings)


def test_phases_restarting_their_epoch_numbering_are_segments_in_file_order() -> None:
    rows = [("a", e, 2.0 - e / 10, 2.1 - e / 20) for e in range(1, 6)]
    rows += [("b", e, 2.3, 2.3) for e in range(1, 4)]
    rows += [("a", e, 1.6 - (e - 4) / 10, 1.7) for e in range(4, 8)]  # resumes its own numbering past b's end
    text = "phase,epoch,train_loss,val_loss\n" + "".join(f"{p},{e},{t},{v}\n" for p, e, t, v in rows)
    (run,) = read_upload("training_log.csv", text.encode())
    rd = from_imported(run)
    assert rd.series["train/loss_epoch"].values.tolist() == [r[2] for r in rows]
    assert rd.series["train/loss_epoch"].steps.tolist() == list(range(1, 13))
    assert run.meta["restarts"] == [6]  # 3 -> 4 advances: no restart to see, but the rows stay in file order
    assert any(w.startswith("2 appended segments (the epoch column restarts at lines 7)") for w in run.warnings)
    assert run.frame.loc[run.frame["name"] == "val_loss", "epoch"].tolist() == [r[1] for r in rows]


def test_train_and_val_rows_of_a_restarted_run_stay_aligned() -> None:
    # train and validation on separate rows sharing a step; the second run restarts both
    lines = ["step,train_loss,val_loss"]
    for run_no in range(2):
        for step in (10, 20, 30):
            lines += [f"{step},{1 - step / 100 + run_no},", f"{step},,{1.1 - step / 100 + run_no}"]
    (run,) = read_upload("log.csv", ("\n".join(lines) + "\n").encode())
    steps = {n: g["step"].tolist() for n, g in run.frame.groupby("name")}
    assert steps["train_loss"] == steps["val_loss"] == [10, 20, 30, 40, 50, 60]  # spacing of 10 kept
    assert run.meta["restarts"] == [40]


def test_rows_sharing_a_step_on_separate_rows_read_as_before() -> None:
    text = b"step,train_loss,val_loss\n10,0.5,\n10,,0.6\n20,0.4,\n20,,0.55\n30,0.3,\n30,,0.5\n"
    (run,) = read_upload("log.csv", text)
    assert run.warnings == () and "restarts" not in run.meta
    assert run.frame.loc[run.frame["name"] == "val_loss", "step"].tolist() == [10, 20, 30]


def test_a_step_column_counting_inside_each_epoch_is_read_in_file_order() -> None:
    text = "epoch,batch,loss\n" + "".join(f"{e},{b},{1 / (1 + 3 * e + b):.4f}\n" for e in range(3) for b in range(3))
    (run,) = read_upload("batches.csv", text.encode())
    assert run.frame["step"].tolist() == list(range(9))
    assert run.axis == "step" and run.mapping["loss"] == "train/loss"  # one row per batch, not per epoch
    assert run.meta["restarts"] == []  # the epoch advanced at each restart: not another run
    assert any("counts inside each epoch (it restarts 2x as the epoch advances)" in w for w in run.warnings)


def test_several_rows_per_epoch_are_batches_in_file_order() -> None:
    text = "epoch,loss\n" + "".join(f"{e},{1 / (1 + 3 * e + b):.4f}\n" for e in range(3) for b in range(3))
    (run,) = read_upload("batches.csv", text.encode())
    assert len(run.frame) == 9 and run.axis == "step" and run.mapping["loss"] == "train/loss"


def test_a_step_logged_again_at_the_end_keeps_the_last_value() -> None:
    # a final evaluation at the last step (Trainer.evaluate() after train()): not another run
    records = [{"step": s, "loss": 1 / s} for s in (10, 20, 30)] + [{"step": 30, "eval_loss": 0.5},
                                                                    {"step": 30, "eval_loss": 0.45}]
    (run,) = read_upload("log_history.jsonl", "\n".join(json.dumps(r) for r in records).encode())
    assert run.frame.loc[run.frame["name"] == "eval_loss", "value"].tolist() == [0.45]
    assert run.frame.loc[run.frame["name"] == "loss", "step"].tolist() == [10, 20, 30]
    assert "restarts" not in run.meta


def test_keras_console_output_of_two_fit_calls_is_two_segments() -> None:
    text = ""
    for fit in range(2):
        for e in range(1, 4):
            loss = 1.0 / (e + 3 * fit)
            text += (f"Epoch {e}/3\n10/10 [==============================] - 1s 5ms/step - loss: {loss:.4f}"
                     f" - val_loss: {loss * 1.1:.4f}\n")
    (run,) = read_upload("fit.log", text.encode())
    rd = from_imported(run)
    assert rd.series["val/loss"].values.round(4).tolist() == [round(1.1 / e, 4) for e in range(1, 7)]
    assert rd.series["val/loss"].steps.tolist() == [1, 2, 3, 4, 5, 6]
    assert run.frame.loc[run.frame["name"] == "loss", "epoch"].tolist() == [1, 2, 3, 1, 2, 3]


def test_python_logging_epoch_lines_with_settings_and_a_relaunch() -> None:
    head = ["2025-07-05 12:50:30,346 - __main__ - INFO - Training samples: 8000",
            "2025-07-05 12:50:30,346 - __main__ - INFO - Validation samples: 1000",
            "2025-07-05 12:50:30,346 - __main__ - INFO - Batch size: 1024"]
    lines = list(head)
    for epoch, (train, val) in enumerate([(1.2, 18.5), (0.19, 38.3), (0.11, 50.3)], 1):
        lines += [f"2025-07-05 12:57:11,293 - __main__ - INFO - Epoch {epoch}, Batch 0/8, Loss: {train * 2}",
                  f"2025-07-05 12:57:18,784 - __main__ - INFO - Epoch {epoch} Training - Loss: {train}, "
                  f"Mod Acc: 0.8061, Time: 16.9s",
                  f"2025-07-05 12:57:21,354 - __main__ - INFO - Epoch {epoch} Validation - Loss: {val}, "
                  f"Mod Acc: 0.0000"]
    lines += head + ["2025-07-05 12:59:34,052 - __main__ - INFO - Epoch 1 Training - Loss: 1.07, Mod Acc: 0.85",
                     "2025-07-05 12:59:34,517 - __main__ - INFO - Epoch 1 Validation - Loss: 21.9, Mod Acc: 0.0"]
    (run,) = read_upload("training.log", ("\n".join(lines) + "\n").encode())
    rd = from_imported(run)
    assert rd.series["val/loss"].values.tolist() == [18.5, 38.3, 50.3, 21.9]
    assert rd.series["train/loss_epoch"].values.tolist() == [1.2, 0.19, 0.11, 1.07]
    assert rd.series["val/loss"].steps.tolist() == rd.series["train/loss_epoch"].steps.tolist() == [1, 2, 3, 4]
    assert not {"Training_samples", "size"} & set(run.mapping)  # settings lines are not curves
    assert any(w.startswith("2 appended segments (the epoch column restarts at lines 16)") for w in run.warnings)


def test_bare_step_and_epoch_counters_give_the_x_axis() -> None:
    # python logging: ``epoch 0 | step 2 | train_loss: ...`` between per-step ``step 1 | loss: ...`` lines
    lines = []
    for step in range(1, 9):
        lines.append(f"2026-12-07 13:46:10,242 - trainer - INFO - step {step} | loss: {2.3 - step / 10:.4f}")
        if step % 2 == 0:
            lines.append(f"2026-12-07 13:46:10,242 - trainer - INFO - epoch {step // 5} | step {step} | "
                         f"train_loss: {2.3 - step / 10:.4f} | val_loss: {2.2 - step / 20:.4f}")
    (run,) = read_upload("train.log", ("\n".join(lines) + "\n").encode())
    steps = {n: g["step"].tolist() for n, g in run.frame.groupby("name")}
    assert steps["loss"] == list(range(1, 9))
    assert steps["val_loss"] == [2, 4, 6, 8]  # the logged step, not the line's place
    assert run.frame.loc[run.frame["name"] == "val_loss", "epoch"].tolist() == [0, 0, 1, 1]


def test_comma_separated_word_fields_after_a_step_counter_as_nanogpt_prints_them() -> None:
    text = b"".join(b"step %d: train loss %.4f, val loss %.4f\n" % (s, 4.3 - s / 5000, 4.31 - s / 6000)
                    for s in range(0, 5001, 500))
    curves = _curves("train.log", text)
    assert curves["val/loss"][:2] == [4.31, round(4.31 - 500 / 6000, 4)]
    assert len(curves["train/loss_epoch"]) == 11


def test_prose_with_a_comma_and_one_number_is_not_a_metric_line() -> None:
    from runner.importers.console import kv_pairs

    assert kv_pairs("Loading dataset, found 5000 images") == []
    assert kv_pairs("step 10: train loss 2.5, val loss 2.6") == [("step", 10.0), ("train_loss", 2.5),
                                                                  ("val_loss", 2.6)]


def test_a_tqdm_bar_at_zero_of_n_holds_placeholders_not_losses() -> None:
    text = (b"  0%|          | 0/100 [00:00<?, ?it/s, loss=inf]\r"
            b" 50%|#####     | 50/100 [00:05<00:05, 9.8it/s, loss=0.71]\r"
            b"100%|##########| 100/100 [00:10<00:00, 9.8it/s, loss=0.52]\n")
    (run,) = read_upload("train.log", text)
    loss = run.frame[run.frame.name == "loss"]
    assert loss.value.tolist() == [0.71, 0.52]


def test_a_history_with_a_confusion_matrix_per_epoch_keeps_its_curves_with_a_note() -> None:
    doc = {"train_loss": [0.9, 0.6, 0.5], "val_loss": [0.8, 0.7, 0.75],
           "train_conf_mat": [[[0.5, 0.5], [0.4, 0.6]]] * 3}
    (run,) = read_upload("history.json", json.dumps(doc).encode())
    assert set(run.mapping) == {"train_loss", "val_loss"}
    assert any("'train_conf_mat'" in w and "left out" in w for w in run.warnings)


def test_a_history_of_matrices_only_is_still_an_error() -> None:
    from runner.importers.base import ImportFailed

    with pytest.raises(ImportFailed, match="not a list of numbers|no numeric metric"):
        read_upload("history.json", json.dumps({"conf_mat": [[[1, 0], [0, 1]]] * 3}).encode())
