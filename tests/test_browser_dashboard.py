"""The dashboard as a daily tool, in a real browser (one server, one chromium for the module):
the launch form survives a finishing run, runs are tagged/renamed/filtered/deleted from the overview,
the overview notices a run started elsewhere, three unrelated runs compare readably, bad URLs say so."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from conftest_browser import WAIT_MS, Page, browser_page, choose, expect, settled
from conftest_ui import serve

from runner.store import Store

pytestmark = pytest.mark.slow  # see CONTRIBUTING.md: left out of the fast loop


def _runs(store: Store) -> list[int]:
    base = {f"model.k{i}": i for i in range(30)}
    ids = [store.create_run("long " * 30 + "name", {**base, "optim.lr": 0.1}, status="finished"),
           store.create_run("other", {**base, "optim.lr": 0.01}, status="finished", source="api"),
           store.create_run("tb_upload", {}, status="finished", source="upload")]
    for run_id, extra in zip(ids, ("val/loss", "val/acc", "val/auc"), strict=True):
        store.write_metrics([(run_id, s, None, name, 1.0 / (s + 1), 0.0) for s in range(50)
                             for name in ("train/loss", extra)])
    return ids


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Store, list[int], Page]]:
    db = tmp_path_factory.mktemp("dash") / "d.db"
    store = Store(db)
    ids = _runs(store)
    with serve(db) as url, browser_page() as page:
        yield url, store, ids, page


def _caption(page: Page, text: str) -> None:
    expect(page.get_by_text(text)).to_be_visible()


def _until(check: Callable[[], bool], timeout: float = WAIT_MS / 1000) -> None:
    """The browser acted; poll (bounded, generously) until the database shows it."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the page's action never reached the database"
        time.sleep(0.2)


def _tick(page: Page, row: int) -> None:
    """Tick a row of the overview's table (a canvas grid: the checkbox column is its first 30 px)."""
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.wait_for(state="visible")
    settled(page)  # no rerun under way: the grid will not move or redraw under the click
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 15, box["y"] + 35 + 35 * row + 17)


def test_bad_urls_say_so(app: tuple[str, Store, list[int], Page]) -> None:
    url, _, _, page = app
    page.goto(f"{url}/run?run=9999")
    expect(page.get_by_text("There is no run with id 9999")).to_be_visible()
    assert "run=9999" in page.url
    page.goto(f"{url}/compare?group=999")
    expect(page.get_by_text("There is no group with id 999")).to_be_visible()
    assert page.locator(".js-plotly-plot").count() == 0


def test_compare_three_unrelated_runs_is_readable(app: tuple[str, Store, list[int], Page]) -> None:
    url, _, ids, page = app
    page.goto(f"{url}/compare?runs={','.join(map(str, ids))}")
    page.wait_for_function("() => { const el = document.querySelector('.js-plotly-plot');"
                           " return el && el.data && el.data.length === 3; }")
    plot = page.evaluate("() => { const el = document.querySelector('.js-plotly-plot');"
                         " return {h: el._fullLayout._size.h, w: el._fullLayout._size.w,"
                         " names: el.data.map(t => t.name)}; }")
    assert plot["h"] > 250 and plot["w"] > 600, plot  # the legend does not squeeze the plot
    assert all(len(n) < 60 for n in plot["names"])
    assert page.get_by_text("Sensitivity", exact=True).count() == 0


def test_launch_form_keeps_its_state_across_a_finishing_run(app: tuple[str, Store, list[int], Page]) -> None:
    url, store, _, page = app
    page.goto(f"{url}/launch")
    choose(page, "Start from", "preset · healthy")
    expect(page.get_by_role("button", name="Queue 1 run")).to_be_visible()
    page.get_by_role("tab", name="train", exact=True).click()
    epochs = page.get_by_label("train.epochs", exact=True)
    epochs.fill("400")
    epochs.press("Enter")
    run_id = store.create_run("finishing elsewhere", {}, status="running")
    store.finish(run_id, "finished")  # a new "run #N" option appears in Start from
    name = page.get_by_label("Group name")
    name.fill("my group")
    name.press("Enter")  # a full rerun, which used to reset the form
    expect(page.get_by_role("button", name="Queue 1 run")).to_be_visible()
    expect(page.get_by_label("train.epochs", exact=True)).to_have_value("400")
    assert page.get_by_text("Queue 15 runs").count() == 0


def test_overview_tags_renames_filters_and_deletes(app: tuple[str, Store, list[int], Page]) -> None:
    url, store, _, page = app
    shown = store.find_runs().id.tolist()  # the table's order: newest first
    page.goto(url)
    _caption(page, f"{len(shown)} shown")
    _tick(page, 0)
    _tick(page, 1)
    expect(page.get_by_role("link", name="Compare 2 runs")).to_be_visible()  # ticking does not navigate
    page.get_by_label("Tags to add (comma separated; a leading - removes)").fill("keep")
    page.get_by_role("button", name="Apply tags").click()
    _until(lambda: store.tags() == {shown[0]: ["keep"], shown[1]: ["keep"]})
    expect(page.get_by_text(": tagged keep").last).to_be_visible()  # told it worked (a caption outlives the toast)
    _tick(page, 0)  # untick the first: one run left ticked → rename it
    name = page.get_by_label("Name", exact=True)
    expect(name).to_have_value(store.run(shown[1])["name"])
    name.fill("lightning_logs/version_0")
    page.get_by_role("button", name="Save name and note").click()
    _until(lambda: store.run(shown[1])["name"] == "lightning_logs/version_0")
    page.get_by_role("button", name="Delete 1 run").click()
    page.get_by_role("button", name="Yes, delete").click()
    _caption(page, f"{len(shown) - 1} shown")
    assert shown[1] not in set(store.runs().id)
    choose(page, "Tag", "keep")  # filter by the tag: the one tagged run left
    _caption(page, "1 shown")


def test_overview_picks_up_a_run_started_elsewhere(app: tuple[str, Store, list[int], Page]) -> None:
    url, store, _, page = app
    page.goto(url)
    _caption(page, "shown")
    run_id = store.create_run("from the cli", {}, status="queued")
    store.mark_running(run_id, pid=None)
    expect(page.get_by_text("1 running")).to_be_visible()
    store.finish(run_id, "finished")
    expect(page.get_by_text("1 running")).to_have_count(0)
