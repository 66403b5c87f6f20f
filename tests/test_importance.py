"""Which hyper-parameters mattered: fANOVA shares on a synthetic random search (rows written into a
temp store, no training), the comparison finding that names the dominant key, and the compare page's panel."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest_ui import app_test, page_text
from test_layers import loaded_after

from diagnostics.compare import compare
from diagnostics.importance import MIN_RUNS, importance, varying
from runner.store import Store
from traindoc.handoff import load_run

BASE = {"optim.name": "adam", "model.width": 64, "train.epochs": 10}


def _search(db: Path, n: int, dominant: str, seed: int = 0, eps: float | None = None) -> int:
    """A finished random search over optim.lr and optim.eps (log-uniform): val/auc peaks at lr 1e-2 when
    ``dominant`` is optim.lr, at ε 1e-8 when it is optim.eps; the other key adds a little only. With
    ``eps`` every run has that ε: a one-key search over lr."""
    rng = np.random.default_rng(seed)
    store = Store(db)
    group = store.create_group("search", spec={"sampler": "random"})
    for i in range(n):
        lr, eps_i = 10 ** rng.uniform(-4, -1), 10 ** rng.uniform(-8, -2) if eps is None else eps
        strong, weak = (math.log10(lr) + 2, math.log10(eps_i) + 5) if dominant == "optim.lr" else (
            (math.log10(eps_i) + 8) / 2, math.log10(lr) + 2.5)
        auc = 0.95 - 0.12 * strong ** 2 - 0.004 * weak ** 2 + rng.normal(0, 0.002)
        run_id = store.create_run(f"trial {i}", {**BASE, "optim.lr": lr, "optim.eps": eps_i, "train.seed": i},
                                  status="finished", group_id=group)
        curve = auc - 0.2 * np.exp(-np.arange(10) / 3)
        store.write_metrics([(run_id, s + 1, float(s + 1), "val/auc", float(v), 0.0) for s, v in enumerate(curve)])
    return group


def _runs(db: Path, group: int) -> list:
    store = Store(db)
    return [load_run(store, int(i)) for i in sorted(store.runs(group_id=group).id)]


@pytest.mark.parametrize("dominant", ["optim.lr", "optim.eps"])
def test_the_finding_names_the_key_that_explains_the_spread(tmp_path: Path, dominant: str) -> None:
    runs = _runs(tmp_path / "s.db", _search(tmp_path / "s.db", 20, dominant))
    found = importance(runs)
    assert found is not None and found.metric == "val/auc" and found.runs == 20
    assert list(found.shares) == [dominant, ({"optim.lr", "optim.eps"} - {dominant}).pop()]
    assert sum(found.shares.values()) == pytest.approx(1.0)
    other = "optim.eps" if dominant == "optim.lr" else "optim.lr"
    assert found.words().startswith(f"{dominant} explains most of the spread of the best val/auc")
    assert f"{other} little" in found.words()
    findings = [f for f in compare(runs) if f.rule == "hyperparameter_importance"]
    assert [(f.severity, f.title) for f in findings] == [("info", f"{dominant} mattered most")]
    patch = findings[0].fixes[0].config_patch
    assert list(patch) == [dominant] and patch[dominant] == found.best[dominant]
    assert importance(runs) == found  # deterministic: the forest is seeded


def test_too_few_runs_give_no_importance_and_no_finding(tmp_path: Path) -> None:
    runs = _runs(tmp_path / "s.db", _search(tmp_path / "s.db", MIN_RUNS - 1, "optim.lr"))
    assert importance(runs) is None
    assert not [f for f in compare(runs) if f.rule == "hyperparameter_importance"]


def test_a_search_where_every_run_scored_the_same_has_nothing_to_explain(tmp_path: Path) -> None:
    """Every trial stuck at the same val/auc (a broken search): no panel, no finding, and no crash."""
    db = tmp_path / "s.db"
    store = Store(db)
    group = store.create_group("stuck", spec={"sampler": "random"})
    for i in range(MIN_RUNS + 1):
        config = {**BASE, "optim.lr": 10.0 ** -(1 + i / 3), "optim.eps": 10.0 ** -(8 - i / 2)}
        run_id = store.create_run(f"trial {i}", config, status="finished", group_id=group)
        store.write_metrics([(run_id, s, float(s), "val/auc", 0.5, 0.0) for s in range(1, 4)])
    runs = _runs(db, group)
    assert importance(runs) is None
    assert not [f for f in compare(runs) if f.rule == "hyperparameter_importance"]


def test_a_one_key_sweep_keeps_the_sensitivity_view(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    one_key = _runs(db, _search(db, 12, "optim.lr", eps=1e-8))
    assert importance(one_key) is None
    assert {f.rule for f in compare(one_key)} == {"lr_sensitivity"}


@pytest.mark.slow  # a fresh Python process's imports
def test_single_run_diagnosis_never_loads_optuna() -> None:
    assert loaded_after("import diagnostics.rules, diagnostics.compare, diagnostics.importance",
                        ("optuna", "sklearn")) == []


def test_compare_page_shows_the_importance_panel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "s.db"
    group = _search(db, 16, "optim.lr")
    at = app_test(db, monkeypatch, "pages/compare.py", group=str(group))
    assert not at.exception
    text = page_text(at)
    assert "Which hyper-parameters mattered" in [s.value for s in at.subheader]
    assert "explains most of the spread of the best val/auc" in text
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert "Which hyper-parameters mattered for best val/auc" in titles
    assert "optim.lr mattered most" in text or "optim.lr mattered most" in str(at.expander)



def test_keys_with_non_scalar_values_are_left_out(tmp_path: Path) -> None:
    """An imported config can hold a list (layer sizes): no search space takes it, the other keys still count."""
    db = tmp_path / "s.db"
    group = _search(db, 12, "optim.lr")
    store = Store(db)
    for i in store.runs(group_id=group).id:
        store.set_run_config(int(i), {**store.run(int(i))["config"], "model.layers": [int(i) % 3, 2]})
    runs = _runs(db, group)
    assert isinstance(runs[0].config["model.layers"], list)
    assert varying(runs) == ["optim.lr", "optim.eps"]
    assert importance(runs).top[0] == "optim.lr"
