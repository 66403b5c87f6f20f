"""The run page's export: a finding report as Markdown or as one HTML file with the chart."""

from __future__ import annotations

from typing import Any

import streamlit as st

from diagnostics.figures import curve_figure
from runner.store import Store
from traindoc.ui.shared import diagnose_run, series
from traindoc.views.report import report_html, report_markdown


def report_buttons(store: Store, db: str, run: dict[str, Any], metrics: list[str]) -> None:
    """Two download buttons; the files are built only when clicked (deferred data)."""
    run_id = int(run["id"])
    tags = store.tags(run_id).get(run_id, [])

    def markdown() -> str:
        return report_markdown(run, diagnose_run(db, run_id, run["last_step"])[0], tags)

    def page() -> str:
        findings = diagnose_run(db, run_id, run["last_step"])[0]
        data = series(db, run_id, run["last_step"], tuple(metrics)) if metrics else {}
        figure = curve_figure(data, smoothing="auto", findings=findings) if data else None
        return report_html(run, findings, figure, tags)

    left, right, _ = st.columns([1, 1, 2])
    left.download_button("Report (Markdown)", markdown, file_name=f"traindoc-run-{run_id}.md",
                         mime="text/markdown", icon=":material/description:", key="report:md")
    right.download_button("Report (HTML + chart)", page, file_name=f"traindoc-run-{run_id}.html",
                          mime="text/html", icon=":material/download:", key="report:html")
