"""The leaf vocabulary: train/val partners, the training-loss family's orders, the score's direction,
the run statuses. Every rule, view and runner module reads these, so they are pinned here."""

from __future__ import annotations

import pytest

from runner import store
from traindoc.core import statuses
from traindoc.core.vocabulary import (
    LOSS_NAMES,
    SCORE_PREFERENCE,
    TRAIN_LOSSES,
    VAL_CURVES,
    Monitor,
    first_score_logged,
    partner,
    partners,
    reads_as_train_loss,
    role,
    score_monitor,
    train_losses,
)


@pytest.mark.parametrize(("train", "val"), [
    ("train/loss_epoch", "val/loss"), ("train/acc", "val/acc"), ("train/auc", "val/auc"),
    ("loss", "val_loss"), ("accuracy", "val_accuracy"), ("Loss/train", "Loss/val"), ("train_loss", "val_loss"),
])
def test_partner_pairs_canonical_and_foreign_names(train: str, val: str) -> None:
    assert partner(train) == val
    assert train in partners(val)


def test_the_val_loss_partner_depends_on_the_use_and_on_what_was_logged() -> None:
    keras = ["train/acc", "train/loss_epoch", "val/acc", "val/loss"]
    assert partner("val/loss", keras) == "train/loss_epoch"
    both = ["train/loss", "train/loss_eval", "val/loss"]
    assert partner("val/loss", both) == "train/loss_eval"  # compared in the same (eval) mode
    assert partner("val/loss", both, use="step") == "train/loss"  # a chart shows the finest curve
    assert partner("train/acc_step", ["val/acc"]) == "val/acc"
    assert partner("lr") is None and partner("epoch") is None and partner("grad_norm") is None
    assert partner("val/acc", ["train/loss"]) is None


def test_the_loss_family_is_declared_once_with_one_order_per_use() -> None:
    assert TRAIN_LOSSES == ("train/loss", "train/loss_epoch", "train/loss_eval")
    assert LOSS_NAMES == ("train/loss", "train/loss_epoch", "train/loss_eval", "val/loss")
    assert train_losses("step") == TRAIN_LOSSES
    assert train_losses("beside_val") == ("train/loss_eval", "train/loss_epoch", "train/loss")
    assert train_losses("epoch") == ("train/loss_eval", "train/loss_epoch")
    assert train_losses("optimizer") == ("train/loss_epoch", "train/loss_eval")
    for use in ("step", "beside_val", "epoch", "optimizer"):
        assert set(train_losses(use)) <= set(TRAIN_LOSSES)
    with pytest.raises(ValueError, match="use must be"):
        train_losses("fastest")


def test_which_names_read_as_a_training_loss() -> None:
    assert reads_as_train_loss("train/loss_critic") and reads_as_train_loss("mean_loss")
    assert not reads_as_train_loss("val/loss") and not reads_as_train_loss("train/loss_step")
    assert not reads_as_train_loss("train/acc")


def test_the_score_and_its_direction() -> None:
    assert SCORE_PREFERENCE == ("val/auc", "val/acc", "val/loss")
    assert VAL_CURVES == ("val/loss", "val/auc", "val/acc")  # a best is found on the loss first
    assert score_monitor({"val/loss", "val/acc"}) == Monitor("val/acc", "max")
    assert score_monitor([{"val/loss", "val/auc"}, {"val/loss"}]) == Monitor("val/loss", "min")
    assert score_monitor({"train/loss"}) is None
    acc, loss = Monitor("val/acc"), Monitor("val/loss")
    assert acc.higher_is_better and not loss.higher_is_better
    assert acc.best([0.2, float("nan"), 0.9, 0.5]) == 0.9 and loss.best([0.2, 0.1, 0.5]) == 0.1
    assert acc.signed(0.1) == 0.1 and loss.signed(0.1) == -0.1


def test_the_run_statuses_live_in_the_leaf_and_the_store_reexports_them() -> None:
    assert store.STATUSES is statuses.STATUSES and store.ACTIVE is statuses.ACTIVE
    assert set(statuses.ACTIVE) <= set(statuses.STATUSES)
    assert statuses.STARTED == ("running", "stalled")


def test_system_signals_have_canonical_names_and_the_system_role():
    from traindoc.core.vocabulary import CUDA_PEAK_MB, DATA_TIME, SAMPLES_PER_SEC, canonical, rank_series, role

    assert canonical("train_samples_per_second", False) == SAMPLES_PER_SEC  # HF's closing throughput
    assert canonical("train|samples_per_sec", False) == SAMPLES_PER_SEC  # Lightning's ThroughputMonitor
    assert canonical("data_time", False) == DATA_TIME and canonical("memory", False) == CUDA_PEAK_MB  # MMEngine
    assert canonical("time", False) == "time"  # per-iteration in MMEngine, cumulative in Ultralytics: left alone
    assert canonical("eval_samples_per_second", False) == "eval_samples_per_second"  # evaluation, not training
    for name in ("sys/step_time", "sys/rss_mb", "sys/cuda_alloc_mb"):
        assert role(name).kind == "system"
    names = ["sys/step_time@10", "sys/step_time@2", "sys/step_time", "sys/step_timex@1", "sys/rss_mb@1"]
    # rank 0's series is the run's own (the plain name), the others carry @rank
    assert rank_series("sys/step_time", names) == {0: "sys/step_time", 2: "sys/step_time@2",
                                                   10: "sys/step_time@10"}
    assert rank_series("sys/step_time", ["sys/step_time", "sys/rss_mb"]) == {}  # one process: no ranks
    assert rank_series("sys/step_time", ["sys/step_time", "sys/step_time@0", "sys/step_time@1"]) == {
        0: "sys/step_time@0", 1: "sys/step_time@1"}


# -- the spellings real logs use (issue 17) -------------------------------------------
@pytest.mark.parametrize(("name", "per_step", "per_epoch"), [
    ("TrainLoss", "train/loss", "train/loss_epoch"), ("trainLoss", "train/loss", "train/loss_epoch"),
    ("Train Loss", "train/loss", "train/loss_epoch"), ("TRAIN LOSS", "train/loss", "train/loss_epoch"),
    ("loss_train", "train/loss", "train/loss_epoch"), ("Loss/Train", "train/loss", "train/loss_epoch"),
    ("tr_loss", "train/loss", "train/loss_epoch"), ("trn_loss", "train/loss", "train/loss_epoch"),
    ("trainloss", "train/loss", "train/loss_epoch"), ("avg_train_loss", "train/loss", "train/loss_epoch"),
    ("Avg_Train_Loss", "train/loss", "train/loss_epoch"), ("mean_loss", "train/loss", "train/loss_epoch"),
    ("train_loss_step", "train/loss", "train/loss"), ("epoch_loss", "train/loss_epoch", "train/loss_epoch"),
    ("ValLoss", "val/loss", "val/loss"), ("Val Loss", "val/loss", "val/loss"), ("Loss/val", "val/loss", "val/loss"),
    ("validation_loss", "val/loss", "val/loss"), ("Validation Loss", "val/loss", "val/loss"),
    ("eval_loss", "val/loss", "val/loss"), ("test_loss", "val/loss", "val/loss"), ("dev_loss", "val/loss", "val/loss"),
    ("va_loss", "val/loss", "val/loss"), ("vld_loss", "val/loss", "val/loss"), ("testLoss", "val/loss", "val/loss"),
    ("avg_val_loss", "val/loss", "val/loss"), ("LOSS_VAL", "val/loss", "val/loss"),
    ("valAcc", "val/acc", "val/acc"), ("Val Acc", "val/acc", "val/acc"), ("TestAccuracy", "val/acc", "val/acc"),
    ("testacc", "val/acc", "val/acc"), ("trainAcc", "train/acc", "train/acc"),
    ("Training Accuracy", "train/acc", "train/acc"), ("val_roc_auc", "val/auc", "val/auc"),
    ("LearningRate", "lr", "lr"), ("Learning Rate", "lr", "lr"),
    ("sparse_categorical_accuracy", "train/acc", "train/acc"), ("val_binary_accuracy", "val/acc", "val/acc"),
], ids=lambda v: str(v))
def test_the_spellings_of_train_and_val_loss_and_accuracy(name: str, per_step: str, per_epoch: str) -> None:
    from traindoc.core.vocabulary import canonical

    assert canonical(name, epoch_level=False) == per_step
    assert canonical(name, epoch_level=True) == per_epoch


@pytest.mark.parametrize("name", [
    "lr", "epoch_time", "EpochTime", "val_loss_best", "best_val_loss", "min_val_loss", "train_loss_bbox",
    "val/box_loss", "train/value_loss", "mean_acc", "mAcc", "mAP50(B)", "train_loss_0", "loss@3", "val/loss@1",
    "total timesteps", "entropy loss", "Train", "Val", "categorical_crossentropy", "binary_loss",
], ids=lambda v: str(v))
def test_names_that_only_look_like_a_loss_keep_their_own_name(name: str) -> None:
    """A running best, one term of a loss, a per-class mean, a rank's series: another metric than the curve."""
    from traindoc.core.vocabulary import canonical

    assert canonical(name, epoch_level=False) == name and canonical(name, epoch_level=True) == name


def test_camel_case_and_fused_names_have_their_role() -> None:
    from traindoc.core.vocabulary import Role, role

    assert role("TrainLoss") == Role("train", "loss", "lower") and role("valAcc") == Role("val", "metric", "higher")
    assert role("testloss") == Role("val", "loss", "lower") and role("va_loss").split == "val"
    assert role("mAP50(B)").better == "higher" and role("EpochTime").kind == "system"
    assert not reads_as_train_loss("ValLoss") and reads_as_train_loss("TrainLoss")


def test_a_loss_logged_at_every_step_is_the_per_step_curve_however_often_val_ran() -> None:
    """Issue 23: a value per step is that step's loss, not an epoch mean, even beside a val loss per row."""
    from traindoc.core.vocabulary import loss_per_epoch, map_names

    assert not loss_per_epoch(200, val_points=200, gap=1.0)
    assert loss_per_epoch(20, val_points=20, gap=50.0)  # a mean over the steps between evaluations
    assert loss_per_epoch(20, val_points=20)  # no steps known: as before
    assert loss_per_epoch(10, epochs=10, gap=1.0)  # one row per epoch numbered as steps: still epochs
    counts = {"train_loss": 200, "val_loss": 200}
    assert map_names(counts, gaps={"train_loss": 1.0, "val_loss": 1.0})["train_loss"] == "train/loss"
    assert map_names(counts)["train_loss"] == "train/loss_epoch"


def test_the_first_score_enough_runs_logged_is_picked_with_those_runs() -> None:
    """The one home of "which score do these runs share": the first preferred one at least ``enough`` logged;
    runs without it are left out (unlike ``score_monitor``, which needs every run)."""
    runs = {"a": {"val/acc": 0.9, "val/loss": 0.3}, "b": {"val/loss": 0.5}, "c": {"val/acc": 0.7, "val/loss": 0.4}}

    def best(run: str, monitor: Monitor) -> float | None:
        return runs[run].get(monitor.name)

    monitor, scored = first_score_logged(runs, best, enough=2)
    assert (monitor, scored) == (Monitor("val/acc"), [("a", 0.9), ("c", 0.7)])
    monitor, scored = first_score_logged(runs, best, enough=3)
    assert monitor == Monitor("val/loss") and [r for r, _ in scored] == ["a", "b", "c"]
    assert first_score_logged(runs, best, enough=4) is None
    assert first_score_logged(runs, best, enough=1, preference=("val/auc",)) is None


def test_percentage_errors_are_lower_is_better_not_a_mean_average_precision() -> None:
    """``val_MAPE`` starts like ``mAP`` but is an error; ``validate`` names the val split."""
    assert role("val_MAPE").better == "lower" and role("smape").better == "lower"
    assert role("metrics/mAP50(B)").better == "higher"
    assert role("validate_loss") == role("val_loss")
