"""Adam's epsilon dominating the update (the within-run half; sweeps are in compare)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diagnostics import curves
from diagnostics.base import Rule, register
from diagnostics.findings import Evidence, Finding, Fix
from diagnostics.rules._common import ADAM_FAMILY, cfg, lr_of
from diagnostics.rundata import RunData

DEFAULT_EPS = 1e-8  # the fix: Adam's own default, a guard that never dominates √v̂


@register
@dataclass(frozen=True)
class EpsilonSensitivity(Rule):
    """What it detects:
    Within one run: Adam's ε is larger than √v̂ for most parameters (the logged
    ``adam/eps_dominance``), so Adam degenerates into plain SGD with a tiny step lr/ε;
    without that metric, an ε far outside 1e-8…1e-6 in the config is reported as info.
    Across runs that differ only in ε (``compare``): the final/best metric swings
    with ε (one seed: ε from 0.1 to 1e-6 moved test AUC from 0.6 to 0.9).

    Why it matters:
    ε is meant to be a numerical guard. When it dominates, the adaptive step is gone
    and training crawls; a tiny ε with near-zero v̂ can instead blow single steps up.
    Either way the result depends on a value nobody tuned.

    Suggested fix:
    ε in 1e-8…1e-6 by default; treat ε as a hyper-parameter when the result depends on
    it and sweep it (the UI launches the sweep).

    Parameters:
    dominance: share of parameters with ε > √v̂ above which it counts as "most".
    judge_from: share of training skipped before judging (v̂ needs steps to build up).
    large_eps: config ε above this is reported when the dominance metric is absent.
    small_eps: config ε below this is reported (risk of blown-up steps).

    References:
    Kingma & Ba, "Adam" (2015), Algorithm 1; Choi et al., "On Empirical Comparisons of
    Optimizers for Deep Learning" (2019): ε is a hyper-parameter worth tuning.
    """

    id = "epsilon_sensitivity"
    order = 50
    title = "Adam's epsilon dominates the update"
    severity = "warning"
    requires = (("adam/eps_dominance", "config:optim.eps"),)

    dominance: float = 0.5
    judge_from: float = 0.3
    large_eps: float = 1e-3
    small_eps: float = 1e-10

    def check(self, run: RunData) -> list[Finding]:
        eps = cfg(run, "optim.eps")
        eps = float(eps) if eps is not None else None
        series = run.get("adam/eps_dominance")
        if series is not None:
            x, y = series.finite()
            judged = x >= x[0] + self.judge_from * (x[-1] - x[0]) if len(x) else x
            if len(x) < 2 or judged.sum() == 0:
                return []
            share = float(np.median(y[judged]))
            if share > self.dominance:
                return [self._dominant(run, x, y, judged, share, eps)]
            return self._tiny(run, eps)
        if eps is None or cfg(run, "optim.name", "adam") not in ADAM_FAMILY:
            return []
        if eps > self.large_eps:
            summary = (
                f"optim.eps = {eps:g}, far above the usual 1e-8…1e-6: if ε exceeds √v̂ for most "
                "parameters Adam acts like SGD with a tiny step (log adam/eps_dominance to confirm)."
            )
            return self._config_only(run, eps, summary, "Adam's epsilon is unusually large")
        return self._tiny(run, eps)

    def _dominant(
        self, run: RunData, x: np.ndarray, y: np.ndarray, judged: np.ndarray, share: float, eps: float | None
    ) -> Finding:
        lr = lr_of(run)
        step = f"; the effective step is about lr/ε = {curves.fmt(lr / eps)}" if lr and eps else ""
        summary = (
            f"ε{f' = {eps:g}' if eps is not None else ''} exceeds √v̂ for {share:.0%} of parameters "
            f"(median from {run.when(float(x[judged][0]))} on): Adam behaves like plain SGD{step}."
        )
        values = {"eps": eps, "eps_dominance": share, "lr": lr}
        marks = (
            {"kind": "hline", "value": self.dominance, "label": "most parameters"},
            {"kind": "span", "start": float(x[judged][0]), "end": float(x[-1]), "label": "ε dominates"},
        )
        evidence = Evidence("adam/eps_dominance", int(x[judged][0]), int(x[-1]), values, marks)
        return self.finding(summary, evidence, self._fixes(run, eps))

    def _tiny(self, run: RunData, eps: float | None) -> list[Finding]:
        if eps is None or eps >= self.small_eps or cfg(run, "optim.name", "adam") not in ADAM_FAMILY:
            return []
        summary = (
            f"optim.eps = {eps:g} is tiny: where v̂ is near zero a single step can blow up "
            "(watch for loss spikes)."
        )
        return self._config_only(run, eps, summary, "Adam's epsilon is unusually small")

    def _config_only(self, run: RunData, eps: float, summary: str, title: str) -> list[Finding]:
        """An info finding from the config alone: nothing on the curves to mark."""
        return [self.finding(summary, Evidence("", values={"eps": eps}), self._fixes(run, eps), severity="info",
                             title=title)]

    def _fixes(self, run: RunData, eps: float | None) -> list[Fix]:
        return [
            Fix(
                f"Set ε to {DEFAULT_EPS:g} (the default)",
                "a guard value that never dominates √v̂",
                {"optim.eps": DEFAULT_EPS},
            ),
            Fix(
                "Sweep ε (1e-8 … 1e-1) and keep the best",
                "when the result depends on ε, treat it as a hyper-parameter; the UI launches the sweep",
            ),
        ]
