"""Every format read from its fixture matches its golden document, and the detected roles are the expected ones."""

from __future__ import annotations

import pytest
from import_golden import FIXTURES, check, document

from runner.importers import read_path

# case → (fixture path, format, {original: (stored name, split, kind, better)} that must hold)
CASES = {
    "lightning": ("lightning", "lightning", {"train_loss_step": ("train/loss", "train", "loss", "lower"),
                                             "train_loss_epoch": ("train/loss_epoch", "train", "loss", "lower"),
                                             "val_loss": ("val/loss", "val", "loss", "lower"),
                                             "val_acc": ("val/acc", "val", "metric", "higher"),
                                             "lr-Adam": ("lr-Adam", "other", "lr", "")}),
    "keras_csv": ("keras/training.log", "keras_csv", {"loss": ("train/loss_epoch", "train", "loss", "lower"),
                                                      "val_accuracy": ("val/acc", "val", "metric", "higher")}),
    "keras_history": ("keras/history.json", "keras_history", {"val_loss": ("val/loss", "val", "loss", "lower"),
                                                              "accuracy": ("train/acc", "train", "metric", "higher")}),
    "tensorboard": ("tensorboard", "tensorboard", {"Loss/train": ("train/loss", "train", "loss", "lower"),
                                                   "Loss/val": ("val/loss", "val", "loss", "lower"),
                                                   "Accuracy/val": ("val/acc", "val", "metric", "higher"),
                                                   "lr/group0": ("lr/group0", "other", "lr", "")}),
    "hf": ("hf", "hf_trainer_state", {"loss": ("train/loss", "train", "loss", "lower"),
                                      "eval_loss": ("val/loss", "val", "loss", "lower"),
                                      "eval_accuracy": ("val/acc", "val", "metric", "higher"),
                                      "learning_rate": ("lr", "other", "lr", ""),
                                      "eval_runtime": ("eval_runtime", "val", "system", "")}),
    "ultralytics": ("ultralytics", "ultralytics", {"val/box_loss": ("val/box_loss", "val", "loss", "lower"),
                                                   "metrics/mAP50(B)": ("metrics/mAP50(B)", "val", "metric", "higher"),
                                                   "val/loss": ("val/loss", "val", "loss", "lower"),
                                                   "train/loss_epoch": ("train/loss_epoch", "train", "loss", "lower")}),
    "mmengine": ("mmengine", "mmengine", {"loss": ("train/loss", "train", "loss", "lower"),
                                          "val/coco/bbox_mAP": ("val/coco/bbox_mAP", "val", "metric", "higher"),
                                          "data_time": ("sys/data_time", "other", "system", ""),
                                          "memory": ("sys/cuda_peak_mb", "other", "system", ""),
                                          "time": ("sys/step_time", "other", "system", "")}),
    "csv": ("generic/run.csv", "csv", {"loss": ("train/loss", "train", "loss", "lower"),
                                       "val_loss": ("val/loss", "val", "loss", "lower")}),
    "tsv": ("generic/run.tsv", "tsv", {"train_loss": ("train/loss_epoch", "train", "loss", "lower")}),
    "jsonl": ("generic/run.jsonl", "jsonl", {"eval/loss": ("val/loss", "val", "loss", "lower")}),
    "console_keras": ("console/keras_fit.log", "console", {"val_loss": ("val/loss", "val", "loss", "lower")}),
    "console_seed": ("console/seed_style.log", "console", {"loss": ("train/loss", "train", "loss", "lower"),
                                                           "val_loss": ("val/loss", "val", "loss", "lower")}),
    "console_tqdm": ("console/tqdm.log", "console", {"loss": ("train/loss", "train", "loss", "lower")}),
    "console_kv": ("console/kv.log", "console", {"val_loss": ("val/loss", "val", "loss", "lower")}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_format_matches_golden_and_roles(case: str) -> None:
    path, fmt, roles = CASES[case]
    runs = read_path(FIXTURES / path)
    assert [r.format for r in runs] == [fmt]
    table = runs[0].mapping_table().set_index("original")
    for original, (name, split, kind, better) in roles.items():
        assert tuple(table.loc[original, ["name", "split", "kind", "better"]]) == (name, split, kind, better)
    check(case, [document(r) for r in runs])


def test_sidecars_become_config() -> None:
    (lightning,) = read_path(FIXTURES / "lightning")
    assert lightning.config["optim.lr"] == 3e-4 and lightning.config["model.width"] == 512
    (hf,) = read_path(FIXTURES / "hf")
    assert hf.config["optim.eps"] == 1e-8 and hf.config["hidden_size"] == 128  # training_args + config.json
    assert hf.meta["summary"]["train_loss"] == 0.31  # the closing summary is not a curve point
    (tb,) = read_path(FIXTURES / "tensorboard")
    assert tb.config == {"optim.lr": 3e-4, "optim.name": "adam", "model.width": 512.0}  # add_hparams
    (yolo,) = read_path(FIXTURES / "ultralytics")
    assert yolo.config["optim.lr"] == 0.01 and yolo.meta["derived"]["val/loss"].startswith("sum of val/box_loss")


def test_seed_style_steps_and_validation_means() -> None:
    (run,) = read_path(FIXTURES / "console/seed_style.log")
    val = run.frame[run.frame["name"] == "val_loss"]
    # iter counts inside an epoch of 600 (0, 200, 400 logged); VALID batches averaged per epoch, at its end
    assert val["step"].tolist() == [600, 1200, 1800]
    assert val["value"].round(4).tolist() == [0.91, 0.71, 0.76]


def test_json_sidecar_next_to_log(tmp_path) -> None:
    (tmp_path / "a.csv").write_text("step,loss\n1,0.5\n2,0.4\n")
    (tmp_path / "a.csv.hparams.json").write_text('{"optim": {"eps": 0.1}}')
    (tmp_path / "hparams.json").write_text('{"optim": {"eps": 1e-8, "lr": 0.01}}')
    for path in (tmp_path / "a.csv", tmp_path):  # the file alone, or its folder
        (run,) = read_path(path)
        assert run.config == {"optim.eps": 0.1, "optim.lr": 0.01}  # <file>.hparams.json is the more specific


def test_a_missing_golden_document_fails_instead_of_writing_itself(tmp_path, monkeypatch) -> None:
    import import_golden

    monkeypatch.setattr(import_golden, "GOLDEN", tmp_path)
    monkeypatch.setattr(import_golden, "REGEN", False)
    with pytest.raises(AssertionError, match="is missing: TRAINDOC_REGEN_GOLDEN=1 writes it"):
        check("nothing_here", [{"rows": []}])
    assert not (tmp_path / "nothing_here.json").exists()


def test_mmengine_time_is_the_step_time_but_a_bare_time_elsewhere_is_left_alone(tmp_path) -> None:
    (mm,) = read_path(FIXTURES / "mmengine")
    assert mm.mapping["time"] == "sys/step_time"  # MMEngine: mean seconds per iteration over the log interval
    path = tmp_path / "results.csv"
    path.write_text("epoch,time,train/box_loss,val/box_loss\n1,60.5,1.2,1.3\n2,121.0,1.1,1.2\n3,181.9,1.0,1.1\n")
    (other,) = read_path(path)
    assert "sys/step_time" not in other.mapping.values()  # cumulative seconds here (or the wall clock): not a step time
