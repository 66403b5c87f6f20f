"""The Overview's "Alerts" expander: this database's webhook, the address its links point to, a test send."""

from __future__ import annotations

import os
from typing import Any

import streamlit as st

from runner import alerts
from traindoc.ui.shared import md


def alerts_settings(store: Any) -> None:
    """Webhook and dashboard address fields, Save, and "Send a test alert" with what happened."""
    saved_url = store.setting(alerts.SETTING_URL) or ""
    env_url = os.environ.get(alerts.ENV_URL, "")
    with st.expander("Alerts", icon=":material/notifications:"):
        st.caption("One JSON POST per new warning or critical finding of a live run, and when a run fails, "
                   "crashes, stalls or is stopped by the doctor. A Slack incoming webhook gets Slack's message; "
                   "any other URL (ntfy, your own receiver) a generic JSON body with a link to the run.")
        url = st.text_input("Webhook URL", value=saved_url, type="password", key="alerts:url",
                            placeholder="https://hooks.slack.com/services/... or https://ntfy.sh/your-topic",
                            help=f"Kept in this database; empty: {alerts.ENV_URL} from the environment, if set.")
        dashboard = st.text_input("Dashboard address (the alerts link to its run page)", key="alerts:dashboard",
                                  value=store.setting(alerts.SETTING_DASHBOARD) or "",
                                  placeholder=alerts.dashboard_url(store))
        save, test, _ = st.columns([1, 2, 4])  # the two buttons side by side, at the left
        if save.button("Save", icon=":material/save:", key="alerts:save"):
            _save(store, url, dashboard)
        if test.button("Send a test alert", icon=":material/send:", key="alerts:test"):
            ok, said = alerts.send_test(store, url.strip() or None)
            (st.success if ok else st.error)(md(said))
        if not saved_url and env_url:
            st.caption(md(f"Sending to {alerts.host_of(env_url)} ({alerts.ENV_URL} in the environment)."))
        elif not saved_url:
            st.caption("No webhook saved: no alerts are sent.")


def _save(store: Any, url: str, dashboard: str) -> None:
    try:
        url = alerts.check_url(url) if url.strip() else ""
        dashboard = alerts.check_url(dashboard) if dashboard.strip() else ""
    except ValueError as exc:
        st.error(md(str(exc)))
        return
    store.set_setting(alerts.SETTING_URL, url or None)
    store.set_setting(alerts.SETTING_DASHBOARD, dashboard or None)
    st.success(md(f"Saved: alerts go to {alerts.host_of(url)}." if url else "Saved: no webhook in this database."))
