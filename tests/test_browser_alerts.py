"""End to end in a real browser: set a webhook on the Overview, launch a diverging preset from the Launch
page, receive its alert on a local receiver (127.0.0.1), and follow the alert's link to the run page."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest_browser import browser_page, choose, expect, settled
from conftest_ui import serve
from test_alerts import Receiver

from runner.store import Store

pytestmark = pytest.mark.slow  # see CONTRIBUTING.md: left out of the fast loop

# a background run: the scheduler's spawn and a torch import on a loaded machine; the wait ends on arrival
ALERT_WAIT_S = 300.0


def test_a_diverging_preset_alerts_and_the_alert_links_to_its_run_page(tmp_path: Path) -> None:
    receiver = Receiver()
    db = tmp_path / "traindoc.db"
    Store(db)
    try:
        with serve(db) as url, browser_page() as page:
            page.goto(url)
            page.get_by_text("Alerts", exact=True).click()
            for label, value in (("Webhook URL", receiver.url),
                                 ("Dashboard address (the alerts link to its run page)", url)):
                field = page.get_by_label(label, exact=True)
                field.fill(value)
                field.press("Enter")
                settled(page)
            page.get_by_role("button", name="Save").click()
            expect(page.get_by_text("Saved: alerts go to 127.0.0.1.")).to_be_visible()
            page.get_by_role("button", name="Send a test alert").click()
            expect(page.get_by_text("Delivered to 127.0.0.1 (HTTP 200).")).to_be_visible()
            assert receiver.wait_for(event="test")["url"] == url

            page.goto(f"{url}/launch")
            choose(page, "Start from", "preset · divergence", exact=True)
            page.get_by_role("button", name="Queue 1 run").click()
            alert = receiver.wait_for(timeout=ALERT_WAIT_S, event="finding", rule="divergence")
            assert alert["severity"] == "critical" and alert["name"] == "divergence"
            assert alert["url"] == f"{url}/run?run={alert['run_id']}"

            page.goto(alert["url"])  # what a click in Slack or on the phone opens
            page.wait_for_url(f"**/run?run={alert['run_id']}")
            expect(page.get_by_role("heading", name="divergence")).to_be_visible()
            settled(page)
            assert page.get_by_text("Run not found").count() == 0
            assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
