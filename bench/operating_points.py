"""Operating points: each rule parameter swept on the calibration split (``bench/calibrate.py --sweep``).

Each rule's operating parameters are swept one at a time, the others at their defaults, on each
set's calib part; ``balanced_report`` then weighs the sets alike (the mean of per-set F1, the
healthy-alarm budget on every set), so a large generated set does not outvote the real logs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from typing import Any

from bench.calibrate import FIRING, LABEL_RULES, MAX_HEALTHY_ALARMS, Item, fmt, prf, read_runs, truth

# rule id → its operating parameters, each (name, candidate values in increasing order): the field
# that compares the rule's statistic with its threshold. Each is swept with the others at their defaults.
SWEEPS: dict[str, tuple[tuple[str, tuple[float, ...]], ...]] = {
    # z of the post-best rise against the point noise: with a trend or sign test, and alone
    "overfitting": (("noise_k", (0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0)),
                    ("jump_k", (2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 8.0)),
                    ("few_min_rise", (0.03, 0.05, 0.08, 0.1, 0.15, 0.2, 0.3)),
                    # the effect-size floor on the rise (relative to the best level), and the shortest run judged
                    ("min_rise", (0.02, 0.03, 0.04, 0.05, 0.07, 0.1)),
                    ("min_points", (3, 4, 5, 6, 8))),
    # the relative fall of the training loss below which it has not fitted
    "underfitting": (("max_drop", (0.02, 0.03, 0.05, 0.08, 0.1, 0.12, 0.15, 0.2, 0.3)),),
    # at the judged scale: the mean consecutive change over the whole decrease (threshold), over the
    # loss's own size (min_swing), and the share of changes that reverse direction (min_turns); the
    # scales a per-step curve is judged at (step_bins bin means, and step_octaves halvings and doublings)
    "loss_oscillation": (("threshold", (0.03, 0.05, 0.08, 0.1, 0.15, 0.2, 0.3)),
                         ("min_swing", (0.02, 0.03, 0.05, 0.08, 0.1, 0.15)),
                         ("min_turns", (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)),
                         ("step_bins", (10, 15, 20, 30, 40)),
                         ("step_octaves", (0, 1, 2)),
                         # the steady-trend veto (Theil-Sen move in mean changes), the coarse reading of a
                         # long epoch curve (points a bin; 0 is off), the single-step bar, the shortest curve
                         ("trend_swings", (3.0, 4.0, 6.0, 8.0, 12.0)),
                         ("coarse_points", (0, 2, 3, 5)),
                         ("step_threshold", (0.4, 0.6, 0.8, 1.0, 1.5)),
                         ("min_points", (5, 6, 7, 8))),
    "divergence": (("blowup_factor", (2.0, 3.0, 5.0, 10.0, 20.0, 50.0)),
                   ("rebound_factor", (3.0, 4.0, 5.0, 6.0, 8.0, 10.0))),
    # the share of evaluations where validation beats training
    "val_above_train": (("persistence", (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9)),),
}


@dataclass
class Point:
    value: float
    p: float | None
    r: float | None
    f1: float | None
    alarm: float | None


def sweep(rule_id: str, param: str, values: Iterable[float], items: Sequence[Item],
          runs: dict[str, list[Any] | str]) -> list[Point]:
    """The rule alone at each value of ``param``: P/R/F1 on its label and its alarm rate on healthy items.

    Alone: without the engine's ``explained_by`` resolution, so a point is the rule's own
    statistic against its threshold; the test-split table scores the full engine.
    """
    from diagnostics.base import REGISTRY

    label = next(lab for lab, rule in LABEL_RULES if rule == rule_id)
    points = []
    for value in values:
        rule = REGISTRY[rule_id](**{param: value})
        tp = fp = fn = healthy = alarms = 0
        for item in items:
            loaded = runs.get(item.name)
            hit = False
            if isinstance(loaded, list):
                hit = any(f.severity in FIRING for run in loaded if rule.applies(run) for f in _safe(rule.check, run))
            t = truth(label, item.labels.get(label))
            if item.healthy:
                healthy += 1
                alarms += hit
            if t is None:
                continue
            tp += t and hit
            fn += t and not hit
            fp += (not t) and hit
        p, r, f = prf(tp, fp, fn)
        points.append(Point(value, p, r, f, alarms / healthy if healthy else None))
    return points


def _safe(check: Callable[[Any], list[Any]], run: Any) -> list[Any]:
    try:
        return check(run)
    except Exception:  # a rule that crashes judges nothing (the engine makes it an info)
        return []


F1_TIE = 0.02  # F1s closer than this are a plateau, not a ranking: one file flipping moves the calib F1 this much


def choose(points: Sequence[Point]) -> Point | None:
    """The middle of the best-F1 plateau within the healthy-alarm budget.

    On a plateau every value scores alike on the calibration split; its middle is the one
    furthest from both edges, so the least likely to flip on runs it has not seen.
    """
    ok = [p for p in points if p.f1 is not None and (p.alarm or 0.0) <= MAX_HEALTHY_ALARMS]
    if not ok:
        return None
    top = max(p.f1 for p in ok if p.f1 is not None)
    plateau = [p for p in ok if p.f1 is not None and p.f1 >= top - F1_TIE]
    return plateau[(len(plateau) - 1) // 2]


def swept_parameters() -> Iterator[tuple[str, str, tuple[float, ...], Any]]:
    """(rule id, parameter, values, current default) for every entry of ``SWEEPS`` the rule really has."""
    from diagnostics.base import REGISTRY

    for rule_id, params in SWEEPS.items():
        cls = REGISTRY.get(rule_id)
        defaults = {f.name: f.default for f in fields(cls)} if cls is not None else {}
        for param, values in params:
            if param in defaults:
                yield rule_id, param, values, defaults[param]
            else:
                print(f"{rule_id}: no parameter {param!r} to sweep", file=sys.stderr)


def sweep_report(items: Sequence[Item], runs: dict[str, list[Any] | str]) -> str:
    lines = [f"== operating points on the calib split ({len(items)} files; healthy-alarm budget "
             f"{MAX_HEALTHY_ALARMS:.0%})"]
    for rule_id, param, values, default in swept_parameters():
        points = sweep(rule_id, param, values, items, runs)
        best = choose(points)
        lines.append(f"{rule_id}.{param} (default {default}; chosen {best.value if best else 'none in budget'})")
        for pt in points:
            mark = "*" if best and pt.value == best.value else " "
            lines.append(f"  {mark} {pt.value:<8g} P {fmt(pt.p)} R {fmt(pt.r)} F1 {fmt(pt.f1)} "
                         f"healthy alarms {fmt(pt.alarm)}")
    return "\n".join(lines)


def balanced_report(sets: dict[str, list[Item]]) -> str:
    """The operating points: each set's calib part weighs the same, whatever its size.

    A value scores the mean of its F1 over the sets where the label has positives, and its
    healthy-alarm rate is the worst set's: the hundreds of generated runs must not outvote the
    real logs the product is judged on, nor may a value alarm on one set's healthy runs.
    """
    parts = {name: [i for i in every if i.split == "calib"] for name, every in sets.items()}
    parts = {name: part for name, part in parts.items() if part}
    runs = {name: read_runs(part) for name, part in parts.items()}
    lines = [f"== operating points: every set's calib part weighed alike ({', '.join(parts)}; "
             f"healthy-alarm budget {MAX_HEALTHY_ALARMS:.0%} on each)"]
    for rule_id, param, values, default in swept_parameters():
        per_set = {name: sweep(rule_id, param, values, part, runs[name]) for name, part in parts.items()}
        points = []
        for k, value in enumerate(values):
            f1s = [pts[k].f1 for pts in per_set.values() if pts[k].f1 is not None and pts[k].r is not None]
            alarms = [pts[k].alarm for pts in per_set.values() if pts[k].alarm is not None]
            points.append(Point(value, None, None, sum(f1s) / len(f1s) if f1s else None,
                                max(alarms) if alarms else None))
        best = choose(points)
        lines.append(f"{rule_id}.{param} (default {default}; chosen {best.value if best else 'none in budget'})")
        for k, pt in enumerate(points):
            mark = "*" if best and pt.value == best.value else " "
            sets_f1 = " ".join(f"{name} {fmt(pts[k].f1)}" for name, pts in per_set.items())
            lines.append(f"  {mark} {pt.value:<8g} mean F1 {fmt(pt.f1)} worst healthy alarms {fmt(pt.alarm)}"
                         f"   ({sets_f1})")
    return "\n".join(lines)


