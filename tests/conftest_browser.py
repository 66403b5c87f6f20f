"""What the real-browser tests share: playwright, Debian's chromium and page-state waits.

Kept apart from tests/conftest_ui.py so that only the files that drive a browser import
playwright; importing this module without playwright skips the importing test file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("playwright.sync_api", reason="the browser tests drive chromium through playwright")

from playwright.sync_api import Locator, Page, expect, sync_playwright  # noqa: E402
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError  # noqa: E402

__all__ = ["WAIT_MS", "Page", "browser_page", "choose", "click_until", "expect", "settled"]

# A busy 2-core CI machine (load 15+) needs far more than playwright's 5 s for a first script
# run (torch import); waits end as soon as the page is ready, so a generous bound costs nothing.
# Three minutes: at load 20 (the suite on two workers beside other jobs) a run page drawing a
# 50,000-step live curve took over a minute.
WAIT_MS = 180_000
expect.set_options(timeout=WAIT_MS)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# How long one opened dropdown may take to list its options before it is opened again: a rerun
# that lands between the click and the listing redraws the select box closed.
_OPTIONS_WAIT_MS = 10_000
_OPEN_TRIES = 5

# Streamlit marks its root element with the script's state; "running" while a rerun is under way.
_SETTLED = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') === 'running') return false;
  return [...document.querySelectorAll('.js-plotly-plot')].every(el => el._fullLayout && el.data);
}"""


@contextlib.contextmanager
def browser_page(width: int = 1400, height: int = 1000, timeout_ms: int = WAIT_MS) -> Iterator[Page]:
    """A page in Debian's chromium (no browser downloads), closed on the way out."""
    assert Path(CHROMIUM).exists(), "install Debian's chromium: apt-get install -y chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(timeout_ms)
            yield page
        finally:
            browser.close()


def settled(page: Page, timeout_ms: int = WAIT_MS) -> None:
    """Wait on the page's own state (script not running, every Plotly chart drawn), not a fixed time."""
    page.wait_for_function(_SETTLED, timeout=timeout_ms)


def choose(page: Page, combobox: str, option: str, exact: bool = False) -> None:
    """Pick `option` in the select box labelled `combobox`, opening it again if a rerun closed it.

    A rerun (a toast fading, a fragment refreshing) can redraw the box between the click that
    opens it and the listing of its options; the list is then never shown. Waiting for the page
    to settle first and reopening on a miss makes the pick independent of that timing.
    """
    wanted = page.get_by_role("option", name=option, exact=exact)
    for _ in range(_OPEN_TRIES):
        settled(page)
        page.get_by_role("combobox", name=combobox).first.click()
        try:
            wanted.first.wait_for(state="visible", timeout=_OPTIONS_WAIT_MS)
        except PlaywrightTimeoutError:
            page.keyboard.press("Escape")
            continue
        wanted.first.click()
        return
    raise AssertionError(f"the select box {combobox!r} never listed {option!r}")


def click_until(page: Page, button: Locator, done: Locator) -> None:
    """Click `button` until `done` shows: a click that lands while a rerun redraws the button is
    dropped by the page, so a settled page is clicked again, never a button already disabled."""
    for _ in range(_OPEN_TRIES):
        settled(page)
        if not button.is_enabled():
            break  # the earlier click took: the button now says so and refuses another
        button.click()
        try:
            done.first.wait_for(state="visible", timeout=_OPTIONS_WAIT_MS * 3)
            return
        except PlaywrightTimeoutError:
            continue
    expect(done.first).to_be_visible()
