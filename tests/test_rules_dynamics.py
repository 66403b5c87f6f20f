"""Literal curves for the loss-dynamics rules (oscillation, warm-up, lr too high, negative loss,
divergence, gradients, dead ReLUs, ε): each fires on its textbook shape, quiet on the look-alikes."""

from __future__ import annotations

import numpy as np
import pytest

from diagnostics.engine import diagnose
from tests.diag_curves import falling, fired, make_run

RNG = np.random.default_rng(0)


def test_oscillation_on_swinging_per_step_loss():
    steps = np.arange(400)
    loss = 0.6 + 0.4 * np.where(steps % 2, 1, -1) * RNG.uniform(0.5, 1, 400)
    run = make_run(config={"optim.lr": 0.05, "train.batch_size": 4}, **{"train/loss": loss})
    [f] = fired(run, "loss_oscillation")
    # the bin means are flat: the swings show in single steps, far larger than the (nil) decrease
    assert f.evidence.values["scale"] == "single steps" and f.evidence.values["swing_over_decrease"] > 1
    assert f.fixes[0].config_patch == {"optim.lr": 0.02}


def test_ordinary_minibatch_noise_is_not_oscillation():
    loss = falling(400, 0.7, 0.2) * (1 + RNG.normal(0, 0.05, 400))
    assert fired(make_run(**{"train/loss": loss}), "loss_oscillation") == []


def test_missing_warmup_spike_then_recovery():
    loss = falling(300, 0.7, 0.1)
    loss[3] = 4.0
    adam = {"optim.name": "adam", "optim.lr": 0.1}
    run = make_run(config={**adam, "sched.name": "none"}, **{"train/loss": loss})
    [f] = fired(run, "missing_warmup")
    assert f.evidence.values["spike_step"] == 4.0
    assert f.fixes[0].config_patch["sched.name"] == "warmup"
    warmed = make_run(config={**adam, "sched.name": "warmup"}, **{"train/loss": loss})
    assert fired(warmed, "missing_warmup") == []


def test_missing_warmup_suggests_warming_up_until_the_spike_settled():
    """The loss is above its first value from step 4 to step 40 (a spike, then a slow return) and stays below
    it from step 41 on: warm up over 41 steps."""
    loss = falling(300, 0.7, 0.1)
    loss[3:40] = np.linspace(4.0, 0.75, 37)
    loss[45] = 0.9  # one bump after settling is not the spike again: it settled at step 41
    run = make_run(config={"optim.name": "adam", "optim.lr": 0.1, "sched.name": "none"}, **{"train/loss": loss})
    [f] = fired(run, "missing_warmup")
    assert (f.evidence.values["settle_step"], f.evidence.values["warmup_steps"]) == (41, 41)
    assert f.fixes[0].config_patch == {"sched.name": "warmup", "sched.warmup_steps": 41}
    assert "settled by step 41: a linear warm-up over 41 steps" in f.summary
    assert f.fixes[0].text == "Warm the learning rate up linearly over 41 steps"


def test_lr_too_high_drop_then_climb():
    loss = np.concatenate([np.linspace(2.0, 0.3, 8), np.linspace(0.3, 0.9, 22)])
    run = make_run(config={"optim.name": "adam", "optim.lr": 0.05}, **{"train/loss_epoch": loss})
    [f] = fired(run, "lr_too_high")
    assert f.fixes[0].config_patch == {"optim.lr": 0.005}


def test_softmax_nll_signature_without_config():
    """The shape of -p(correct) beside the accuracy it follows establishes the bug: critical. The shape
    alone (no classification score in the log) does not: a Gaussian NLL can take it too, so it is a question."""
    loss = -1 + 0.9 * np.exp(-np.arange(50) / 10)
    [f] = fired(make_run(**{"train/loss": loss, "train/acc": -loss + 0.03}), "negative_loss")
    assert f.severity == "critical" and "train/acc" in f.summary
    assert f.fixes[0].config_patch == {"model.head": "log_softmax"}
    assert f.evidence.values["first_negative_step"] == 1.0
    [f] = fired(make_run(**{"train/loss": loss}), "negative_loss")
    assert (f.severity, f.evidence.values["shape"]) == ("info", "softmax_nll")
    assert "if it is a likelihood" in f.summary and f.fixes[0].config_patch == {"model.head": "log_softmax"}


def test_gaussian_nll_negative_is_info():
    loss = np.linspace(1.0, -2.5, 50)
    for run in (
        make_run(config={"loss.name": "gaussian_nll"}, **{"train/loss": loss}),
        make_run(meta={"loss_type": "elbo"}, **{"train/loss": loss}),
    ):
        [f] = fired(run, "negative_loss")
        assert (f.severity, f.fixes) == ("info", ())


def test_mse_below_zero_is_critical():
    run = make_run(config={"loss.name": "mse"}, **{"train/loss": np.linspace(1, -3, 40)})
    [f] = fired(run, "negative_loss")
    assert f.severity == "critical" and "cannot go below zero" in f.summary


def test_positive_loss_is_fine():
    assert fired(make_run(**{"train/loss": falling(50)}), "negative_loss") == []


def test_divergence_names_the_first_nan():
    loss = [0.7, 0.6, 5.0, 80.0, float("inf"), float("nan"), float("nan")]
    [f] = fired(make_run(config={"optim.lr": 5.0}, **{"train/loss": loss}), "divergence")
    assert (f.evidence.values["first_bad_step"], f.evidence.values["kind"]) == (5.0, "inf")
    assert f.fixes[0].config_patch == {"optim.lr": 0.5}


def test_divergence_says_which_way_the_loss_moved_before_the_nan():
    rose = fired(make_run(**{"train/loss": [0.7, 0.6, 5.0, 80.0, float("nan")]}), "divergence")[0]
    fell = fired(make_run(**{"train/loss": [1.0, 0.5, 0.2, 0.1, float("nan"), float("nan")]}), "divergence")[0]
    assert "after rising from 0.7 to 80" in rose.summary
    assert "after falling from 1 to 0.1" in fell.summary


def test_finite_loss_far_above_start_is_divergence():
    loss = np.concatenate([np.linspace(0.7, 0.5, 10), np.linspace(0.5, 30, 20)])
    assert [f.rule for f in fired(make_run(**{"train/loss": loss}), "divergence")] == ["divergence"]


def _layers(norms_by_layer):
    return {f"grad_norm/layer{i}": [v] * 10 for i, v in enumerate(norms_by_layer)}


def test_vanishing_gradients_toward_the_input():
    run = make_run(config={"model.activation": "sigmoid"}, **_layers([1e-9, 1e-7, 1e-5, 1e-3, 1e-1, 1.0]))
    [f] = fired(run, "vanishing_gradients")
    assert round(f.evidence.values["orders"]) == 9
    assert f.fixes[0].config_patch == {"model.activation": "relu"}


def test_healthy_layer_norms_are_not_vanishing():
    assert fired(make_run(**_layers([0.05, 0.1, 0.2, 0.3])), "vanishing_gradients") == []


def test_all_zero_gradients_are_not_called_vanishing():
    assert fired(make_run(**_layers([0.0, 0.0, 1e-16])), "vanishing_gradients") == []


def test_exploding_gradient_norms():
    norms = np.concatenate([np.full(50, 0.5), np.logspace(0, 4, 150)])
    [f] = fired(make_run(**{"grad_norm": norms}), "exploding_gradients")
    assert f.evidence.values["growth"] > 100


def test_dead_relu_over_half_a_layer():
    dead = {"dead_frac/layer0": [0.1] * 10, "dead_frac/layer1": [0.8] * 10}
    run = make_run(config={"optim.lr": 0.1}, **dead)
    [f] = fired(run, "dead_relu")
    assert f.evidence.metric == "dead_frac/layer1"
    assert f.evidence.values["dead_share"] == {"dead_frac/layer0": 0.1, "dead_frac/layer1": 0.8}


@pytest.mark.parametrize(
    ("eps", "dominance", "expected"),
    [
        (0.1, [1.0] * 10, ["warning"]),
        (1e-8, [0.1] * 10, []),
        (1e-12, [0.0] * 10, ["info"]),
    ],
)
def test_epsilon_within_run(eps, dominance, expected):
    run = make_run(
        config={"optim.name": "adam", "optim.eps": eps, "optim.lr": 1e-3}, **{"adam/eps_dominance": dominance}
    )
    assert [f.severity for f in fired(run, "epsilon_sensitivity")] == expected


def test_epsilon_from_config_alone_is_info():
    [f] = fired(make_run(config={"optim.name": "adam", "optim.eps": 0.1}), "epsilon_sensitivity")
    assert f.severity == "info" and f.fixes[0].config_patch == {"optim.eps": 1e-8}


def _blowup(n=100, nan_from=80):
    """grad_norm steady, then growing by orders of magnitude until both it and the loss are NaN."""
    grads = np.concatenate([np.full(60, 0.2), np.logspace(0, 10, nan_from - 60), np.full(n - nan_from, np.nan)])
    rising = np.linspace(1.5, 40, nan_from - 60)
    loss = np.concatenate([np.linspace(2.3, 1.5, 60), rising, np.full(n - nan_from, np.nan)])
    return grads, loss


def test_gradients_growing_before_the_nan_are_reported_with_the_divergence():
    grads, loss = _blowup()
    run = make_run(config={"optim.lr": 0.3}, **{"grad_norm": grads, "train/loss": loss})
    findings = diagnose(run)
    assert [(f.rule, f.severity) for f in findings] == [("divergence", "critical"), ("exploding_gradients", "warning")]
    f = findings[1]
    assert f.evidence.values["kind"] == "blowup" and f.evidence.values["orders"] > 9
    assert (f.evidence.start_step, f.evidence.end_step) == (62, 81)
    assert f.fixes[0].config_patch == {"train.clip_grad": 1.0}


def test_a_nan_without_growing_gradients_is_divergence_only():
    grads = np.concatenate([np.full(60, 0.2), np.full(20, np.nan)])
    loss = np.concatenate([np.linspace(2.3, 1.5, 60), np.full(20, np.nan)])
    run = make_run(**{"grad_norm": grads, "train/loss": loss})
    assert [f.rule for f in diagnose(run)] == ["divergence"]


def test_repeated_gradient_spikes_explode_a_single_one_does_not():
    grads = 0.2 + RNG.uniform(0, 0.05, 200)
    grads[[50, 120]] = 40.0
    [f] = fired(make_run(**{"grad_norm": grads}), "exploding_gradients")
    assert (f.evidence.values["kind"], f.evidence.values["spikes"]) == ("spikes", 2)
    grads[120] = 0.2
    assert fired(make_run(**{"grad_norm": grads}), "exploding_gradients") == []


def _too_high_run(acc=None):
    """Per-step loss: a fast drop in the first epoch, then swinging and drifting up; epoch loss climbing."""
    steps = np.arange(1, 301)
    trend = np.where(steps < 20, 2.3 - 0.085 * steps, 0.6 + 0.0015 * (steps - 20))
    per_step = trend * (1 + 0.5 * np.where(steps % 2, 1, -1))
    epochs = 0.6 + 0.035 * np.arange(15) + RNG.normal(0, 0.01, 15)
    curves_ = {"train/loss": per_step, "train/loss_eval": epochs}
    if acc is not None:
        curves_["train/acc"] = acc
    return make_run(
        config={"optim.name": "adam", "optim.lr": 0.1},
        steps={"train/loss_eval": 20 * np.arange(1, 16), "train/acc": 20 * np.arange(1, 16)},
        **curves_,
    )


def test_lr_too_high_from_the_first_steps_is_named_beside_the_oscillation():
    run = _too_high_run()
    assert "loss_oscillation" in {f.rule for f in fired(run, "loss_oscillation")}
    rules = [f.rule for f in diagnose(run)]
    # the cause and the symptom both stand: only a divergence explains the swings away
    assert "lr_too_high" in rules and "loss_oscillation" in rules
    [f] = fired(run, "lr_too_high")
    # the drop began in the per-step loss, long before the first epoch-level value (0.6)
    assert f.evidence.values["start"] > 1.5 and f.evidence.values["swing_ratio"] > 0.2
    assert [fix.config_patch for fix in f.fixes[:2]] == [{"optim.lr": 0.01}, {"optim.lr": 0.03}]


def test_lr_too_high_on_a_noisy_epoch_loss_when_train_accuracy_falls():
    loss = np.array([1.37, 0.92, 0.86, 0.65, 1.08, 0.91, 0.46, 0.82, 0.68, 1.09, 0.92, 0.91, 0.62, 0.90, 1.15])
    acc = np.array([0.82, 0.82, 0.80, 0.86, 0.82, 0.79, 0.89, 0.79, 0.82, 0.73, 0.76, 0.81, 0.76, 0.76, 0.61])
    config = {"optim.name": "adam", "optim.lr": 0.1}
    assert fired(make_run(config=config, **{"train/loss_epoch": loss}), "lr_too_high") == []
    [f] = fired(make_run(config=config, **{"train/loss_epoch": loss, "train/acc": acc}), "lr_too_high")
    assert f.evidence.values["train_acc_end"] < f.evidence.values["train_acc_peak"] - 0.1


def test_worst_prefers_the_cause_among_equal_severities():
    from diagnostics.engine import worst
    from diagnostics.findings import Evidence, Finding

    def finding(rule):
        return Finding(rule, "warning", rule, "", Evidence("train/loss"))

    assert worst([finding("dead_relu"), finding("loss_oscillation")]).rule == "loss_oscillation"
    assert worst([finding("underfitting"), finding("lr_too_high")]).rule == "lr_too_high"
    assert worst([finding("plateau"), Finding("divergence", "critical", "", "", Evidence(""))]).rule == "divergence"


def test_large_early_gradients_of_a_long_converging_run_are_not_spikes():
    # a few first steps near 1, then ~1e-3 within the first tenth, then ~3e-6 once converged
    grads = np.concatenate([np.full(5, 1.5), np.geomspace(1e-2, 1e-3, 295), np.full(2700, 3e-6)])
    assert fired(make_run(**{"grad_norm": grads}), "exploding_gradients") == []


def test_epoch_level_loss_without_trend_oscillates_but_a_noisy_fall_does_not():
    rng = np.random.default_rng(0)
    swinging = 1.0 + 0.8 * rng.random(60)
    [f] = fired(make_run(**{"train/loss_epoch": swinging}), "loss_oscillation")
    assert f.evidence.metric == "train/loss_epoch"
    falling_noisy = np.linspace(2.0, 0.5, 60) + 0.02 * rng.standard_normal(60)
    assert fired(make_run(**{"train/loss_epoch": falling_noisy}), "loss_oscillation") == []


def test_any_named_training_loss_that_blows_up_and_stays_up_diverges():
    y = np.concatenate([np.linspace(0.5, 0.02, 60), [17.0, 18.0, 5.0, 2.0], np.full(30, 0.2)])
    [f] = fired(make_run(**{"recon_loss": y}), "divergence")
    assert f.evidence.metric == "recon_loss"
    spike = np.concatenate([np.linspace(0.5, 0.02, 60), [17.0], np.full(30, 0.02)])
    assert fired(make_run(**{"recon_loss": spike}), "divergence") == []


def test_an_ultralytics_val_loss_nan_from_the_first_value_was_never_computed():
    run = make_run(meta={"format": "ultralytics"},
                   **{"train/loss_epoch": np.linspace(2, 1, 20), "val/loss": np.full(20, np.nan)})
    assert fired(run, "divergence") == []


def test_a_val_loss_nan_at_every_evaluation_beside_finite_metrics_is_reported():
    curves_ = {"train/loss_epoch": np.linspace(2, 1, 20), "val/loss": np.full(20, np.nan),
               "val/acc": np.linspace(0.2, 0.8, 20)}
    run = make_run(meta={"format": "tensorboard"}, **curves_)
    (found,) = fired(run, "divergence")
    assert found.evidence.metric == "val/loss" and "NaN" in found.title


def test_negative_by_design_loss_is_info():
    y = np.linspace(-11.0, -16.5, 40)
    [f] = [f for f in diagnose(make_run(**{"train/loss_epoch": y})) if f.rule == "negative_loss"]
    assert f.severity == "info"


def _rebound(n: int = 60, low_at: int = 20, factor: float = 8.0) -> np.ndarray:
    """A loss that falls to 0.1 by ``low_at`` and then climbs steadily to ``factor`` times that low."""
    fall = falling(low_at + 1, 2.0, 0.1)
    climb = 0.1 * factor ** (np.arange(1, n - low_at) / (n - low_at - 1))
    return np.concatenate([fall, climb])


def test_a_loss_that_converged_then_climbs_back_far_above_its_low_is_divergence():
    (found,) = fired(make_run(**{"train/loss": _rebound()}), "divergence")
    assert "climbed back" in found.title and found.evidence.values["ratio"] >= 5


def test_a_warm_restart_that_doubles_the_loss_then_falls_again_is_not_divergence():
    cycle = falling(30, 2.0, 0.1)
    restart = np.concatenate([cycle, 0.1 + cycle[::-1][:5] * 0.1, falling(25, 0.3, 0.05)])
    assert not fired(make_run(**{"train/loss": restart}), "divergence")


def test_an_rl_loss_that_grows_with_the_returns_is_not_a_rebound():
    n = 60
    run = make_run(**{"train/loss": _rebound(n), "rollout/ep_rew_mean": np.linspace(-5, 50, n)})
    assert not [f for f in fired(run, "divergence") if "climbed back" in f.title]
