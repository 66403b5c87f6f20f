"""End to end in a real browser: upload a Lightning metrics.csv of an overfitting run and a TensorBoard file,
see both runs and the overfitting finding. Reuses test_browser's streamlit helpers on an empty database."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest_ui import ROOT
from import_golden import FIXTURES
from playwright.sync_api import expect, sync_playwright
from test_browser import CHROMIUM, CHROMIUM_ARGS, _free_port, _wait_healthy

from runner.store import Store


@pytest.fixture(scope="module")
def empty_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    db = tmp_path_factory.mktemp("upload-ui") / "traindoc.db"
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env={**os.environ, "TRAINDOC_DB": str(db)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, proc)
        yield url, db
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_upload_lightning_and_tensorboard_and_see_overfitting(empty_server: tuple[str, Path]) -> None:
    url, db = empty_server
    lightning = FIXTURES / "lightning/version_0/metrics.csv"
    events = next(FIXTURES.glob("tensorboard/overfit/events.out.tfevents.*"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30_000)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
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
        finally:
            browser.close()
    runs = Store(db).runs()
    assert sorted(runs["source"]) == ["upload", "upload"] and len(runs) == 2
