"""The generated population's oscillation label (bench/pop_confirm.oscillation), judged intent-free
from the numbers as the corpus guide reads it, and its re-labelled index (bench/pop_osc.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")  # bench.pop_confirm reads the model families' constants

from bench.calibrate import population_items  # noqa: E402
from bench.pop_confirm import judge, osc_label, oscillation  # noqa: E402
from bench.pop_osc import relabel  # noqa: E402

RNG = np.random.default_rng(17)
T = np.linspace(0, 1, 60)
FALLING = 2.3 * np.exp(-4 * T) + 0.2


def test_noise_around_a_clear_fall_is_not_oscillation():
    noisy = FALLING + RNG.normal(0, 0.02, len(T))
    assert oscillation(noisy) is False


def test_a_loss_swinging_without_trend_is_oscillation():
    swinging = np.r_[FALLING[:10], 0.9 + 0.4 * np.where(np.arange(50) % 2, 1.0, -1.0) * RNG.uniform(0.5, 1, 50)]
    assert oscillation(swinging) is True


def test_slow_swings_of_a_long_curve_show_in_its_bin_means():
    i = np.arange(300, dtype=float)
    slow = np.r_[np.linspace(2.3, 1.0, 40), 1.0 + 0.6 * np.sin(2 * np.pi * i[40:] / 30)]  # ten points a bin
    assert oscillation(slow) is True


def test_small_wiggles_of_a_flat_loss_and_short_runs_are_not():
    flat = 1.0 + 0.01 * np.where(np.arange(60) % 2, 1.0, -1.0)
    assert oscillation(flat) is False
    assert oscillation(np.array([2.0, 0.5, 1.8, 0.4, 1.9])) is False  # five points are too few


def test_borderline_swings_are_left_unlabelled():
    # changes a sixth of the decrease, a tenth of the loss's size: neither clearly noise nor clearly swings
    mid = np.r_[np.linspace(2.0, 0.8, 20), 0.8 + 0.08 * np.where(np.arange(40) % 2, 1.0, -1.0)]
    assert oscillation(mid) is None


def test_a_diverged_run_is_no_clear_oscillation():
    blown = np.r_[FALLING[:20], np.where(np.arange(40) % 2, 1e5, 0.5)]
    assert oscillation(blown) is True  # the numbers swing ...
    assert osc_label(blown, divergent=True) is None  # ... but the blow-up is the finding
    assert osc_label(FALLING, divergent=True) is False


def test_the_label_ignores_intent():
    swinging = list(np.r_[FALLING[:10], 0.9 + 0.4 * np.where(np.arange(50) % 2, 1.0, -1.0)])
    val = [x + 0.05 for x in FALLING]
    built_healthy = judge("mlp", None, False, swinging, list(val))
    assert built_healthy.labels["oscillation"] is True and not built_healthy.labels["healthy"]
    steady = judge("mlp", "oscillation", False, list(FALLING), list(val))
    assert steady.labels["healthy"] and steady.dropped is None
    assert steady.notes == ["relabelled oscillation -> healthy"]


def _entry(labels: dict[str, object], family: str = "mlp") -> dict[str, object]:
    base = dict.fromkeys(("overfitting", "underfitting", "oscillation", "negative_loss",
                          "val_better_than_train", "divergence", "healthy"), False)
    return {"id": "g1", "split": "calib", "family": family, "paths": ["runs/g1/a.csv"], "labels": {**base, **labels}}


def test_relabel_changes_only_oscillation_and_healthy():
    val = list(FALLING + 0.05)
    rec = {"spec": {"softmax_nll": False}, "curves": {"train": list(FALLING), "val": val, "steps": []}}
    was_osc = relabel(_entry({"oscillation": True}), rec)
    assert was_osc["labels"]["oscillation"] is False and was_osc["labels"]["healthy"] is True
    with_other = relabel(_entry({"oscillation": True, "overfitting": True}), rec)
    assert with_other["labels"] == {**_entry({"overfitting": True})["labels"]}
    swinging = list(np.r_[FALLING[:10], 0.9 + 0.4 * np.where(np.arange(50) % 2, 1.0, -1.0)])
    was_healthy = relabel(_entry({"healthy": True}), {**rec, "curves": {**rec["curves"], "train": swinging}})
    assert was_healthy["labels"]["oscillation"] is True and was_healthy["labels"]["healthy"] is False


def test_calibrate_reads_another_index_of_the_same_runs(tmp_path: Path):
    (tmp_path / "index.jsonl").write_text(json.dumps(_entry({"healthy": True})) + "\n")
    other = tmp_path / "index.osc.jsonl"
    other.write_text(json.dumps(_entry({"oscillation": None})) + "\n")
    assert population_items(tmp_path)[0].healthy
    item = population_items(tmp_path, other)[0]
    assert item.labels["oscillation"] is None and not item.healthy
    assert item.paths == [tmp_path / "runs/g1/a.csv"]
