"""Literal curves for the detectors issue 17's populations need: loss spikes, NaN/inf in any loss or
metric, a negative loss told by its shape, val accuracy at chance while training fits. Each fires on
its shape and stays quiet on the healthy look-alike."""

from __future__ import annotations

import numpy as np
import pandas as pd

from diagnostics.rundata import RunData
from tests.diag_curves import falling, fired, make_run

NAN, INF = float("nan"), float("inf")


def _overflowing(seed: int = 0, n: int = 300) -> np.ndarray:
    """A step loss near 130 that jumps to 1e9-1e14 on a third of its steps."""
    rng = np.random.default_rng(seed)
    y = 130 * (1 + rng.normal(0, 0.05, n))
    hit = rng.choice(np.arange(10, n), n // 3, replace=False)
    y[hit] = 10 ** rng.uniform(9, 14, hit.size)
    return y


def test_spikes_of_orders_of_magnitude_are_loss_spikes_and_divergence():
    run = make_run(**{"train/loss": _overflowing()})
    [spikes] = fired(run, "loss_spikes")
    values = spikes.evidence.values
    assert 80 <= values["spikes"] <= 100 and values["worst_ratio"] > 1e6
    assert 100 < values["running_level"] < 160
    assert spikes.fixes[0].config_patch == {"train.clip_grad": 1.0}  # no grad_norm logged: the default
    [div] = fired(run, "divergence")
    assert div.severity == "critical" and div.evidence.values["orders"] > 6


def test_a_few_tenfold_spikes_suggest_clipping_from_the_logged_grad_norm():
    rng = np.random.default_rng(1)
    loss = falling(400, 2.0, 0.3) * np.exp(rng.normal(0, 0.05, 400))
    grad = 0.5 * np.exp(rng.normal(0, 0.05, 400))
    for step in (120, 250, 330):
        loss[step] *= 10
        grad[step - 1] *= 40  # the gradient spikes one step before the loss does
    [f] = fired(make_run(**{"train/loss": loss, "grad_norm": grad}), "loss_spikes")
    assert f.evidence.values["spikes"] == 3 and f.evidence.values["worst_step"] in (121, 251, 331)
    assert f.evidence.values["grad_spikes_leading"] == 3
    assert f.fixes[0].config_patch == {"train.clip_grad": 1.0}  # nice(2 × median 0.5)
    assert fired(make_run(**{"train/loss": loss, "grad_norm": grad}), "divergence") == []  # 10x and back


def test_grad_norm_spikes_before_any_loss_spike_are_an_early_warning():
    rng = np.random.default_rng(2)
    grad = 0.5 * np.exp(rng.normal(0, 0.1, 500))
    grad[[100, 300, 301]] *= 50
    [f] = fired(make_run(**{"train/loss": falling(500), "grad_norm": grad}), "loss_spikes")
    assert (f.severity, f.evidence.metric, f.evidence.values["grad_spikes"]) == ("info", "grad_norm", 3)


def test_healthy_noisy_step_loss_has_no_spikes():
    rng = np.random.default_rng(3)
    for sigma in (0.05, 0.2, 0.4):  # minibatch noise up to ±40 % in log terms
        loss = falling(2000, 2.0, 0.3) * np.exp(rng.normal(0, sigma, 2000))
        run = make_run(**{"train/loss": loss})
        assert fired(run, "loss_spikes") == [] and fired(run, "divergence") == []


def test_the_restarts_of_an_appended_log_are_not_spikes():
    """Three runs appended to one log (detectron2's metrics.json after two restarts): each falls from about
    80 to 20; the jumps back to 80 are restarts. A real spike inside one of the runs still counts."""
    rng = np.random.default_rng(3)
    runs = [np.geomspace(80, 20, n) * rng.lognormal(0, 0.03, n) for n in (100, 26, 200)]
    loss = np.concatenate(runs)
    steps = np.arange(1, len(loss) + 1) * 20
    meta = {"restarts": [float(steps[100]), float(steps[126])]}
    run = make_run(meta=meta, steps={"train/loss": steps}, **{"train/loss": loss})
    assert fired(run, "loss_spikes") == [] and fired(run, "divergence") == []
    loss[[200, 260]] *= 8
    run = make_run(meta=meta, steps={"train/loss": steps}, **{"train/loss": loss})
    [f] = fired(run, "loss_spikes")
    assert f.evidence.values["spikes"] == 2


def test_a_steady_climb_is_a_rise_not_spikes():
    loss = np.concatenate([np.linspace(2.0, 0.5, 100), np.geomspace(0.5, 500, 60)])
    assert fired(make_run(**{"train/loss": loss}), "loss_spikes") == []
    assert [f.rule for f in fired(make_run(**{"train/loss": loss}), "divergence")] == ["divergence"]


def test_inf_and_nan_in_the_first_validation_epochs_are_reported_with_the_first_step():
    val = [INF, NAN, *np.linspace(2.0, 1.0, 18)]
    run = make_run(**{"train/loss_epoch": np.linspace(2.2, 0.8, 20), "val/loss": val})
    [f] = fired(run, "divergence")
    assert (f.severity, f.evidence.metric, f.evidence.values["first_bad_step"]) == ("warning", "val/loss", 1.0)
    assert "finite again at the end" in f.summary


def test_a_validation_loss_of_any_name_going_nan_for_good_is_critical():
    val = [*np.linspace(3.0, 2.0, 12), *[NAN] * 8]
    run = make_run(**{"train/box_loss": np.linspace(3.0, 1.0, 20), "val/box_loss": val})
    [f] = fired(run, "divergence")
    assert (f.severity, f.evidence.metric, f.evidence.values["first_bad_step"]) == ("critical", "val/box_loss", 13)


def test_a_nan_metric_is_info_not_a_divergence():
    acc = [0.5, NAN, *np.linspace(0.6, 0.9, 18)]
    run = make_run(**{"train/loss_epoch": np.linspace(2.0, 0.5, 20), "val/acc": acc})
    [f] = fired(run, "divergence")
    assert (f.severity, f.evidence.metric, f.evidence.values["first_bad_step"]) == ("info", "val/acc", 2.0)


def test_a_finite_validation_bump_is_neither_spikes_nor_divergence():
    val = np.linspace(2.0, 1.0, 30)
    val[12:15] += [0.3, 0.5, 0.2]
    run = make_run(**{"train/loss_epoch": np.linspace(2.2, 0.8, 30), "val/loss": val})
    assert fired(run, "divergence") == [] and fired(run, "loss_spikes") == []


def test_a_likelihood_loss_unbounded_below_or_crossing_zero_is_legitimate_by_its_shape():
    t = np.arange(60)
    crossing = 0.9 - 1.5 * (1 - np.exp(-t / 10))  # a Gaussian NLL with a learned variance: 0.9 -> -0.6
    below = 1.0 - 3.0 * (1 - np.exp(-t / 10))  # a flow's NLL: 1 -> -2, beyond -1
    for loss in (crossing, below):
        [f] = fired(make_run(**{"train/loss": loss}), "negative_loss")
        assert f.severity == "info" and f.evidence.values["shape"] == "unbounded"
    softmax = -0.1 - 0.85 * (1 - np.exp(-t / 10))  # -p(correct): in [-1, 0], heading to -1
    [f] = fired(make_run(**{"train/loss": softmax, "val/acc": -softmax}), "negative_loss")
    assert (f.severity, f.evidence.values["shape"]) == ("critical", "softmax_nll")


def test_a_likelihood_that_levels_off_just_above_minus_one_is_told_by_its_partner_curves():
    """-p(correct) bounds every loss curve of the run; a Gaussian NLL whose training curve stays
    in [-1, 0] shows its range elsewhere: a validation loss above zero, a per-step loss that
    started above zero (the NLL at init) or went under -1."""
    t = np.arange(20)
    train = -0.1 - 0.88 * (1 - np.exp(-t / 4))  # in [-1, 0], heading to -1: alone it reads as -p(correct)
    val_over = np.concatenate([-0.2 - 0.7 * (1 - np.exp(-t[:14] / 4)), np.linspace(-0.4, 0.6, 6)])
    steps = np.arange(1, 201)
    step_loss = 0.5 - 1.6 * (1 - np.exp(-steps / 40))  # from +0.5 at init to about -1.1
    for curves_, outside in (
        ({"train/loss_epoch": train, "val/loss": val_over}, "val/loss"),
        ({"train/loss_epoch": train, "train/loss": step_loss}, "train/loss"),
    ):
        run = make_run(steps={"train/loss": steps, "train/loss_epoch": (t + 1) * 10}, **curves_)
        [f] = fired(run, "negative_loss")
        assert (f.severity, f.evidence.values["shape"]) == ("info", "unbounded")
        assert f.evidence.values["outside_unit"] == outside and outside in f.summary
    val_in = -0.2 - 0.7 * (1 - np.exp(-t / 4))  # the same objective on held-out data, also in [-1, 0]
    [f] = fired(make_run(**{"train/loss_epoch": train, "val/loss": val_in, "val/acc": -val_in}), "negative_loss")
    assert (f.severity, f.evidence.values["shape"], f.evidence.values["outside_unit"]) == (
        "critical", "softmax_nll", None)


def test_a_declared_non_negative_loss_stays_critical_whatever_its_partners_do():
    t = np.arange(20)
    train = -0.1 - 0.88 * (1 - np.exp(-t / 4))
    run = make_run(config={"loss.name": "mse"}, **{"train/loss_epoch": train, "val/loss": train + 0.5})
    [f] = fired(run, "negative_loss")
    assert f.severity == "critical"


def test_a_softmax_shaped_loss_named_like_a_likelihood_is_still_flagged():
    """The shape decides, not the name: -p(correct) logged as ``flow_nll`` is still the Softmax + NLLLoss bug."""
    t = np.arange(60)
    values = -0.1 - 0.85 * (1 - np.exp(-t / 10))
    frame = pd.concat([pd.DataFrame({"step": t + 1, "name": "flow_nll", "value": values}),
                       pd.DataFrame({"step": t + 1, "name": "val/acc", "value": -values})])
    run = RunData.from_frame(frame, mapping={"flow_nll": "train/loss"})
    [f] = fired(run, "negative_loss")
    assert (f.severity, f.evidence.values["original_name"]) == ("critical", "flow_nll")


def test_val_accuracy_at_chance_while_train_accuracy_climbs_is_overfitting():
    rng = np.random.default_rng(4)
    n = 30
    train = np.linspace(0.3, 0.98, n)
    [f] = fired(make_run(**{"train/acc": train, "val/acc": 0.1 + rng.normal(0, 0.008, n)}), "overfitting")
    assert f.evidence.values["chance_classes"] == 10 and "at chance" in f.title
    [f] = fired(make_run(**{"train/acc": train, "val/acc": np.full(n, 0.73)}), "overfitting")
    assert f.evidence.values["chance_classes"] is None  # one class predicted: the majority rate


def test_val_accuracy_at_chance_while_the_train_loss_falls_is_overfitting():
    rng = np.random.default_rng(5)
    run = make_run(**{"train/loss_epoch": falling(25), "val/acc": 0.5 + rng.normal(0, 0.01, 25)})
    [f] = fired(run, "overfitting")
    assert f.evidence.values["chance_classes"] == 2 and f.evidence.values["train_metric"] == "train/loss_epoch"


def test_val_accuracy_that_learns_or_a_run_that_learns_nothing_is_not_at_chance_overfitting():
    n = 30
    learns = make_run(**{"train/acc": np.linspace(0.3, 0.98, n), "val/acc": np.linspace(0.3, 0.9, n)})
    nothing = make_run(**{"train/acc": np.full(n, 0.1), "val/acc": np.full(n, 0.1)})
    high = make_run(**{"train/acc": np.linspace(0.85, 0.99, n), "val/acc": np.full(n, 0.97)})
    for run in (learns, nothing, high):
        assert fired(run, "overfitting") == []


def test_a_negative_loss_component_beside_a_positive_total_is_judged_on_its_own_pair():
    """A detector log (box, cls, dfl terms and their sum): the sum stays positive, the classification term
    is -p(correct). The component is judged against its own validation partner, not the total."""
    t = np.arange(18)
    box, dfl = 0.9 - 0.3 * (1 - np.exp(-t / 6)), 1.8 - 1.2 * (1 - np.exp(-t / 6))
    cls = -0.1 - 0.35 * (1 - np.exp(-t / 6))  # in [-1, 0], heading down: Softmax fed to NLLLoss
    curves_ = {"train/box_loss": box, "train/cls_loss": cls, "train/dfl_loss": dfl,
               "val/box_loss": box + 0.01, "val/cls_loss": cls + 0.02, "val/dfl_loss": dfl + 0.02,
               "train/loss_epoch": box + cls + dfl, "val/loss": box + cls + dfl + 0.05,
               "metrics/mAP50(B)": 0.1 + 0.8 * (1 - np.exp(-t / 6))}
    [f] = fired(make_run(**curves_), "negative_loss")
    assert (f.severity, f.evidence.metric, f.evidence.values["shape"]) == ("critical", "train/cls_loss", "softmax_nll")
    # a component whose validation partner leaves [-1, 0] is a likelihood term, as for the total
    [f] = fired(make_run(**{**curves_, "val/cls_loss": cls + 0.6}), "negative_loss")
    assert (f.severity, f.evidence.values["outside_unit"]) == ("info", "val/cls_loss")
    # all terms positive: nothing to say
    assert fired(make_run(**{**curves_, "train/cls_loss": -cls, "val/cls_loss": -cls}), "negative_loss") == []


def test_a_log_of_losses_nan_from_the_first_row_diverged_but_a_file_nan_everywhere_is_broken():
    """Nothing finite anywhere: with only losses logged the run was NaN from its first log (the label
    counts NaN in a loss); a learning rate NaN too says the file, not the run, is broken."""
    nan4 = [NAN] * 4
    [f] = fired(make_run(**{"train/loss_epoch": nan4, "val/loss": nan4}), "divergence")
    assert f.severity == "critical" and f.evidence.values["first_bad_step"] == 1.0 and "NaN" in f.title
    assert fired(make_run(**{"train/loss_epoch": nan4, "val/loss": nan4, "lr": nan4}), "divergence") == []
    assert fired(make_run(**{"train/loss_epoch": [NAN]}), "divergence") == []  # one placeholder row


def test_a_softmax_shaped_loss_is_graded_by_the_classification_evidence_the_log_holds():
    """Critical only when the log establishes -p(correct): a classification score the loss follows (in
    trend, or in level for a classifier stuck at chance, in percent or as a fraction). With no score the
    shape is a question (info); beside a regression metric it is a likelihood (info, no fix)."""
    t = np.arange(40)
    softmax = -0.1 - 0.85 * (1 - np.exp(-t / 8))
    stuck = -0.1 - 0.002 * np.sin(t)  # a classifier at chance over 10 classes: -1/K beside an accuracy of 1/K
    for loss, score, values in ((softmax, "val/acc", -softmax + 0.05),
                                (softmax, "train/acc", 100 * (-softmax - 0.04)),  # logged in percent
                                (stuck, "val/acc", np.full(40, 0.1))):
        [f] = fired(make_run(**{"train/loss_epoch": loss, score: values}), "negative_loss")
        assert (f.severity, f.evidence.values["classification_score"]) == ("critical", score)
    [f] = fired(make_run(**{"train/loss_epoch": softmax}), "negative_loss")
    assert (f.severity, f.evidence.values["classification_score"]) == ("info", None)
    assert "Softmax" in f.title and "likelihood" in f.title
    [f] = fired(make_run(**{"train/loss_epoch": softmax, "val/mae": np.linspace(0.8, 0.2, 40)}), "negative_loss")
    assert (f.severity, f.fixes, f.evidence.values["regression_metric"]) == ("info", (), "val/mae")
    assert "regression metric" in f.summary


def test_a_loss_that_does_not_follow_the_score_or_a_negated_dice_is_not_the_softmax_bug():
    t = np.arange(40)
    softmax = -0.1 - 0.85 * (1 - np.exp(-t / 8))
    # -loss climbs while the accuracy falls far below it: negative, yet not -p(correct) -> a warning, not critical
    [f] = fired(make_run(**{"train/loss_epoch": softmax, "val/acc": np.linspace(0.6, 0.1, 40)}), "negative_loss")
    assert f.severity == "warning" and "does not follow val/acc" in f.summary
    assert f.evidence.values["tracking"] < 0 and f.evidence.values["level_gap"] > 0.25
    # a negated Dice follows its Dice score exactly, but Dice is no classification score: a question, not a bug
    [f] = fired(make_run(**{"train/loss_epoch": softmax, "val/dice": -softmax}), "negative_loss")
    assert (f.severity, f.evidence.values["classification_score"]) == ("info", None)
    # in [-1, 0] without heading to -1 and with no score: a likelihood's range as much as anything, info
    flat = -0.5 + 0.2 * t / 40  # drifting toward zero, away from -1
    [f] = fired(make_run(**{"train/loss_epoch": flat}), "negative_loss")
    assert (f.severity, f.evidence.values["shape"]) == ("info", "bounded")


def test_a_score_with_too_few_evaluations_to_follow_is_no_verdict():
    """One val/acc of 0.2 beside a loss heading to -0.94 contradicts -p(correct): not critical. A score
    logged only outside the loss's steps cannot confirm it: the question (info), never the verdict."""
    t = np.arange(40)
    softmax = -0.1 - 0.85 * (1 - np.exp(-t / 8))
    one = make_run(**{"train/loss_epoch": softmax, "val/acc": [0.2]}, steps={"val/acc": [39]})
    assert [f.severity for f in fired(one, "negative_loss")] == ["warning"]
    agreeing = make_run(**{"train/loss_epoch": softmax, "val/acc": [0.9]}, steps={"val/acc": [39]})
    assert [f.severity for f in fired(agreeing, "negative_loss")] == ["critical"]
    outside = make_run(**{"train/loss_epoch": softmax, "val/acc": [0.9]}, steps={"val/acc": [400]})
    [f] = fired(outside, "negative_loss")
    assert f.severity == "info" and "no evaluation of val/acc" in f.summary
