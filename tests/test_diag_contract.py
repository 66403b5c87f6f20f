"""Every registered rule: degenerate inputs say nothing and never crash; ids match RULES.md."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest

from diagnostics.base import COMPARISONS, REGISTRY, Rule, all_rules
from diagnostics.catalog import SECTIONS, entries, markdown_table, parse_sections
from diagnostics.engine import diagnose
from diagnostics.findings import Finding
from diagnostics.rundata import RunData
from tests.diag_curves import make_run

RULES_MD = Path(__file__).resolve().parents[2] / "shared" / "design" / "RULES.md"
README = Path(__file__).resolve().parents[1] / "README.md"
METRICS = (
    "train/loss",
    "train/loss_epoch",
    "train/loss_eval",
    "val/loss",
    "train/acc",
    "val/acc",
    "train/auc",
    "val/auc",
    "lr",
    "grad_norm",
    "grad_norm/layer0",
    "grad_norm/layer1",
    "grad_norm/layer2",
    "dead_frac/layer0",
    "dead_frac/layer1",
    "adam/eps_dominance",
)
CONFIG = {"optim.name": "adam", "optim.lr": 1e-3, "optim.eps": 1e-8, "loss.name": "cross_entropy"}


def _all(values: list[float]) -> RunData:
    return make_run(config=CONFIG, **{m: values for m in METRICS})


DEGENERATE = {
    "empty": _all([]),
    "length-1": _all([0.5]),
    "all-NaN": _all([float("nan")] * 50),
    "constant": _all([0.5] * 200),
    "constant-zero": _all([0.0] * 200),
    "no-metrics": make_run(),
}


# The ids of the catalog in the design's RULES.md: stable, user-facing, never renamed.
CATALOG_IDS = {
    "overfitting", "underfitting", "loss_oscillation", "negative_loss", "val_above_train", "epsilon_sensitivity",
    "divergence", "vanishing_gradients", "exploding_gradients", "dead_relu", "lr_too_high", "lr_too_low",
    "plateau", "missing_warmup", "early_stop_point", "loss_spikes", "slowdown", "memory_growth", "rank_straggler",
}
# Rules added after the design's catalog was written (it is read-only here): issue 17's loss_spikes,
# issue 19's system rules.
BEYOND_DESIGN = {"loss_spikes", "slowdown", "memory_growth", "rank_straggler"}


def test_registered_ids_are_exactly_the_catalog_ids():
    assert set(REGISTRY) == CATALOG_IDS
    if RULES_MD.exists():  # beside a checkout of the design: the document says the same
        text = RULES_MD.read_text().split("## Cross-run comparisons")[0]
        documented = {i for line in text.splitlines() if line.startswith("| `")
                      for i in re.findall(r"`([a-z_]+)`", line.split("|")[1])}
        assert documented == CATALOG_IDS - BEYOND_DESIGN


@pytest.mark.parametrize("case", list(DEGENERATE), ids=list(DEGENERATE))
@pytest.mark.parametrize("rule_id", sorted(REGISTRY))
def test_degenerate_input_gives_no_finding(rule_id: str, case: str):
    rule = REGISTRY[rule_id]()
    run = DEGENERATE[case]
    assert (rule.check(run) if rule.applies(run) else []) == []


@pytest.mark.parametrize("rule_id", sorted(REGISTRY))
def test_same_input_same_output(rule_id: str):
    rng = np.random.default_rng(7)
    noisy = list(1.0 / np.arange(1, 301) + rng.normal(0, 0.05, 300))
    run = make_run(config=CONFIG, **{m: noisy for m in METRICS})
    rule = REGISTRY[rule_id]()
    first = rule.check(run) if rule.applies(run) else []
    assert first == (rule.check(run) if rule.applies(run) else [])


@pytest.mark.parametrize("rule_id", sorted(REGISTRY))
def test_docstring_has_every_catalog_section(rule_id: str):
    sections = parse_sections(REGISTRY[rule_id].__doc__)
    assert all(sections.values())
    for field in dataclasses.fields(REGISTRY[rule_id]):
        assert f"{field.name}:" in sections["parameters"], f"{rule_id}: {field.name} undocumented"


def test_catalog_lists_every_rule_and_the_sweep_comparisons():
    listed = {e["id"]: e for e in entries()}
    assert set(REGISTRY) <= set(listed)
    sweeps = {"lr_sensitivity", "weight_decay_sensitivity", "batch_size_sensitivity", "dropout_sensitivity",
              "depth_sensitivity", "optimizer_sensitivity", "activation_sensitivity", "schedule_sensitivity",
              "loss_sensitivity", "hyperparameter_importance"}
    assert sweeps | {"epsilon_sensitivity"} == set(COMPARISONS)
    assert set(listed) == set(REGISTRY) | sweeps
    assert all(e[k] for e in listed.values() for k in ("what", "why", "fix", "parameters", "references"))
    assert len(SECTIONS) == 5


def test_parameters_are_overridable_by_rule_id():
    rules = {r.id: r for r in all_rules({"overfitting": {"min_rise": 0.5}})}
    assert rules["overfitting"].min_rise == 0.5
    assert rules["underfitting"] == REGISTRY["underfitting"]()


class _Broken(Rule):
    id = "broken_for_test"
    title = "Broken"

    def check(self, run: RunData) -> list[Finding]:
        raise ZeroDivisionError("boom")


def test_a_crashing_rule_becomes_an_info_finding():
    findings = diagnose(make_run(**{"train/loss": [1.0, 0.5]}), rules=[_Broken()])
    assert [(f.rule, f.severity) for f in findings] == [("broken_for_test", "info")]
    assert "ZeroDivisionError: boom" in findings[0].summary


def test_rules_whose_metrics_are_absent_are_skipped():
    run = make_run(**{"val/loss": list(np.linspace(1, 0.2, 30))})
    assert not REGISTRY["loss_oscillation"]().applies(run)
    assert not REGISTRY["dead_relu"]().applies(run)
    assert REGISTRY["overfitting"]().applies(run)


def test_every_rule_declares_its_own_place_in_the_explanatory_order():
    all_rules()
    orders = {cls.order for cls in REGISTRY.values()}
    assert len(orders) == len(REGISTRY) and Rule.order not in orders  # distinct, none left at the default
    assert all(cls.order != Rule.order for cls in COMPARISONS.values())
    assert COMPARISONS["epsilon_sensitivity"].order == REGISTRY["epsilon_sensitivity"].order  # one id, one rank


@pytest.mark.parametrize("rule_id", sorted(COMPARISONS))
def test_comparison_docs_have_every_section_and_parameter(rule_id: str):
    cls = COMPARISONS[rule_id]
    sections = parse_sections(cls.doc())
    for field in dataclasses.fields(cls):
        assert f"{field.name}:" in sections["parameters"], f"{rule_id}: {field.name} undocumented"


def test_readme_rule_list_is_the_registry():
    """The README's table is generated (python -m diagnostics.catalog); paste the new one when this fails."""
    text = README.read_text()
    listed = text.split("<!-- rules:start -->")[1].split("<!-- rules:end -->")[0].strip()
    assert listed == markdown_table()


def test_rules_json_document_is_the_registry(capsys: pytest.CaptureFixture[str]):
    from diagnostics.cli import main

    assert main(["--rules", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["rules"]
    assert [r["id"] for r in listed] == [e["id"] for e in entries()]
    assert {r["id"] for r in listed} == set(REGISTRY) | set(COMPARISONS)
    assert {r["kind"] for r in listed if r["id"] == "depth_sensitivity"} == {"comparison"}
