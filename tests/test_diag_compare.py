"""Cross-run rules on literal sweeps: sensitivity to a key, and the deeper net that fits worse."""

from __future__ import annotations

import numpy as np

from diagnostics import compare
from tests.diag_curves import make_run

BASE = {"optim.name": "adam", "optim.lr": 1e-3, "model.depth": 2, "train.seed": 0}


def _run(acc: float, loss_end: float = 0.2, **config: object):
    return make_run(config={**BASE, **config}, **{"val/acc": list(np.linspace(0.5, acc, 20)),
                                                  "train/loss_epoch": list(np.linspace(1.0, loss_end, 20))})


def test_an_lr_sweep_that_swings_is_sensitive_and_names_the_best_value():
    runs = [_run(0.95, **{"optim.lr": 1e-3}), _run(0.70, **{"optim.lr": 1e-1})]
    [f] = compare(runs)
    assert (f.rule, f.severity, f.evidence.values["best_value"]) == ("lr_sensitivity", "warning", 1e-3)
    assert f.fixes[0].config_patch == {"optim.lr": 1e-3}


def test_a_run_the_doctor_stopped_counts_as_the_worst_outcome_not_its_score_before_the_stop():
    """lr=0.5 diverged and was stopped early, its accuracy still close to the other's: the sweep
    says the learning rate matters, because one value blew the run up."""
    stopped = make_run(config={**BASE, "optim.lr": 0.5}, meta={"stopped_by": {"rule": "divergence"}},
                       **{"val/acc": list(np.linspace(0.5, 0.88, 5)), "train/loss_epoch": [1.0, 0.9, 3.0, 9.0, 20.0]})
    [f] = compare([_run(0.90, **{"optim.lr": 1e-3}), stopped])
    assert (f.rule, f.severity) == ("lr_sensitivity", "warning")
    assert "1 run(s) stopped by the doctor" in f.summary and f.evidence.values["best_value"] == 1e-3
    early = make_run(config={**BASE, "optim.lr": 0.5}, meta={"stopped_by": {"rule": "divergence"}},
                     **{"train/loss": [2.3, 40.0]})  # stopped before its first evaluation
    [g] = compare([_run(0.90, **{"optim.lr": 1e-3}), early])
    assert (g.rule, g.severity, g.evidence.values["best_value"]) == ("lr_sensitivity", "warning", 1e-3)
    unstopped = make_run(config={**BASE, "optim.lr": 0.5}, **{"val/acc": list(np.linspace(0.5, 0.88, 5))})
    assert [(g.rule, g.severity) for g in compare([_run(0.90, **{"optim.lr": 1e-3}), unstopped])] == [
        ("lr_sensitivity", "info")]


def test_a_flat_sweep_is_insensitive_info_and_parameters_are_fields():
    runs = [_run(0.90, **{"optim.lr": 1e-3}), _run(0.88, **{"optim.lr": 1e-2})]
    assert [(f.rule, f.severity) for f in compare(runs)] == [("lr_sensitivity", "info")]
    strict = compare(runs, params={"lr_sensitivity": {"metric_spread": 0.01}})
    assert [(f.rule, f.severity) for f in strict] == [("lr_sensitivity", "warning")]


def test_deeper_worse_on_the_training_set_is_depth_sensitivity_not_underfitting():
    runs = [_run(0.9, 0.2, **{"model.depth": 2}), _run(0.9, 0.6, **{"model.depth": 8})]
    [f] = compare(runs)
    assert (f.rule, f.severity) == ("depth_sensitivity", "warning")
    assert f.fixes[1].config_patch == {"model.depth": 2}
    assert compare([_run(0.9, 0.2, **{"model.depth": 2}), _run(0.9, 0.21, **{"model.depth": 8})]) == []


def test_an_optimizer_sweep_names_the_key_and_the_best_and_worst_choice():
    """Sweeping ``optim.name`` (only that key differs, three seeds each): a categorical comparison finding."""
    accs = {"sgd": 0.70, "momentum": 0.85, "adam": 0.93}
    runs = [_run(acc + 0.005 * seed, **{"optim.name": name, "train.seed": seed})
            for name, acc in accs.items() for seed in range(3)]
    [f] = compare(runs)
    assert (f.rule, f.severity, f.title) == ("optimizer_sensitivity", "warning", "Sensitive to optim.name")
    values = f.evidence.values
    assert (values["best_value"], values["worst_value"], values["categorical"]) == ("adam", "sgd", True)
    assert "optim.name=adam" in f.summary and "sgd the worst" in f.summary
    assert f.fixes[0].config_patch == {"optim.name": "adam"}


def test_a_categorical_difference_within_seed_noise_is_not_a_warning():
    runs = [_run(0.80 + 0.1 * (seed % 2), **{"model.activation": name, "train.seed": seed})
            for name in ("relu", "tanh") for seed in range(4)]
    assert [(f.rule, f.severity) for f in compare(runs)] == [("activation_sensitivity", "info")]


def test_a_loss_sweep_is_judged_on_a_score_never_on_the_losses_it_changes():
    def run(loss_name: str, val_loss: float):
        return make_run(config={**BASE, "loss.name": loss_name},
                        **{"val/loss": list(np.linspace(2.0, val_loss, 20))})

    assert compare([run("cross_entropy", 0.2), run("mse", 0.01)]) == []  # no score: nothing to compare
    runs = [_run(0.95, **{"loss.name": "cross_entropy"}), _run(0.60, **{"loss.name": "nll"})]
    [f] = compare(runs)
    assert (f.rule, f.evidence.values["metric"], f.evidence.values["best_value"]) == (
        "loss_sensitivity", "val/acc", "cross_entropy")
