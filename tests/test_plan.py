"""Launch plans (form → overrides → grid → runs) and the scheduler's pick of what starts next: pure, fast."""

from __future__ import annotations

import pytest

from runner.config import ConfigError
from runner.plan import BASELINE, Plan, fix_plan, overrides, submit
from runner.presets import PRESETS
from runner.scheduler import plan_starts
from runner.store import Store
from runner.sweep import log_spaced, parse_values

BASE = PRESETS["adam_eps_small"].config().to_flat()


def test_log_spaced_values_are_round_and_cover_the_range() -> None:
    assert log_spaced(1e-8, 1e-1, 8) == [1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
    assert log_spaced(1e-4, 1e-1, 4) == [1e-4, 1e-3, 1e-2, 1e-1]
    assert log_spaced(1e-3, 1e-1, 3) == [1e-3, 1e-2, 1e-1]
    assert log_spaced(0.5, 0.5, 1) == [0.5]
    with pytest.raises(ConfigError, match="positive bounds"):
        log_spaced(0, 1e-1, 3)


@pytest.mark.parametrize(("key", "text", "values"), [
    ("optim.eps", "1e-1, 1e-4,1e-8", [0.1, 1e-4, 1e-8]),
    ("optim.eps", "log 1e-8 1e-2 4", [1e-8, 1e-6, 1e-4, 1e-2]),
    ("train.batch_size", "16, 32, 16", [16, 32]),  # duplicates dropped, order kept
    ("model.activation", "relu, tanh", ["relu", "tanh"]),
], ids=["list", "log-spaced", "ints-dedup", "choices"])
def test_parse_values(key: str, text: str, values: list) -> None:
    assert parse_values(key, text) == values


@pytest.mark.parametrize(("key", "text", "message"), [
    ("optim.lr", "0.1, -1", "optim.lr=-1.0: allowed range is 1e-08 to 100"),
    ("model.activation", "relu, swish", "model.activation='swish': allowed values are relu, leaky_relu"),
    ("optim.eps", "log 1e-8 1e-1", "write log-spaced values as 'log LOW HIGH COUNT'"),
    ("optim.eps", " , ", "give values separated by commas"),
], ids=["out-of-range", "bad-choice", "log-syntax", "empty"])
def test_parse_values_refuses_with_the_allowed_range(key: str, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_values(key, text)


def test_form_overrides_keep_only_changes_and_name_each_error() -> None:
    form = {"optim.lr": "0.001", "optim.eps": "1e-6", "train.epochs": "0", "model.head": "softmax"}
    changed, errors = overrides(BASE, form)
    assert changed == {"optim.eps": 1e-6, "model.head": "softmax"}  # lr 0.001 is the base value
    assert errors == {"train.epochs": "train.epochs=0: allowed range is 1 to 100000"}


def test_grid_times_seeds_expands_to_named_runs() -> None:
    plan = Plan("eps", BASE, {"optim.eps": [0.1, 1e-8], "optim.lr": [1e-3, 1e-2]}, seeds=2)
    runs = plan.runs()
    assert len(runs) == 8
    name, config, meta = runs[0]
    assert name == "eps [optim.eps=0.1, optim.lr=0.001, seed 0]"
    assert (config["optim.eps"], config["optim.lr"], config["train.seed"]) == (0.1, 1e-3, 0)
    assert meta == {"swept": {"optim.eps": 0.1, "optim.lr": 1e-3}, "label": "optim.eps=0.1, optim.lr=0.001, seed 0",
                    "variant": "optim.eps=0.1, optim.lr=0.001"}
    assert [r[1]["train.seed"] for r in runs[:2]] == [0, 1]
    assert Plan("one", BASE).runs()[0][0] == "one"  # no grid: a single run


def test_plan_validation_names_the_limit() -> None:
    with pytest.raises(ConfigError, match="concurrency 0: allowed range is 1 to 64"):
        Plan("x", BASE, {"optim.eps": [0.1]}, concurrency=0).runs()
    with pytest.raises(ConfigError, match="at most 200 per group"):
        Plan("x", BASE, {"optim.lr": log_spaced(1e-5, 1, 30), "optim.eps": log_spaced(1e-8, 1e-1, 8)}).runs()
    with pytest.raises(ValueError, match="executor 'slurm': allowed values are local, ray"):
        Plan("x", BASE, executor="slurm").runs()


def test_fix_plan_links_the_parent_and_adds_a_baseline_with_seeds(store: Store) -> None:
    parent_id = store.create_run("p", PRESETS["softmax_nll"].config().to_flat(), status="finished")
    fixes = [("LogSoftmax", {"model.head": "log_softmax"})]
    plan = fix_plan(store.run(parent_id), "negative_loss", "critical", fixes, seeds=2)
    assert [label for label, _, _ in plan.points()] == ["LogSoftmax, seed 0", "LogSoftmax, seed 1",
                                                        f"{BASELINE}, seed 0", f"{BASELINE}, seed 1"]
    group_id, ids = submit(store, plan, start_scheduler=False)
    group = store.group(group_id)
    assert (group["kind"], group["parent_run_id"], group["spec"]["rule"]) == ("fix", parent_id, "negative_loss")
    run = store.run(ids[0])
    assert (run["parent_id"], run["status"], run["config"]["model.head"]) == (parent_id, "queued", "log_softmax")


def _row(run_id: int, group: int | None, status: str, concurrency: int = 2) -> dict:
    return {"id": run_id, "group_id": group, "status": status, "spec": {"concurrency": concurrency}}


def test_plan_starts_honours_each_group_limit_and_the_global_one() -> None:
    active = [_row(1, 1, "running", 1), _row(2, 1, "queued", 1), _row(3, 2, "queued"), _row(4, 2, "queued"),
              _row(5, 2, "queued"), _row(6, None, "queued")]
    assert [r["id"] for r in plan_starts(active, max_parallel=8)] == [3, 4, 6]  # group 1 is full at 1
    assert [r["id"] for r in plan_starts(active, max_parallel=2)] == [3]  # one slot left overall
    assert plan_starts(active, max_parallel=1) == []
