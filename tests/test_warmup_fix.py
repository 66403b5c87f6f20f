"""missing_warmup on a real tiny run: the suggested warm-up length is where the early spike settled, and
the fix launched through the Fixes flow (a fix group of the run) trains without the spike."""

from __future__ import annotations

from pathlib import Path

import pytest

from diagnostics import diagnose
from runner.execute import execute
from runner.plan import fix_plan, submit
from runner.presets import PRESETS
from runner.store import Store
from traindoc.handoff import load_run

pytestmark = pytest.mark.slow  # two real 15-epoch runs

# the scenario of tests/test_diag_presets.py: Adam at lr 0.1 spikes in its first steps
SPIKY = {"optim.lr": 0.1, "train.epochs": 15, "model.activation": "leaky_relu"}


def test_warmup_length_is_where_the_spike_settled_and_the_fix_removes_it(tmp_path: Path) -> None:
    store = Store(tmp_path / "w.db")
    parent = store.create_run("spiky", PRESETS["healthy"].config(SPIKY).to_flat())
    assert execute(store, parent) == "finished"
    [finding] = [f for f in diagnose(load_run(store, parent)) if f.rule == "missing_warmup"]
    values = finding.evidence.values
    settled, warm = values["settle_step"], values["warmup_steps"]
    assert settled is not None and settled > values["spike_step"]  # it settles after the spike, not before
    loss = store.metrics(parent, names=["train/loss"]).set_index("step")["value"]
    first = loss.iloc[0]
    assert loss.loc[settled:settled + 2].lt(first).all()  # from there on the loss is back below its start
    assert finding.fixes[0].config_patch == {"sched.name": "warmup", "sched.warmup_steps": warm}
    fixes = [(f.text, dict(f.config_patch)) for f in finding.fixes[:1]]
    group, [fixed] = submit(store, fix_plan(store.run(parent), finding.rule, finding.severity, fixes),
                            start_scheduler=False)
    assert store.run(fixed)["config"]["sched.warmup_steps"] == warm
    assert execute(store, fixed) == "finished"
    assert "missing_warmup" not in {f.rule for f in diagnose(load_run(store, fixed))}
