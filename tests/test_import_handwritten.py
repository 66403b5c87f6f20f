"""Logs with no header or no separators, as people write them by hand (issue 17): headerless numbers
(one column, a counting first column, a row per series) and console lines that mix or drop the usual
``name: value`` pairs. Each is read into the right curves, and a guessed name says it was guessed."""

from __future__ import annotations

import json

import pytest

from runner.importers import read_upload
from traindoc.handoff import from_imported


def _curves(name: str, data: bytes) -> dict[str, list[float]]:
    (run,) = read_upload(name, data)
    rd = from_imported(run)
    return {n: rd.series[n].values.tolist() for n in rd.names}


def test_headerless_row_per_series_csv() -> None:
    data = b"3.0,2.0,1.0,-0.5,-1.0\n5.0,4.0,3.5,3.0,2.9\n"
    curves = _curves("losses.csv", data)
    assert curves == {"row_1": [3.0, 2.0, 1.0, -0.5, -1.0], "row_2": [5.0, 4.0, 3.5, 3.0, 2.9]}


def test_headerless_column_table() -> None:
    """A counting first column is the epoch; the lone value column beside it is read as the training loss
    (the file name ``log`` names no metric), and the run says it guessed."""
    data = b"".join(f"{i},{1 / (i + 1):.3f}\n".encode() for i in range(20))
    (run,) = read_upload("log.csv", data)
    assert run.axis == "epoch"
    rd = from_imported(run)
    assert rd.names == ["train/loss_epoch"]  # one row an epoch: the epoch-level training loss
    assert rd.series["train/loss_epoch"].values[:2].tolist() == [1.0, 0.5]
    assert rd.series["train/loss_epoch"].steps[:2].tolist() == [0, 1]
    assert any("read as the training loss" in w for w in run.warnings)


def test_a_one_column_csv_without_a_header_keeps_its_first_value() -> None:
    """``np.savetxt`` of one series into a .csv: its first number is a value, not a column name."""
    data = b"".join(f"{v:.18e}\n".encode() for v in (0.103, 0.035, 0.029, 0.023))
    assert _curves("run7.csv", data) == {"train/loss": [0.103, 0.035, 0.029, 0.023]}
    assert _curves("val_acc.csv", data) == {"val/acc": [0.103, 0.035, 0.029, 0.023]}  # the name says it


def test_space_separated_rows_of_a_few_values_are_columns() -> None:
    """``epoch loss acc`` per line, no header: three columns, not one series per line."""
    data = b"".join(f"{e} {1 / (e + 1):.3f} {e / 10:.1f}\n".encode() for e in range(12))
    (run,) = read_upload("train_log.txt", data)
    rd = from_imported(run)
    assert run.axis == "epoch" and sorted(rd.names) == ["column_2", "column_3"]  # two values: neither guessed
    assert rd.series["column_3"].values[:3].tolist() == [0.0, 0.1, 0.2]


def test_an_epoch_column_that_repeats_makes_each_row_a_step() -> None:
    """``epoch,batch loss`` rows: many rows an epoch, so the row is the step and the loss is per step."""
    data = b"".join(f"{1 + i // 5},{2 - i / 20:.3f}\n".encode() for i in range(15))
    (run,) = read_upload("loss.csv", data)
    rd = from_imported(run)
    assert rd.series["train/loss"].steps.tolist() == list(range(15))
    assert rd.series["train/loss"].epochs[:6].tolist() == [1, 1, 1, 1, 1, 2]


def test_a_metric_without_a_colon_beside_pairs_with_one_is_read() -> None:
    """``Train Loss: 2.5 Validate Loss 2.7``: the second field has no colon; "validate" names the split."""
    data = b"Loading data\n" + b"".join(f"Train Loss: {2.5 - e / 10:.2f} Validate Loss {2.7 - e / 20:.2f}\n".encode()
                                        for e in range(6))
    curves = _curves("output.log", data)
    assert curves["val/loss"] == pytest.approx([2.7 - e / 20 for e in range(6)])
    assert len(curves) == 2  # the training loss and the val loss, nothing read from the prose


def test_a_console_log_saved_as_csv_is_read_as_a_console_log() -> None:
    """``Epoch: [1/100], training loss: 1.64, training accuracy: 67%`` in a .csv: its commas make no table."""
    data = b"".join(f"Epoch: [{e}/100], training loss: {1.6 - e / 10:.6f}, training accuracy: {60 + e}.0000%\n"
                    .encode() for e in range(1, 6))
    (run,) = read_upload("train_log.csv", data)
    assert run.format == "console"
    curves = _curves("train_log.csv", data)
    assert curves["train/acc"] == pytest.approx([0.61, 0.62, 0.63, 0.64, 0.65])


def test_an_epoch_and_one_unnamed_value_per_line_is_the_training_loss() -> None:
    """``Epoch 3: 1.91`` lines: the value has no name; read as the training loss, and the run says so."""
    data = b"".join(f"Epoch {e}: {2.06 - e / 50:.4f}\n".encode() for e in range(1, 6))
    (run,) = read_upload("train.txt", data)
    assert any("read as the training loss" in w for w in run.warnings)
    assert _curves("train.txt", data)["train/loss_epoch"] == pytest.approx([2.06 - e / 50 for e in range(1, 6)])


def test_words_and_numbers_with_only_spaces_between_are_fields() -> None:
    """``2025-11-12 13:49:11.94 Epoch 0 Loss 6.73`` (a timestamp, then name-number fields with no separator)."""
    data = b"\n" + b"".join(f"2025-11-12 13:{49 + e}:11.944487 Epoch {e} Loss {6.73 - e / 30:.6f}\n".encode()
                            for e in range(5))
    assert _curves("log.txt", data)["train/loss_epoch"] == pytest.approx([6.73 - e / 30 for e in range(5)])


def test_a_log_opening_with_a_timestamped_tag_and_a_bullet_is_text_not_json() -> None:
    """OpenNMT: ``[2024-05-08 04:06:12,127 INFO]  * src vocab size = 50``, then ``Step 50/100000; acc: 12.00;
    ppl: 26.87; xent: 3.29; ...`` lines; ``xent`` is its cross-entropy, a loss."""
    head = b"[2024-05-08 04:06:12,127 INFO]  * src vocab size = 50\n"
    steps = b"".join(f"[2024-05-08 04:06:{17 + i},722 INFO] Step {50 * (i + 1)}/100000; acc:  {12 + 5 * i:.2f}; "
                     f"ppl: {26.9 - i:.2f}; xent: {3.29 - i / 10:.2f}; lr: 1.00000; 11270/8704 tok/s;      4 sec\n"
                     .encode() for i in range(6))
    (run,) = read_upload("train.log", head + steps)
    assert run.format == "console"
    rd = from_imported(run)
    assert rd.series["xent"].values.tolist() == pytest.approx([3.29 - i / 10 for i in range(6)])


def test_columns_named_only_by_their_split_are_read_from_their_values() -> None:
    """``pd.DataFrame({"Training": losses, "Validation": val_losses}).to_csv(...)``: the columns name the split
    and nothing else. Falling training values are the loss, climbing ones within [0, 1] the accuracy; either way
    the run says it guessed. A log that names its loss anywhere is read as named."""
    falling_rows = "".join(f"{i},{1.1 - 0.05 * i:.3f},{1.15 - 0.04 * i:.3f}\n" for i in range(10))
    (run,) = read_upload("history.csv", (",Training,Validation\n" + falling_rows).encode())
    assert sorted(from_imported(run).names) == ["train/loss_epoch", "val/loss"]
    assert any("named only by their split" in w and "loss" in w for w in run.warnings)
    rising_rows = "".join(f"{i},{0.5 + 0.04 * i:.3f},{0.5 + 0.03 * i:.3f}\n" for i in range(10))
    (run,) = read_upload("history.csv", ("epoch,train,test\n" + rising_rows).encode())
    assert sorted(from_imported(run).names) == ["train/acc", "val/acc"]
    percent = "".join(f"{i},{45 + 5 * i},{40 + 4 * i}\n" for i in range(10))
    (run,) = read_upload("history.csv", (",Training,Validation\n" + percent).encode())
    assert from_imported(run).series["train/acc"].values[:2].tolist() == [0.45, 0.5]
    assert any("rise within [0, 100]" in w for w in run.warnings)
    counts = "".join(f"{i},{100 + 50 * i},{90 + 40 * i}\n" for i in range(10))  # climbing past 100: not guessed
    (run,) = read_upload("history.csv", (",Training,Validation\n" + counts).encode())
    assert not any("named only by their split" in w for w in run.warnings)
    named = "".join(f"{i},{1.1 - 0.05 * i:.3f},{0.5 + 0.03 * i:.3f}\n" for i in range(10))
    (run,) = read_upload("history.csv", ("epoch,loss,validation\n" + named).encode())
    assert "train/loss_epoch" in from_imported(run).names
    assert not any("named only by their split" in w for w in run.warnings)


def test_a_resume_from_a_checkpoint_is_told_from_a_new_run_by_its_step() -> None:
    """JSON lines of a pretraining run with no epoch: an aborted start (steps 10-20), the run from step 10 to 200
    (a new run: back to the first step), then a resume from the step-150 checkpoint (back into the steps before,
    not to the start). The rules judge the resume with the run it continues (``_common.fresh_runs``)."""
    from diagnostics.rules._common import fresh_runs

    steps = [10, 20, *range(10, 201, 10), *range(150, 251, 10)]
    data = "".join(f'{{"step": {s}, "loss": {8 / (1 + s / 50):.4f}}}\n' for s in steps).encode()
    (run,) = read_upload("metrics.jsonl", data)
    assert len(run.meta["restarts"]) == 2 and len(run.meta["resumes"]) == 1
    assert run.meta["resumes"][0] == run.meta["restarts"][1]
    rd = from_imported(run)
    loss = rd.series["train/loss"]
    assert [(p.start, p.stop) for p in fresh_runs(rd, loss)] == [(0, 2), (2, len(loss))]
    # a fresh run that first logs at step 10 where the first logged step 0 is a new run, not a resume
    steps = [*range(0, 201, 10), *range(10, 201, 10)]
    data = "".join(f'{{"step": {s}, "loss": {8 / (1 + s / 50):.4f}}}\n' for s in steps).encode()
    (run,) = read_upload("metrics.jsonl", data)
    assert len(run.meta["restarts"]) == 1 and run.meta["resumes"] == []


def test_console_pairs_of_several_words_with_an_equals_sign() -> None:
    """``Epoch 1: Train Loss = 0.0107, Val Loss = 0.0063``: a name of two words before ``=`` is the whole name,
    as it is before ``:`` (read as the last word alone, both values were one metric ``Loss``)."""
    lines = "".join(f"Epoch {e}: Train Loss = {0.01 / e:.4f}, Val Loss = {0.009 / e:.4f}\n" for e in range(1, 8))
    curves = _curves("train.log", ("Training Loss Log\n" + "=" * 50 + "\n" + lines).encode())
    assert sorted(curves) == ["train/loss_epoch", "val/loss"]
    assert curves["val/loss"][0] == 0.009


def test_epoch_summary_lines_after_the_batch_lines_of_each_epoch_are_kept() -> None:
    """``Epoch 1 | Batch 100/300 | Train Loss ..`` per batch, then ``Epoch 1 | Time 812.2 sec | Train Loss .. |
    Valid Loss ..`` once per epoch: the summary (with the only validation loss) lands at the end of its epoch
    on the batch lines' step axis, instead of being dropped as prose."""
    lines = []
    for e in range(1, 4):
        lines += [f"Epoch {e:2d} | Batch {b}/300 | Train Loss {0.8 - 0.1 * e - b / 3000:.4f}" for b in (100, 200)]
        lines.append(f"Epoch {e:2d} | Time 812.{e} sec | Train Loss {0.75 - 0.1 * e:.4f} | "
                     f"Valid Loss {0.7 - 0.1 * e:.4f}")
    (run,) = read_upload("train.log", ("\n".join(lines) + "\n").encode())
    rd = from_imported(run)
    assert rd.series["val/loss"].steps.tolist() == [300, 600, 900]
    assert rd.series["val/loss"].values.tolist() == [0.6, 0.5, 0.4]
    assert len(rd.series["train/loss"]) == 6  # the batches' curve: the epoch means are a curve of their own
    assert rd.series["train/loss_epoch"].values.tolist() == [0.65, 0.55, 0.45]


def test_an_accuracy_logged_in_percent_is_read_as_a_fraction() -> None:
    """``Train Acc 21.8`` (percent, no ``%`` sign) is 0.218: read as a fraction of 21.8 it would be a fitted
    model to every accuracy rule. An accuracy already in [0, 1] is left alone."""
    rows = "".join(f"{e},{20 + e:.1f},{1.0 - e / 20:.3f},{0.5 + e / 40:.3f}\n" for e in range(1, 8))
    (run,) = read_upload("log.csv", ("epoch,train_acc,loss,val_acc\n" + rows).encode())
    rd = from_imported(run)
    assert rd.series["train/acc"].values[0] == pytest.approx(0.21)
    assert rd.series["val/acc"].values[0] == pytest.approx(0.525)
    assert [w for w in run.warnings if "percentage" in w] == ["'train_acc' runs from 21 to 27: read as a "
                                                              "percentage (divided by 100)"]


def test_json_histories_beside_settings_and_record_lists() -> None:
    """Hand-written JSON results: curves beside settings that include a list of class names, and a summary object
    with two record lists (per epoch and per batch), of which the per-epoch one is the curve, said in a note."""
    doc = {"backbone": "b0", "classes": ["happy", "sad"], "train_loss": [0.9, 0.7, 0.6], "val_loss": [0.95, 0.8, 0.75]}
    curves = _curves("results.json", json.dumps(doc).encode())
    assert curves["val/loss"] == [0.95, 0.8, 0.75] and "classes" not in curves
    doc = {"config": {"lr": 0.001},
           "epoch_summaries": [{"epoch": e, "avg_loss": 1 / e} for e in (1, 2, 3)],
           "batch_metrics": [{"epoch": e, "batch": b, "loss": 1 / e + b / 10} for e in (1, 2, 3) for b in (0, 1)]}
    (run,) = read_upload("metrics.json", json.dumps(doc).encode())
    assert from_imported(run).series["train/loss_epoch"].values.tolist() == [1.0, 0.5, 1 / 3]
    assert any("read 'epoch_summaries'" in w for w in run.warnings)
