"""Diagnostics on REAL small training runs: each preset's pathology fires, its fixed twin stays quiet."""

from __future__ import annotations

import pytest
import torch

from diagnostics import RunData, compare, diagnose
from runner.config import coerce
from runner.execute import execute
from runner.presets import PRESETS
from runner.store import Store
from traindoc.handoff import load_run

pytestmark = pytest.mark.slow  # see CONTRIBUTING.md: left out of the fast loop

# tiny MLPs: one thread trains them fastest, and leaves the other core to the rest of the suite
torch.set_num_threads(1)

PATHOLOGIES = [(name, rule) for name, p in PRESETS.items() for rule in p.shows]
TWINS = [(p.twin, rule) for p in PRESETS.values() if p.twin for rule in p.shows]
# our own scenarios, for rules no preset shows (same overrides as bench/accuracy.py)
SCENARIOS = {
    "lr_low_adam": ("healthy", {"optim.lr": 1e-5}),
    "warmup_missing": ("healthy", {"optim.lr": 0.1, "train.epochs": 15, "model.activation": "leaky_relu"}),
    "warmup_present": (
        "healthy",
        {
            "optim.lr": 0.1,
            "train.epochs": 15,
            "model.activation": "leaky_relu",
            "sched.name": "warmup",
            "sched.warmup_steps": 60,
        },
    ),
    "eps_sweep_1e-1": ("adam_eps_large", {"optim.eps": 0.1}),
    "eps_sweep_1e-4": ("adam_eps_large", {"optim.eps": 1e-4}),
    "eps_sweep_1e-8": ("adam_eps_large", {"optim.eps": 1e-8}),
}


@pytest.fixture(scope="session")
def diagnosed(preset_runs) -> dict[str, tuple[RunData, list]]:
    store, ids = preset_runs
    out = {}
    for name, run_id in ids.items():
        run = load_run(store, run_id)
        out[name] = (run, diagnose(run))
    return out


@pytest.fixture(scope="session")
def scenarios(tmp_path_factory) -> dict[str, tuple[RunData, list]]:
    store = Store(tmp_path_factory.mktemp("diag_scenarios") / "scenarios.db")
    out = {}
    for name, (base, overrides) in SCENARIOS.items():
        run_id = store.create_run(name, PRESETS[base].config(overrides).to_flat())
        assert execute(store, run_id) == "finished"
        run = load_run(store, run_id)
        out[name] = (run, diagnose(run))
    return out


def rules_of(findings) -> set[str]:
    return {f.rule for f in findings}


@pytest.mark.parametrize(("preset", "rule"), PATHOLOGIES, ids=[f"{p}-{r}" for p, r in PATHOLOGIES])
def test_pathology_fires(diagnosed, preset, rule):
    assert rule in rules_of(diagnosed[preset][1])


@pytest.mark.parametrize(("twin", "rule"), TWINS, ids=[f"{t}-{r}" for t, r in TWINS])
def test_fixed_twin_is_quiet(diagnosed, twin, rule):
    assert rule not in rules_of(diagnosed[twin][1])


def test_healthy_run_has_no_warning(diagnosed):
    assert [f.rule for f in diagnosed["healthy"][1] if f.severity != "info"] == []


def test_overfitting_reports_the_best_epoch(diagnosed):
    run, findings = diagnosed["overfitting"]
    [f] = [f for f in findings if f.rule == "overfitting"]
    best = f.evidence.values["best_epoch"]
    assert 1 <= best < 0.5 * run.config["train.epochs"]
    assert f"epoch {round(best, 1):g}" in f.summary
    assert f.evidence.values["final_value"] > f.evidence.values["best_value"]


def test_softmax_nll_names_the_cause_and_the_fix(diagnosed):
    [f] = [f for f in diagnosed["softmax_nll"][1] if f.rule == "negative_loss"]
    assert f.severity == "critical" and "Softmax" in f.title
    assert f.fixes[0].config_patch == {"model.head": "log_softmax"}


def test_unshuffled_split_ranks_the_split_first(diagnosed):
    [f] = [f for f in diagnosed["unshuffled_split"][1] if f.rule == "val_above_train"]
    assert f.fixes[0].config_patch == {"data.shuffle_split": True}


def test_every_config_patch_is_valid_for_the_runner(diagnosed, scenarios):
    findings = [f for _, fs in [*diagnosed.values(), *scenarios.values()] for f in fs]
    patches = [fix.config_patch for f in findings for fix in f.fixes if fix.config_patch]
    assert len(patches) >= 10
    for patch in patches:
        for key, value in patch.items():
            assert coerce(key, value) == value


def test_lr_too_low_scenario(scenarios):
    rules = rules_of(scenarios["lr_low_adam"][1])
    # the loss barely fell: underfitting by its numbers, and lr_too_low beside it names the cause
    assert {"lr_too_low", "underfitting"} <= rules


def test_missing_warmup_scenario_and_its_fix(scenarios):
    assert "missing_warmup" in rules_of(scenarios["warmup_missing"][1])
    assert "missing_warmup" not in rules_of(scenarios["warmup_present"][1])


def test_epsilon_sweep_comparison_names_the_best_eps(scenarios):
    runs = [scenarios[n][0] for n in SCENARIOS if n.startswith("eps_sweep")]
    [f] = [f for f in compare(runs) if f.rule == "epsilon_sensitivity"]
    assert f.severity == "warning"
    assert f.evidence.values["best_value"] in (1e-4, 1e-8)
    assert f.evidence.values["worst_value"] == 0.1
    assert f.fixes[0].config_patch == {"optim.eps": f.evidence.values["best_value"]}


def test_runs_differing_in_two_keys_are_not_a_sweep(scenarios):
    runs = [scenarios["lr_low_adam"][0], scenarios["eps_sweep_1e-1"][0]]
    assert compare(runs) == []
