"""The overfitting rule on the shapes the unseen measurement found it silent on (issue 17), and the
healthy look-alikes of each: a val-only log, a multi-loss log whose total still falls, a val loss
below an augmented train loss, a short run that climbs through swings, a plateau with one dip."""

from __future__ import annotations

import dataclasses

import numpy as np

from tests.diag_curves import falling, fired, make_run, u_curve

RNG_NOISE = np.random.default_rng(6)


def test_a_log_with_only_a_val_loss_is_judged_on_the_val_curve_alone():
    rng = np.random.default_rng(11)
    val = u_curve(60, best=10, low=0.9, rise=0.008) * (1 + rng.normal(0, 0.005, 60))  # +45 % over 50 epochs
    [f] = fired(make_run(**{"val/loss": val}), "overfitting")
    assert "no training loss is logged" in f.summary
    assert f.evidence.values["train_metric"] is None and f.evidence.values["gap_final"] is None
    assert f.evidence.values["lost_relative"] > 0.3


def test_a_val_only_noisy_plateau_is_not_overfitting():
    alarms = 0
    for seed in range(20):
        rng = np.random.default_rng(200 + seed)
        val = np.concatenate([np.linspace(1.6, 1.0, 5), 1.0 + rng.normal(0, 0.05, 55)])
        alarms += bool(fired(make_run(**{"val/loss": val}), "overfitting"))
    assert alarms <= 1


def test_a_val_curve_beside_a_training_curve_is_not_judged_alone():
    """A training accuracy is a training curve: with it logged, a val loss is not judged without a partner."""
    val = u_curve(60, best=10, low=0.9, rise=0.008)
    run = make_run(**{"val/loss": val, "train/acc": np.linspace(0.9, 0.5, 60)})
    assert not any("no training loss" in f.summary for f in fired(run, "overfitting"))


def test_a_part_that_rises_while_the_summed_val_loss_still_falls_is_not_overfitting():
    n = 10
    seg = np.array([3.6, 2.35, 2.85, 3.47, 3.63, 3.39, 4.17, 3.70, 3.45, 3.58])  # best at 2, then +45-77 %
    curves_ = {
        "train/loss_epoch": falling(n, 6.0, 3.0), "val/loss": falling(n, 9.8, 7.3),
        "train/seg_loss": falling(n, 1.6, 0.8), "val/seg_loss": seg,
    }
    assert fired(make_run(**curves_), "overfitting") == []
    del curves_["val/loss"], curves_["train/loss_epoch"]  # no total: the part is the val loss there is
    [f] = fired(make_run(**curves_), "overfitting")
    assert f.evidence.metric == "val/seg_loss"


def test_a_val_loss_below_its_augmented_train_loss_still_overfits():
    """Detectors train on mosaics: the val loss sits below the train loss, and rises 15 % all the same."""
    n = 100
    i = np.arange(n)
    val = np.where(i < 30, 1.0 - 0.2 * i / 30, 0.8 + 0.12 * (i - 30) / 70)
    [f] = fired(make_run(**{"val/loss": val, "train/loss_epoch": falling(n, 1.6, 1.05)}), "overfitting")
    assert 0.1 < f.evidence.values["lost_relative"] < 0.2


def test_a_short_run_climbing_through_swings_overfits():
    """Ten Keras epochs: best at the 4th, then 1.76, 1.78, 2.05, 1.84, 2.11, 2.06 while training halves."""
    val = [2.413, 1.976, 2.020, 1.758, 1.764, 1.777, 2.047, 1.839, 2.115, 2.057]
    train = [2.327, 1.911, 1.633, 1.369, 1.249, 1.109, 0.964, 0.837, 0.731, 0.704]
    [f] = fired(make_run(**{"val/loss": val, "train/loss_epoch": train}), "overfitting")
    assert f.evidence.values["best_step"] == 4
    assert "Only 10 evaluations" in f.summary


def test_a_short_val_curve_worse_after_its_first_evaluation_overfits():
    """Best at the first evaluation, then every later one 10-60% worse while training falls: raters label
    such a run overfitting from its first epoch (the best stands alone: no neighbour before it)."""
    val = [1.42, 1.69, 1.85, 1.57, 2.25, 1.94, 1.82, 2.09, 1.87]
    run = make_run(**{"val/loss": val, "train/loss_epoch": np.linspace(1.73, 1.53, 9)})
    [f] = fired(run, "overfitting")
    assert f.evidence.values["best_value"] == 1.42


def test_a_short_val_curve_that_never_came_down_and_swings_back_is_not_overfitting():
    """Best at the first evaluation, later ones back at it: no sustained worsening."""
    val = [1.42, 1.69, 1.43, 1.57, 1.44, 1.6, 1.45, 1.62, 1.44]
    run = make_run(**{"val/loss": val, "train/loss_epoch": np.linspace(1.73, 1.53, 9)})
    assert fired(run, "overfitting") == []


def test_a_plateau_with_one_deep_dip_is_not_overfitting():
    """A one-off low point in a long noisy plateau drags the smoothed minimum below the level the later
    evaluations share: most of them clear it by a noise, yet nothing rose."""
    alarms = 0
    for seed in range(20):
        rng = np.random.default_rng(300 + seed)
        val = np.concatenate([np.linspace(2.0, 0.3, 10), 0.3 + rng.normal(0, 0.02, 40)])
        val[20] = 0.23
        alarms += bool(fired(make_run(**{"val/loss": val, "train/loss_epoch": falling(50)}), "overfitting"))
    assert alarms <= 1


def test_a_val_accuracy_swinging_at_chance_while_train_accuracy_climbs_is_overfitting():
    """A binary task on a small val set: val accuracy swings 0.44-0.56 around 1/2, no trend, train fits."""
    rng = np.random.default_rng(21)
    n = 30
    val_acc = 0.5 + rng.normal(0, 0.035, n)
    assert np.ptp(val_acc) > 0.1
    [f] = fired(make_run(**{"train/acc": np.linspace(0.55, 0.97, n), "val/acc": val_acc}), "overfitting")
    assert f.evidence.values["chance_classes"] == 2 and f.evidence.values["val_acc_drift"] < 0.05


def test_a_swinging_val_accuracy_beside_only_a_falling_train_loss_is_not_at_chance_overfitting():
    rng = np.random.default_rng(22)
    n = 30
    run = make_run(**{"train/loss_epoch": falling(n), "val/acc": 0.5 + rng.normal(0, 0.035, n)})
    assert fired(run, "overfitting") == []


def test_a_val_accuracy_that_climbs_to_one_over_k_is_not_at_chance():
    n = 30
    val_acc = np.concatenate([np.linspace(0.2, 0.5, 10), np.full(20, 0.5)]) + np.tile([0.03, -0.03], 15)
    run = make_run(**{"train/acc": np.linspace(0.3, 0.97, n), "val/acc": val_acc})
    assert not any("at chance" in f.title for f in fired(run, "overfitting"))


def test_a_part_that_rises_while_the_summed_val_loss_stalls_overfits():
    """A detector: val box loss +15 % over 70 epochs, val class loss easing, the total edging down 0.3 %."""
    n = 100
    i = np.arange(n)
    box = np.where(i < 30, 1.2 - 0.2 * i / 30, 1.0 + 0.15 * (i - 30) / 70)
    cls = np.where(i < 30, 3.0 - 1.0 * i / 30, 2.0 - 0.16 * (i - 30) / 70)  # the total still edges down
    curves_ = {
        "train/box_loss": falling(n, 1.5, 0.6), "train/cls_loss": falling(n, 3.0, 0.5),
        "val/box_loss": box, "val/cls_loss": cls,
        "train/loss_epoch": falling(n, 1.5, 0.6) + falling(n, 3.0, 0.5), "val/loss": box + cls,
    }
    [f] = fired(make_run(**curves_), "overfitting")
    assert f.evidence.metric == "val/box_loss"


def test_a_four_epoch_fine_tune_worse_after_its_first_epoch_overfits():
    """Four evaluations: the best at the first, the three after it 7-15 % worse while training falls a
    third (a short fine-tune). Two evaluations after a best are not enough."""
    train = [84.8, 65.4, 58.2, 54.3]
    [f] = fired(make_run(**{"val/loss": [92.6, 99.2, 106.4, 103.1], "train/loss_epoch": train}), "overfitting")
    assert f.evidence.values["best_value"] == 92.6
    three = make_run(**{"val/loss": [92.6, 99.2, 106.4], "train/loss_epoch": train[:3]})
    assert fired(three, "overfitting") == []


def test_a_loss_with_a_large_floor_that_rises_clearly_beyond_its_noise_overfits():
    """A cross-entropy near ln 9 that crept down, then climbs 5 % over its last ten evaluations (many
    noises) while training keeps falling: a small share of a large level, but clearly beyond noise."""
    rng = np.random.default_rng(20)
    val = np.concatenate([np.linspace(2.19, 2.11, 25), np.linspace(2.12, 2.23, 10)]) + rng.normal(0, 0.004, 35)
    train = np.linspace(2.21, 2.11, 35)
    [f] = fired(make_run(**{"val/loss": val, "train/loss_epoch": train}), "overfitting")
    assert 20 <= f.evidence.values["best_step"] <= 27
    flat = np.concatenate([np.linspace(2.19, 2.11, 25), np.full(10, 2.11)]) + rng.normal(0, 0.004, 35)
    assert fired(make_run(**{"val/loss": flat, "train/loss_epoch": train}), "overfitting") == []


def test_a_gap_that_changes_sides_is_worded_as_such():
    """Validation better than training at its best and worse at the end: not 'the gap widened from 0.1 to 0.05'."""
    n = 60
    i = np.arange(n)
    val = np.where(i < 20, 1.2 - 0.5 * i / 20, 0.7 + 0.3 * (i - 20) / 40)
    [f] = fired(make_run(**{"val/loss": val, "train/loss_epoch": falling(n, 1.6, 0.6)}), "overfitting")
    assert "better than training to" in f.summary and "gap widened" not in f.summary
    [g] = fired(make_run(**{"val/loss": val, "train/loss_epoch": falling(n, 1.0, 0.2)}), "overfitting")
    assert "gap widened" in g.summary


def test_a_loss_solved_to_near_zero_that_wanders_in_its_last_digits_does_not_overfit():
    """A val loss that fell from 4.8 to 6e-5 and wanders up to 1e-3: thousands of percent of its best,
    nothing of its scale (a solved task, a grokking run after it generalised)."""
    n = 400
    val = np.concatenate([np.linspace(4.8, 1e-3, 20), 6e-5 + np.abs(RNG_NOISE.normal(0, 1e-4, 180)),
                          np.linspace(2e-4, 1.3e-3, 200)])
    train = np.concatenate([np.linspace(4.8, 1e-4, 20), np.full(380, 6e-6)]) * np.linspace(1, 0.5, n)
    assert fired(make_run(**{"val/loss": val, "train/loss_epoch": train}), "overfitting") == []
    # the same shape on a loss whose rise is a share of its fall is overfitting
    val = np.concatenate([np.linspace(1.0, 0.3, 20), 0.3 + np.abs(RNG_NOISE.normal(0, 0.01, 180)),
                          np.linspace(0.31, 0.5, 200)])
    assert fired(make_run(**{"val/loss": val, "train/loss_epoch": train}), "overfitting")


def test_a_resume_from_a_checkpoint_is_judged_with_the_run_it_resumes():
    """Epochs 1-25, then a resume from the epoch-20 checkpoint logging 21-30 again: one model's training.
    Its val loss rises across the resume; cut there, neither stretch would show it. A restart from the
    first epoch is a new run, judged alone: its own healthy curve hides nothing."""
    first = np.arange(1, 26, dtype=float)
    resumed = np.arange(21, 31, dtype=float)
    epochs = np.concatenate([first, resumed])
    val = np.concatenate([np.linspace(1.30, 1.05, 20), [1.07, 1.09, 1.08, 1.10, 1.11],
                          np.linspace(1.15, 1.28, 10)])
    train = np.concatenate([np.linspace(1.87, 0.83, 25), np.linspace(0.77, 0.51, 10)])
    steps = {name: np.arange(1, 36) for name in ("val/loss", "train/loss_epoch")}
    run = make_run(meta={"restarts": [26]}, steps=steps, **{"val/loss": val, "train/loss_epoch": train})
    run = dataclasses.replace(run, series={n: dataclasses.replace(s, epochs=epochs) for n, s in run.series.items()})
    [f] = fired(run, "overfitting")
    assert f.evidence.values["best_value"] < 1.06


def test_a_part_that_rises_while_the_task_score_keeps_improving_is_a_trade():
    """A detector with no total: val cls loss +15 % after its best while mAP climbs 0.45 -> 0.60 (recall
    falling against precision does not count: one threshold trades them). Without the mAP it overfits."""
    n = 100
    i = np.arange(n)
    cls = np.where(i < 60, 1.4 - 0.3 * i / 60, 1.1 + 0.16 * (i - 60) / 40)
    curves_ = {"train/cls_loss": falling(n, 1.5, 0.6), "val/cls_loss": cls,
               "metrics/recall(B)": np.linspace(0.9, 0.6, n)}
    assert fired(make_run(**curves_), "overfitting")
    curves_["metrics/mAP50-95(B)"] = np.where(i < 60, 0.1 + 0.35 * i / 60, 0.45 + 0.15 * (i - 60) / 40)
    assert fired(make_run(**curves_), "overfitting") == []


def test_a_validation_error_with_no_training_twin_is_judged_against_the_training_loss():
    """``train_loss`` beside ``val_mse`` (no ``train_mse``), and HF's ``eval_<set>_loss`` for a named eval set:
    each is the model's error on held-out data. Best at epoch 3, then +25 % while the training loss keeps
    falling: overfitting; the same error still falling beside it is not."""
    train = falling(20, 0.8, 0.1)
    rising = np.concatenate([np.linspace(0.7, 0.55, 4), np.linspace(0.57, 0.69, 16)])
    for name in ("val_mse", "eval_group0_loss"):
        [f] = fired(make_run(**{"train/loss_epoch": train, name: rising}), "overfitting")
        assert f.evidence.metric == name
        assert fired(make_run(**{"train/loss_epoch": train, name: falling(20, 0.7, 0.2)}), "overfitting") == []
    # two appended runs, each healthy: the second starting above the first's end is a restart, not a rise
    two = {"train/loss_epoch": np.concatenate([train, train]),
           "val_mse": np.concatenate([falling(20, 0.7, 0.2), falling(20, 0.9, 0.3)])}
    assert fired(make_run(meta={"restarts": [21]}, **two), "overfitting") == []
