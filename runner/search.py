"""Random and model-based (TPE) search through Optuna, with traindoc's store as the one record.

Why the store and not an Optuna database: the queue, the scheduler, cancel, the Ray executor and
the compare page already work on a group of stored runs. A search is such a group whose spec
holds ``search`` (the space, the sampler, the trial count): every trial is a queued run from the
start, so a cancel, a restarted scheduler or the overview see the whole search. Random search
draws every trial's values at submit. TPE needs results: a TPE trial's values are drawn when the
scheduler starts it (:func:`assign`), from an in-memory study rebuilt from the group's finished
runs (their values and scores), so it runs in rounds of the group's concurrency as runs finish.

Each key has a distribution on the scale that fits it (the seed posts' advice): ``log:LO:HI``
(learning rate, eps, weight decay: every decade as likely), ``1-log:LO:HI`` (momentum, β: 1-β is
log-uniform, so 0.9→0.99 is as likely as 0.99→0.999), ``int:LO:HI``, ``pow2:LO:HI`` (width,
batch size), ``uniform:LO:HI`` and ``choice:A,B,C``.

Optuna loads only where a trial is drawn or judged, never on ``import runner``.
"""

from __future__ import annotations

import argparse
import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from runner.config import ConfigError
from traindoc.core.statuses import ACTIVE

KINDS = ("log", "1-log", "int", "pow2", "uniform", "choice")
SAMPLERS = ("random", "tpe")
PRUNERS = ("median", "halving")
DEFAULT_TRIALS = 10  # a first coarse look: a handful of decades of lr, a few runs each
MAX_TRIALS = 200  # the plan's MAX_RUNS: one group holds at most that many runs
SHOWN_DIGITS = 4  # significant digits a drawn float keeps: readable labels, and far finer than any score
# Zoom in: the new range spans the top runs' values, widened by this factor on the key's scale
# (×/÷ ZOOM_WIDEN for log scales, ± (ZOOM_WIDEN - 1) × span for linear ones), inside the old range.
ZOOM_TOP = 3
ZOOM_WIDEN = 2.0


@dataclass(frozen=True)
class Dist:
    """One key's distribution: ``kind`` (see KINDS), bounds, or the choices of ``choice``."""

    key: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    choices: tuple[Any, ...] = ()

    @property
    def text(self) -> str:
        """The CLI's spelling, ``log:0.0001:0.1``: what the group records and the form shows."""
        if self.kind == "choice":
            return "choice:" + ",".join(str(c) for c in self.choices)
        return f"{self.kind}:{_num(self.low)}:{_num(self.high)}"

    def optuna(self) -> Any:
        """The Optuna distribution of the *internal* value (1-β, log2 of a power of two)."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.kind == "choice":
            return CategoricalDistribution(list(self.choices))
        if self.kind == "log":
            return FloatDistribution(self.low, self.high, log=True)
        if self.kind == "1-log":
            return FloatDistribution(1 - self.high, 1 - self.low, log=True)
        if self.kind == "int":
            return IntDistribution(int(self.low), int(self.high))
        if self.kind == "pow2":
            return IntDistribution(int(math.log2(self.low)), int(math.log2(self.high)))
        return FloatDistribution(self.low, self.high)

    def value(self, internal: Any) -> Any:
        """A config value from Optuna's draw, rounded for reading and kept inside the range."""
        if self.kind == "choice":
            return internal
        if self.kind == "int":
            return int(internal)
        if self.kind == "pow2":
            return 2 ** int(internal)
        if self.kind == "1-log":
            return float(f"{1 - _round(float(internal)):.12g}")  # 1 - 0.001, not 0.9990000000000001
        return min(max(_round(float(internal)), self.low), self.high)

    def internal(self, value: Any) -> Any:
        """The inverse of :meth:`value` for a stored run (clipped into the range), or None when it cannot be."""
        if self.kind == "choice":  # a spec read back without its coercer holds the choices as text
            if value in self.choices:
                return value
            return next((c for c in self.choices if str(c) == str(value)), None)
        try:
            x = float(value)
        except (TypeError, ValueError):
            return None
        if self.kind == "1-log":
            return min(max(1 - x, 1 - self.high), 1 - self.low)
        if self.kind == "pow2":
            return min(max(round(math.log2(x)), int(math.log2(self.low))), int(math.log2(self.high))) if x > 0 \
                else None
        if self.kind == "int":
            return min(max(round(x), int(self.low)), int(self.high))
        return min(max(x, self.low), self.high)


def parse_dist(key: str, text: str, coerce: Callable[[str, Any], Any] | None = None) -> Dist:
    """``"log:1e-4:1e-1"`` (or ``choice:adam,sgd``) for ``key``; bounds and choices pass ``coerce``
    (the config's range), so a bad one is refused before anything is queued."""
    kind, sep, rest = text.strip().partition(":")
    kind = kind.strip().lower()
    if not sep or kind not in KINDS:
        raise ConfigError(f"{key}: write a distribution as KIND:LOW:HIGH or choice:A,B,C with KIND one of "
                          f"{', '.join(k for k in KINDS if k != 'choice')}, e.g. {key}=log:1e-4:1e-1")
    check = coerce or (lambda _k, v: v)
    if kind == "choice":
        raw = [v.strip() for v in rest.split(",") if v.strip()]
        if not raw:
            raise ConfigError(f"{key}: choice needs values, e.g. choice:adam,sgd")
        return Dist(key, kind, choices=tuple(dict.fromkeys(check(key, v) for v in raw)))
    lo_text, sep, hi_text = rest.partition(":")
    try:
        low, high = float(lo_text), float(hi_text)
    except ValueError:
        raise ConfigError(f"{key}: {kind} needs two numbers, LOW:HIGH, e.g. {kind}:{_EXAMPLE[kind]}") from None
    if not low < high:
        raise ConfigError(f"{key}: the low bound {low:g} must be below the high bound {high:g}")
    if kind == "log" and low <= 0:
        raise ConfigError(f"{key}: a log scale needs a positive low bound, got {low:g}")
    if kind == "1-log" and not 0 <= low < high < 1:
        raise ConfigError(f"{key}: 1-log is for values in [0, 1) such as momentum or β, e.g. 1-log:0.8:0.999")
    if kind in ("int", "pow2") and (low != int(low) or high != int(high)):
        raise ConfigError(f"{key}: {kind} needs whole numbers, got {low:g}:{high:g}")
    if kind == "pow2" and not (low >= 1 and _is_pow2(low) and _is_pow2(high)):
        raise ConfigError(f"{key}: pow2 needs powers of two as bounds, e.g. pow2:16:512")
    for bound in (low, high):
        check(key, int(bound) if kind in ("int", "pow2") else bound)
    return Dist(key, kind, low, high)


def parse_space(specs: Iterable[str], coerce: Callable[[str, Any], Any] | None = None) -> dict[str, Dist]:
    """The CLI's ``--sample KEY=DIST`` (repeatable) into one distribution per key."""
    space: dict[str, Dist] = {}
    for spec in specs:
        key, sep, text = spec.partition("=")
        if not sep or not key.strip() or not text.strip():
            raise ConfigError(f"{spec!r}: expected KEY=DIST, e.g. optim.lr=log:1e-4:1e-1")
        space[key.strip()] = parse_dist(key.strip(), text, coerce)
    return space


@dataclass(frozen=True)
class Search:
    """What a search group records in its spec under ``search`` (and reads back)."""

    space: dict[str, Dist]
    trials: int
    sampler: str = "random"
    seed: int = 0
    prune: str | None = None
    round: int = 1
    parent: int | None = None  # the group this one zooms into
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.space:
            raise ConfigError("a search needs at least one --sample KEY=DIST")
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"sampler {self.sampler!r}: pick one of {', '.join(SAMPLERS)}")
        if self.prune is not None and self.prune not in PRUNERS:
            raise ConfigError(f"prune {self.prune!r}: pick one of {', '.join(PRUNERS)}")
        if not 1 <= self.trials <= MAX_TRIALS:
            raise ConfigError(f"trials {self.trials}: allowed range is 1 to {MAX_TRIALS}")

    def to_spec(self) -> dict[str, Any]:
        return {"space": {k: d.text for k, d in self.space.items()}, "trials": self.trials, "sampler": self.sampler,
                "seed": self.seed, "prune": self.prune, "round": self.round, "parent": self.parent, **self.extra}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], coerce: Callable[[str, Any], Any] | None = None) -> Search:
        known = ("space", "trials", "sampler", "seed", "prune", "round", "parent")
        return cls(space={k: parse_dist(k, t, coerce) for k, t in spec["space"].items()}, trials=int(spec["trials"]),
                   sampler=spec.get("sampler", "random"), seed=int(spec.get("seed") or 0), prune=spec.get("prune"),
                   round=int(spec.get("round") or 1), parent=spec.get("parent"),
                   extra={k: v for k, v in spec.items() if k not in known})


def trial_meta(search_spec: Mapping[str, Any] | None, index: int, seeds: int) -> dict[str, Any]:
    """A search run's meta: its trial number (1-based; repeats over seeds share it) and, for TPE,
    ``pending`` until :func:`assign` draws its values."""
    if not search_spec:
        return {}
    return {"trial": index // max(1, seeds) + 1, "pending": search_spec.get("sampler") == "tpe", "seeded": seeds > 1}


def spec_line(spec: Any) -> str | None:
    """A group's search in one line ("tpe search, round 2 of #3: 8 trials over optim.lr=log:..."), or None."""
    if isinstance(spec, str):
        import json

        try:
            spec = json.loads(spec)
        except ValueError:
            return None
    found = spec.get("search") if isinstance(spec, dict) else None
    if not isinstance(found, dict) or not isinstance(found.get("space"), dict):
        return None
    space = " ".join(f"{k}={v}" for k, v in found["space"].items())
    rnd = f", round {found.get('round')} (zoomed from group #{found['parent']})" if found.get("parent") else ""
    prune = f", pruning: {found['prune']}" if found.get("prune") else ""
    return f"{found.get('sampler')} search{rnd}: {found.get('trials')} trials over {space}{prune}"


def label(patch: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in patch.items())


def trial_variants(search: Search) -> tuple[tuple[str, dict[str, Any]], ...]:
    """(label, patch) per trial for a plan: drawn now for random search; for TPE ``("trial k", {})``,
    the values drawn when the run starts (:func:`assign`)."""
    if search.sampler == "tpe":
        return tuple((f"trial {k}", {}) for k in range(1, search.trials + 1))
    return tuple((label(p), p) for p in draw_random(search.space, search.trials, search.seed))


def draw_random(space: Mapping[str, Dist], n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` independent draws of every key on its scale (Optuna's RandomSampler)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    dists = {k: d.optuna() for k, d in space.items()}
    out = []
    for _ in range(n):
        trial = study.ask(dists)
        out.append({k: space[k].value(trial.params[k]) for k in space})
        study.tell(trial, 0.0)
    return out


# -- the score of a trial, and the group's history --------------------------------------------
@dataclass(frozen=True)
class Trial:
    """One stored run of a search: its values, its score (None until it finished with one), its curve."""

    run_id: int
    params: dict[str, Any]
    score: float | None
    status: str
    curve: tuple[float, ...] = ()  # the score at each evaluation (what pruning compares)


def score_name(names: Iterable[Iterable[str]], wanted: str | None = None) -> Any:
    """The Monitor a search optimises: ``wanted``, else the comparison's score (val AUC, acc, loss)."""
    from traindoc.core.vocabulary import Monitor, score_monitor

    if wanted:
        return Monitor(wanted)
    sets = [set(n) for n in names]
    return score_monitor(sets) if sets else None


def history(store: Any, group_id: int, metric: str | None = None) -> tuple[Any, list[Trial]]:
    """The group's trials (values from each run's config) and the Monitor they are scored on.

    A trial's score is the best value of the monitor over its evaluations; a run that is not
    finished (running, failed, pruned) has none, so TPE learns only from complete trials.
    """
    group = store.group(group_id)
    space = Search.from_spec(group["spec"]["search"]).space
    runs = store.runs(group_id=group_id, reconcile=False)
    names = [store.metric_names(int(r.id)) for r in runs.itertuples() if r.status == "finished"]
    monitor = score_name(names, metric or group["spec"]["search"].get("metric"))
    out = []
    import json

    for row in runs.sort_values("id").itertuples():
        config = json.loads(row.config) if isinstance(row.config, str) else dict(row.config or {})
        meta = json.loads(row.meta) if isinstance(row.meta, str) else dict(row.meta or {})
        if meta.get("pending"):
            continue  # a TPE trial not drawn yet
        params = {k: config.get(k) for k in space}
        curve: tuple[float, ...] = ()
        score = None
        if monitor is not None:
            _, values = store.metric_series(int(row.id), monitor.name)
            curve = tuple(float(v) for v in values)
            if row.status == "finished" and len(values):
                best = monitor.best(values)
                score = best if math.isfinite(best) else None
        out.append(Trial(int(row.id), params, score, str(row.status), curve))
    return monitor, out


# -- TPE: the values of a trial, when it starts -------------------------------------------------
# TPE draws at random until this many trials finished: a quarter of the search, at least 2 (a model
# needs a good and a bad trial), at most Optuna's own default of 10 (which alone would leave a
# 10-trial search entirely random).
TPE_STARTUP_SHARE = 0.25
TPE_MIN_STARTUP = 2
TPE_MAX_STARTUP = 10
def suggest(search: Search, trials: Sequence[Trial], higher_is_better: bool, number: int) -> dict[str, Any]:
    """The next trial's values: TPE over the finished trials (running ones count as pending, so two
    runs started together do not get the same values); random while too few have finished."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # the study is rebuilt for every trial: seeding by the trial number keeps the draws apart
    seed = (search.seed * 1_000_003 + number) % 2**32
    startup = max(TPE_MIN_STARTUP, min(TPE_MAX_STARTUP, round(search.trials * TPE_STARTUP_SHARE)))
    sampler = (optuna.samplers.TPESampler(seed=seed, constant_liar=True, n_startup_trials=startup)
               if search.sampler == "tpe" else optuna.samplers.RandomSampler(seed=seed))
    study = optuna.create_study(direction="maximize" if higher_is_better else "minimize", sampler=sampler)
    dists = {k: d.optuna() for k, d in search.space.items()}
    for t in trials:
        internal = {k: search.space[k].internal(v) for k, v in t.params.items()}
        if any(v is None for v in internal.values()):
            continue
        if t.score is not None:
            study.add_trial(optuna.trial.create_trial(params=internal, distributions=dists, value=t.score))
        elif t.status in ACTIVE:
            study.add_trial(optuna.trial.create_trial(params=internal, distributions=dists,
                                                      state=optuna.trial.TrialState.RUNNING))
    trial = study.ask(dists)
    return {k: search.space[k].value(trial.params[k]) for k in search.space}


def assign(store: Any, run_id: int) -> dict[str, Any] | None:
    """Draw the values of a queued TPE trial just before it starts (the scheduler calls this); the
    run's config, name and meta take them. A repeat over seeds takes its trial's values. None when
    the run was not waiting for values."""
    run = store.run(run_id)
    meta = run["meta"]
    if not meta.get("pending") or run["group_id"] is None:
        return None
    group = store.group(int(run["group_id"]))
    search = Search.from_spec(group["spec"]["search"], _coerce_for(run))
    monitor, trials = history(store, int(run["group_id"]))
    same = [t for t in trials if store.run(t.run_id)["meta"].get("trial") == meta.get("trial")]
    if same:
        patch = same[0].params
    else:
        higher = monitor.higher_is_better if monitor is not None else True
        patch = suggest(search, trials, higher, int(meta.get("trial") or 0))
    values = label(patch)
    seed = f", seed {run['config'].get('train.seed')}" if meta.get("seeded") else ""
    new_meta = {**meta, "pending": False, "swept": patch, "label": values + seed, "variant": values}
    store.assign_trial(run_id, f"{group['name']} [{values}{seed}]", {**run["config"], **patch}, new_meta)
    return patch


def _coerce_for(run: Mapping[str, Any]) -> Callable[[str, Any], Any] | None:
    if run.get("source") == "script":
        return None
    from runner.config import coerce

    return coerce


# -- zoom in: the next round around the best ------------------------------------------------
def zoom_space(search: Search, trials: Sequence[Trial], higher_is_better: bool, top: int = ZOOM_TOP,
               widen: float = ZOOM_WIDEN) -> dict[str, Dist]:
    """New ranges around the ``top`` best finished trials: their span on each key's scale, widened by
    ``widen``, clipped to the old range; a choice keeps the choices the best trials used."""
    scored = [t for t in trials if t.score is not None]
    if not scored:
        raise ConfigError("no finished trial with a score yet: nothing to zoom in on")
    best = sorted(scored, key=lambda t: t.score, reverse=higher_is_better)[:max(1, top)]
    out = {}
    for key, dist in search.space.items():
        values = [dist.internal(t.params.get(key)) for t in best]
        values = [v for v in values if v is not None]
        out[key] = _narrow(dist, values, widen) if values else dist
    return out


def _narrow(dist: Dist, values: list[Any], widen: float) -> Dist:
    if dist.kind == "choice":
        return replace(dist, choices=tuple(c for c in dist.choices if c in values))
    lo, hi = min(values), max(values)
    if dist.kind in ("log", "1-log"):
        a, b = lo / widen, hi * widen  # internal values: x, or 1-β, both on a log scale
        if dist.kind == "log":
            return replace(dist, low=_round(max(a, dist.low)), high=_round(min(b, dist.high)))
        low, high = 1 - _round(min(b, 1 - dist.low)), 1 - _round(max(a, 1 - dist.high))
        return replace(dist, low=max(low, dist.low), high=min(high, dist.high))
    if dist.kind == "pow2":  # exponents: one power of two either side
        step = max(1, round(math.log2(widen)))
        return replace(dist, low=float(max(2 ** (lo - step), dist.low)), high=float(min(2 ** (hi + step), dist.high)))
    margin = (widen - 1) * max(hi - lo, (dist.high - dist.low) / (2 * widen))
    low, high = max(lo - margin, dist.low), min(hi + margin, dist.high)
    if dist.kind == "int":
        low, high = math.floor(low), math.ceil(high)
        if low == high:
            low, high = max(low - 1, dist.low), min(high + 1, dist.high)
        return replace(dist, low=float(low), high=float(high))
    return replace(dist, low=_round(low), high=_round(high))


# -- a form's starting point --------------------------------------------------------------
ONE_MINUS_KEYS = ("momentum", "beta1", "beta2")  # decay rates near 1: their scale is 1 - β
POW2_KEYS = ("width", "batch_size", "d_model")  # sizes: powers of two
SPAN = 10.0  # a first range spans a decade either side of the starting value (log), ×/÷ 4 for sizes
SIZE_SPAN = 4


def default_dist(key: str, value: Any, meta: Mapping[str, Any], log_keys: Iterable[str] = ()) -> str:
    """The distribution a form offers first for ``key`` (starting from ``value``): the seed posts' scales."""
    if "choices" in meta:
        return "choice:" + ",".join(str(c) for c in meta["choices"])
    if isinstance(value, bool):
        return "choice:False,True"
    lo_ok, hi_ok = float(meta.get("min", -math.inf)), float(meta.get("max", math.inf))
    leaf = key.rsplit(".", 1)[-1]
    if leaf in ONE_MINUS_KEYS:
        return f"1-log:{max(0.8, lo_ok):g}:{min(0.999, hi_ok):g}"
    if isinstance(value, int) and leaf in POW2_KEYS:
        e = round(math.log2(max(1, value)))
        lo, hi = 2 ** max(0, e - int(math.log2(SIZE_SPAN))), 2 ** (e + int(math.log2(SIZE_SPAN)))
        while lo < lo_ok:
            lo *= 2
        while hi > hi_ok:
            hi //= 2
        return f"pow2:{lo}:{hi}"
    if isinstance(value, int):
        return f"int:{max(int(lo_ok), value // 2)}:{min(int(hi_ok), max(value * 2, value + 2))}"
    if key in log_keys:
        center = value if value > 0 else 1e-4
        return f"log:{max(center / SPAN, lo_ok, 1e-12):.3g}:{min(center * SPAN, hi_ok):.3g}"
    return f"uniform:{lo_ok:g}:{hi_ok:g}" if math.isfinite(lo_ok) and math.isfinite(hi_ok) else \
        f"uniform:{value / 2:g}:{value * 2:g}"


# -- the command line ---------------------------------------------------------------------
def add_args(p: argparse.ArgumentParser) -> None:
    """Random / TPE search options, shared by ``sweep`` and ``script sweep``."""
    p.add_argument("--sample", action="append", default=[], metavar="KEY=DIST",
                   help="search KEY on a scale: log:LO:HI, 1-log:LO:HI (momentum, beta), int:LO:HI, pow2:LO:HI, "
                        "uniform:LO:HI or choice:A,B,C (repeatable), e.g. --sample optim.lr=log:1e-4:1e-1")
    p.add_argument("--trials", type=int, default=None, help="runs of a --sample search (default 10)")
    p.add_argument("--sampler", choices=SAMPLERS, default="random",
                   help="random (all drawn up front) or tpe (each trial drawn from the finished ones)")
    p.add_argument("--prune", choices=PRUNERS, help="stop trials clearly behind at the same epoch "
                   "(Optuna's median rule or successive halving)")
    p.add_argument("--metric", help="score the search optimises (default: val/auc, else val/acc, else val/loss)")
    p.add_argument("--search-seed", type=int, help="seed of the sampler (default: a new one, recorded)")


def from_args(args: argparse.Namespace, coerce: Callable[[str, Any], Any] | None = None) -> Search | None:
    """The Search a ``--sample`` command asked for, or None (a grid)."""
    if not args.sample:
        for flag in ("trials", "prune", "metric", "search_seed"):
            if getattr(args, flag, None) is not None:
                raise ConfigError(f"--{flag.replace('_', '-')} is for a search: give --sample KEY=DIST")
        return None
    if getattr(args, "grid", None):
        raise ConfigError("give either --grid (every value) or --sample (a search), not both")
    seed = args.search_seed if args.search_seed is not None else random.SystemRandom().randrange(2**31)
    extra = {"metric": args.metric} if args.metric else {}
    return Search(parse_space(args.sample, coerce), trials=args.trials or DEFAULT_TRIALS,
                  sampler=args.sampler, seed=seed, prune=args.prune, extra=extra)


_EXAMPLE = {"log": "1e-4:1e-1", "1-log": "0.8:0.999", "int": "1:8", "pow2": "16:512", "uniform": "0:0.5"}


def _round(x: float) -> float:
    return float(f"{x:.{SHOWN_DIGITS}g}")


def _num(x: float) -> str:
    return f"{x:g}"


def _is_pow2(x: float) -> bool:
    return x >= 1 and int(x) == x and (int(x) & (int(x) - 1)) == 0
