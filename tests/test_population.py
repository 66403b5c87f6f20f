"""The generated population (bench/population.py): runs really trained, written by the real
writer libraries, read back by traindoc's own reader with the labelled curves present, and
labelled as constructed (or relabelled with a note when the numbers say otherwise).

A handful of the seeded test subset (the cheapest run per writer), a few seconds of training.
No assertion on diagnosis quality: that is the calibration bench's job.
"""

from __future__ import annotations

import importlib.util
import json

import pytest

pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("keras", "lightning", "sklearn", "transformers", "tensorboardX")),
    reason="the writer libraries and scikit-learn are needed to write the population")

from bench.pop_spec import LABELS  # noqa: E402
from bench.population import run, specs  # noqa: E402
from bench.splits import split_of  # noqa: E402

WRITERS = ("console_text", "jsonl", "tbx", "hf_state", "lightning_csv", "keras_csv", "ultralytics", "json_history")
TRAIN = ("train/loss", "train/loss_epoch")


def cheapest(writer: str):
    """The test-subset run of ``writer`` with the fewest optimizer steps (the LM's steps count thrice)."""
    cost = {"charlm": 3}
    return min((s for s in specs(2000, "tests") if s.writer == writer),
               key=lambda s: s.n_evals * s.every * cost.get(s.family, 1))


@pytest.fixture(scope="module")
def population(tmp_path_factory):
    out = tmp_path_factory.mktemp("population")
    todo = [cheapest(w) for w in WRITERS]
    records = run(todo, out, workers=1, log=lambda *a, **k: None)
    return out, todo, records


def test_subset_is_seeded_and_about_a_hundred():
    ids = [s.id for s in specs(2000, "tests")]
    assert ids == [s.id for s in specs(2000, "tests")]
    assert 60 <= len(ids) <= 140
    assert len({s.writer for s in specs(2000, "tests")}) >= 12


@pytest.mark.slow  # the module's population: real trainings through every writer library
def test_every_run_is_written_and_read_back(population):
    out, todo, records = population
    for s in todo:
        rec = records[s.id]
        assert "error" not in rec, rec.get("trace")
        if not rec["kept"]:
            continue
        for p in rec["paths"]:
            assert (out / p).exists(), p
        read = rec["read"]
        assert read["ok"], f"{s.writer}: {read.get('error')}"
        series = read["series"]
        assert series.get("val/loss") == rec["n_evals"], f"{s.writer}: val curve {series}"
        assert any(series.get(t, 0) >= rec["n_evals"] for t in TRAIN), f"{s.writer}: train curve {series}"


@pytest.mark.slow  # the module's population: real trainings through every writer library
def test_labels_agree_with_construction(population):
    out, todo, records = population
    kept = [records[s.id] for s in todo if records[s.id]["kept"]]
    assert len(kept) >= len(todo) // 2, [records[s.id]["dropped"] for s in todo]
    index = [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]
    assert [r["id"] for r in index] == [r["id"] for r in kept]
    for rec in index:
        assert set(rec["labels"]) == set(LABELS)
        assert rec["split"] == split_of(rec["id"])
        shown = [k for k, v in rec["labels"].items() if v]
        assert shown, rec["id"]
        want = rec["intended"] or "healthy"
        relabelled = any(n.startswith("relabelled") for n in rec["notes"])
        assert rec["labels"][want] or relabelled, f"{rec['id']}: {shown} without a relabel note"
        assert rec["labels"]["healthy"] == (shown == ["healthy"])
        assert (rec["severity"] == "") == rec["labels"]["healthy"]
    dropped = (out / "dropped.jsonl").read_text().splitlines()
    assert len(dropped) + len(index) == len(todo)


@pytest.mark.slow  # the module's population: real trainings through every writer library
def test_cached_runs_are_not_made_again(population):
    out, todo, records = population
    again = run(todo[:2], out, workers=1, log=lambda *a, **k: None)
    assert again == {s.id: records[s.id] for s in todo[:2]}


@pytest.mark.slow  # the module's population: real trainings through every writer library
def test_rejudging_the_written_curves_gives_the_same_labels(population):
    out, todo, records = population
    again = run(todo, out, workers=1, log=lambda *a, **k: None, again=True)
    for s in todo:
        for key in ("kept", "labels", "severity", "notes"):
            assert again[s.id].get(key) == records[s.id].get(key), (s.id, key)


def test_labels_come_from_the_numbers():
    """The labeller on hand-made curves: each shape gets its label, a twin-like curve stays healthy."""
    import numpy as np

    from bench.pop_confirm import judge

    t = np.linspace(0, 1, 30)
    falling = list(2.3 * np.exp(-4 * t) + 0.05)
    healthy = judge("mlp", None, False, falling, [x + 0.05 for x in falling])
    assert healthy.labels["healthy"] and healthy.dropped is None
    val_u = list(0.5 + 2 * (t - 0.3) ** 2)  # best at 30 %, ends far above it
    assert judge("mlp", "overfitting", False, falling, val_u).labels["overfitting"]
    flat = list(2.3 - 0.02 * t)  # a few per cent in a straight line
    under = judge("mlp", "underfitting", False, flat, flat)
    assert under.labels["underfitting"] and under.severity == "severe"
    spiky = falling.copy()
    spiky[20] = 1000.0  # about 3,000 times its running level (0.3)
    assert judge("mlp", "divergence", False, spiky, falling).severity == "clear"
    spiky[20] = 1e6
    assert judge("mlp", "divergence", False, spiky, falling).severity == "severe"
    nan_val = judge("mlp", "divergence", False, falling, [float("nan")] * 3 + falling[3:])
    assert nan_val.labels["divergence"]
    neg = judge("mlp", "negative_loss", True, list(-0.1 - 0.8 * t), list(-0.1 - 0.75 * t))
    assert neg.labels["negative_loss"] and not neg.labels["healthy"]
    legit = judge("gaussnll", None, False, [x - 1.3 for x in falling], [x - 1.25 for x in falling])
    assert legit.labels["healthy"], legit.dropped  # a likelihood below zero is no fault
    assert judge("mlp", "overfitting", False, falling, [x + 0.05 for x in falling]).dropped  # not shown: not kept
