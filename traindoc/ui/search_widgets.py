"""The Launch page's "Random search" form: per key a distribution (scale, low, high, or choices)
with a small histogram of draws on that scale, then trials, sampler and pruning. Logic stays in
``runner.search``; every widget is keyed by the starting point, so the form keeps what was typed."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from runner import plan, search
from runner.config import ConfigError, coerce, schema
from traindoc.core.configs import LOG_KEYS

PREVIEW_DRAWS = 200  # enough for the shape of the distribution, cheap on every rerun
PREVIEW_HEIGHT = 140
NO_PRUNING = "no pruning"
TICK_SLACK = 1e-9  # a bound of 1e-3 is a whole decade, whatever log10's rounding says


def search_inputs(base: dict[str, Any], prefix: str) -> tuple[dict[str, search.Dist], dict[str, str], dict[str, Any]]:
    """(space, errors per key, options: trials, sampler, prune) from the form."""
    keys = st.multiselect("Parameters to search (each drawn on its own scale, independently)",
                          plan.sweepable_keys(), default=["optim.lr"], key=f"{prefix}:search-keys")
    fields = schema()
    space: dict[str, search.Dist] = {}
    errors: dict[str, str] = {}
    for key in keys:
        meta = fields[key].metadata
        first = search.parse_dist(key, search.default_dist(key, base[key], meta, LOG_KEYS), coerce)
        with st.container(border=True):
            left, right = st.columns([3, 2], vertical_alignment="center")
            text = _dist_form(left, key, first, meta, prefix)
            try:
                dist = search.parse_dist(key, text, coerce)
            except ConfigError as exc:
                errors[key] = str(exc)
                continue
            space[key] = dist
            right.plotly_chart(preview(dist), key=f"{prefix}:preview:{key}", config={"displayModeBar": False})
    cols = st.columns(3)
    trials = int(cols[0].number_input("Trials", 1, search.MAX_TRIALS, search.DEFAULT_TRIALS, key=f"{prefix}:trials",
                                      help="runs of the search (× seeds)"))
    sampler = cols[1].selectbox("Sampler", search.SAMPLERS, key=f"{prefix}:sampler",
                                help="random: every trial drawn now; tpe: each trial drawn when it starts, "
                                "from the trials finished so far (Optuna's TPE; its first quarter at random)")
    prune = cols[2].selectbox("Pruning", (NO_PRUNING, *search.PRUNERS), key=f"{prefix}:prune",
                              help="stop a trial clearly behind the others at the same epoch "
                              "(median rule, or successive halving)")
    return space, errors, {"trials": trials, "sampler": sampler, "prune": None if prune == NO_PRUNING else prune}


def _dist_form(col: Any, key: str, first: search.Dist, meta: Any, prefix: str) -> str:
    """The distribution's widgets for one key; returns it as text (``log:1e-4:1e-1``)."""
    if first.kind == "choice":
        picked = col.multiselect(f"{key}: choices", list(first.choices), default=list(first.choices)[:2],
                                 key=f"{prefix}:search-choices:{key}", placeholder="pick two or more")
        return "choice:" + ",".join(str(c) for c in picked)
    kinds = [k for k in search.KINDS if k != "choice"]
    a, b, c = col.columns(3)
    kind = a.selectbox(f"{key}: scale", kinds, index=kinds.index(first.kind), key=f"{prefix}:search-kind:{key}",
                       help="log: every decade as likely (lr, eps, weight decay); 1-log: 1-β log-uniform "
                       "(momentum, β); pow2: powers of two (width, batch size)")
    low = b.text_input("low", f"{first.low:g}", key=f"{prefix}:search-low:{key}")
    high = c.text_input("high", f"{first.high:g}", key=f"{prefix}:search-high:{key}",
                        help=f"{meta.get('help', '')} (allowed {meta.get('min', '-'):g} to {meta.get('max', '-'):g})"
                        if "min" in meta else meta.get("help"))
    return f"{kind}:{low.strip()}:{high.strip()}"


def preview(dist: search.Dist, n: int = PREVIEW_DRAWS) -> go.Figure:
    """A histogram of ``n`` draws on the scale they are drawn on (log10 of lr, log10 of 1-β)."""
    values = np.array([d[dist.key] for d in search.draw_random({dist.key: dist}, n, seed=0)], dtype=object)
    if dist.kind == "log":
        x, title = np.log10(values.astype(float)), f"{dist.key}, log scale"
    elif dist.kind == "1-log":
        x, title = np.log10(1 - values.astype(float)), f"{dist.key}, 1 - x on a log scale"
    elif dist.kind == "pow2":
        x, title = np.log2(values.astype(float)), f"log2({dist.key})"
    else:
        x, title = values, dist.key
    fig = go.Figure(go.Histogram(x=list(x), nbinsx=20 if dist.kind in ("log", "1-log", "uniform") else None,
                                 marker_color="#4C78A8"))
    if dist.kind in ("log", "1-log") and len(x):  # ticks at whole decades, labelled with the key's own values
        ends = (dist.low, dist.high) if dist.kind == "log" else (1 - dist.high, 1 - dist.low)
        first, last = math.log10(ends[0]) - TICK_SLACK, math.log10(ends[1]) + TICK_SLACK
        decades = list(range(math.ceil(first), math.floor(last) + 1))
        shown = [f"{10.0 ** d:g}" if dist.kind == "log" else f"{1 - 10.0 ** d:g}" for d in decades]
        if decades:  # a range inside one decade keeps plotly's own ticks
            fig.update_xaxes(tickvals=decades, ticktext=shown)
    fig.update_layout(height=PREVIEW_HEIGHT, margin={"l": 10, "r": 10, "t": 24, "b": 10}, bargap=0.05,
                      title={"text": f"{n} draws · {title}", "font": {"size": 11}},
                      xaxis={"title": None}, yaxis={"title": None, "showticklabels": False})
    return fig


def describe(space: dict[str, search.Dist]) -> str:
    """One line for the queue button's caption: the search space as the CLI writes it."""
    return " · ".join(f"{k}={d.text}" for k, d in space.items()) or "(no key)"
