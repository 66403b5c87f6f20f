"""Page speed in a real browser: navigation until the chart is drawn, traindoc's dashboard vs TensorBoard.

The same run in both: 1,000,000 ``train/loss`` points with one 25x spike at step 333,333 plus
1,000 ``val/loss`` points. traindoc also serves an overview of 500 runs and the compare page of a
20-run group. Each server is started fresh (cold: the first navigation pays imports and cache
misses), then a second browser page opens the same URL (warm); the servers are interleaved and
each figure is the median of ``--repeats``. The server's peak RSS (psutil, the whole process tree)
and whether the spike is in the points the default chart was given are reported too.

MLflow is not measured: its UI server takes longer to start than the whole traindoc run and its
``log_batch`` writes 10,000 points/s (100 s for this run), so it is left out (issue 23's figures).

    python bench/browser_speed.py [--quick] [--repeats 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.import_speed import tfrecords  # noqa: E402
from runner.store import Store  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 1000}
SPIKE = 25.0  # the spike is this many times the curve around it
PAGE_TIMEOUT_MS = 180_000  # a cold page on a loaded 2-core machine; waits end when the chart is drawn
RSS_EVERY_S = 0.05  # psutil sampling period for the server's peak memory

# Full sizes (issue 23) and --quick sizes (a smoke test: every path runs, in seconds)
FULL = {"points": 1_000_000, "val_points": 1_000, "runs": 500, "run_points": 1_000, "group": 20}
QUICK = {"points": 20_000, "val_points": 100, "runs": 30, "run_points": 200, "group": 5}

# The chart is drawn: a Plotly chart of the page has its data and its first trace has a drawn
# line (SVG path with coordinates, or a WebGL canvas that Plotly has sized), after one more frame.
_PLOTLY_DRAWN = """() => {
  const el = document.querySelector('.js-plotly-plot');
  if (!el || !el._fullLayout || !el.data || !el.data.length) return false;
  const path = el.querySelector('.scatterlayer .trace path.js-line');
  const gl = el.querySelector('canvas.gl-canvas-context');
  return (path && (path.getAttribute('d') || '').length > 20) || (gl && gl.width > 0);
}"""
_PLOTLY_MAX = """() => {
  const el = document.querySelector('.js-plotly-plot');
  let best = -Infinity;
  for (const t of el._fullData) { if (!(t.name || '').includes('loss') || !t.y) continue;
    const ys = t.y; for (let i = 0; i < ys.length; i++) { const v = ys[i]; if (v !== null && v > best) best = v; } }
  return best;
}"""
# TensorBoard's time series card for train/loss: axis labels are computed from the loaded data,
# and the canvas is painted in the same frame, so labels + one animation frame = drawn.
_TB_DRAWN = """() => {
  const cards = [...document.querySelectorAll('scalar-card')];
  const card = cards.find(c => (c.textContent || '').includes('train/loss'));
  if (!card) return false;
  const ticks = [...card.querySelectorAll('line-chart .y-axis text, line-chart text')];
  return ticks.some(t => /\\d/.test(t.textContent || '')) && !!card.querySelector('line-chart canvas');
}"""
_DATAFRAME_DRAWN = """() => {
  const grid = document.querySelector('[data-testid="stDataFrame"] canvas');
  return !!grid && grid.width > 0;
}"""
# Streamlit's page has finished its script run (a fresh server's first session may still be judging runs)
_SCRIPT_DONE = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return !!app && app.getAttribute('data-test-script-state') !== 'running';
}"""
_NEXT_FRAME = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))"


@dataclass
class Target:
    """One page to time: how to start its server and what 'drawn' means there."""

    name: str
    start: Callable[[int], list[str]]
    path: str
    drawn: str
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path = ROOT  # streamlit reads .streamlit/config.toml from here
    spike: Callable[[Any, str], bool | None] | None = None


# -- data -------------------------------------------------------------------------------------------

def loss_curve(points: int, seed: int = 0) -> np.ndarray:
    """A decaying noisy loss with one 25x spike at a third of the run (step 333,333 at full size)."""
    rng = np.random.default_rng(seed)
    steps = np.arange(points)
    loss = 2.0 * np.exp(-steps / (points / 5)) + 0.3 + 0.02 * rng.standard_normal(points)
    loss[points // 3] *= SPIKE
    return loss


def write_traindoc_run(db: Path, points: int, val_points: int) -> int:
    store = Store(db)
    loss = loss_curve(points)
    run_id = store.create_run("million", {"optim.lr": 1e-3, "optim.name": "adam"}, status="finished")
    chunk = 250_000
    for start in range(0, points, chunk):
        stop = min(start + chunk, points)
        store.write_metrics([(run_id, s, None, "train/loss", float(loss[s]), 1.7e9 + s / 1000)
                             for s in range(start, stop)])
    every = max(points // val_points, 1)
    store.write_metrics([(run_id, s, None, "val/loss", float(loss[s]) + 0.05, 1.7e9 + s / 1000)
                         for s in range(0, points, every)])
    store.close()
    return run_id


def write_many_runs(db: Path, runs: int, points: int, group: int) -> int:
    """``runs`` finished runs of ``points`` steps (train/loss, val/loss, val/acc); the last ``group`` of
    them in one sweep group over ``optim.lr``. Returns the group id."""
    store = Store(db)
    group_id = store.create_group("lr sweep", kind="sweep", spec={"optim.lr": "log"})
    steps = np.arange(points)
    for i in range(runs):
        rng = np.random.default_rng(i)
        lr = float(10 ** rng.uniform(-5, -1))
        in_group = i >= runs - group
        run_id = store.create_run(f"run {i:03d} lr={lr:.2g}", {"optim.lr": lr, "optim.name": "adam", "seed": i},
                                  status="finished", group_id=group_id if in_group else None)
        loss = 2.0 * np.exp(-steps * lr * 50 / points * 100) + 0.2 + 0.03 * rng.standard_normal(points)
        rows = [(run_id, int(s), None, "train/loss", float(v), 1.7e9 + s) for s, v in zip(steps, loss, strict=True)]
        for s in steps[:: max(points // 20, 1)]:
            rows.append((run_id, int(s), None, "val/loss", float(loss[s]) + 0.05, 1.7e9 + s))
            rows.append((run_id, int(s), None, "val/acc", float(1 - loss[s] / 3), 1.7e9 + s))
        store.write_metrics(rows)
    store.close()
    return group_id


def write_tensorboard(logdir: Path, points: int, val_points: int) -> None:
    """The same run as a TensorBoard event file (TensorBoard's own protobufs, TFRecord framing)."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary

    loss = loss_curve(points)
    every = max(points // val_points, 1)
    payloads = [Event(wall_time=1.7e9, file_version="brain.Event:2").SerializeToString()]
    for s in range(points):
        tags = [("train/loss", loss[s])] + ([("val/loss", loss[s] + 0.05)] if s % every == 0 else [])
        for tag, value in tags:
            summary = Summary(value=[Summary.Value(tag=tag, simple_value=float(value))])
            payloads.append(Event(wall_time=1.7e9 + s / 1000, step=s, summary=summary).SerializeToString())
    folder = logdir / "million"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "events.out.tfevents.1700000000.bench").write_bytes(tfrecords(payloads))


# -- servers ----------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"no answer at {url} within {timeout:.0f} s")


class PeakRss:
    """The largest resident memory of a process and its children, sampled in a thread."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.proc = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                total = self.proc.memory_info().rss + sum(
                    c.memory_info().rss for c in self.proc.children(recursive=True))
                self.peak = max(self.peak, total)
            except psutil.Error:
                pass
            self._stop.wait(RSS_EVERY_S)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


@contextlib.contextmanager
def server(target: Target, health: str) -> Iterator[tuple[str, PeakRss]]:
    port = free_port()
    proc = subprocess.Popen(target.start(port), cwd=target.cwd, env={**os.environ, **target.env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rss = PeakRss(proc.pid)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(url + health, proc)
        yield url, rss
    finally:
        rss.stop()
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def streamlit_cmd(port: int, root: Path = ROOT) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(root / "app.py"), "--server.headless", "true",
            "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false"]


def baseline_cmd(root: Path) -> Callable[[int], list[str]]:
    """Another checkout's dashboard (``--baseline DIR``, e.g. ``git archive`` of an older commit)."""
    return lambda port: streamlit_cmd(port, root)


def tensorboard_cmd(logdir: Path) -> Callable[[int], list[str]]:
    return lambda port: [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", "127.0.0.1",
                         "--port", str(port), "--load_fast", "false"]


def tb_spike(url: str, threshold: float) -> bool:
    """Whether TensorBoard's sampled train/loss (what its chart is given) still holds the spike."""
    query = "run=million&tag=train%2Floss"
    with urllib.request.urlopen(f"{url}/data/plugin/scalars/scalars?{query}", timeout=30) as resp:
        points = json.loads(resp.read())
    return max(p[2] for p in points) >= threshold


# -- timing -----------------------------------------------------------------------------------------

def navigate(context: Any, url: str, drawn: str) -> tuple[float, Any]:
    """Seconds from navigation to the chart drawn, in a new page (a new session) of ``context``."""
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    start = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.wait_for_function(drawn, timeout=PAGE_TIMEOUT_MS, polling="raf")
    page.evaluate(_NEXT_FRAME)
    return time.perf_counter() - start, page


def run_bench(sizes: dict[str, int], repeats: int, folder: Path, shots: Path | None,
              baseline: Path | None = None) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    t0 = time.perf_counter()
    run_db, many_db, logdir = folder / "run.db", folder / "many.db", folder / "tb"
    ready = folder / "ready.json"
    if ready.exists() and json.loads(ready.read_text())["sizes"] == sizes:  # --keep DIR again: same data
        run_id, group_id = json.loads(ready.read_text())["ids"]
    else:
        for old in (run_db, many_db):
            old.unlink(missing_ok=True)
        shutil.rmtree(logdir, ignore_errors=True)
        run_id = write_traindoc_run(run_db, sizes["points"], sizes["val_points"])
        group_id = write_many_runs(many_db, sizes["runs"], sizes["run_points"], sizes["group"])
        write_tensorboard(logdir, sizes["points"], sizes["val_points"])
        ready.write_text(json.dumps({"sizes": sizes, "ids": [run_id, group_id]}))
    print(f"data ready in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    threshold = float(loss_curve(sizes["points"])[sizes["points"] // 3]) * 0.9

    def td_spike(page: Any, _url: str) -> bool:
        return bool(page.evaluate(_PLOTLY_MAX) >= threshold)

    targets = [
        Target("TensorBoard: run", tensorboard_cmd(logdir), "/#timeseries", _TB_DRAWN,
               spike=lambda _page, url: tb_spike(url, threshold)),
        Target("traindoc: run", streamlit_cmd, f"/run?run={run_id}", _PLOTLY_DRAWN, {"TRAINDOC_DB": str(run_db)},
               spike=td_spike),
        Target("traindoc: overview", streamlit_cmd, "/", _DATAFRAME_DRAWN, {"TRAINDOC_DB": str(many_db)}),
        Target("traindoc: compare", streamlit_cmd, f"/compare?group={group_id}", _PLOTLY_DRAWN,
               {"TRAINDOC_DB": str(many_db)}),
    ]
    if baseline is not None:  # the same pages from an older checkout, interleaved under the same load
        targets += [Target(f"baseline{t.name[len('traindoc'):]}", baseline_cmd(baseline), t.path, t.drawn,
                           {**t.env, "PYTHONPATH": str(baseline)}, baseline, t.spike)
                    for t in targets if t.name.startswith("traindoc")]
    results: dict[str, dict[str, list[Any]]] = {t.name: {"cold": [], "warm": [], "rss": [], "spike": []}
                                                for t in targets}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000)
        for rep in range(repeats):
            for target in targets:  # interleaved: a load spike hits every target, not one
                streamlit = not target.name.startswith("TensorBoard")
                health = "/_stcore/health" if streamlit else "/"
                with server(target, health) as (url, rss):
                    # fresh: a new server and a browser profile that never saw it; warm: the same server,
                    # and the same browser opening the page again (its HTTP cache holds the static files)
                    ctx = browser.new_context(viewport=VIEWPORT)
                    cold, page = navigate(ctx, url + target.path, target.drawn)
                    if streamlit:  # warm means after the first visit's script ended
                        page.wait_for_function(_SCRIPT_DONE, timeout=PAGE_TIMEOUT_MS)
                    page.close()
                    warm, page = navigate(ctx, url + target.path, target.drawn)
                    if target.spike is not None:
                        results[target.name]["spike"].append(target.spike(page, url))
                    if shots is not None and rep == 0:
                        page.screenshot(path=str(shots / f"{target.name.replace(': ', '-')}.png"))
                    ctx.close()
                    time.sleep(0.5)  # the server finishes the session's last messages before its RSS is read
                    results[target.name]["rss"].append(rss.peak)
                results[target.name]["cold"].append(cold)
                results[target.name]["warm"].append(warm)
                print(f"  rep {rep + 1} {target.name:20s} cold {cold:6.2f} s  warm {warm:6.2f} s  "
                      f"peak {rss.peak / 2**20:5.0f} MiB", file=sys.stderr)
        browser.close()
    return results


def table(results: dict[str, dict[str, list[Any]]], sizes: dict[str, int], repeats: int) -> str:
    med = {name: {k: statistics.median(v) for k, v in r.items() if k != "spike" and v} for name, r in results.items()}
    tb = med["TensorBoard: run"]
    lines = [f"navigation until the chart is drawn, median of {repeats} "
             f"(run of {sizes['points']:,} train/loss points + {sizes['val_points']:,} val/loss; "
             f"overview of {sizes['runs']} runs; compare of a {sizes['group']}-run group)",
             "", "| page | warm s | fresh server s | server peak MiB | spike on the default chart |",
             "|---|---|---|---|---|"]
    for name, m in med.items():
        spikes = results[name]["spike"]
        spike = "" if not spikes else ("yes" if all(spikes) else "no")
        lines.append(f"| {name} | {m['warm']:.2f} | {m['cold']:.2f} | {m['rss'] / 2**20:.0f} | {spike} |")
    td = med["traindoc: run"]
    lines += ["", f"traindoc / TensorBoard on the run page: warm {td['warm'] / tb['warm']:.2f}x, "
              f"fresh {td['cold'] / tb['cold']:.2f}x, memory {td['rss'] / tb['rss']:.2f}x"]
    for name in [n for n in med if n.startswith("baseline")]:
        now, then = med["traindoc" + name[len("baseline"):]], med[name]
        lines.append(f"traindoc / baseline on{name[len('baseline:'):]}: warm {now['warm'] / then['warm']:.2f}x, "
                     f"fresh {now['cold'] / then['cold']:.2f}x, memory {now['rss'] / then['rss']:.2f}x")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat: a smoke test")
    parser.add_argument("--repeats", type=int, default=None, help="medians of this many (default 3, quick 1)")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="also time the pages of the traindoc checkout in DIR (before/after, same load)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the data and screenshots in this folder (and reuse the data found there)")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    repeats = args.repeats or (1 if args.quick else 3)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="browser-speed-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        load = os.getloadavg()[0]
        results = run_bench(sizes, repeats, folder, folder if args.keep else None, args.baseline)
        print(table(results, sizes, repeats))
        print(f"\nload average at start {load:.1f} on {os.cpu_count()} cores")
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
