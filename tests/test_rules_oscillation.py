"""loss_oscillation on literal curves: swings as large as the decrease with no steady trend fire,
minibatch noise around a falling trend, tiny wiggles and a GAN component's churn do not."""

from __future__ import annotations

import numpy as np
import pytest

from diagnostics.rules.loss_oscillation import LossOscillation, unsteadiness
from tests.diag_curves import falling, fired, make_run


def _bouncing(n: int, seed: int = 0) -> np.ndarray:
    """An epoch loss that falls 1.0 -> 0.5 in its first fifth, then bounces +-0.1 around 0.55."""
    rng = np.random.default_rng(seed)
    head = np.linspace(1.0, 0.5, n // 5)
    tail = 0.55 + 0.1 * np.where(np.arange(n - len(head)) % 2, 1.0, -1.0) * rng.uniform(0.5, 1.0, n - len(head))
    return np.concatenate([head, tail])


def test_unsteadiness_counts_reversals_and_the_decrease():
    zigzag = np.array([2.0, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5, 1.0, 1.5])
    u = unsteadiness(zigzag, 0.33)
    assert u.turns == 1.0 and u.swing == 0.5 and u.decrease == 1.0 and u.ratio == 0.5
    steady = unsteadiness(np.linspace(2.0, 1.0, 9), 0.33)
    assert steady.turns == 0.0
    assert unsteadiness(np.array([1.0, 0.9, 0.8]), 0.33) is None  # two points after the head: no back-and-forth


def test_an_epoch_loss_bouncing_after_its_first_descent_oscillates():
    [f] = fired(make_run(**{"train/loss_epoch": _bouncing(40)}), "loss_oscillation")
    v = f.evidence.values
    assert f.evidence.metric == "train/loss_epoch" and v["scale"] == "as logged"
    assert v["turns"] > 0.9 and v["swing_over_decrease"] > 0.2


def test_a_steady_epoch_fall_with_evaluation_noise_does_not():
    rng = np.random.default_rng(1)
    loss = falling(40, 1.0, 0.2) * (1 + rng.normal(0, 0.01, 40))
    assert fired(make_run(**{"train/loss_epoch": loss}), "loss_oscillation") == []


def test_strong_minibatch_noise_around_a_falling_per_step_trend_is_not_oscillation():
    rng = np.random.default_rng(2)
    loss = falling(2000, 2.0, 0.3) * (1 + rng.normal(0, 0.15, 2000))  # +-15% per batch, a clear fall
    assert fired(make_run(**{"train/loss": loss}), "loss_oscillation") == []


def test_per_step_swings_that_survive_binning_oscillate_at_eval_scale():
    rng = np.random.default_rng(3)
    n = 2000
    level = np.where((np.arange(n) // 100) % 2, 0.9, 0.6)  # the level flips every twentieth of the run
    loss = np.concatenate([np.linspace(1.5, 0.75, 200), level[200:]]) * (1 + rng.normal(0, 0.05, n))
    [f] = fired(make_run(**{"train/loss": loss}), "loss_oscillation")
    assert f.evidence.values["scale"] == "20 bin means"


def test_a_flat_loss_with_tiny_wiggles_is_not_swinging():
    rng = np.random.default_rng(4)
    loss = 0.7 + 0.005 * rng.standard_normal(50)  # no decrease, but only 0.7% from point to point
    assert fired(make_run(**{"train/loss_epoch": loss}), "loss_oscillation") == []


def test_a_component_beside_a_steadily_falling_one_needs_the_strict_bar():
    # the same bounce: the training loss oscillates; a GAN discriminator's churn of that size beside
    # a generator loss that falls steadily is the adversarial balance
    loss = _bouncing(40)
    assert fired(make_run(**{"train/loss_epoch": loss}), "loss_oscillation")
    assert fired(make_run(**{"loss_D": loss, "loss_G": falling(40, 3.0, 1.0)}), "loss_oscillation") == []


def test_components_that_all_swing_oscillate():
    rng = np.random.default_rng(6)
    d = -1.0 + 0.1 * np.where(np.arange(50) % 2, 1.0, -1.0) * rng.uniform(0.5, 1.0, 50)  # a WGAN critic
    g = 0.5 + 0.3 * np.where(np.arange(50) % 3, 1.0, -1.0) * rng.uniform(0.5, 1.0, 50)
    [f] = fired(make_run(**{"critic_loss": d, "generator_loss": g}), "loss_oscillation")
    assert f.evidence.metric in ("critic_loss", "generator_loss")
    # the generator falling steadily instead: the critic's +-10% churn is the balance, not oscillation
    assert fired(make_run(**{"critic_loss": d, "generator_loss": falling(50, 2.0, 0.5)}), "loss_oscillation") == []


def test_only_the_stretch_before_a_blow_up_is_judged():
    loss = np.concatenate([falling(30, 1.0, 0.2), [np.nan], 5 + 3 * (np.arange(30) % 2)])
    assert fired(make_run(**{"train/loss_epoch": loss}), "loss_oscillation") == []


def test_a_steady_epoch_curve_with_ordinary_step_noise_is_quiet():
    rng = np.random.default_rng(5)
    steps = falling(300, 1.5, 0.3) * (1 + rng.normal(0, 0.1, 300))
    epochs = falling(15, 1.2, 0.3)
    run = make_run(steps={"train/loss_epoch": 20 * np.arange(1, 16)},
                   **{"train/loss": steps, "train/loss_epoch": epochs})
    assert fired(run, "loss_oscillation") == []


def test_a_swinging_step_loss_beside_an_epoch_curve_too_short_to_judge_is_oscillation() -> None:
    """Three epochs of a per-step loss jumping between 0.01 and 0.9 (SGD with a huge momentum): the
    three epoch means cannot show it, the steps do."""
    rng = np.random.default_rng(0)
    steps = np.where(rng.random(300) < 0.5, rng.uniform(0.005, 0.05, 300), rng.uniform(0.3, 0.9, 300))
    run = make_run(**{"train/loss": list(steps), "train/loss_epoch": [0.45, 0.34, 0.31]})
    assert [f.rule for f in fired(run, "loss_oscillation")] == ["loss_oscillation"]


def test_an_appended_log_is_judged_run_by_run_not_across_its_restarts() -> None:
    """Four runs appended to one file (the epoch column restarts): each falls smoothly, and the jumps back
    to a fresh start are restarts, not swings; a run of them that does swing still oscillates."""
    short = [2.0, 1.2, 0.8, 0.6]  # ten short runs (a phase each), appended: every restart jumps back up
    restarts = [1 + len(short) * k for k in range(1, 10)]
    assert fired(make_run(**{"train/loss_epoch": short * 10}), "loss_oscillation")  # read as one run: it swings
    assert fired(make_run(meta={"restarts": restarts}, **{"train/loss_epoch": short * 10}), "loss_oscillation") == []
    one = list(falling(12, 2.0, 0.4))
    mixed = make_run(meta={"restarts": [13]}, **{"train/loss_epoch": one + list(_bouncing(12))})
    assert [f.rule for f in fired(mixed, "loss_oscillation")] == ["loss_oscillation"]


def _cycling(cycles: int, n: int = 2000, seed: int = 0) -> np.ndarray:
    """A per-step loss that falls 2.0 -> 0.6 in its first tenth, then cycles ``cycles`` times over the run
    between 0.35 and 0.85, with 5% minibatch noise."""
    rng = np.random.default_rng(seed)
    level = 0.6 + 0.25 * np.sin(2 * np.pi * cycles * np.arange(n) / n)
    return np.concatenate([np.linspace(2.0, 0.6, n // 10), level[n // 10:]]) * (1 + rng.normal(0, 0.05, n))


def test_a_short_zigzag_oscillates_and_a_short_steady_fall_does_not() -> None:
    """Seven epochs are enough to show a back-and-forth as large as the fall; six are too few to judge
    (raters call one dip and recovery in six points no sustained swinging)."""
    zigzag = [2.0, 1.0, 1.6, 1.0, 1.6, 1.0, 1.6]
    [f] = fired(make_run(**{"train/loss_epoch": zigzag}), "loss_oscillation")
    assert f.evidence.values["turns"] == 1.0 and f.evidence.values["swing_over_decrease"] == pytest.approx(0.6)
    assert fired(make_run(**{"train/loss_epoch": list(falling(7, 2.0, 0.5))}), "loss_oscillation") == []
    assert fired(make_run(**{"train/loss_epoch": zigzag[:6]}), "loss_oscillation") == []


def test_slow_swings_of_a_per_step_loss_show_at_a_coarser_scale() -> None:
    """Four cycles per run climb or fall for several of 20 bins in a row (few turns there); 10 bin means
    show them turning. Without the extra scales (step_octaves=0) the same curve passes unnoticed."""
    run = make_run(**{"train/loss": _cycling(4)})
    [f] = fired(run, "loss_oscillation")
    assert f.evidence.values["scale"] == "10 bin means"
    assert LossOscillation(step_octaves=0).check(run) == []


def test_fast_swings_of_a_per_step_loss_show_at_a_finer_scale() -> None:
    """Eighteen cycles per run blur within 20 bins of 100 steps; 40 bin means resolve them."""
    run = make_run(**{"train/loss": _cycling(18)})
    [f] = fired(run, "loss_oscillation")
    assert f.evidence.values["scale"] == "40 bin means"
    assert LossOscillation(step_octaves=0).check(run) == []


def test_spiky_minibatch_noise_around_a_clear_fall_is_quiet_at_every_scale() -> None:
    """±10% noise and a batch in fifty spiking 3-8x over a 2.0 -> 0.1 fall: healthy at 10, 20 and 40 bins."""
    rng = np.random.default_rng(7)
    n = 1500
    spikes = np.where(rng.random(n) < 0.02, rng.uniform(3, 8, n), 1.0)
    loss = falling(n, 2.0, 0.1) * (1 + rng.normal(0, 0.1, n)) * spikes
    assert fired(make_run(**{"train/loss": loss}), "loss_oscillation") == []
    assert LossOscillation(step_octaves=2).check(make_run(**{"train/loss": loss})) == []


def test_the_scales_halve_and_double_the_bins_within_what_the_curve_can_fill() -> None:
    rule = LossOscillation()
    assert rule._scales(2000) == [10, 20, 40]
    assert rule._scales(120) == [10, 20, 24]  # 120 points fill at most 24 bins of five
    assert rule._scales(40) == [8]  # 8 bins of five: the three scales collapse into one
    assert rule._scales(25) == []  # five bins are too few for a trend: single steps only
    assert LossOscillation(step_octaves=0)._scales(2000) == [20]


def test_slow_swings_of_a_long_epoch_curve_show_in_its_bin_means() -> None:
    """Three hundred evaluations cycling every thirty: neighbours barely differ as logged, the 20 bin
    means swing; with the coarse scale off the same curve passes unnoticed."""
    i = np.arange(300, dtype=float)
    loss = np.r_[np.linspace(2.3, 1.0, 40), 1.0 + 0.6 * np.sin(2 * np.pi * i[40:] / 30)]
    run = make_run(**{"train/loss_epoch": loss})
    [f] = fired(run, "loss_oscillation")
    assert f.evidence.values["scale"] == "20 bin means"
    assert LossOscillation(coarse_points=0).check(run) == []


def test_a_long_noisy_epoch_curve_whose_bin_means_fall_steadily_is_not_oscillation() -> None:
    """Single evaluations jump by a quarter of the decrease (+-20 %), but the plot's trend falls
    throughout: the bin means' Mann-Kendall/Theil-Sen trend vetoes them. Without the trend test, or
    without the coarse scale, the same curve fires."""
    rng = np.random.default_rng(8)
    run = make_run(**{"train/loss_epoch": np.linspace(2.0, 0.5, 400) * (1 + rng.normal(0, 0.2, 400))})
    assert fired(run, "loss_oscillation") == []
    assert LossOscillation(trend_swings=1e9).check(run) != []
    assert LossOscillation(coarse_points=0).check(run) != []


def test_the_unsteadiness_carries_the_trend_test() -> None:
    i = np.arange(40, dtype=float)
    u = unsteadiness(2.0 - 0.03 * i + 0.01 * np.where(i % 2, 1.0, -1.0), 0.33)
    assert u.trend_p < 0.01 and u.trend_move > 6 * u.swing
    flat = unsteadiness(1.0 + 0.2 * np.where(i % 2, 1.0, -1.0), 0.33)
    assert flat.trend_p > 0.5 and flat.trend_move < flat.swing


def test_single_sample_losses_on_a_plateau_are_noise_not_oscillation():
    """Batch size 1: each step's loss is one sample's, scattered +-30 % around a level the run reached after
    a clear early fall. Its bin means move by what that noise makes them move: no oscillation. Swings of
    the same size that persist over whole bins (the level itself going up and down) are."""
    rng = np.random.default_rng(3)
    n = 128
    loss = np.concatenate([[1.04, 0.73, 0.62], 0.6 + rng.normal(0, 0.12, n - 3)])
    assert fired(make_run(**{"train/loss": np.abs(loss)}), "loss_oscillation") == []
    level = np.repeat(0.6 + 0.25 * np.tile([1.0, -1.0], 10), 7)[:n - 3]
    swinging = np.concatenate([[1.04, 0.73, 0.62], level + rng.normal(0, 0.02, n - 3)])
    assert fired(make_run(**{"train/loss": swinging}), "loss_oscillation")


def test_a_discriminator_churning_beside_a_steadily_falling_loss_is_the_game_not_oscillation():
    """A GAN with no total: the reconstruction loss falls steadily while the discriminator's loss sits near zero
    with spikes, and the generator's adversarial loss swings with no trend. Their churn is the two players'
    balance. The same wild churn on a term that is not adversarial (an auxiliary loss) is still found."""
    rng = np.random.default_rng(23)
    n = 150
    recon = np.linspace(0.15, 0.05, n) * (1 + rng.normal(0, 0.03, n))
    spiky = np.abs(rng.normal(0.005, 0.004, n))
    spiky[rng.choice(n, 25, replace=False)] = rng.uniform(0.3, 1.5, 25)
    gen = np.abs(8 + rng.normal(0, 3, n))
    quiet = fired(make_run(**{"EG_L1_loss": recon, "D_loss": spiky, "G_img_loss": gen}), "loss_oscillation")
    assert quiet == []
    assert fired(make_run(**{"EG_L1_loss": recon, "aux_loss": spiky}), "loss_oscillation") != []
