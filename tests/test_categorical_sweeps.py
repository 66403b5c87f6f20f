"""Categorical sweeps on REAL runs: an optimizer sweep and an activation sweep each get a comparison
finding that names the key, and the compare page draws their choices as points, not a line."""

from __future__ import annotations

import pytest
import torch

from diagnostics import compare
from diagnostics.sweep_figures import sensitivity_figure
from diagnostics.sweeps import summary_table
from runner.execute import execute
from runner.presets import PRESETS
from runner.store import Store
from traindoc.handoff import load_run

pytestmark = pytest.mark.slow  # trains eight tiny MLPs (seconds each)

SHORT = {"train.epochs": 8}


def _sweep(tmp_path, key: str, values: tuple[str, ...], extra: dict) -> list:
    torch.set_num_threads(1)
    store = Store(tmp_path / f"{key}.db")
    runs = []
    for value in values:
        for seed in (0, 1):
            config = PRESETS["healthy"].config({**SHORT, **extra, key: value, "train.seed": seed}).to_flat()
            run_id = store.create_run(f"{key}={value} seed {seed}", config)
            assert execute(store, run_id) == "finished"
            runs.append(load_run(store, run_id))
    return runs


@pytest.mark.parametrize(("key", "values", "extra", "rule"), [
    ("optim.name", ("sgd", "adam"), {"optim.lr": 0.003}, "optimizer_sensitivity"),
    ("model.activation", ("sigmoid", "relu"), {"model.depth": 6}, "activation_sensitivity"),
])
def test_a_categorical_sweep_names_its_key_and_draws_choices(tmp_path, key, values, extra, rule) -> None:
    runs = _sweep(tmp_path, key, values, extra)
    found = [f for f in compare(runs) if f.rule == rule]
    assert len(found) == 1, [f.rule for f in compare(runs)]
    finding = found[0]
    assert key in finding.title and finding.evidence.values["categorical"]
    assert {finding.evidence.values["best_value"], finding.evidence.values["worst_value"]} == set(values)
    table = summary_table(runs)
    metric = f"{finding.evidence.values['metric']} best"
    mean = sensitivity_figure(table, key, metric).data[1]
    assert mean.mode == "markers" and set(mean.x) == set(values)
