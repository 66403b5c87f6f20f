"""Dashboard reads: from query to a ready Plotly figure on million-point runs, and diagnosis time.

traindoc's path (the store's per-bucket min/max rollups → spike-keeping downsample →
figure) against the naive one (every point from SQLite into one Scatter), in the same
run; JSON payload size per figure; a 10-run overlay; the time to diagnose; and how
each grows from 10^4 to 10^7 points.

    python bench/dashboard.py [--points 1000000] [--overlay-runs 10] [--max-exp 7]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from diagnostics import diagnose  # noqa: E402
from diagnostics.figures import curve_figure  # noqa: E402
from diagnostics.sweep_figures import overlay_figure  # noqa: E402
from runner.store import Store  # noqa: E402
from traindoc.handoff import load_run  # noqa: E402

EVAL_EVERY = 1000


def make_run(store: Store, points: int, seed: int = 0) -> int:
    """A loss curve of ``points`` steps with noise, two spikes and a NaN, plus eval metrics."""
    rng = np.random.default_rng(seed)
    steps = np.arange(points)
    loss = 2.0 * np.exp(-steps / (points / 5)) + 0.1 + 0.05 * rng.standard_normal(points)
    loss[points // 3] = 25.0
    loss[2 * points // 3] = math.nan
    run_id = store.create_run(f"bench {points}", {"optim.lr": 1e-3, "optim.name": "adam"}, status="finished")
    chunk = 500_000
    for start in range(0, points, chunk):
        stop = min(start + chunk, points)
        store.write_metrics([(run_id, int(s), s / 1000, "train/loss", float(v), 0.0)
                             for s, v in zip(steps[start:stop], loss[start:stop], strict=True)])
    evals = steps[::EVAL_EVERY]
    store.write_metrics([(run_id, int(s), s / 1000, name, float(v), 0.0) for s in evals
                         for name, v in (("val/loss", loss[s] + 0.1), ("val/acc", 0.9))])
    return run_id


def timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    best, out = math.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def ours(store: Store, run_id: int) -> go.Figure:
    series = {name: store.chart_series(run_id, name) for name in ("train/loss", "val/loss")}
    return curve_figure(series)


def naive(store: Store, run_id: int) -> go.Figure:
    fig = go.Figure()
    for name in ("train/loss", "val/loss"):
        steps, values = store.metric_series(run_id, name)
        fig.add_trace(go.Scattergl(x=steps, y=values, name=name))
    return fig


def overlay(store: Store, run_ids: list[int], read: Callable) -> go.Figure:
    curves = []
    for i, run_id in enumerate(run_ids):
        steps, values = read(run_id, "train/loss")
        curves.append({"label": f"run {run_id}", "value": 10.0 ** -i, "steps": steps, "values": values})
    return overlay_figure(curves, "train/loss", "optim.eps")


def payload_kb(fig: go.Figure) -> float:
    return len(fig.to_json()) / 1024


def diagnose_run(store: Store, run_id: int) -> tuple[float, float, int]:
    """(seconds to read the run into RunData, seconds for every rule, number of findings)."""
    read_s, run = timed(lambda: load_run(store, run_id), repeat=1)
    rules_s, findings = timed(lambda: diagnose(run), repeat=3)
    return read_s, rules_s, len(findings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--overlay-runs", type=int, default=10)
    parser.add_argument("--max-exp", type=int, default=7, help="largest run in the scaling table: 10^N points")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        print(f"building {args.overlay_runs} runs of {args.points:,} points ...", file=sys.stderr)
        run_ids = [make_run(store, args.points, seed) for seed in range(args.overlay_runs)]
        main_run = run_ids[0]
        ours_s, fig = timed(lambda: ours(store, main_run))
        ours_kb = payload_kb(fig)
        naive_s, naive_fig = timed(lambda: naive(store, main_run), repeat=1)
        naive_json_s, naive_kb = timed(lambda: payload_kb(naive_fig), repeat=1)
        spike_kept = any(np.nanmax(np.asarray(t.y, dtype=float)) >= 25.0 for t in fig.data if t.y is not None)
        over_s, over_fig = timed(lambda: overlay(store, run_ids, store.chart_series), repeat=1)
        over_naive_s, over_naive_fig = timed(lambda: overlay(store, run_ids, store.metric_series), repeat=1)
        read_s, rules_s, n_findings = diagnose_run(store, main_run)

        print(f"\none run of {args.points:,} train/loss points (+ eval metrics every {EVAL_EVERY} steps)")
        print(f"  {'path':34s} {'seconds':>8s} {'JSON kB':>9s}")
        print(f"  {'traindoc: rollups + downsample':34s} {ours_s:8.3f} {ours_kb:9.1f}   spike kept: {spike_kept}")
        print(f"  {'naive: every point, Scattergl':34s} {naive_s + naive_json_s:8.3f} {naive_kb:9.1f}")
        print(f"  ratio naive/traindoc: {(naive_s + naive_json_s) / ours_s:.0f}x time, "
              f"{naive_kb / ours_kb:.0f}x payload")
        print(f"\n{args.overlay_runs}-run overlay ({args.overlay_runs} x {args.points:,} points)")
        print(f"  traindoc {over_s:.3f} s, {payload_kb(over_fig):.0f} kB;  "
              f"naive read + downsample {over_naive_s:.3f} s ({over_naive_s / over_s:.0f}x)")
        print(f"\ndiagnose the {args.points:,}-point run: read into RunData {read_s:.3f} s, "
              f"all rules {rules_s * 1000:.1f} ms, {n_findings} findings")

        print("\nscaling (one run): points → figure (traindoc), figure (naive), read+diagnose")
        print(f"  {'points':>12s} {'write s':>8s} {'figure s':>9s} {'naive s':>8s} {'read s':>7s} {'rules s':>8s}")
        for exp in range(4, args.max_exp + 1):
            n = 10 ** exp
            scratch = Store(Path(tmp) / f"scale{exp}.db")
            write_s, rid = timed(lambda n=n, scratch=scratch: make_run(scratch, n), repeat=1)
            fig_s, _ = timed(lambda rid=rid, scratch=scratch: ours(scratch, rid))
            naive_n, _ = timed(lambda rid=rid, scratch=scratch: naive(scratch, rid).to_json(), repeat=1) \
                if exp <= 6 else (math.nan, None)
            r_s, k_s, _ = diagnose_run(scratch, rid)
            print(f"  {n:12,d} {write_s:8.2f} {fig_s:9.3f} {naive_n:8.2f} {r_s:7.2f} {k_s:8.3f}")
            scratch.close()
            (Path(tmp) / f"scale{exp}.db").unlink()
    print(f"\nsummary: {args.points:,}-point figure in {ours_s * 1000:.0f} ms / {ours_kb:.0f} kB "
          f"(naive {naive_s + naive_json_s:.1f} s / {naive_kb / 1024:.0f} MB); "
          f"diagnosis {rules_s * 1000:.0f} ms after a {read_s:.2f} s read")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
