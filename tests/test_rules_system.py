"""slowdown, memory_growth, rank_straggler: they fire on seeded faults and stay quiet on healthy runs."""

from __future__ import annotations

import numpy as np

from tests.diag_curves import fired, make_run

N = 120  # system samples: one per sink flush, about a second apart
STEPS = np.arange(1, N + 1) * 50  # a flush every 50 steps


def _noisy(level: np.ndarray | float, seed: int, rel: float = 0.05) -> np.ndarray:
    base = np.broadcast_to(np.asarray(level, dtype=float), (N,))
    return base * (1 + np.random.default_rng(seed).normal(0, rel, N))


def _run(**curves: np.ndarray):  # noqa: ANN202
    return make_run(steps={k: STEPS for k in curves}, **curves)


def _healthy_step_time(seed: int = 0) -> np.ndarray:
    """Flat with a slow compile at the start and an evaluation spike every 20 samples."""
    y = _noisy(0.02, seed)
    y[:3] = 0.2
    y[::20] *= 4
    return y


# -- slowdown ---------------------------------------------------------------------------------
def test_slowdown_fires_on_a_steady_rise_and_says_so():
    (f,) = fired(_run(**{"sys/step_time": _noisy(np.linspace(0.02, 0.04, N), 1)}), "slowdown")
    assert "rose steadily" in f.summary and 1.6 < f.evidence.values["ratio"] < 2.2
    assert f.evidence.values["jump"] is False


def test_slowdown_fires_on_a_sustained_jump_at_its_step():
    y = _noisy(np.where(np.arange(N) < 70, 0.02, 0.03), 2)
    (f,) = fired(_run(**{"sys/step_time": y}), "slowdown")
    assert f.evidence.values["jump"] is True and "jumped at step" in f.summary
    assert abs(f.evidence.values["from_step"] - STEPS[70]) <= 2 * 50


def test_slowdown_judges_an_appended_log_run_by_run():
    """Two runs appended in one file (the restart at sample 70), the second on other settings and uniformly
    slower: neither run slowed down. A rise inside the second run is still found, and said to be in it."""
    y = _noisy(np.where(np.arange(N) < 70, 0.02, 0.034), 4)
    restart = {"restarts": [int(STEPS[70])]}
    run = make_run(meta=restart, steps={"sys/step_time": STEPS}, **{"sys/step_time": y})
    assert fired(run, "slowdown") == []
    y[70:] = np.linspace(0.02, 0.045, N - 70) * (1 + np.random.default_rng(5).normal(0, 0.05, N - 70))
    run = make_run(meta=restart, steps={"sys/step_time": STEPS}, **{"sys/step_time": y})
    (f,) = fired(run, "slowdown")
    assert f.summary.startswith("In the appended run starting at") and "(run 2 of 2)" in f.summary


def test_slowdown_reads_a_throughput_drop_when_no_step_time_is_logged():
    (f,) = fired(_run(**{"sys/samples_per_sec": _noisy(np.linspace(2000, 1000, N), 3)}), "slowdown")
    assert f.evidence.metric == "sys/samples_per_sec" and "time per sample" in f.summary


def test_slowdown_quiet_on_healthy_runs():
    for seed in range(20):
        assert fired(_run(**{"sys/step_time": _healthy_step_time(seed)}), "slowdown") == []
    faster = _noisy(np.linspace(0.04, 0.02, N), 4)  # warming up: getting faster is no slowdown
    assert fired(_run(**{"sys/step_time": faster}), "slowdown") == []
    small = _noisy(np.linspace(0.02, 0.022, N), 5)  # 10 % drift: below min_rise
    assert fired(_run(**{"sys/step_time": small}), "slowdown") == []


# -- memory_growth ----------------------------------------------------------------------------
def _leak(start: float, per_sample: float, seed: int) -> np.ndarray:
    return start + per_sample * np.arange(N) + np.random.default_rng(seed).normal(0, start * 0.002, N)


def _warming(level: float, seed: int) -> np.ndarray:
    """Memory filling caches for the first fifth of the run, then flat: healthy."""
    i = np.arange(N)
    return level * (1 - 0.5 * np.exp(-i / 8)) + np.random.default_rng(seed).normal(0, level * 0.002, N)


def test_memory_growth_warns_when_the_limit_is_within_reach():
    run = _run(**{"sys/cuda_alloc_mb": _leak(2000, 40, 0), "sys/cuda_total_mb": np.full(N, 10000.0)})
    (f,) = fired(run, "memory_growth")
    assert f.severity == "warning" and f.evidence.metric == "sys/cuda_alloc_mb"
    # 40 MB per 50 steps, ~6760 MB at step 6000: 10000 MB near step 6000 + 3240/0.8, within another run-length
    assert abs(f.evidence.values["limit_at_step"] - (6000 + (10000 - 6760) / 0.8)) < 300
    assert "limit near step" in f.summary


def test_memory_growth_is_a_hint_when_no_limit_is_known_or_it_is_far():
    (f,) = fired(_run(**{"sys/rss_mb": _leak(1000, 5, 1)}), "memory_growth")
    assert f.severity == "info" and "no memory limit" in f.summary
    far = _run(**{"sys/rss_mb": _leak(1000, 5, 1), "sys/ram_total_mb": np.full(N, 512_000.0)})
    (f,) = fired(far, "memory_growth")
    assert f.severity == "info" and f.evidence.values["limit_at_step"] > 2 * STEPS[-1]


def test_memory_growth_judges_device_and_host_separately():
    run = _run(**{"sys/cuda_alloc_mb": _warming(3000, 2), "sys/rss_mb": _leak(800, 6, 3)})
    (f,) = fired(run, "memory_growth")
    assert f.evidence.metric == "sys/rss_mb"


def test_memory_growth_quiet_on_memory_that_fills_and_levels_off():
    for seed in range(20):
        run = _run(**{"sys/cuda_alloc_mb": _warming(3000, seed), "sys/cuda_reserved_mb": _warming(4000, seed + 50),
                      "sys/rss_mb": _warming(1500, seed + 100)})
        assert fired(run, "memory_growth") == []
    tiny = _leak(4000, 0.1, 9)  # 12 MB over the run: a trend, but 0.3 % of the level
    assert fired(_run(**{"sys/rss_mb": tiny}), "memory_growth") == []


# -- rank_straggler ---------------------------------------------------------------------------
def _ranks(times: dict[int, np.ndarray]):  # noqa: ANN202
    """Rank 0's step time under the run's own name, the others' as ``sys/step_time@<rank>``."""
    return _run(**{"sys/step_time" if r == 0 else f"sys/step_time@{r}": y for r, y in times.items()})


def test_rank_straggler_names_the_slow_rank():
    times = {r: _noisy(0.1, r) for r in range(4)}
    times[2] = _noisy(0.16, 9)
    (f,) = fired(_ranks(times), "rank_straggler")
    assert f.evidence.values["rank"] == 2 and f.evidence.metric == "sys/step_time@2"
    assert 1.45 < f.evidence.values["ratio"] < 1.75 and "Rank 2" in f.summary
    assert set(f.evidence.related) == {"sys/step_time", "sys/step_time@1", "sys/step_time@3"}


def test_rank_straggler_works_with_two_ranks_and_names_rank_zero():
    (f,) = fired(_ranks({0: _noisy(0.1, 0), 1: _noisy(0.2, 1)}), "rank_straggler")
    assert f.evidence.values["rank"] == 1
    (f,) = fired(_ranks({0: _noisy(0.2, 0), 1: _noisy(0.1, 1)}), "rank_straggler")
    assert f.evidence.values["rank"] == 0 and f.evidence.metric == "sys/step_time"


def test_rank_straggler_quiet_on_balanced_ranks_and_a_passing_hiccup():
    for seed in range(20):
        assert fired(_ranks({r: _noisy(0.1, seed * 8 + r, rel=0.1) for r in range(8)}), "rank_straggler") == []
    hiccup = {r: _noisy(0.1, r) for r in range(4)}
    hiccup[1][: N // 5] *= 3  # slow for the first fifth only: not a straggler
    assert fired(_ranks(hiccup), "rank_straggler") == []
    assert fired(_run(**{"sys/step_time": _noisy(0.1, 0)}), "rank_straggler") == []  # one process
