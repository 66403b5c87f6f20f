"""The Launch page's Random search mode (AppTest): per-key distributions with a histogram of draws,
the form keeping what was typed, and a queued search group whose runs follow the chosen scale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest_ui import app_test, page_text

from runner import plan
from runner.store import Store

pytestmark = pytest.mark.slow  # full Launch/Compare page runs (AppTest) that queue and draw searches

START = "preset · healthy"


def _launch_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN202 - (Store, AppTest)
    db = tmp_path / "s.db"
    real_submit = plan.submit
    monkeypatch.setattr(plan, "submit", lambda s, p: real_submit(s, p, start_scheduler=False))
    at = app_test(db, monkeypatch, "pages/launch.py")
    at.selectbox(key="launch:start").select(START).run()
    at.radio(key=f"{START}:mode").set_value("Random search").run()
    return Store(db), at


def test_random_search_form_shows_each_distribution_and_queues_a_search_group(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, at = _launch_page(tmp_path, monkeypatch)
    assert not at.exception
    # optim.lr starts on the log scale around the preset's value, with a histogram of its draws
    assert at.selectbox(key=f"{START}:search-kind:optim.lr").value == "log"
    at.text_input(key=f"{START}:search-low:optim.lr").input("1e-4").run()
    at.text_input(key=f"{START}:search-high:optim.lr").input("1e-1").run()
    at.multiselect(key=f"{START}:search-keys").select("optim.momentum").run()
    assert at.selectbox(key=f"{START}:search-kind:optim.momentum").value == "1-log"
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    titles = [c["layout"]["title"]["text"] for c in charts]
    assert any("optim.lr, log scale" in t for t in titles)
    assert any("optim.momentum, 1 - x on a log scale" in t for t in titles)
    momentum = next(c for c in charts if "momentum" in c["layout"]["title"]["text"])
    assert momentum["layout"]["xaxis"]["ticktext"] == ["0.999", "0.99", "0.9"]  # decades of 1 - β, read as β
    at.number_input(key=f"{START}:trials").set_value(6).run()
    at.selectbox(key=f"{START}:sampler").select("tpe").run()
    at.selectbox(key=f"{START}:prune").select("median").run()
    at.run()  # a rerun keeps what was typed
    assert at.text_input(key=f"{START}:search-low:optim.lr").value == "1e-4"
    assert at.number_input(key=f"{START}:trials").value == 6
    button = at.button(key="launch:queue")
    assert button.label == "Queue 6 runs" and not button.disabled
    button.click().run()
    group = store.groups().iloc[0]
    spec = json.loads(group["spec"])["search"]
    assert spec["space"] == {"optim.lr": "log:0.0001:0.1", "optim.momentum": "1-log:0.8:0.999"}
    assert (spec["sampler"], spec["trials"], spec["prune"]) == ("tpe", 6, "median")
    runs = store.runs(group_id=int(group["id"]))
    assert len(runs) == 6 and all(json.loads(m)["pending"] for m in runs.meta)  # TPE draws at start


def test_a_bad_range_is_named_and_random_draws_land_in_the_range(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    store, at = _launch_page(tmp_path, monkeypatch)
    at.text_input(key=f"{START}:search-low:optim.lr").input("0").run()
    button = at.button(key="launch:queue")
    assert button.disabled and "optim.lr" in button.label and "positive low bound" in page_text(at)
    at.text_input(key=f"{START}:search-low:optim.lr").input("1e-5").run()
    at.number_input(key=f"{START}:trials").set_value(5).run()
    at.button(key="launch:queue").click().run()
    runs = store.runs(group_id=int(store.groups().iloc[0]["id"]))
    lrs = [json.loads(c)["optim.lr"] for c in runs.config]
    high = float(at.text_input(key=f"{START}:search-high:optim.lr").value)
    assert len(set(lrs)) == 5 and all(1e-5 <= lr <= high for lr in lrs)


def _finished_search(store: Store, lrs: tuple[float, ...]) -> int:
    """A random search group over optim.lr whose runs finished with val/auc peaking at lr 1e-2."""
    import math

    from runner import search
    from runner.config import coerce
    from runner.presets import PRESETS

    found = search.Search(search.parse_space(["optim.lr=log:1e-5:1"], coerce), trials=len(lrs), seed=3)
    base = PRESETS["healthy"].config({"train.epochs": 3}).to_flat()
    variants = tuple((search.label({"optim.lr": lr}), {"optim.lr": lr}) for lr in lrs)
    group_id, ids = plan.submit(store, plan.Plan("lr search", base, variants=variants,
                                                 extra_spec={"search": found.to_spec()}), start_scheduler=False)
    for run_id, lr in zip(ids, lrs, strict=True):
        store.mark_running(run_id)
        top = 0.95 - 0.1 * abs(math.log10(lr) + 2)
        store.write_metrics([(run_id, s, s / 3, "val/auc", top - 0.1 / s, 0.0) for s in (1, 2, 3)])
        store.finish(run_id, "finished")
    return group_id


def test_zoom_in_on_the_compare_page_queues_a_linked_round_shown_with_the_first(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "z.db"
    store = Store(db)
    group_id = _finished_search(store, (1e-5, 1e-4, 3e-3, 1e-2, 2e-2, 0.5))
    real_submit = plan.submit
    monkeypatch.setattr(plan, "submit", lambda s, p: real_submit(s, p, start_scheduler=False))
    at = app_test(db, monkeypatch, "pages/compare.py", group=str(group_id))
    assert not at.exception
    assert "random search: 6 trials over optim.lr=log:1e-05:1" in page_text(at)
    proposed = [t for t in at.text_input if t.label == "optim.lr next range"]
    assert [t.value for t in proposed] == ["log:0.0015:0.04"]  # the top 3 (3e-3..2e-2), ×/÷ 2
    proposed[0].input("log:0.002:0.03").run()
    at.number_input(key=f"zoom:{group_id}:trials").set_value(3).run()
    at.button(key=f"zoom:{group_id}:queue").click().run()
    child = int(store.groups().iloc[0]["id"])
    spec = store.group(child)["spec"]["search"]
    assert (spec["parent"], spec["round"], spec["space"]) == (group_id, 2, {"optim.lr": "log:0.002:0.03"})
    lrs = [json.loads(c)["optim.lr"] for c in store.runs(group_id=child).config]
    assert len(lrs) == 3 and all(0.002 <= lr <= 0.03 for lr in lrs)
    assert f"group #{child}" in page_text(at)
    # the child's comparison shows both rounds, a round column telling them apart
    at = app_test(db, monkeypatch, "pages/compare.py", group=str(child))
    assert not at.exception
    table = at.dataframe[0].value
    assert sorted(table["round"].tolist()) == [1] * 6 + [2] * 3
