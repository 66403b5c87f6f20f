"""How often the system rules fire on seeded faults and on healthy runs (synthetic, seeded curves).

    python bench/system_rules.py [--seeds 100]

Each case draws ``--seeds`` runs of system samples (one per sink flush), with noise, warm-up
and evaluation spikes like a real run's; a rule's hit rate on a fault family is its recall
there, on a healthy family its false-alarm rate. Faults are drawn over a range of sizes, from
barely above the rule's threshold to obvious, so the rates show where detection starts.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from diagnostics.base import REGISTRY, all_rules  # noqa: E402
from diagnostics.rundata import RunData  # noqa: E402

N = 120  # samples per run: a flush a second over two minutes
STEPS = np.arange(1, N + 1) * 50


def _run(curves: dict[str, np.ndarray]) -> RunData:
    frame = pd.DataFrame([{"step": s, "name": k, "value": float(v)} for k, y in curves.items()
                          for s, v in zip(STEPS, y, strict=True)])
    return RunData.from_frame(frame, config={}, meta={}, epoch_level=False)


def _step_time(rng: np.random.Generator, level: np.ndarray | float, noise: float = 0.08) -> np.ndarray:
    """Step times with multiplicative noise, a slow compile at the start and an evaluation spike every 20."""
    y = np.broadcast_to(np.asarray(level, dtype=float), (N,)) * (1 + rng.normal(0, noise, N))
    y[:3] *= 8
    y[::20] *= 3
    return y


def _memory(rng: np.random.Generator, level: float, leak_per_sample: float) -> np.ndarray:
    i = np.arange(N)
    fill = level * (1 - 0.4 * np.exp(-i / rng.uniform(4, 12)))  # caches filling, then flat
    return fill + leak_per_sample * i + rng.normal(0, level * 0.003, N)


# case name → (expected rule or "" for healthy, generator)
Case = Callable[[np.random.Generator], dict[str, np.ndarray]]
CASES: dict[str, tuple[str, Case]] = {
    "slowdown: steady rise 1.3-3x": ("slowdown", lambda r: {
        "sys/step_time": _step_time(r, np.linspace(0.02, 0.02 * r.uniform(1.3, 3), N))}),
    "slowdown: jump 1.3-3x": ("slowdown", lambda r: {
        "sys/step_time": _step_time(r, np.where(np.arange(N) < r.integers(30, 90), 0.02,
                                                0.02 * r.uniform(1.3, 3)))}),
    "memory: CUDA leak 15-100 %": ("memory_growth", lambda r: {
        "sys/cuda_alloc_mb": _memory(r, 3000, 3000 * r.uniform(0.15, 1.0) / N),
        "sys/cuda_total_mb": np.full(N, 16000.0)}),
    "memory: RSS leak 15-100 %": ("memory_growth", lambda r: {
        "sys/rss_mb": _memory(r, 1500, 1500 * r.uniform(0.15, 1.0) / N)}),
    "straggler: 1 of 2-8 ranks 1.4-2.5x": ("rank_straggler", lambda r: (lambda k, slow, f: {
        f"sys/step_time@{i}": _step_time(r, 0.1 * (f if i == slow else 1)) for i in range(k)})(
        int(r.integers(2, 9)), 0, r.uniform(1.4, 2.5))),
    "healthy: flat step time": ("", lambda r: {"sys/step_time": _step_time(r, 0.02, noise=r.uniform(0.02, 0.2))}),
    "healthy: speeding up": ("", lambda r: {"sys/step_time": _step_time(r, np.linspace(0.03, 0.02, N))}),
    "healthy: drift < 10 %": ("", lambda r: {
        "sys/step_time": _step_time(r, np.linspace(0.02, 0.02 * r.uniform(1.0, 1.1), N))}),
    "healthy: memory fills, levels off": ("", lambda r: {
        "sys/cuda_alloc_mb": _memory(r, 3000, 0.0), "sys/cuda_reserved_mb": _memory(r, 4000, 0.0),
        "sys/rss_mb": _memory(r, 1500, 0.0), "sys/cuda_total_mb": np.full(N, 16000.0)}),
    "healthy: 2-8 balanced ranks": ("", lambda r: {
        f"sys/step_time@{i}": _step_time(r, 0.1, noise=0.15) for i in range(int(r.integers(2, 9)))}),
}
RULES = ("slowdown", "memory_growth", "rank_straggler")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100)
    args = parser.parse_args()
    rules = [r for r in all_rules() if r.id in RULES]
    assert len(rules) == len(RULES) and all(r in REGISTRY for r in RULES)
    print(f"{args.seeds} seeded runs per case, {N} system samples each; share of runs each rule fires on\n")
    print(f"{'case':38s} " + " ".join(f"{r:>15s}" for r in RULES))
    for case, (expected, make) in CASES.items():
        hits = dict.fromkeys(RULES, 0)
        for seed in range(args.seeds):
            run = _run(make(np.random.default_rng(seed)))
            for rule in rules:
                if rule.applies(run) and rule.check(run):
                    hits[rule.id] += 1
        cells = [f"{hits[r] / args.seeds:>14.0%}{'*' if r == expected else ' '}" for r in RULES]
        print(f"{case:38s} " + " ".join(cells))
    print("\n* the rule the case was seeded for (recall); every other cell is a false alarm")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
