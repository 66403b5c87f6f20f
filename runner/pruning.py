"""Pruning a search's hopeless trials, judged in the training process at each evaluation.

Optuna's MedianPruner or SuccessiveHalvingPruner, fed with the group's other trials as stored
(rebuilt into an in-memory study at each judgement): a pruned run ends ``stopped`` with the
reason, its curve kept, and counts as a trial of the search (:mod:`runner.search`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from runner.search import Search, Trial, history
from traindoc.core.statuses import STARTED

# Pruning: the median rule waits for a few finished trials and skips the first evaluation
# (Optuna's MedianPruner(n_startup_trials, n_warmup_steps)); halving promotes the best 1/REDUCTION
# at evaluations 1, REDUCTION, REDUCTION², ... (Optuna's SuccessiveHalvingPruner).
PRUNE_STARTUP = 3  # finished trials before the median means anything
PRUNE_WARMUP = 2  # the first evaluation that may be judged (1-based): one epoch is too noisy
HALVING_REDUCTION = 2  # keep the better half at each rung: few trials, few epochs


class Pruning:
    """Feeds one trial's score at each evaluation to Optuna's pruner, against the group's other trials.

    Why in the training process and not beside it: the decision must come at the evaluation it is
    about (a tiny run is over before a watcher thread looks twice), and the other trials' curves are
    in the store. A pruned run ends ``stopped`` with the reason; the loop leaves at its next check.
    """

    def __init__(self, store: Any, run_id: int, group_id: int, search: Search, eval_every: int = 0) -> None:
        self.store = store
        self.run_id = run_id
        self.group_id = group_id
        self.search = search
        self.eval_every = eval_every
        self.mine: list[float] = []
        self.stop_requested = False
        self.reason: str | None = None

    def report(self, step: int, metrics: Mapping[str, float]) -> str | None:
        """One evaluation of this run; returns the reason when it is pruned (and ends the run)."""
        if self.stop_requested:
            return None
        monitor, trials = history(self.store, self.group_id, self.search.extra.get("metric"))
        if monitor is None:
            from traindoc.core.vocabulary import score_monitor

            monitor = score_monitor(set(metrics))
        if monitor is None or monitor.name not in metrics:
            return None
        value = float(metrics[monitor.name])
        self.mine.append(value)
        others = [t for t in trials if t.run_id != self.run_id and t.curve]
        if not self._prune(others, monitor.higher_is_better):
            return None
        k = len(self.mine)
        at = f"epoch {k}" if not self.eval_every else f"evaluation {k} (step {step})"
        peers = [t.curve[k - 1] for t in others if len(t.curve) >= k and t.status == "finished"]
        if self.search.prune == "median" and peers:
            import numpy as np

            where = "below" if monitor.higher_is_better else "above"
            why = (f"pruned at {at}: {_metric_word(monitor.name)} {value:.3g} {where} the median "
                   f"{float(np.median(peers)):.3g} of trials at that {at.split()[0]}")
        else:
            why = (f"pruned at {at}: {_metric_word(monitor.name)} {value:.3g} not among the best "
                   f"1/{HALVING_REDUCTION} of the trials at that {at.split()[0]} (successive halving)")
        self.store.update_meta(self.run_id, pruned={"step": step, "evaluation": k, "value": value,
                                                    "metric": monitor.name, "pruner": self.search.prune})
        self.store.finish(self.run_id, "stopped", error=why)
        self.stop_requested, self.reason = True, why
        return why

    def _prune(self, others: Sequence[Trial], higher_is_better: bool) -> bool:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if self.search.prune == "median":
            pruner: Any = optuna.pruners.MedianPruner(n_startup_trials=PRUNE_STARTUP, n_warmup_steps=PRUNE_WARMUP)
        else:
            pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=HALVING_REDUCTION)
        study = optuna.create_study(direction="maximize" if higher_is_better else "minimize", pruner=pruner)
        finished = {"finished": optuna.trial.TrialState.COMPLETE, "stopped": optuna.trial.TrialState.PRUNED}
        for t in others:
            state = finished.get(t.status, optuna.trial.TrialState.RUNNING if t.status in STARTED
                                 else None)
            if state is None:
                continue
            curve = {i + 1: v for i, v in enumerate(t.curve) if math.isfinite(v)}
            if not curve:
                continue
            value = (max if higher_is_better else min)(curve.values()) if state == optuna.trial.TrialState.COMPLETE \
                else None
            study.add_trial(optuna.trial.create_trial(state=state, value=value, intermediate_values=curve,
                                                      system_attrs=_rungs(curve)))
        trial = study.ask()
        for i, v in enumerate(self.mine[:-1]):
            trial.report(v, i + 1)
        for key, v in _rungs(dict(enumerate(self.mine[:-1], start=1)), below=len(self.mine)).items():
            study._storage.set_trial_system_attr(trial._trial_id, key, v)  # noqa: SLF001 - rungs passed before
        trial.report(self.mine[-1], len(self.mine))
        return trial.should_prune()


def _rungs(curve: Mapping[int, float], below: int | None = None) -> dict[str, float]:
    """The successive-halving rungs a curve has passed, as Optuna's pruner records them on a trial."""
    out, rung, step = {}, 0, 1
    while step in curve and (below is None or step < below):
        out[f"completed_rung_{rung}"] = curve[step]
        rung, step = rung + 1, step * HALVING_REDUCTION
    return out


def for_run(store: Any, run: Mapping[str, Any], eval_every: int = 0) -> Pruning | None:
    """The pruning a run's group asked for (``--prune``), or None."""
    if run.get("group_id") is None:
        return None
    spec = store.group(int(run["group_id"]))["spec"].get("search") or {}
    if not spec.get("prune"):
        return None
    return Pruning(store, int(run["id"]), int(run["group_id"]), Search.from_spec(spec), eval_every)


def _metric_word(name: str) -> str:
    return name.replace("/", "_")
