"""Underfitting on the shapes the label guide calls unfitted (issue 17), and their look-alikes:
each test builds the curve from literals and fails when the rule misreads it."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from tests.diag_curves import falling, fired, make_run

RNG = np.random.default_rng(17)


def _severities(run) -> list[str]:  # noqa: ANN001 - a RunData
    return [f.severity for f in fired(run, "underfitting")]


def test_one_lucky_evaluation_of_a_metric_does_not_show_learning():
    """A loss falling 2 % (nowhere near a uniform guess) whose macro-F1 sits at the single-class value
    but once: that one evaluation does not show a constant floor under a learning model."""
    loss = np.linspace(0.95, 0.93, 18) + RNG.normal(0, 0.001, 18)
    f1 = np.full(18, 0.345)
    f1[0], f1[2] = 0.32, 0.533
    assert fired(make_run(**{"train/loss_epoch": loss, "val_macro_f1": f1}), "underfitting") != []
    learning = np.linspace(0.345, 0.8, 18)  # a metric that really climbs: the loss has a floor
    loss_off_chance = np.linspace(6.44, 6.02, 18)
    assert fired(make_run(**{"train/loss_epoch": loss_off_chance, "val_macro_f1": learning}), "underfitting") == []


def test_a_loss_that_fell_and_climbed_back_is_not_underfitting_even_without_a_nan():
    loss = np.concatenate([falling(15, 2.3, 1.2), np.linspace(1.3, 2.2, 10)])  # ends 4 % below its start
    assert fired(make_run(**{"train/loss_epoch": loss}), "underfitting") == []
    flat = math.log(10) + RNG.normal(0, 0.004, 25)  # never fell: still unfitted
    assert fired(make_run(**{"train/loss_epoch": flat}), "underfitting") != []


def test_a_per_step_loss_logged_once_does_not_set_the_start():
    """An epoch curve 23 -> 8.3 beside one per-step value at the end (a summary row)."""
    epochs = falling(14, 23.2, 8.3)
    run = make_run(steps={"train/loss": [14]}, **{"train/loss_epoch": epochs, "train/loss": [8.31]})
    assert fired(run, "underfitting") == []


def test_a_finer_per_step_curve_still_sets_the_start():
    """The per-step curve shows the first steps' fall that the epoch mean hides."""
    steps = np.arange(1, 201, dtype=float)
    per_step = 2.3 * np.exp(-steps / 20) + 1.0 + RNG.normal(0, 0.01, 200)
    epoch_at = np.arange(20, 201, 20, dtype=float)
    epoch = np.array([per_step[(steps > e - 20) & (steps <= e)].mean() for e in epoch_at])
    run = make_run(steps={"train/loss": steps, "train/loss_epoch": epoch_at},
                   **{"train/loss": per_step, "train/loss_epoch": epoch})
    assert fired(run, "underfitting") == []  # from 3.3 to 1.0: it fell by two thirds


def test_a_keras_accuracy_by_its_metric_class_name_is_read_as_the_accuracy():
    """Fell 16 % in four epochs, then flat for 45 at 55 % accuracy with validation just as good."""
    loss = np.concatenate([[0.983, 0.888, 0.874, 0.857], 0.822 + RNG.normal(0, 0.004, 46)])
    acc = np.concatenate([[0.46, 0.50, 0.52, 0.53], 0.55 + RNG.normal(0, 0.004, 46)])
    names = {"train/loss_epoch": loss, "sparse_categorical_accuracy": acc,
             "val_sparse_categorical_accuracy": acc - 0.01}
    [f] = fired(make_run(**names), "underfitting")
    assert f.severity == "warning" and "high bias" in f.summary
    assert f.evidence.values["final_train_acc"] is not None
    # without an accuracy it is only a hint: a converging fine-tune looks the same
    assert _severities(make_run(**{"train/loss_epoch": loss})) == ["info"]


def test_several_accuracies_on_one_side_name_none():
    """A detector's class, object and background accuracies: none is the task's accuracy."""
    loss = np.concatenate([[0.983, 0.888, 0.874, 0.857], 0.822 + RNG.normal(0, 0.004, 46)])
    names = {"train/loss_epoch": loss, "val_obj_accuracy": np.full(50, 0.5), "val_class_accuracy": np.full(50, 0.5)}
    assert _severities(make_run(**names)) == ["info"]


def test_a_loss_that_started_at_a_uniform_guess_is_unfitted_even_while_a_metric_learns():
    """A 10-class loss falling 5 % in a straight line (lr far too low) while accuracy climbs from 1/10."""
    loss = np.linspace(2.30, 2.19, 30) + RNG.normal(0, 0.002, 30)
    acc = np.linspace(0.1, 0.45, 30)
    [f] = fired(make_run(**{"train/loss_epoch": loss, "train/acc": acc, "val/acc": acc - 0.05}), "underfitting")
    assert f.severity == "warning"
    # the same fall of a loss with a large constant floor (it started nowhere near a uniform guess)
    offset = make_run(**{"train/loss_epoch": loss + 4.0, "train/acc": acc + 0.3, "val/acc": acc + 0.25})
    assert fired(offset, "underfitting") == []


def test_three_evaluations_of_a_loss_at_ln_3_are_enough():
    """A 3-epoch fine-tune whose loss starts at ln 3 and falls 6 %: short, but evidence."""
    run = make_run(**{"train/loss_epoch": [1.0957, 1.0842, 1.0328], "val/loss": [1.09, 1.07, 1.0]})
    assert _severities(run) == ["warning"]
    elsewhere = make_run(**{"train/loss_epoch": [3.0, 2.95, 2.9], "val/loss": [3.0, 2.95, 2.9]})
    assert fired(elsewhere, "underfitting") == []  # three points of an arbitrary loss say nothing yet


def test_a_loss_constant_at_ln_2_is_a_network_stuck_at_chance_not_a_placeholder():
    assert _severities(make_run(**{"train/loss_epoch": [math.log(2)] * 20})) == ["warning"]
    assert fired(make_run(**{"train/loss_epoch": [0.37] * 20}), "underfitting") == []


def test_a_run_at_chance_that_blows_up_into_a_nan_is_still_unfitted():
    loss = np.concatenate([math.log(10) + RNG.normal(0, 0.004, 20), [5.0, 40.0, 900.0], [np.nan] * 3])
    [f] = fired(make_run(**{"train/loss_epoch": loss, "train/acc": [0.1] * 26}), "underfitting")
    assert f.evidence.values["chance_classes"] == 10
    no_nan = make_run(**{"train/loss_epoch": loss[:23], "train/acc": [0.1] * 23})
    assert fired(no_nan, "underfitting") == []  # a finite climb to 900: diverging, not stuck


def test_a_loss_that_ends_above_its_start_is_said_to_be_higher():
    loss = np.concatenate([[2.30, 2.31], math.log(10) * 1.05 + RNG.normal(0, 0.004, 20)])
    [f] = fired(make_run(**{"train/loss_epoch": loss, "train/acc": [0.1] * 22}), "underfitting")
    assert "higher)" in f.summary and "-" not in f.summary.split("(")[1].split(")")[0]


def test_a_low_loss_is_fitted_only_for_a_classifier():
    """A loss flat at 0.04 over 40 rows: a regression's level is in its target's units; with an
    accuracy logged it is a classifier's cross-entropy, and that low is fitted."""
    loss = 0.0415 - np.linspace(0, 0.003, 40) + RNG.normal(0, 0.002, 40)
    [f] = fired(make_run(**{"train/loss": loss}), "underfitting")
    assert f.evidence.values["relative_drop"] < 0.12
    classifier = make_run(**{"train/loss": loss, "train/acc": np.full(40, 0.7)})
    assert fired(classifier, "underfitting") == []


def test_a_never_learned_run_with_early_spikes_that_ends_in_a_nan_is_unfitted():
    """A per-step loss that sits near 15 (falling 6 %) with isolated spikes among its first points, then
    NaN: the spikes are the instability's, not the start level (they lifted it to a 15 % 'fall'), and a
    run that ended in a NaN did not converge (no 'converging fine-tune' hint): a warning."""
    rng = np.random.default_rng(5)
    calm = np.linspace(15.6, 14.6, 90) + rng.normal(0, 0.5, 90)
    calm[[3, 4, 5, 10, 40]] = [44.8, 23.5, 27.5, 109.9, 79.2]
    loss = np.concatenate([calm, [np.nan] * 60])
    assert _severities(make_run(**{"train/loss": loss})) == ["warning"]
    learned = np.concatenate([falling(90, 15.6, 3.0), [np.nan] * 60])  # learned, then blew up: not unfitted
    assert fired(make_run(**{"train/loss": learned}), "underfitting") == []


def test_a_fall_of_ten_percent_that_levelled_off_is_unfitted_a_fall_of_a_quarter_is_not():
    """First to last 0.85 -> 0.765 (-10 %, the label's "falls < ~10 %"), level for its second half, train
    accuracy stuck at 0.6: unfitted. 0.85 -> 0.62 fell enough."""
    noise = RNG.normal(0, 0.004, 30)
    acc = {"train/acc": np.full(30, 0.6), "val/acc": np.full(30, 0.59)}
    small = np.concatenate([np.linspace(0.85, 0.775, 15), np.full(15, 0.765)]) + noise
    assert _severities(make_run(**{"train/loss_epoch": small}, **acc)) == ["warning"]
    large = np.concatenate([np.linspace(0.85, 0.63, 15), np.full(15, 0.62)]) + noise
    assert "warning" not in _severities(make_run(**{"train/loss_epoch": large}, **acc))


def test_an_appended_run_that_never_learned_is_found_among_runs_that_did():
    """Three runs in one log: two learn, the middle one sits at ln 10 with accuracy at 1/10 (a dead net
    in a sweep). Judged run by run, the restarts' jumps back up are no rise of the loss."""
    learned = np.linspace(2.3, 0.4, 8)
    stuck = 2.3026 + RNG.normal(0, 0.001, 8)
    loss = np.concatenate([learned, stuck, learned])
    acc = np.concatenate([np.linspace(0.1, 0.85, 8), np.full(8, 0.1), np.linspace(0.1, 0.85, 8)])
    run = make_run(meta={"restarts": [9, 17]}, **{"train/loss_epoch": loss, "train/acc": acc})
    [f] = fired(run, "underfitting")
    assert f.severity == "warning" and f.summary.startswith("In the appended run starting at")
    assert "(run 2 of 3)" in f.summary and "ln 10" in f.summary
    healthy = make_run(meta={"restarts": [9]}, **{"train/loss_epoch": np.concatenate([learned, learned]),
                                                   "train/acc": np.concatenate([acc[:8], acc[:8]])})
    assert fired(healthy, "underfitting") == []


def test_a_fall_in_the_first_interval_is_counted_from_the_first_value():
    """A loss that fell 70 % before its second log and then stayed flat, no accuracy: the fall is learning,
    a hint at most; the same flat line without the first value's fall never learned: a warning."""
    flat = 0.0040 + RNG.normal(0, 0.0001, 40)
    assert _severities(make_run(**{"train/loss": np.concatenate([[0.0132], flat])})) == ["info"]
    assert _severities(make_run(**{"train/loss": flat})) == ["warning"]


def test_a_training_loss_at_chance_explains_away_a_rising_val_loss():
    """A binary classifier stuck at ln 2 (train accuracy 1/2) whose val loss wanders up 5x: nothing was
    memorised, so the doctor says underfitting and not overfitting."""
    from diagnostics.engine import diagnose

    train = np.concatenate([[0.715], 0.6932 + RNG.normal(0, 0.0002, 15)])
    val = np.concatenate([[0.694], np.linspace(1.9, 3.6, 15)])
    run = make_run(**{"train/loss_epoch": train, "val/loss": val, "train/acc": np.full(16, 0.5)})
    rules = {f.rule for f in diagnose(run) if f.severity != "info"}
    assert "underfitting" in rules and "overfitting" not in rules


def test_a_log_captured_mid_run_is_no_verdict_on_the_fall_it_missed():
    """Epochs 16-30 of a translation run falling 5 %: the fall before epoch 16 is not in the log. A run
    logged every 4 epochs from epoch 4 started at its start: its 5 % is a verdict."""
    loss = np.linspace(4.61, 4.37, 15) + RNG.normal(0, 0.003, 15)
    epochs = np.arange(16, 31, dtype=float)
    run = make_run(**{"train/loss_epoch": loss})
    late = dataclasses.replace(run, series={n: dataclasses.replace(s, epochs=epochs) for n, s in run.series.items()})
    [f] = fired(late, "underfitting")
    assert f.severity == "info" and "starts at epoch 16" in f.summary
    sparse = dataclasses.replace(run, series={n: dataclasses.replace(s, epochs=np.arange(4, 64, 4.0))
                                              for n, s in run.series.items()})
    assert _severities(sparse) == ["warning"]


def test_one_short_run_of_many_that_fell_little_is_not_underfitting():
    """Thirty appended runs that all learn, one of them a 7-epoch run that fell 9 %: among many runs one
    shows that by chance. Only a run sitting at chance counts in an appended log."""
    learned = np.linspace(2.9, 0.4, 12)
    short = np.linspace(3.55, 3.22, 7)
    loss = np.concatenate([learned, short, learned])
    run = make_run(meta={"restarts": [13, 20]}, **{"train/loss_epoch": loss})
    assert fired(run, "underfitting") == []


def test_an_rl_run_whose_return_never_rises_is_underfitting_whatever_its_loss_does():
    """PPO: the loss falls (a surrogate, not a fit) while the episode return wanders with no rising trend:
    the policy never improved. The same losses beside a return that climbs are a run that learns."""
    n = 60
    loss = np.linspace(3.0, 1.0, n) + RNG.normal(0, 0.05, n)
    flat = -150 + RNG.normal(0, 20, n)
    [f] = fired(make_run(**{"train/loss": loss, "rollout/ep_rew_mean": flat}), "underfitting")
    assert f.title == "Underfitting: the policy does not improve" and f.evidence.metric == "rollout/ep_rew_mean"
    rising = np.linspace(-150, 50, n) + RNG.normal(0, 20, n)
    assert fired(make_run(**{"train/loss": loss, "rollout/ep_rew_mean": rising}), "underfitting") == []


def test_a_loss_that_fell_onto_ln_2_beside_an_accuracy_that_moved_is_not_at_chance():
    """A 10-class run (Lightning, real writer) whose loss fell 68 % to 0.68, near ln 2 by coincidence, while
    val accuracy climbed 0.31 -> 0.55 -> 0.45: not a uniform guess over 2 classes. An accuracy that never
    left 1/10 beside a loss that collapsed onto ln 10 after a blown-up first epoch is."""
    loss = np.array([2.249, 1.859, 1.592, 1.441, 1.285, 1.118, 0.962, 0.814, 0.734, 0.682])
    val_acc = np.array([0.312, 0.41, 0.472, 0.456, 0.554, 0.512, 0.412, 0.5, 0.432, 0.45])
    val = np.array([2.408, 2.045, 1.84, 1.814, 1.72, 1.681, 2.019, 1.837, 2.046, 2.073])
    run = make_run(**{"train/loss_epoch": loss, "val/acc": val_acc, "val/loss": val})
    assert "warning" not in _severities(run)
    dead = np.concatenate([[30.6], 2.3026 + RNG.normal(0, 0.0005, 9)])
    stuck = make_run(**{"train/loss_epoch": dead, "train/acc": np.full(10, 0.1), "val/acc": np.full(10, 0.1)})
    [f] = fired(stuck, "underfitting")
    assert f.severity == "warning" and "ln 10" in f.summary


def test_an_accuracy_that_never_moves_is_chance_whatever_the_class_count():
    """A margin loss falls 20 % in two epochs, then flat; train accuracy sits at 0.66-0.68 and val at 0.58-0.60
    (the majority-class rates) all run: the classifier predicts one class. The look-alikes: a converged model
    whose accuracy is flat because it is fitted (0.97), and a val accuracy flat at chance beside a training
    loss that fell by 90 % (memorisation: overfitting's, not this)."""
    loss = np.array([0.316, 0.271, 0.255, 0.250, 0.248, 0.251, 0.247, 0.252])
    acc = 0.67 + RNG.uniform(-0.006, 0.006, 8)
    val_acc = np.array([0.6, 0.6, 0.583, 0.6, 0.6, 0.583, 0.6, 0.6])
    found = fired(make_run(**{"train/loss_epoch": loss, "train/acc": acc, "val/acc": val_acc}), "underfitting")
    assert [f.severity for f in found] == ["warning"]
    assert "never moved" in found[0].summary
    fitted = 0.97 + RNG.uniform(-0.004, 0.004, 8)
    assert fired(make_run(**{"train/loss_epoch": loss, "train/acc": fitted, "val/acc": fitted}), "underfitting") == []
    memorised = falling(8, 2.3, 0.2)
    assert fired(make_run(**{"train/loss_epoch": memorised, "val/acc": val_acc}), "underfitting") == []
    converged = np.linspace(0.855, 0.871, 8)  # a converged fine-tune: flat, but its val accuracy moves each time
    fine_tune = make_run(**{"train/loss_epoch": np.array([.40, .37, .35, .34, .335, .33, .328, .327]),
                            "train/acc": converged, "val/acc": converged - 0.01})
    assert [f.severity for f in fired(fine_tune, "underfitting")] in ([], ["info"])
    moving = np.linspace(0.55, 0.8, 8)  # the same loss beside an accuracy that climbs: it learns
    assert fired(make_run(**{"train/loss_epoch": loss, "train/acc": moving, "val/acc": moving - 0.05}),
                 "underfitting") == []


def test_a_detector_that_finds_nothing_is_underfitting_though_its_box_loss_falls():
    """mAP50 never above 0.05 in 30 epochs while the box loss falls by a third: nothing is detected. The same
    losses beside an mAP50 that climbs to 0.4 are a detector that learns."""
    box, cls = falling(30, 3.6, 2.3), 4.5 + RNG.normal(0, 0.05, 30)
    floor = np.clip(0.02 + RNG.normal(0, 0.01, 30), 0, 1)
    found = fired(make_run(**{"train/loss_epoch": box + cls, "train/box_loss": box, "train/cls_loss": cls,
                              "metrics/mAP50(B)": floor, "metrics/recall(B)": np.full(30, 0.9)}), "underfitting")
    assert [f.title for f in found] == ["Underfitting: the model finds nothing"]
    assert found[0].evidence.metric == "metrics/mAP50(B)"
    early = {"train/loss_epoch": falling(12, 3.6, 1.2), "metrics/mAP50(B)": np.linspace(0, 0.048, 12)}
    assert fired(make_run(**early), "underfitting") == []  # climbing off the floor, its loss still falling: unfinished
    learns = np.linspace(0.02, 0.4, 30)
    assert fired(make_run(**{"train/loss_epoch": box + cls, "train/box_loss": box, "train/cls_loss": cls,
                             "metrics/mAP50(B)": learns}), "underfitting") == []


def test_a_per_step_log_of_the_last_epoch_only_is_no_verdict_on_the_fall_it_missed():
    """600 per-step losses, all in epoch 2 of a resumed run, falling 7 %: a whole epoch of steps came before them.
    The same 600 steps in epoch 1 are the run from its start: the verdict stands."""
    loss = np.linspace(2.3, 2.13, 600) + RNG.normal(0, 0.05, 600)
    run = make_run(**{"train/loss": loss})
    late = dataclasses.replace(run, series={n: dataclasses.replace(s, epochs=np.full(600, 2.0))
                                            for n, s in run.series.items()})
    [f] = fired(late, "underfitting")
    assert f.severity == "info" and "starts at epoch 2" in f.summary
    first = dataclasses.replace(run, series={n: dataclasses.replace(s, epochs=np.full(600, 1.0))
                                             for n, s in run.series.items()})
    assert _severities(first) == ["warning"]


def test_the_lowest_wobble_of_a_noisy_flat_loss_is_not_a_fit_that_was_lost():
    """Fifty single-batch losses of a 2,500-step fine-tune hovering around ln 10 (2.37 -> 2.24, swinging 1.24-3.15):
    the smoothed curve's lowest dip is noise, not a fit the run reached and lost, so the run is unfitted."""
    loss = [2.37, 2.23, 2.2, 2.96, 2.17, 2.68, 2.18, 2.5, 2.44, 3.13, 2.28, 2.39, 2.89, 2.94, 2.35, 1.86, 2.17, 2.15,
            1.83, 2.03, 1.75, 2.37, 1.88, 2.18, 2.97, 2.07, 2.27, 2.24, 1.89, 2.28, 1.82, 1.95, 2.7, 1.54, 1.24, 2.0,
            1.89, 2.33, 1.84, 2.01, 2.53, 2.4, 3.15, 2.87, 2.64, 3.02, 2.41, 2.02, 2.77, 2.24]
    assert _severities(make_run(**{"train/loss": loss})) == ["warning"]
