"""Fix verdicts: on real runs (Softmax+NLLLoss → LogSoftmax is verified; AMSGrad cannot help), and the
decision table on literal curves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diagnostics.rundata import RunData
from diagnostics.verify import group_verdicts, verify_fix
from runner.execute import execute
from runner.plan import fix_plan, submit
from runner.presets import PRESETS
from runner.store import Store
from traindoc.handoff import fix_group


@pytest.fixture(scope="module")
def fixed_softmax(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, int]:
    """The softmax_nll preset, then a fix group with two fixes, all trained for real in-process (~3 s)."""
    store = Store(tmp_path_factory.mktemp("verify") / "v.db")
    parent = store.create_run("softmax_nll", PRESETS["softmax_nll"].config().to_flat())
    assert execute(store, parent) == "finished"
    fixes = [("Use LogSoftmax", {"model.head": "log_softmax"}), ("Use AMSGrad", {"optim.amsgrad": True})]
    group_id, ids = submit(store, fix_plan(store.run(parent), "negative_loss", "critical", fixes),
                           start_scheduler=False)
    for run_id in ids:
        assert execute(store, run_id) == "finished"
    return store, group_id


@pytest.mark.slow
def test_log_softmax_fix_is_verified_on_real_runs(fixed_softmax: tuple[Store, int]) -> None:
    store, group_id = fixed_softmax
    verdict = {v.fix: v for v in group_verdicts(*fix_group(store, group_id))}["Use LogSoftmax"]
    assert verdict.verdict == "verified"
    assert verdict.finding_gone is True and verdict.gone_in == (1, 1)
    assert verdict.metric == "val/acc"  # not val/loss: the patch changed what the loss means
    assert verdict.delta is not None and verdict.delta >= -verdict.margin
    assert verdict.reason.startswith("negative_loss is gone; val/acc 0.9")


@pytest.mark.slow
def test_a_fix_that_cannot_help_did_not_help(fixed_softmax: tuple[Store, int]) -> None:
    store, group_id = fixed_softmax
    verdict = {v.fix: v for v in group_verdicts(*fix_group(store, group_id))}["Use AMSGrad"]
    assert verdict.verdict == "did not help"
    assert verdict.finding_gone is False
    assert "negative_loss is still there" in verdict.reason


def _run(losses: list[float], acc: float, status: str = "finished", **config: object) -> RunData:
    """A literal run: per-step train/loss and a flat val/acc ending at ``acc``."""
    steps = np.arange(1, len(losses) + 1)
    frame = pd.concat([pd.DataFrame({"step": steps, "name": "train/loss", "value": losses}),
                       pd.DataFrame({"step": steps, "name": "val/acc", "value": np.full(len(steps), acc)})])
    return RunData.from_frame(frame, config={"loss.name": "nll", "model.head": "softmax", **config},
                             meta={"status": status}, epoch_level=False)


NEG = [-0.1 * i / 10 - 0.1 for i in range(40)]  # in [-1, 0], heading down: Softmax + NLLLoss
POS = [1.0 / (i + 1) + 0.05 for i in range(40)]


@pytest.mark.parametrize(("before", "after", "verdict"), [
    ([_run(NEG, 0.90)], [_run(POS, 0.95, **{"model.head": "log_softmax"})], "verified"),
    ([_run(NEG, 0.90)], [_run(POS, 0.70, **{"model.head": "log_softmax"})], "did not help"),
    ([_run(NEG, 0.90)], [_run(NEG, 0.901)], "did not help"),
    ([_run(NEG, 0.90)], [_run(NEG, 0.95)], "inconclusive"),  # better, yet the finding stays
    ([_run(NEG, 0.90)], [_run(POS, 0.95, **{"model.head": "log_softmax"}), _run(NEG, 0.95)], "inconclusive"),
    ([_run(NEG, 0.90)], [_run(POS, 0.95, status="failed")], "inconclusive"),
], ids=["gone-better", "gone-worse", "stays-same", "stays-better", "seed-dependent", "fix-run-failed"])
def test_decision_table(before: list[RunData], after: list[RunData], verdict: str) -> None:
    assert verify_fix("negative_loss", before, after, fix="f", severity="critical").verdict == verdict


def test_seed_spread_widens_the_noise_margin() -> None:
    """+0.03 beats the 0.01 floor with one run a side, but not a seed spread of ±0.05."""
    healthy = {"model.head": "log_softmax"}
    one = verify_fix("negative_loss", [_run(POS, 0.90, **healthy)], [_run(POS, 0.93, **healthy)])
    assert (one.verdict, round(one.margin, 3)) == ("verified", 0.01)
    before = [_run(POS, v, **healthy) for v in (0.85, 0.95)]
    after = [_run(POS, v, **healthy) for v in (0.88, 0.98)]
    noisy = verify_fix("negative_loss", before, after)
    assert noisy.verdict == "inconclusive" and noisy.margin > 0.1
    assert "within the noise" in noisy.reason
