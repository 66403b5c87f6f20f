"""A finding report of one run, to attach to an issue or a review: Markdown, or one HTML file with
the chart inside (plotly.js embedded, so it opens offline)."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from diagnostics.findings import Finding
from traindoc.views.overview import duration


def _facts(run: Mapping[str, Any], tags: Sequence[str]) -> list[tuple[str, str]]:
    facts = [("Run", f"#{run['id']} {run['name']}"), ("Status", str(run["status"])), ("Source", str(run["source"])),
             ("Steps", "—" if run.get("last_step") is None else f"{run['last_step']:,}"),
             ("Duration", duration(run) or "—")]
    if tags:
        facts.append(("Tags", ", ".join(tags)))
    if run.get("note"):
        facts.append(("Note", str(run["note"])))
    return facts


def report_markdown(run: Mapping[str, Any], findings: Sequence[Finding], tags: Sequence[str] = ()) -> str:
    """Headline facts, then every finding: severity, summary, ranked fixes with their config patch."""
    lines = [f"# traindoc report: run #{run['id']} {run['name']}", ""]
    lines += [f"- **{k}**: {v}" for k, v in _facts(run, tags)]
    lines += ["", f"## Findings ({len(findings)})", ""]
    if not findings:
        lines.append("No problems found.")
    for finding in findings:
        lines += [f"### [{finding.severity}] {finding.title} (`{finding.rule}`)", "", finding.summary, ""]
        for rank, fix in enumerate(finding.fixes, start=1):
            lines.append(f"{rank}. {fix.text}" + (f" — {fix.reason}" if fix.reason else ""))
            if fix.config_patch:
                lines.append(f"   `{json.dumps(fix.config_patch)}`")
        lines.append("")
    return "\n".join(lines)


def report_html(run: Mapping[str, Any], findings: Sequence[Finding], figure: go.Figure | None,
                tags: Sequence[str] = ()) -> str:
    """The same report as one self-contained HTML page; user text is escaped, the chart is interactive."""
    esc = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>traindoc: {esc(str(run['name']))}</title>"
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
             ".critical{color:#d62728}.warning{color:#ff7f0e}.info{color:#1f77b4}</style></head><body>",
             f"<h1>traindoc report: run #{run['id']} {esc(str(run['name']))}</h1><ul>",
             *(f"<li><b>{esc(k)}</b>: {esc(v)}</li>" for k, v in _facts(run, tags)), "</ul>"]
    if figure is not None:
        parts.append(figure.to_html(full_html=False, include_plotlyjs=True))
    parts.append(f"<h2>Findings ({len(findings)})</h2>" + ("" if findings else "<p>No problems found.</p>"))
    for finding in findings:
        parts.append(f"<h3 class='{esc(finding.severity)}'>[{esc(finding.severity)}] {esc(finding.title)} "
                     f"<code>{esc(finding.rule)}</code></h3><p>{esc(finding.summary)}</p><ol>")
        for fix in finding.fixes:
            patch = f"<br><code>{esc(json.dumps(fix.config_patch))}</code>" if fix.config_patch else ""
            parts.append(f"<li>{esc(fix.text)}{' — ' + esc(fix.reason) if fix.reason else ''}{patch}</li>")
        parts.append("</ol>")
    return "".join(parts) + "</body></html>"
