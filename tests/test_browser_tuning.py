"""The tuning tools in a real browser: the compare page's importance panel over a random search (rows
written, no training) and the Launch page's learning-rate range test filling the form's lr.

With TRAINDOC_SHOTS=DIR it saves ``importance_panel.png`` and ``lr_find.png`` there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest_browser import Page, browser_page, expect, settled
from conftest_ui import serve
from test_importance import _search

pytestmark = pytest.mark.slow  # see CONTRIBUTING.md: left out of the fast loop

SHOTS = os.environ.get("TRAINDOC_SHOTS")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    db = tmp_path_factory.mktemp("browser-tuning") / "traindoc.db"
    group = _search(db, 16, "optim.lr")
    with serve(db) as url:
        yield url, group


def _shot(page: Page, name: str, anchor: str) -> None:
    if not SHOTS:
        return
    page.mouse.move(5, 5)
    page.get_by_text(anchor, exact=True).first.evaluate("el => el.scrollIntoView({block: 'start'})")
    settled(page)
    page.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


def test_compare_page_names_the_key_that_mattered(server: tuple[str, int]) -> None:
    url, group = server
    with browser_page() as page:
        page.goto(f"{url}/compare?group={group}")
        expect(page.get_by_text("Which hyper-parameters mattered", exact=True)).to_be_visible()
        expect(page.get_by_text("optim.lr explains most of the spread of the best val/auc").first).to_be_visible()
        settled(page)
        _shot(page, "importance_panel", "Which hyper-parameters mattered")


def test_launch_page_range_test_fills_the_lr(server: tuple[str, int]) -> None:
    url, _ = server
    with browser_page() as page:
        page.goto(f"{url}/launch")
        page.get_by_text("Learning-rate range test", exact=True).click()
        page.get_by_role("button", name="Find a learning rate").click()
        use = page.get_by_role("button", name="Use optim.lr")
        expect(use).to_be_visible(timeout=300_000)
        suggested = use.inner_text().split("=")[-1].strip()
        _shot(page, "lr_find", "Learning-rate range test")
        use.click()
        page.get_by_text("Config", exact=True).first.click()
        expect(page.get_by_label("optim.lr", exact=True)).to_have_value(suggested)
