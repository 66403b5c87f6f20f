"""val_above_train and divergence on the shapes real logs take (issue 17): the pairing of train
and val at different cadences, short runs, unlearned runs, blow-ups that explain a val-better."""

from __future__ import annotations

import numpy as np

from diagnostics.engine import diagnose
from tests.diag_curves import falling, fired, make_run

RNG = np.random.default_rng(17)


def _hf_run(val: list[float]) -> dict:
    """An HF-like log: the per-step loss every 10 steps, three evaluations, one ``train_loss`` summary."""
    steps = np.arange(10, 151, 10, dtype=float)
    loss = np.linspace(0.71, 0.25, len(steps))
    return {
        "steps": {"train/loss": steps, "val/loss": [50.0, 100.0, 150.0], "train/loss_epoch": [150.0]},
        "train/loss": loss,
        "val/loss": val,
        "train/loss_epoch": [float(loss.mean())],
    }


def test_a_one_value_training_summary_is_not_the_curve_val_is_set_against():
    # val is below the run's mean training loss (the summary) at every evaluation, but above the
    # mean of the steps since the previous evaluation at two of three: not better than training
    curves_ = _hf_run([0.59, 0.49, 0.45])
    steps = curves_.pop("steps")
    assert fired(make_run(steps=steps, **curves_), "val_above_train") == []
    curves_ = _hf_run([0.55, 0.35, 0.22])  # below the window means every time
    steps = curves_.pop("steps")
    [f] = fired(make_run(steps=steps, **curves_), "val_above_train")
    assert f.evidence.values["pairs"][0]["train"] == "train/loss"


def test_three_evaluations_all_better_are_judged():
    run = make_run(**{"train/loss_epoch": [0.091, 0.052, 0.041], "val/loss": [0.064, 0.031, 0.025]})
    [f] = fired(run, "val_above_train")
    assert f.evidence.values["pairs"][0]["share"] == 1.0


def test_one_evaluation_below_the_mean_training_loss_since_the_start_is_judged():
    at = {"train/loss": [10.0, 20.0, 30.0, 40.0, 50.0], "val/loss": [50.0]}
    run = make_run(steps=at, **{"train/loss": [1.40, 0.25, 0.12, 0.11, 0.10], "val/loss": [0.095]})
    [f] = fired(run, "val_above_train")
    assert f.evidence.values["pairs"][0]["final_train"] == np.mean([1.40, 0.25, 0.12, 0.11, 0.10])


def test_an_unlearned_run_with_val_below_train_most_of_the_time_is_still_reported():
    # the label has no exception for a model at chance: val below train in 80% of the epochs counts
    train = 2.21 - np.linspace(0, 0.09, 30) + RNG.normal(0, 0.002, 30)
    gap = np.where(np.arange(30) % 5 == 4, -0.01, 0.006)
    run = make_run(**{"train/loss_epoch": train, "val/loss": train - gap})
    [f] = fired(run, "val_above_train")
    assert abs(f.evidence.values["pairs"][0]["share"] - 0.8) < 1e-9
    run = make_run(**{"train/loss_epoch": train, "val/loss": train + np.abs(gap)})
    assert fired(run, "val_above_train") == []


def test_a_training_loss_that_went_nan_explains_a_lower_val_loss():
    train = np.concatenate([falling(10, 1.0, 0.3), [np.nan] * 10])
    run = make_run(**{"train/loss_epoch": train, "val/loss": np.full(20, 0.2)})
    assert fired(run, "val_above_train") != []  # on its own the rule sees val below train
    assert [f.rule for f in diagnose(run) if f.rule in ("divergence", "val_above_train")] == ["divergence"]


def test_a_validation_nan_does_not_explain_a_val_better_than_train():
    train = falling(20, 1.0, 0.3)
    val = train * 0.8
    val[12] = np.nan
    rules = {f.rule for f in diagnose(make_run(**{"train/loss_epoch": train, "val/loss": val}))}
    assert {"divergence", "val_above_train"} <= rules


def _gaussian_nll(n: int = 400) -> np.ndarray:
    """A per-step Gaussian NLL that learns: from 0.3 down to about -1.2, with minibatch noise."""
    return np.linspace(0.3, -1.2, n) + RNG.normal(0, 0.1, n)


def test_spikes_of_orders_of_magnitude_in_a_loss_that_may_be_negative_are_divergence():
    loss = _gaussian_nll()
    loss[[50, 120, 300]] = [7e11, 3e9, 2e13]  # bad batches
    [f] = fired(make_run(**{"train/loss": loss}), "divergence")
    assert f.evidence.values["blowup_spikes"] == 3 and f.evidence.values["worst_step"] == 301
    assert fired(make_run(**{"train/loss": _gaussian_nll()}), "divergence") == []


def test_a_loss_falling_by_orders_of_magnitude_across_zero_is_learning_not_spikes():
    """An RL objective (SB3's PPO ``train/loss``): 12 at the first update, about 0.01 later, then either side
    of zero. Against its typical size (0.01) the first points are a thousand times higher, but each is lower
    than the points before it: no spike."""
    loss = np.concatenate([[12.3, 24.5, 13.5, 8.6, 4.0, 2.8, 1.5, 0.67, 0.43, 0.16],
                           RNG.normal(0.0, 0.015, 40)])
    assert fired(make_run(**{"train/loss": loss}), "divergence") == []
    loss[30] = 40.0  # a real spike later in the same run still counts
    [f] = fired(make_run(**{"train/loss": loss}), "divergence")
    assert f.evidence.values["worst_step"] == 31


def test_a_negative_loss_climbing_to_positive_values_is_not_a_rise_by_ratio():
    # -0.05 -> 0.8: a ratio to a start near zero means nothing for a loss that may be negative
    loss = np.concatenate([np.linspace(0.24, -0.35, 20), np.linspace(-0.3, 0.8, 40)])
    assert fired(make_run(**{"train/loss_epoch": loss}), "divergence") == []


def test_one_row_blowing_up_a_thousandfold_is_divergence_even_when_the_next_is_back():
    loss = falling(20, 11.8, 0.08)
    loss[16] = 4608.0
    [f] = fired(make_run(**{"value_loss": loss}), "divergence")
    assert f.evidence.values["blowup_spikes"] == 1 and f.evidence.values["worst_step"] == 17


def test_a_short_run_that_blows_up_within_a_few_epochs_is_divergence():
    loss = [1.31, 1.22, 3.42, 383.1, 4487.7]
    [f] = fired(make_run(**{"train/loss_epoch": loss}), "divergence")
    assert f.evidence.metric == "train/loss_epoch"


def test_a_validation_loss_far_above_its_start_while_training_falls_is_not_divergence():
    val = np.concatenate([np.linspace(0.4, 0.2, 10), np.geomspace(0.2, 40.0, 30)])
    run = make_run(**{"train/loss_epoch": falling(40, 0.4, 0.01), "val/loss": val})
    assert fired(run, "divergence") == []
    assert fired(make_run(**{"val/loss": val}), "divergence") != []  # the only loss there is: judged


def test_an_appended_log_restarting_high_is_not_a_blow_up_but_a_blow_up_within_a_run_is() -> None:
    """Two phases appended to one file: the second starts at 7.3 after the first reached 0.07. Read as one
    curve that is a 100x blow-up; judged phase by phase it is a fresh start. A phase that blows up
    on its own is still divergence."""
    first = list(np.geomspace(2.0, 0.07, 20))
    second = list(np.geomspace(7.3, 0.5, 20))
    assert fired(make_run(**{"train/loss_epoch": first + second}), "divergence")  # one curve: blew up
    appended = make_run(meta={"restarts": [21]}, **{"train/loss_epoch": first + second})
    assert fired(appended, "divergence") == []
    blown = list(np.geomspace(2.0, 0.07, 10)) + list(np.geomspace(0.07, 50.0, 10))
    assert fired(make_run(meta={"restarts": [21]}, **{"train/loss_epoch": first + blown}), "divergence")


def test_a_blow_up_in_the_first_steps_is_divergence_even_when_it_recovers():
    """No running level exists yet: the opening points are read against the loss at init (its chance level)."""
    loss = np.concatenate([[2.3, 21.6, 1628.0, 1986.0, 22.5, 8.6], 2.3 + RNG.normal(0, 0.05, 200)])
    [f] = fired(make_run(**{"train/loss": loss}), "divergence")
    assert "right after the start" in f.title and f.evidence.values["peak_step"] == 4.0
    assert f.evidence.values["ratio"] > 800 and "came back" in f.summary
    # a healthy opening: the loss at init is the highest it goes (a x2 bump on a hard batch is not a blow-up)
    healthy = np.concatenate([[2.3, 4.6, 2.2], falling(200, 2.1, 0.3)])
    assert fired(make_run(**{"train/loss": healthy}), "divergence") == []
    # a loss of another name starts anywhere (a GAN discriminator near zero): not judged against its start
    gan = np.concatenate([[0.0009, 0.0004, 0.137, 0.03], 0.009 + RNG.uniform(0, 0.002, 20)])
    assert fired(make_run(**{"losses_d": gan, "losses_g": np.full(24, 3.0)}), "divergence") == []


def test_a_validation_only_spike_that_recovers_is_not_divergence():
    """The corpus guide labels a validation-only one-off false (a val loss at 0.45 reading 11.5 for one
    epoch, then back): the training run did not blow up."""
    n = 40
    val = 0.45 + RNG.normal(0, 0.005, n)
    val[12] = 11.5
    assert fired(make_run(**{"train/loss_epoch": falling(n, 2.0, 0.4), "val/loss": val}), "divergence") == []
