"""End to end in a real browser: the dashboard served by `streamlit run`, driven by Debian's chromium.

Opens the overview, follows the link to a finished real run and checks that its chart
was drawn by Plotly with traces. Needs /usr/bin/chromium (`apt-get install -y chromium`)
and the playwright Python package; no browser download.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest_browser import browser_page, expect, settled
from conftest_ui import FAST_PRESET, real_db_in, serve

from runner.store import Store

pytestmark = pytest.mark.slow  # see CONTRIBUTING.md: left out of the fast loop


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, int]]]:
    """A server over a DB holding a finished real run."""
    db, ids = real_db_in(tmp_path_factory)
    with serve(db) as url:
        yield url, ids


def test_open_finished_run_and_see_its_chart(server: tuple[str, dict[str, int]]) -> None:
    url, ids = server
    run_id = ids[FAST_PRESET]
    with browser_page() as page:
        page.goto(url)
        expect(page.get_by_text("Runs in this database")).to_be_visible()
        page.get_by_role("link", name=f"Open run #{run_id}").click()
        page.wait_for_url(f"**/run?run={run_id}")
        expect(page.get_by_role("heading", name=FAST_PRESET)).to_be_visible()
        chart = page.locator(".js-plotly-plot").first
        chart.wait_for(state="visible")
        page.wait_for_function(
            "() => { const el = document.querySelector('.js-plotly-plot');"
            " return el && el.data && el.data.length > 0 && el.querySelector('.scatterlayer .trace'); }")
        names = page.evaluate("() => document.querySelector('.js-plotly-plot').data.map(t => t.name)")
        assert "train/loss" in names and "val/loss" in names
        assert page.locator('[data-testid="stException"]').count() == 0
        assert "Traceback" not in page.inner_text("body")


LIVE_REFRESH_MS = 2_500  # the run page's fragment reruns every 2 s while the run is live
HOSTILE_RUN = '<img src=x onerror="window.__xss=1">'
HOSTILE_METRIC = "<script>window.__xss=2</script>"


def test_a_run_url_opened_first_on_a_fresh_server_gets_the_app_and_shows_hostile_names_as_text(
        tmp_path: Path) -> None:
    """Direct links work from the first request (not Streamlit's legacy pages list), and
    run and metric names are data: shown literally, never rendered as HTML."""
    store = Store(tmp_path / "traindoc.db")
    run_id = store.create_run(HOSTILE_RUN, {"optim.lr": 0.1}, status="finished", source="api")
    store.write_metrics([(run_id, s, None, name, 1.0 / (s + 1), 0.0) for s in range(1, 50)
                         for name in ("train/loss", HOSTILE_METRIC)])
    with serve(tmp_path / "traindoc.db") as url, browser_page() as page:
        page.goto(f"{url}/run?run={run_id}")
        expect(page.get_by_role("heading", name=HOSTILE_RUN)).to_be_visible()
        nav = page.locator('[data-testid="stSidebarNav"]')
        expect(nav.get_by_text("Overview", exact=True)).to_be_visible()
        expect(nav.get_by_text("shared", exact=True)).to_have_count(0)  # not the legacy list of pages/
        page.locator(".js-plotly-plot").first.wait_for(state="visible")
        assert page.evaluate("() => window.__xss") is None
        assert page.locator("img[onerror]").count() == 0
        assert HOSTILE_RUN in page.inner_text("body")


def test_a_live_run_page_redraws_without_webgl_contexts(tmp_path: Path) -> None:
    """A live run page redraws its chart every 2 s; a WebGL chart would take a new context each
    time until the browser drops the oldest ("Too many active WebGL contexts"). Its curves are
    downsampled, so they are drawn as SVG whatever the number of logged points."""
    store = Store(tmp_path / "traindoc.db")
    run_id = store.create_run("live", {"optim.lr": 0.1}, status="queued", source="api")
    store.mark_running(run_id, pid=None)
    store.write_metrics([(run_id, s, None, "train/loss", 1.0 / (s + 1), 0.0) for s in range(1, 50_001)])
    console: list[str] = []
    with serve(tmp_path / "traindoc.db") as url, browser_page() as page:
        page.on("console", lambda message: console.append(message.text))
        page.goto(f"{url}/run?run={run_id}")
        page.wait_for_function("() => { const el = document.querySelector('.js-plotly-plot');"
                               " return el && el.data && el.data.length > 0; }")
        for step in range(50_001, 50_004):  # three live redraws, each with a new point
            store.write_metrics([(run_id, step, None, "train/loss", 1.0 / step, 0.0)])
            store.heartbeat(run_id)
            page.wait_for_timeout(LIVE_REFRESH_MS)  # the page's own refresh period: let it redraw
            settled(page)
        assert page.locator(".gl-container canvas").count() == 0
        assert page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')]"
                             ".flatMap(el => el.data.map(t => t.type)).filter(t => t === 'scattergl').length") == 0
    assert not [m for m in console if "WebGL" in m], console
