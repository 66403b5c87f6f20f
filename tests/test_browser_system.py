"""The run page's System group in a real browser: its panels share the curves' x-axis, so a memory
rise sits under the loss of the same steps (and the same minutes, on the wall-time axis)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from conftest_browser import Page, browser_page, settled
from conftest_ui import serve

from runner.store import Store

pytestmark = pytest.mark.slow  # see CONTRIBUTING.md: left out of the fast loop

SHOTS = os.environ.get("TRAINDOC_SHOTS")
STEPS = 600
FLUSH = 25  # the sink samples the system at each flush: every 25 steps here
GROWTH_FROM = 300  # the step where the host memory starts to climb (a leak that keeps batches alive)

# every drawn chart's x range, as plotly laid it out (panels included)
_RANGES = """() => [...document.querySelectorAll('.js-plotly-plot')].map(el =>
  Object.keys(el._fullLayout).filter(k => /^xaxis\\d*$/.test(k)).map(k => el._fullLayout[k].range))"""


def _run(store: Store) -> int:
    """A run whose loss flattens while its RSS climbs from ``GROWTH_FROM``, one second a step."""
    run_id = store.create_run("leaky loader", {"optim.lr": 0.01}, status="running")
    rng = np.random.default_rng(0)
    steps = np.arange(1, STEPS + 1)
    loss = 2.0 * np.exp(-steps / 120) + 0.3 + 0.02 * rng.standard_normal(STEPS)
    rows = [(run_id, int(s), None, "train/loss", float(v), 1000.0 + s) for s, v in zip(steps, loss, strict=True)]
    for s in range(FLUSH, STEPS + 1, FLUSH):
        rss = 900.0 + max(0, s - GROWTH_FROM) * 4.0
        rows += [(run_id, s, None, "sys/step_time", 1.0 + 0.05 * rng.standard_normal(), 1000.0 + s),
                 (run_id, s, None, "sys/rss_mb", rss, 1000.0 + s)]
    store.write_metrics(rows)
    store.finish(run_id, "finished")
    return run_id


def _ranges(page: Page) -> list[list[list[float]]]:
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length == 2")  # curves, System
    settled(page)
    return page.evaluate(_RANGES)


def test_system_panels_share_the_curves_x_range_on_steps_and_wall_time(tmp_path: Path) -> None:
    db = tmp_path / "system.db"
    run_id = _run(Store(db))
    with serve(db) as url, browser_page(height=1300) as page:
        page.goto(f"{url}/run?run={run_id}")
        page.get_by_text("System", exact=True).wait_for()
        curves, system = _ranges(page)
        assert len(system) == 2 and all(r == curves[0] for r in system), (curves, system)
        assert curves[0] == [1, STEPS]  # the loss from step 1, the system rows from the first flush
        if SHOTS:
            page.mouse.move(5, 5)
            page.get_by_text("Metrics", exact=True).first.evaluate("el => el.scrollIntoView({block: 'start'})")
            settled(page)
            page.screenshot(path=str(Path(SHOTS) / "run_system.png"))
        page.get_by_text("wall time", exact=True).click()
        page.wait_for_function("() => document.querySelector('.js-plotly-plot')._fullLayout.xaxis.title.text"
                               ".startsWith('wall time')")
        curves, system = _ranges(page)
        assert all(r == curves[0] for r in system) and curves[0] == pytest.approx([0, (STEPS - 1) / 60])
