"""Random / TPE search (issue 22): each key drawn on its scale, TPE trials drawn from finished ones,
zoom-in ranges around the best, pruning of a hopeless trial, and the CLI on real tiny runs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from runner import pruning, search, zoom
from runner.config import ConfigError, coerce
from runner.plan import Plan, submit
from runner.presets import PRESETS
from runner.store import Store

DRAWS = 2000
ALPHA = 0.01  # a KS test this strict fails a correct sampler one time in a hundred seeds; the seed is fixed


def _draws(text: str, key: str = "optim.lr") -> np.ndarray:
    space = search.parse_space([f"{key}={text}"], coerce)
    return np.array([d[key] for d in search.draw_random(space, DRAWS, seed=7)])


def test_log_draws_are_uniform_in_log10() -> None:
    x = _draws("log:1e-4:1e-1")
    assert x.min() >= 1e-4 and x.max() <= 1e-1
    assert stats.kstest(np.log10(x), stats.uniform(loc=-4, scale=3).cdf).pvalue > ALPHA
    # and not uniform on the linear scale: most draws sit in the lower decades
    assert stats.kstest(x, stats.uniform(loc=1e-4, scale=1e-1 - 1e-4).cdf).pvalue < ALPHA


def test_one_minus_log_draws_make_one_minus_beta_log_uniform() -> None:
    x = _draws("1-log:0.8:0.999", key="optim.momentum")
    assert x.min() >= 0.8 and x.max() <= 0.999
    lo, hi = math.log10(0.001), math.log10(0.2)
    assert stats.kstest(np.log10(1 - x), stats.uniform(loc=lo, scale=hi - lo).cdf).pvalue > ALPHA
    assert np.mean(x > 0.99) > 0.3  # 0.99..0.999 is one of 2.3 decades of 1-β: about 43% of the draws


def test_pow2_int_uniform_and_choice_draws() -> None:
    widths = _draws("pow2:16:512", key="model.width")
    assert set(widths.tolist()) == {16, 32, 64, 128, 256, 512}
    depths = _draws("int:1:4", key="model.depth")
    assert set(depths.tolist()) == {1, 2, 3, 4}
    drop = _draws("uniform:0:0.5", key="model.dropout")
    assert stats.kstest(drop, stats.uniform(loc=0, scale=0.5).cdf).pvalue > ALPHA
    names = search.draw_random(search.parse_space(["optim.name=choice:adam,sgd"], coerce), 200)
    assert {d["optim.name"] for d in names} == {"adam", "sgd"}


@pytest.mark.parametrize(("text", "why"), [
    ("log:0:1e-1", "positive low bound"), ("log:1e-1:1e-4", "must be below"), ("1-log:0.5:1.5", "1-log"),
    ("pow2:10:512", "powers of two"), ("cube:1:2", "KIND"), ("log:1e-9:1e-1", "optim.lr"),
])
def test_a_bad_distribution_is_refused_with_the_reason(text: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        search.parse_space([f"optim.lr={text}"], coerce)


def _trial(run_id: int, lr: float, score: float | None, status: str = "finished") -> search.Trial:
    return search.Trial(run_id, {"optim.lr": lr}, score, status)


def test_zoom_spans_the_best_widened_on_the_log_scale_inside_the_old_range() -> None:
    found = search.Search(search.parse_space(["optim.lr=log:1e-5:1"], coerce), trials=6)
    trials = [_trial(1, 1e-5, 0.5), _trial(2, 1e-3, 0.9), _trial(3, 3e-3, 0.95), _trial(4, 2e-3, 0.93),
              _trial(5, 0.5, 0.6), _trial(6, 1e-4, None, "failed")]
    new = search.zoom_space(found, trials, higher_is_better=True, top=3, widen=2.0)["optim.lr"]
    assert (new.kind, new.low, new.high) == ("log", 5e-4, 6e-3)
    lower_is_better = search.zoom_space(found, trials, higher_is_better=False, top=1, widen=2.0)["optim.lr"]
    assert (lower_is_better.low, lower_is_better.high) == (1e-5, 2e-5)  # 1e-5 / 2 clipped at the old low bound
    clipped = search.zoom_space(found, [_trial(1, 0.9, 1.0)], True, top=1, widen=2.0)["optim.lr"]
    assert clipped.high == 1.0


def test_tpe_draws_inside_the_range_and_apart_from_a_running_trial() -> None:
    found = search.Search(search.parse_space(["optim.lr=log:1e-4:1e-1"], coerce), trials=20, sampler="tpe")
    done = [_trial(i, lr, -abs(math.log10(lr) + 2.5)) for i, lr in enumerate(np.logspace(-4, -1, 12), start=1)]
    picks = [search.suggest(found, done, True, number)["optim.lr"] for number in range(13, 53)]
    assert all(1e-4 <= p <= 1e-1 for p in picks) and len(set(picks)) == len(picks)
    # TPE leans on what scored well (around 10^-2.5): most of its picks within half a decade of it,
    # where random draws over the three decades put a third
    near = [abs(math.log10(p) + 2.5) < 0.5 for p in picks]
    blind = search.Search(found.space, trials=20, sampler="random")
    near_random = [abs(math.log10(search.suggest(blind, done, True, n)["optim.lr"]) + 2.5) < 0.5 for n in range(13, 53)]
    assert np.mean(near) >= 0.8 > 0.6 > np.mean(near_random)


@pytest.mark.slow  # five tiny trainings (seconds each, more on a loaded machine)
def test_a_hopeless_trial_is_pruned_and_zoom_in_queues_a_linked_round(tmp_path) -> None:
    import torch

    from runner.execute import execute

    torch.set_num_threads(1)
    store = Store(tmp_path / "prune.db")
    base = PRESETS["healthy"].config({"train.epochs": 3}).to_flat()
    found = search.Search(search.parse_space(["optim.lr=log:1e-7:1e-1"], coerce), trials=4, prune="median")
    good = [("good", {"optim.lr": lr}) for lr in (0.01, 0.02, 0.005)][: pruning.PRUNE_STARTUP]
    plan = Plan("prune", base, variants=(*good, ("hopeless", {"optim.lr": 1e-7})),
                extra_spec={"search": found.to_spec()})
    group_id, ids = submit(store, plan, start_scheduler=False)
    for run_id in ids[:-1]:
        assert execute(store, run_id) == "finished"
    assert execute(store, ids[-1]) == "stopped"
    run = store.run(ids[-1])
    assert run["error"].startswith(f"pruned at epoch {pruning.PRUNE_WARMUP}: val_auc ")
    assert "below the median" in run["error"] and run["meta"]["pruned"]["evaluation"] == pruning.PRUNE_WARMUP
    _, values = store.metric_series(ids[-1], "val/auc")
    assert len(values) == pruning.PRUNE_WARMUP  # the curve up to the pruning is kept
    assert run["meta"]["stopped_early"] == run["error"]

    next_plan, ranges = zoom.plan(store, group_id, top=2, trials=1)
    old, new = ranges["optim.lr"]
    assert old == "log:1e-07:0.1"
    new_dist = search.parse_dist("optim.lr", new)
    assert 1e-7 <= new_dist.low < 0.01 <= 0.02 < new_dist.high <= 0.1  # the two best, widened
    child, child_ids = submit(store, next_plan, start_scheduler=False)
    spec = store.group(child)["spec"]["search"]
    assert (spec["parent"], spec["round"], len(child_ids)) == (group_id, 2, 1)
    assert zoom.rounds(store, child) == [group_id, child]
    assert execute(store, child_ids[0]) == "finished"
    lr = store.run(child_ids[0])["config"]["optim.lr"]
    assert new_dist.low <= lr <= new_dist.high


@pytest.mark.slow  # the CLI with its scheduler: four tiny trainings in the background
def test_the_done_means_command_leaves_four_finished_runs_with_distinct_lr(tmp_path, capsys) -> None:
    from runner.cli import main

    db = str(tmp_path / "cli.db")
    assert main(["--db", db, "sweep", "--preset", "healthy", "--sample", "optim.lr=log:1e-4:1e-1", "--trials", "4",
                 "--sampler", "tpe", "--set", "train.epochs=3", "--wait"]) == 0
    group_id = int(capsys.readouterr().out.split()[-1])
    store = Store(db)
    runs = store.runs(group_id=group_id)
    assert len(runs) == 4 and set(runs.status) == {"finished"}
    lrs = [store.run(int(i))["config"]["optim.lr"] for i in runs.id]
    assert len(set(lrs)) == 4 and all(1e-4 <= lr <= 1e-1 for lr in lrs)
    assert store.group(group_id)["spec"]["search"]["space"] == {"optim.lr": "log:0.0001:0.1"}


def test_the_tuning_guide_commands_parse() -> None:
    """docs/tuning.md's commands, as written, through the runner's own parser."""
    import re
    import shlex
    from pathlib import Path

    from runner.cli import _parser

    text = (Path(__file__).resolve().parents[1] / "docs" / "tuning.md").read_text()
    commands = [line for block in re.findall(r"```bash\n(.*?)```", text, re.S) for line in block.splitlines()
                if line.strip()]
    assert len(commands) == 4
    for command in commands:
        argv = shlex.split(command)
        assert argv[:3] == ["python", "-m", "runner"]
        _parser().parse_args(argv[3:])


def _group_with_curves(store: Store, prune: str, curves: list[list[float]]) -> tuple[int, int]:
    """A search group whose finished trials logged ``curves`` of val/auc, and one running trial's id."""
    found = search.Search(search.parse_space(["optim.lr=log:1e-5:1"], coerce), trials=len(curves) + 1, prune=prune)
    base = PRESETS["healthy"].config().to_flat()
    variants = tuple((f"t{i}", {"optim.lr": 10.0 ** -(i + 1)}) for i in range(len(curves) + 1))
    group_id, ids = submit(store, Plan("g", base, variants=variants, extra_spec={"search": found.to_spec()}),
                           start_scheduler=False)
    for run_id, curve in zip(ids, curves, strict=False):
        store.mark_running(run_id)
        store.write_metrics([(run_id, k, float(k), "val/auc", v, 0.0) for k, v in enumerate(curve, start=1)])
        store.finish(run_id, "finished")
    store.mark_running(ids[-1])
    return group_id, ids[-1]


FINISHED = [[0.90, 0.92, 0.93], [0.88, 0.90, 0.91], [0.85, 0.87, 0.90]]


def test_median_pruning_waits_for_its_warmup_then_stops_a_trial_below_the_median(store: Store) -> None:
    _, run_id = _group_with_curves(store, "median", FINISHED)
    judge = pruning.for_run(store, store.run(run_id))
    assert judge.report(10, {"val/auc": 0.5}) is None  # the first evaluation is never judged
    why = judge.report(20, {"val/auc": 0.6})
    assert why == "pruned at epoch 2: val_auc 0.6 below the median 0.9 of trials at that epoch"
    run = store.run(run_id)
    assert run["status"] == "stopped" and run["error"] == why and judge.stop_requested
    assert run["meta"]["pruned"] == {"step": 20, "evaluation": 2, "value": 0.6, "metric": "val/auc",
                                     "pruner": "median"}


def test_median_pruning_leaves_a_trial_above_the_median_and_a_search_too_young(tmp_path) -> None:
    store = Store(tmp_path / "a.db")
    _, run_id = _group_with_curves(store, "median", FINISHED)
    judge = pruning.for_run(store, store.run(run_id))
    assert [judge.report(s, {"val/auc": v}) for s, v in ((10, 0.95), (20, 0.96), (30, 0.97))] == [None] * 3
    young = Store(tmp_path / "b.db")
    _, run_id = _group_with_curves(young, "median", FINISHED[: pruning.PRUNE_STARTUP - 1])
    judge = pruning.for_run(young, young.run(run_id))
    assert [judge.report(s, {"val/auc": 0.1}) for s in (10, 20, 30)] == [None] * 3


def test_successive_halving_keeps_the_better_half_at_each_rung(tmp_path) -> None:
    store = Store(tmp_path / "h.db")
    _, run_id = _group_with_curves(store, "halving", FINISHED)
    good = pruning.for_run(store, store.run(run_id))
    assert good.report(10, {"val/auc": 0.95}) is None and good.report(20, {"val/auc": 0.96}) is None
    store = Store(tmp_path / "h2.db")
    _, run_id = _group_with_curves(store, "halving", FINISHED)
    bad = pruning.for_run(store, store.run(run_id))
    why = bad.report(10, {"val/auc": 0.5})
    assert why is not None and why.startswith("pruned at epoch 1: val_auc 0.5 not among the best 1/2")
    assert store.run(run_id)["status"] == "stopped"


@pytest.mark.slow  # a registered script trained twice in the background
def test_a_registered_script_is_searched_with_tpe_and_trains_with_the_drawn_values(tmp_path, capsys) -> None:
    from pathlib import Path

    from runner.cli import main

    example = Path(__file__).resolve().parents[1] / "examples" / "digits_mlp.py"
    db = str(tmp_path / "script.db")
    assert main(["--db", db, "script", "add", "digits", str(example), "--config", "train.epochs=2",
                 "--config", "model.hidden=32"]) == 0
    assert main(["--db", db, "script", "sweep", "digits", "--sample", "optim.lr=log:1e-3:1e-1", "--trials", "2",
                 "--sampler", "tpe", "--wait"]) == 0
    group_id = int(capsys.readouterr().out.split()[-1])
    store = Store(db)
    runs = [store.run(int(i)) for i in store.runs(group_id=group_id).id]
    assert [r["status"] for r in runs] == ["finished", "finished"]
    for run in runs:
        lr = run["config"]["optim.lr"]
        assert 1e-3 <= lr <= 1e-1 and not run["meta"]["pending"] and f"optim.lr={lr:g}" in run["name"]
        assert set(store.metric_series(run["id"], "lr")[1]) == {lr}  # the script read the drawn value


def test_a_choice_read_back_from_the_group_spec_still_knows_the_stored_numbers() -> None:
    """A spec read back without its coercer holds numeric choices as text: a finished trial's 64 must
    still count (for TPE and for zoom), not be skipped as outside the choices."""
    back = search.Search.from_spec(search.Search(search.parse_space(["model.width=choice:32,64,128"], coerce),
                                                 trials=4).to_spec())
    dist = back.space["model.width"]
    assert dist.internal(64) is not None and str(dist.internal(64)) == "64"
    assert dist.internal(256) is None
