"""Every preset shows its pathology in the logged numbers, and its fixed twin does not."""

from __future__ import annotations

import numpy as np
import pytest

from runner.presets import PRESETS
from runner.store import Store

pytestmark = pytest.mark.slow  # see CONTRIBUTING.md: left out of the fast loop


def _series(store: Store, run_id: int, name: str) -> np.ndarray:
    return store.metric_series(run_id, name)[1]


def test_every_pathology_has_a_twin_and_every_run_finished(preset_runs: tuple[Store, dict[str, int]]) -> None:
    store, ids = preset_runs
    for preset in PRESETS.values():
        assert store.run(ids[preset.name])["status"] == "finished"
        if preset.shows:
            assert preset.twin in PRESETS


def test_healthy_learns(preset_runs: tuple[Store, dict[str, int]]) -> None:
    store, ids = preset_runs
    assert _series(store, ids["healthy"], "val/acc")[-1] > 0.9
    assert _series(store, ids["healthy"], "val/loss")[-1] < 0.25


def test_overfitting_val_loss_turns_up_while_train_loss_falls(preset_runs: tuple[Store, dict[str, int]]) -> None:
    store, ids = preset_runs
    val = _series(store, ids["overfitting"], "val/loss")
    train = _series(store, ids["overfitting"], "train/loss_epoch")
    best = int(np.argmin(val))
    assert best < len(val) * 0.5, "best epoch should come early"
    assert val[-1] > val[best] * 1.3 and train[-1] < train[best] * 0.5
    fixed = _series(store, ids["overfitting_fixed"], "val/loss")
    assert len(fixed) < len(val) and fixed[-1] < val[-1]  # early stopping ended it near its best
    assert store.run(ids["overfitting_fixed"])["meta"]["stopped_early"].startswith("early stopping")


def test_underfitting_train_loss_stays_high(preset_runs: tuple[Store, dict[str, int]]) -> None:
    store, ids = preset_runs
    assert _series(store, ids["underfitting"], "train/loss_eval")[-1] > 0.5
    assert _series(store, ids["underfitting_fixed"], "train/loss_eval")[-1] < 0.1


def test_oscillation_swings_step_to_step(preset_runs: tuple[Store, dict[str, int]]) -> None:
    store, ids = preset_runs

    def jitter(name: str) -> float:
        loss = _series(store, ids[name], "train/loss")
        tail = loss[len(loss) // 2:]
        return float(np.median(np.abs(np.diff(tail))))

    assert jitter("oscillation") > 3 * jitter("oscillation_fixed")


def test_softmax_nll_goes_negative_toward_minus_one(preset_runs: tuple[Store, dict[str, int]]) -> None:
    store, ids = preset_runs
    loss = _series(store, ids["softmax_nll"], "train/loss")
    assert loss.max() <= 0 and loss[-20:].mean() < -0.8
    assert _series(store, ids["softmax_nll_fixed"], "train/loss").min() > 0


def test_unshuffled_split_val_auc_beats_train(preset_runs: tuple[Store, dict[str, int]]) -> None:
    store, ids = preset_runs

    def share_above(name: str) -> float:
        return float(np.mean(_series(store, ids[name], "val/auc") > _series(store, ids[name], "train/auc")))

    assert share_above("unshuffled_split") >= 0.7
    assert share_above("unshuffled_split_fixed") <= 0.3


def test_large_adam_eps_dominates_and_costs_auc(preset_runs: tuple[Store, dict[str, int]]) -> None:
    store, ids = preset_runs
    assert _series(store, ids["adam_eps_large"], "adam/eps_dominance")[-1] > 0.9
    assert _series(store, ids["adam_eps_small"], "adam/eps_dominance")[-1] < 0.1
    large = _series(store, ids["adam_eps_large"], "val/auc")[-1]
    small = _series(store, ids["adam_eps_small"], "val/auc")[-1]
    assert small - large > 0.05


def test_divergence_reaches_non_finite_loss(preset_runs: tuple[Store, dict[str, int]]) -> None:
    store, ids = preset_runs
    assert not np.isfinite(_series(store, ids["divergence"], "train/loss")).all()
    assert np.isfinite(_series(store, ids["divergence_fixed"], "train/loss")).all()


def test_sigmoid_gradients_vanish_toward_the_input(preset_runs: tuple[Store, dict[str, int]]) -> None:
    store, ids = preset_runs

    def first_to_last(name: str) -> float:
        grads = [_series(store, ids[name], f"grad_norm/layer{i}")[-1] for i in (0, 8)]
        return grads[0] / grads[1]

    assert first_to_last("vanishing_gradients") < 1e-4
    assert first_to_last("vanishing_gradients_fixed") > 1e-3
    assert _series(store, ids["vanishing_gradients"], "val/acc")[-1] < 0.2
    assert _series(store, ids["vanishing_gradients_fixed"], "val/acc")[-1] > 0.5


def test_exploding_gradients_grow_by_orders_until_nan(preset_runs: tuple[Store, dict[str, int]]) -> None:
    store, ids = preset_runs
    grads = _series(store, ids["exploding_gradients"], "grad_norm")
    finite = grads[np.isfinite(grads)]
    assert finite.max() > 1e3 * np.median(finite[:20])
    assert not np.isfinite(_series(store, ids["exploding_gradients"], "train/loss")).all()
    assert np.isfinite(_series(store, ids["exploding_gradients_fixed"], "train/loss")).all()
    assert _series(store, ids["exploding_gradients_fixed"], "val/acc")[-1] > 0.7


def test_too_high_lr_ends_worse_than_it_was(preset_runs: tuple[Store, dict[str, int]]) -> None:
    store, ids = preset_runs
    acc = _series(store, ids["lr_too_high"], "val/acc")
    assert acc.max() - acc[-1] > 0.05 or acc[-1] < 0.8
    assert _series(store, ids["lr_too_high_fixed"], "val/acc")[-1] > 0.9


def test_premature_decay_leaves_a_high_flat_loss(preset_runs: tuple[Store, dict[str, int]]) -> None:
    store, ids = preset_runs
    loss = _series(store, ids["plateau"], "train/loss_epoch")
    assert loss[0] - loss[3] > 0.05  # the first drop
    assert abs(loss[-1] - loss[len(loss) // 2]) < 0.02 and loss[-1] > 1.0  # then flat, far from zero
    assert _series(store, ids["plateau_fixed"], "train/loss_epoch")[-1] < 0.2


def test_fail_on_gates_a_ci_job_on_real_runs(preset_runs: tuple[Store, dict[str, int]]) -> None:
    """``python -m diagnostics --db D --run N --fail-on warning``: 1 on the overfitting run, 0 on the healthy."""
    import subprocess
    import sys
    from pathlib import Path

    store, ids = preset_runs
    root = Path(__file__).resolve().parents[1]

    def gate(run_id: int, level: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "diagnostics", "--db", str(store.path), "--run", str(run_id),
                               "--fail-on", level], capture_output=True, text=True, cwd=root, timeout=120)

    failed = gate(ids["overfitting"], "warning")
    assert failed.returncode == 1, failed.stderr
    assert "overfitting" in failed.stderr and "--fail-on warning" in failed.stderr
    passed = gate(ids["healthy"], "warning")
    assert passed.returncode == 0, passed.stdout + passed.stderr
