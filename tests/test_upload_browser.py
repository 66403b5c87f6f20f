"""End to end in a real browser: upload a Lightning metrics.csv of an overfitting run and a TensorBoard file,
see both runs and the overfitting finding. Reuses test_browser's streamlit helpers on an empty database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest_browser import browser_page, expect
from conftest_ui import serve
from import_golden import FIXTURES

from runner.store import Store

pytestmark = pytest.mark.slow  # see CONTRIBUTING.md: left out of the fast loop


@pytest.fixture(scope="module")
def empty_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    db = tmp_path_factory.mktemp("upload-ui") / "traindoc.db"
    with serve(db) as url:
        yield url, db


def test_upload_lightning_and_tensorboard_and_see_overfitting(empty_server: tuple[str, Path]) -> None:
    url, db = empty_server
    lightning = FIXTURES / "lightning/version_0/metrics.csv"
    events = next(FIXTURES.glob("tensorboard/overfit/events.out.tfevents.*"))
    with browser_page(height=1000) as page:
        page.goto(url)
        page.get_by_role("link", name="Upload").click()
        expect(page.get_by_text("No uploaded runs yet")).to_be_visible()
        page.locator('input[type="file"]').set_input_files([str(lightning), str(events)])
        expect(page.get_by_role("heading", name="#1 metrics")).to_be_visible()
        expect(page.get_by_role("heading", name="#2 tfevents")).to_be_visible()
        expect(page.get_by_text("Overfitting").first).to_be_visible()
        page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot .scatterlayer .trace')"
                               ".length >= 2")
        assert page.locator('[data-testid="stException"]').count() == 0
        assert "Traceback" not in page.inner_text("body")
    runs = Store(db).runs()
    assert sorted(runs["source"]) == ["upload", "upload"] and len(runs) == 2
