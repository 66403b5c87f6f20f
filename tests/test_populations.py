"""The kinds of runs issue 17 says traindoc was silent on, each written to a file the way its writer writes
it (Keras CSVLogger, Lightning metrics.csv, HF trainer_state.json, Ultralytics results.csv, a JSON history
of lists, console text) and diagnosed through the CLI's own reading path: reader and rule together.

Seeded curves, a few points each: milliseconds per file.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from diagnostics.cli import load_all
from diagnostics.engine import diagnose

FIRING = ("warning", "critical")


def findings(path: Path) -> dict[str, str]:
    """rule id → the most severe severity it reported on the file (info included)."""
    out: dict[str, str] = {}
    order = {"info": 0, "warning": 1, "critical": 2}
    for run in load_all([str(path)], None, []):
        for f in diagnose(run):
            if order[f.severity] >= order.get(out.get(f.rule, "info"), 0):
                out[f.rule] = f.severity
    return out


def falling(n: int, start: float, end: float, rng: np.random.Generator, noise: float = 0.01) -> np.ndarray:
    return start * (end / start) ** (np.arange(n) / (n - 1)) * (1 + rng.normal(0, noise, n))


def u_val(n: int, best: int, low: float, end_rise: float, rng: np.random.Generator, noise: float) -> np.ndarray:
    """A val loss down to ``low`` at ``best``, then up in a line to ``end_rise`` above it, with noise."""
    i = np.arange(n, dtype=float)
    fall = low + (2.0 - low) * np.exp(-i / max(best / 3, 1))
    after = low * (1 + end_rise * (i - best) / max(n - 1 - best, 1))
    return np.where(i <= best, fall, after) * (1 + rng.normal(0, noise, n))


def keras_csv(path: Path, cols: dict[str, np.ndarray | list]) -> Path:
    """Keras CSVLogger: an ``epoch`` column from 0, then the metrics in its order."""
    n = len(next(iter(cols.values())))
    lines = ["epoch," + ",".join(cols)]
    lines += [f"{e}," + ",".join(str(cols[k][e]) for k in cols) for e in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path


def lightning_csv(folder: Path, train: np.ndarray, val: list | np.ndarray, every: int = 50) -> Path:
    """Lightning's CSVLogger: step rows, then the validation row and the epoch-mean row of each epoch."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["epoch,step,train_loss_epoch,train_loss_step,val_loss"]
    for e in range(len(train)):
        s = (e + 1) * every - 1
        lines += [f"{e},{s - 10},,{train[e] * 1.02:.6f},", f"{e},{s},,,{val[e]}", f"{e},{s},{train[e]:.6f},,"]
    (folder / "metrics.csv").write_text("\n".join(lines) + "\n")
    return folder / "metrics.csv"


def hf_state(folder: Path, train: np.ndarray, val: np.ndarray, every: int = 10, eval_every: int = 100) -> Path:
    """HF Trainer's trainer_state.json: logging rows every ``every`` steps, eval rows every ``eval_every``."""
    folder.mkdir(parents=True, exist_ok=True)
    hist = [{"epoch": (i + 1) * every / 100, "grad_norm": 1.0, "learning_rate": 5e-5, "loss": round(float(v), 4),
             "step": (i + 1) * every} for i, v in enumerate(train)]
    hist += [{"epoch": (i + 1) * eval_every / 100, "eval_loss": float(v), "eval_runtime": 1.2,
              "step": (i + 1) * eval_every} for i, v in enumerate(val)]
    hist.sort(key=lambda r: (r["step"], "eval_loss" in r))
    state = {"epoch": hist[-1]["epoch"], "global_step": hist[-1]["step"], "log_history": hist, "logging_steps": every}
    (folder / "trainer_state.json").write_text(json.dumps(state, indent=2))
    return folder / "trainer_state.json"


@pytest.mark.parametrize("n", [10, 15, 25])
@pytest.mark.parametrize("writer", ["keras", "lightning", "hf"])
def test_short_noisy_overfitting_in_every_writer(tmp_path, n, writer):
    """7-25 evaluations, the val loss ends 30 % above its best with swings, the training loss keeps falling."""
    rng = np.random.default_rng(17 + n)
    val, train = u_val(n, max(2, n // 3), 0.6, 0.3, rng, 0.05), falling(n, 1.8, 0.2, rng)
    if writer == "keras":
        path = keras_csv(tmp_path / "history.csv", {"loss": train, "val_loss": val})
    elif writer == "lightning":
        path = lightning_csv(tmp_path / "version_0", train, val)
    else:
        path = hf_state(tmp_path / "checkpoint", falling(10 * n, 1.8, 0.2, rng, 0.05), val)
    assert findings(path).get("overfitting") == "warning"


def test_a_detector_whose_val_box_loss_rises_while_every_train_loss_falls(tmp_path):
    """Ultralytics results.csv (padded columns), 100 epochs: val/box_loss +15 % from epoch 25 on."""
    rng, n = np.random.default_rng(100), 100
    e = np.arange(1, n + 1)
    cols = {"train/box_loss": falling(n, 1.6, 0.7, rng), "train/cls_loss": falling(n, 3.0, 0.6, rng),
            "train/dfl_loss": falling(n, 1.5, 1.0, rng, 0.005),
            "metrics/mAP50(B)": 0.3 + 0.4 * (1 - np.exp(-e / 20)),
            "val/box_loss": np.where(e <= 25, 1.5 - 0.3 * e / 25, 1.2 * (1 + 0.15 * (e - 25) / 75))
            * (1 + rng.normal(0, 0.01, n)),
            "val/cls_loss": np.where(e <= 25, 2.5 - 1.2 * e / 25, 1.3) * (1 + rng.normal(0, 0.01, n)),
            "val/dfl_loss": np.where(e <= 25, 1.45 - 0.2 * e / 25, 1.25) * (1 + rng.normal(0, 0.005, n))}
    folder = tmp_path / "train"
    folder.mkdir()
    rows = [",".join(f"{c:>20}" for c in ["epoch", *cols])]
    rows += [",".join(f"{v:>20}" for v in [str(i + 1), *(f"{cols[c][i]:.5g}" for c in cols)]) for i in range(n)]
    (folder / "results.csv").write_text("\n".join(rows) + "\n")
    assert findings(folder / "results.csv").get("overfitting") == "warning"


@pytest.mark.parametrize(("k", "n"), [(10, 20), (2, 15), (10, 8)])
def test_val_accuracy_at_chance_while_train_accuracy_climbs(tmp_path, k, n):
    rng = np.random.default_rng(200 + k + n)
    acc = np.clip(1 / k + (0.98 - 1 / k) * (1 - np.exp(-np.arange(n) / (n / 4))) + rng.normal(0, 0.01, n), 0, 1)
    cols = {"accuracy": acc, "loss": falling(n, math.log(k), 0.1, rng), "val_accuracy": 1 / k + rng.normal(0, 0.012, n)}
    assert findings(keras_csv(tmp_path / "log.csv", cols)).get("overfitting") == "warning"
    cols["val_loss"] = math.log(k) * (1 + rng.normal(0, 0.01, n))  # a val loss flat at ln K beside it
    assert findings(keras_csv(tmp_path / "log.csv", cols)).get("overfitting") == "warning"


@pytest.mark.parametrize("keys", [("train_losses", "val_losses", "train_accuracies", "val_accuracies"),
                                  ("train_losses", "val_losses", "train_accs", "val_accs")])
def test_a_json_history_of_plural_lists_keeps_its_losses_and_shows_the_overfitting(tmp_path, keys):
    rng, n = np.random.default_rng(300), 30
    val, train = u_val(n, 10, 0.5, 0.5, rng, 0.03), falling(n, 1.5, 0.05, rng)
    doc = {keys[0]: train.round(4).tolist(), keys[1]: val.round(4).tolist(),
           keys[2]: (100 * (1 - train / 2)).round(2).tolist(), keys[3]: (100 * (0.9 - val / 4)).round(2).tolist()}
    path = tmp_path / "history.json"
    path.write_text(json.dumps(doc))
    [run] = load_all([str(path)], None, [])
    assert {"val/loss", "val/acc", "train/acc"} <= set(run.names) and any("loss" in m and "train" in m
                                                                         for m in run.names)
    assert findings(path).get("overfitting") == "warning"


def test_per_step_spikes_of_many_orders_of_magnitude_under_merely_high_epoch_means(tmp_path):
    """A step loss near 130 that jumps to 1e9-1e14 on a third of the logged steps (Lightning metrics.csv)."""
    rng = np.random.default_rng(400)
    lines = ["epoch,step,train_loss_step,train_loss_epoch,val_loss"]
    for e in range(10):
        values = [10 ** rng.uniform(9, 14) if rng.random() < 1 / 3 else 130 * (1 + rng.normal(0, 0.05))
                  for _ in range(50)]
        lines += [f"{e},{e * 50 + s},{v:.6g},," for s, v in enumerate(values) if s % 5 == 4]
        lines += [f"{e},{e * 50 + 49},,,{120 * (1 + rng.normal(0, 0.02)):.4f}",
                  f"{e},{e * 50 + 49},,{np.mean(values):.6g},"]
    folder = tmp_path / "version_0"
    folder.mkdir()
    (folder / "metrics.csv").write_text("\n".join(lines) + "\n")
    found = findings(folder / "metrics.csv")
    assert found.get("loss_spikes") in FIRING and found.get("divergence") in FIRING


@pytest.mark.parametrize("first", [["inf", "nan"], ["nan"]])
def test_non_finite_val_losses_in_the_first_epochs_are_reported(tmp_path, first):
    rng, n = np.random.default_rng(500), 20
    train = falling(n, 2.0, 0.3, rng)
    val = list(first) + [f"{x:.4f}" for x in falling(n - len(first), 1.5, 0.35, rng)]
    path = keras_csv(tmp_path / "log.csv", {"loss": train.round(4), "val_loss": val})
    assert findings(path).get("divergence") in FIRING
    [run] = load_all([str(path)], None, [])
    [f] = [f for f in diagnose(run) if f.rule == "divergence"]
    assert (f.evidence.metric, f.evidence.values["first_bad_step"]) == ("val/loss", 0)  # the first epoch


@pytest.mark.parametrize(("n", "drop"), [(50, 0.03), (20, 0.05), (200, 0.08)])
def test_a_loss_falling_a_few_percent_in_a_straight_line_is_underfitting(tmp_path, n, drop):
    rng = np.random.default_rng(600 + n)
    train = 2.2 * (1 - drop * np.arange(n) / (n - 1)) * (1 + rng.normal(0, 0.003, n))
    path = keras_csv(tmp_path / "log.csv", {"loss": train, "val_loss": train * 1.01})
    assert findings(path).get("underfitting") == "warning"


@pytest.mark.parametrize("k", [2, 10, 100])
def test_a_loss_sitting_at_chance_is_underfitting(tmp_path, k):
    rng, n = np.random.default_rng(700 + k), 30
    loss = math.log(k) * (1 + rng.normal(0, 0.005, n))
    acc = np.clip(1 / k + rng.normal(0, 0.003, n), 0, 1)
    path = keras_csv(tmp_path / "log.csv", {"accuracy": acc, "loss": loss, "val_accuracy": acc, "val_loss": loss})
    assert findings(path).get("underfitting") == "warning"


def test_a_nan_that_ends_a_run_that_never_learned_leaves_it_underfitting(tmp_path):
    rng, n = np.random.default_rng(800), 15
    loss = [f"{x:.4f}" for x in 2.3 * (1 + rng.normal(0, 0.01, n - 3))] + ["15.0", "10000.0", "nan"]
    found = findings(keras_csv(tmp_path / "log.csv", {"loss": loss}))
    assert found.get("underfitting") == "warning" and found.get("divergence") == "critical"


def _overfit_curves(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng, n = np.random.default_rng(seed), 30
    return falling(n, 1.5, 0.1, rng), u_val(n, 10, 0.5, 0.4, rng, 0.02)


def test_a_lightning_console_log_with_rank_prefixes(tmp_path):
    train, val = _overfit_curves(900)
    lines = ["[rank: 0] Seed set to 42", "GPU available: True (cuda), used: True",
             "[rank: 0] LOCAL_RANK: 0 - CUDA_VISIBLE_DEVICES: [0,1]"]
    for e, (t, v) in enumerate(zip(train, val, strict=True)):
        lines.append(f"[rank: 0] Epoch {e}: 100%|██████████| 200/200 [00:12<00:00, 16.2it/s, v_num=3, "
                     f"train_loss_step={t * 1.05:.3f}, val_loss={v:.3f}, train_loss_epoch={t:.3f}]")
    path = tmp_path / "train.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert findings(path).get("overfitting") == "warning"


def test_epoch_slash_total_console_lines(tmp_path):
    train, val = _overfit_curves(901)
    lines = ["Using device: cuda"] + [
        f"Epoch {e + 1}/200, Train Loss: {t:.4f}, Train Acc: {100 * (1 - t / 2):.2f}%, Val Loss: {v:.4f}, "
        f"Val Acc: {100 * (0.9 - v / 4):.2f}%" for e, (t, v) in enumerate(zip(train, val, strict=True))]
    path = tmp_path / "output.txt"
    path.write_text("\n".join(lines) + "\n")
    [run] = load_all([str(path)], None, [])
    assert {"val/loss", "val/acc", "train/acc"} <= set(run.names)
    assert findings(path).get("overfitting") == "warning"


@pytest.mark.parametrize("group", ["by_split", "by_metric"])
def test_a_json_history_grouped_by_split_or_by_metric_keeps_its_losses(tmp_path, group):
    """``{"train": {"loss": [...]}, "val": {...}}`` and ``{"loss": {"train": [...], "val": [...]}}``: hand-written
    PyTorch histories one level deeper; a nested mapping that is not all curves stays a setting."""
    train, val = _overfit_curves(902)
    t, v = train.round(4).tolist(), val.round(4).tolist()
    acc_t, acc_v = (1 - train / 2).round(3).tolist(), (0.9 - val / 4).round(3).tolist()
    doc = ({"train": {"loss": t, "acc": acc_t}, "val": {"loss": v, "acc": acc_v}} if group == "by_split"
           else {"loss": {"train": t, "val": v}, "acc": {"train": acc_t, "val": acc_v}})
    doc |= {"epochs": list(range(1, len(t) + 1)), "config": {"lr": 0.001, "model": "resnet18"}}
    path = tmp_path / "history.json"
    path.write_text(json.dumps(doc))
    [run] = load_all([str(path)], None, [])
    assert set(run.names) == {"train/loss_epoch", "val/loss", "train/acc", "val/acc"}
    assert run.get("val/loss").steps[0] == 1  # the epochs list is the x-axis, not a curve
    assert findings(path).get("overfitting") == "warning"


def test_the_hf_trainers_printed_dicts_are_console_text_not_json(tmp_path):
    """``{'loss': 0.52, 'learning_rate': 5e-05, 'epoch': 1.0}`` lines (the Trainer's stdout): a Python dict's
    single quotes are no JSON; the keys are read as ``loss: 0.52``."""
    train, val = _overfit_curves(903)
    lines = []
    for e, (t, v) in enumerate(zip(train, val, strict=True), 1):
        lines += [f"{{'loss': {t:.4f}, 'grad_norm': 1.2, 'learning_rate': 5e-05, 'epoch': {e}.0}}",
                  f"{{'eval_loss': {v:.4f}, 'eval_runtime': 1.5, 'epoch': {e}.0}}"]
    path = tmp_path / "output.log"
    path.write_text("\n".join(lines) + "\n")
    [run] = load_all([str(path)], None, [])
    assert {"val/loss", "lr"} <= set(run.names) and any(n.startswith("train/loss") for n in run.names)
    assert findings(path).get("overfitting") == "warning"


def test_pipe_separated_name_number_fields(tmp_path):
    """``epoch   3 | loss 0.4123 | val_loss 0.5230 | time 12.3s``: no ``:`` or ``=`` between name and number."""
    train, val = _overfit_curves(904)
    lines = [f"epoch {e:3d} | loss {t:.4f} | val_loss {v:.4f} | time 12.3s"
             for e, (t, v) in enumerate(zip(train, val, strict=True), 1)]
    path = tmp_path / "train.log"
    path.write_text("\n".join(["| a table of settings |", *lines]) + "\n")
    [run] = load_all([str(path)], None, [])
    assert {"train/loss_epoch", "val/loss"} <= set(run.names)
    assert run.get("val/loss").steps[0] == 1
    assert findings(path).get("overfitting") == "warning"


def test_summary_lines_between_tqdm_bars_keep_the_validation_values(tmp_path):
    """Bars whose postfix holds only the training loss, and one ``Epoch N: ... val_loss=...`` line per epoch."""
    train, val = _overfit_curves(905)
    lines = []
    for e, (t, v) in enumerate(zip(train, val, strict=True)):
        lines += [f"Epoch {e}: 100%|██████████| 391/391 [00:20<00:00, 19.1it/s, loss={t:.3f}]",
                  f"Epoch {e}: train_loss={t:.4f} val_loss={v:.4f} val_acc={0.9 - v / 4:.4f}"]
    path = tmp_path / "train.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    [run] = load_all([str(path)], None, [])
    assert {"val/loss", "val/acc"} <= set(run.names)
    assert run.get("val/loss").steps[0] == 391  # at the step its bar reached
    assert findings(path).get("overfitting") == "warning"
