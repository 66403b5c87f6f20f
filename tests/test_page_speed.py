"""What keeps the pages fast where a person waits: the overview's per-row memo, the compare overlay's
screen budget, the run page's first chart while a fresh server judges the run, and the browser bench
(``bench/browser_speed.py --quick``, slow). No timing is asserted: each test checks the mechanism."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest_ui import ROOT, app_test

from diagnostics.sweep_figures import overlay_figure
from runner.store import Store
from traindoc.views import cache, overview
from traindoc.views.compare import OVERLAY_MIN_POINTS, OVERLAY_POINTS, overlay_points


def _db(path: Path, runs: int = 3, points: int = 300) -> tuple[str, list[int]]:
    store = Store(path)
    ids = []
    for i in range(runs):
        run_id = store.create_run(f"r{i}", {"optim.lr": 10.0 ** -i}, status="finished")
        store.write_metrics([(run_id, s, None, "train/loss", 1 / (s + 1) + i, 0.0) for s in range(points)]
                            + [(run_id, s, None, "val/loss", 1 / (s + 1) + i, 0.0) for s in range(0, points, 10)])
        ids.append(run_id)
    store.close()
    return str(path.resolve()), ids


def test_overview_rows_are_judged_once_until_forgotten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second table costs no diagnosis call (one memo look-up a row); forgetting judges again."""
    db, ids = _db(tmp_path / "o.db")
    cache.forget_diagnoses()
    calls: list[int] = []
    real = overview.diagnose_run

    def counting(db_: str, run_id: int, last: int | None) -> object:
        calls.append(run_id)
        return real(db_, run_id, last)

    monkeypatch.setattr(overview, "diagnose_run", counting)
    runs = cache.store_for(db).runs()
    first = overview.overview_table(db, runs)
    assert sorted(calls) == sorted(ids)
    second = overview.overview_table(db, runs)
    assert len(calls) == len(ids)  # every cell came from the memo
    assert first[["worst finding", "key metric"]].equals(second[["worst finding", "key metric"]])
    assert second["key metric"].str.startswith("val/loss").all()
    cache.forget_diagnoses()  # e.g. an upload's metrics renamed: same run, same last step, new judgement
    overview.overview_table(db, runs)
    assert len(calls) == 2 * len(ids)


def test_overview_memo_starts_over_instead_of_growing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db, _ = _db(tmp_path / "m.db", runs=3)
    cache.forget_diagnoses()
    monkeypatch.setattr(overview, "OVERVIEW_ROWS", 2)
    overview.overview_table(db, cache.store_for(db).runs())
    assert len(cache.overview_cells()) <= 2


def test_overview_draws_unjudged_runs_as_pending_and_judges_them_on_later_draws(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A spent budget still judges ALWAYS_JUDGED new runs a draw; the others wait, saying so."""
    db, ids = _db(tmp_path / "p.db", runs=3)
    cache.forget_diagnoses()
    monkeypatch.setattr(overview, "ALWAYS_JUDGED", 1)
    runs = cache.store_for(db).runs()
    draws = [overview.overview_table(db, runs, budget_s=0.0)["worst finding"].tolist() for _ in range(3)]
    assert [row.count(overview.PENDING) for row in draws] == [2, 1, 0]
    assert overview.overview_table(db, runs, budget_s=0.0)["key metric"].str.startswith("val/loss").all()


def test_overlay_shares_a_screen_budget_and_keeps_spikes() -> None:
    assert overlay_points(1) == OVERLAY_POINTS
    assert overlay_points(20) == OVERLAY_POINTS // 20
    assert overlay_points(10_000) == OVERLAY_MIN_POINTS  # never fewer, however many runs
    steps = np.arange(50_000)
    curves = []
    for i in range(20):
        values = 1 / (steps + 1.0) + i
        if i == 7:
            values[31_337] = 1e3  # one step in 50,000
        curves.append({"label": f"run {i}", "value": i, "steps": steps, "values": values})
    fig = overlay_figure(curves, "train/loss", None, max_points=overlay_points(len(curves)))
    assert sum(len(t.x) for t in fig.data) <= OVERLAY_POINTS + 2 * len(curves)
    assert max(np.asarray(fig.data[7].y, dtype=float)) == 1e3


def test_run_page_judges_once_and_ends_on_the_judged_chart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run not yet judged in this process: the page draws its curves first, then the judged chart in
    its place; afterwards the diagnosis is ready and the page holds one curves chart, not two."""
    db, ids = _db(tmp_path / "r.db", runs=1)
    cache.forget_diagnoses()
    last = Store(db).run(ids[0])["last_step"]
    assert not cache.diagnosis_ready(db, ids[0], last)
    at = app_test(Path(db), monkeypatch, "pages/run.py", run=str(ids[0]))
    assert not at.exception
    assert cache.diagnosis_ready(db, ids[0], last)
    charts = at.get("plotly_chart")
    assert len(charts) == 1 and '"name":"train\\u002floss"' in charts[0].proto.spec
    assert at.multiselect[0].value == ["train/loss", "val/loss"]
    again = at.run()  # judged: drawn once, same chart
    assert len(again.get("plotly_chart")) == 1 and not again.exception


@pytest.mark.slow
def test_browser_speed_quick_prints_its_table() -> None:
    """The bench end to end at small sizes (real Chromium, TensorBoard, streamlit); figures not judged."""
    pytest.importorskip("playwright.sync_api")
    pytest.importorskip("tensorboard")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian's chromium is not installed")
    out = subprocess.run([sys.executable, "bench/browser_speed.py", "--quick"], cwd=ROOT, capture_output=True,
                         text=True, timeout=900, check=True).stdout
    rows = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| ")}
    assert {"TensorBoard: run", "traindoc: run", "traindoc: overview", "traindoc: compare"} <= set(rows)
    assert rows["traindoc: run"].rstrip(" |").endswith("yes")  # the spike is on traindoc's default chart
