"""A loss that cannot be negative went below zero (and the Softmax + NLLLoss classic)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diagnostics import curves
from diagnostics.base import Rule, register
from diagnostics.findings import Evidence, Finding, Fix
from diagnostics.rules._common import cfg
from diagnostics.rundata import RunData, Series
from traindoc.vocabulary import LOSS_NAMES, partners, per_rank, role

NON_NEGATIVE = ("cross_entropy", "nll", "bce", "mse", "mae", "l1", "hinge", "kl", "focal", "huber")
LIKELIHOOD = (
    "gaussian_nll",
    "gnll",
    "elbo",
    "log_likelihood",
    "loglik",
    "log_prob",
    "logprob",
    "neg_log_likelihood_gaussian",
    "nll_gaussian",
    "vae",
    "kld_elbo",
    "flow",
    "density",
    # objectives that are negative by construction: policy-gradient surrogates, actor -Q,
    # Wasserstein critics, negated similarities (SI-SNR, SDR, cosine)
    "policy",
    "actor",
    "critic",
    "surrogate",
    "wasserstein",
    "wgan",
    "snr",
    "sdr",
    "cosine",
)
# a run that logs these is reinforcement learning: its total loss includes a policy-gradient term
RL_MARKERS = ("reward", "return", "episode", "rollout/")
SOFTMAX_NLL_FLOOR = -1.0  # -p(correct) cannot go below -1: a loss beyond it is unbounded below (a likelihood)
HEADING = -0.5  # -p(correct) past -0.5: the model is right on most examples, the curve heads to -1
LEVEL_SHARE = 0.1  # a curve's opening and end levels: the median of its first and last tenth
MIN_NEGATIVE_POINTS = 2  # one negative value is a glitch, not a negative loss
NEGATIVE_FROM_START = 0.9  # negative on nine points in ten: negative by design, not a loss that slipped under


@register
@dataclass(frozen=True)
class NegativeLoss(Rule):
    """What it detects:
    A cross-entropy, NLL, BCE or MSE loss below zero, told apart by the shape of the curve,
    not by the metric's name. Values bounded in [-1, 0] and heading to -1 (or a config
    with a softmax head and NLLLoss) are the classic nn.Softmax + nn.NLLLoss bug: the loss
    is -p(correct), which can never be positive nor below -1. A loss that is unbounded
    below (it goes under -1) or that was positive before it went negative cannot be
    -p(correct), and neither can a run whose other loss curves do (the validation loss or
    the per-step loss of the same objective above zero or below -1: -p(correct) bounds
    every one of them): it has the shape of a log-likelihood (Gaussian NLL with a learned
    variance, a normalizing flow, an ELBO on continuous data), which may be negative
    legitimately: that is reported as info. So is a loss declared a likelihood in the
    config or the run's loss type. A loss declared non-negative (config ``loss.name`` mse,
    cross_entropy...) below zero is critical whatever its shape. A curve in [-1, 0] that
    does not head to -1 is ambiguous: a warning (info when the metric's name says it is an
    objective that may be negative). In a reinforcement-learning run (it logs rewards or
    episodes) the total loss holds a policy-gradient surrogate, negative by construction: info.
    When no canonical loss is negative, the components a log names beside its total
    (Ultralytics' ``train/cls_loss``, a detector's ``loss_cls``) are judged the same way, each
    against its own train/validation pair: a total of positive box and distribution terms
    hides a classification term that is -p(correct).

    Why it matters:
    NLLLoss expects log-probabilities; fed probabilities it optimises -p(correct),
    whose gradient vanishes for confident mistakes: training is slower and
    miscalibrated, and the loss value means nothing.

    Suggested fix:
    Replace nn.Softmax(dim=1) by nn.LogSoftmax(dim=1) before NLLLoss, or feed raw logits
    to CrossEntropyLoss; check input normalisation and the sign of a custom loss.

    Parameters:
    tolerance: values above -tolerance count as zero (float round-off).
    min_negative: share of finite points that must be negative (one glitch is not a finding).

    References:
    PyTorch docs, torch.nn.NLLLoss ("the input is expected to contain log-probabilities");
    Kingma & Welling, "Auto-Encoding Variational Bayes" (2014) for the ELBO.
    """

    id = "negative_loss"
    order = 20
    title = "Negative loss"
    severity = "critical"
    requires = (LOSS_NAMES,)

    tolerance: float = 1e-6
    min_negative: float = 0.05

    def check(self, run: RunData) -> list[Finding]:
        # the canonical losses first (one objective, every granularity), then each named component
        # against its own train/validation pair
        judged = [(name, LOSS_NAMES) for name in LOSS_NAMES]
        judged += [(name, (name, *partners(name))) for name in _components(run)]
        for name, family in judged:
            series = run.get(name)
            if series is None:
                continue
            x, y = series.finite()
            if len(y) == 0:
                continue
            negative = y < -self.tolerance
            if negative.mean() < self.min_negative or negative.sum() < MIN_NEGATIVE_POINTS:
                continue
            return [self._finding(run, series, x, y, negative, family)]
        return []

    def _left_unit(self, run: RunData, family: tuple[str, ...]) -> str | None:
        """The first loss curve of ``family`` (the judged objective's curves) with a value outside [-1, 0], or None.

        -p(correct) bounds the training loss at every granularity and the validation loss
        alike, so one curve of the same objective above zero or under -1 rules it out; a
        likelihood that happens to level off just above -1 on the judged curve often shows
        its true range on its partner (a validation loss above zero, a first epoch above it).
        A component is set against its own partner only: the total it sums into is another objective.
        """
        for name in family:
            _, y = curves.finite(run.get(name))
            if len(y) and (y.min() < SOFTMAX_NLL_FLOOR - self.tolerance or y.max() > self.tolerance):
                return name
        return None

    def _finding(
        self, run: RunData, series: Series, x: np.ndarray, y: np.ndarray, negative: np.ndarray,
        family: tuple[str, ...] = LOSS_NAMES,
    ) -> Finding:
        first = float(x[int(np.argmax(negative))])
        low = int(np.argmin(y))
        end = curves.level(y, LEVEL_SHARE, end=True, min_n=1)
        left = self._left_unit(run, family)  # the judged curve is one of its family's curves
        in_unit = left is None
        softmax_cfg = cfg(run, "model.head") == "softmax" and cfg(run, "loss.name") == "nll"
        heading = end <= HEADING or end < curves.level(y, LEVEL_SHARE, end=False)
        declared = _declared(run)
        shape = "softmax_nll" if in_unit and heading else "bounded" if in_unit else "unbounded"
        kind = declared or _loss_kind(run, series)
        values = {
            "shape": shape,
            "first_negative_step": first,
            "min_value": float(y[low]),
            "final_value": end,
            "share_negative": float(negative.mean()),
            "loss_kind": kind,
            "original_name": series.original,
            "outside_unit": left,
        }
        marks = (
            {"kind": "hline", "value": 0.0, "label": "zero"},
            {"kind": "span", "start": first, "end": float(x[-1]), "label": "negative region"},
            {
                "kind": "point",
                "step": float(x[low]),
                "value": float(y[low]),
                "label": f"min {curves.fmt(y[low])}",
            },
        )
        evidence = Evidence(series.name, int(first), int(x[-1]), values, marks)
        rl = declared != "non-negative" and any(m in n.lower() for n in run.names for m in RL_MARKERS)
        legitimate = declared == "likelihood" or rl or (shape == "unbounded" and declared != "non-negative") or (
            shape == "bounded" and kind == "likelihood")
        if legitimate and not softmax_cfg:
            partner = f", and {left} leaves [-1, 0] as -p(correct) never does" if left and left != series.name else ""
            return self.finding(
                f"{series.name} goes below zero from {run.when(first)} (min {curves.fmt(y[low])}){partner}; for a "
                "log-likelihood-type loss (Gaussian NLL, ELBO, a flow), a policy-gradient or Wasserstein-critic "
                "objective or a negated similarity (SI-SNR) that is legitimate, not a bug.",
                evidence,
                (),
                severity="info",
                title="Negative loss (legitimate for a likelihood loss)",
            )
        if softmax_cfg or shape == "softmax_nll":
            why = (
                "the config feeds a softmax head into NLLLoss"
                if softmax_cfg
                else f"every value lies in [-1, 0] and it heads to -1 (now {curves.fmt(end)})"
            )
            summary = (
                f"{series.name} is negative from {run.when(first)} and reaches {curves.fmt(y[low])}: "
                f"{why}, the signature of nn.Softmax + nn.NLLLoss, which optimises -p(correct)."
            )
            fixes = (
                Fix(
                    "Replace nn.Softmax(dim=1) by nn.LogSoftmax(dim=1) before NLLLoss",
                    "NLLLoss expects log-probabilities; with them the loss is the true cross-entropy",
                    {"model.head": "log_softmax"},
                ),
                Fix(
                    "Or feed raw logits to CrossEntropyLoss",
                    "it applies log-softmax itself, stably",
                    {"model.head": "logits", "loss.name": "cross_entropy"},
                ),
            )
            return self.finding(summary, evidence, fixes, title="Negative loss: Softmax fed to NLLLoss")
        summary = (
            f"{series.name} is negative from {run.when(first)} (min {curves.fmt(y[low])}, "
            f"{negative.mean():.0%} of points), yet a {kind if kind != 'unknown' else 'standard'} loss "
            "cannot go below zero."
        )
        fixes = (
            Fix(
                "Check what the loss receives: log-probabilities for NLLLoss, logits for CrossEntropyLoss",
                "a probability or an unnormalised score in the wrong place gives negative values",
                {"model.head": "log_softmax"} if cfg(run, "loss.name") == "nll" else None,
            ),
            Fix(
                "Check input normalisation and the sign of any custom loss term",
                "a subtracted regulariser or a sign slip makes a loss negative",
            ),
        )
        severity = "critical" if kind == "non-negative" else "warning"
        return self.finding(summary, evidence, fixes, severity=severity)


def _components(run: RunData) -> list[str]:
    """The run's other loss curves (train or validation split, not one rank's copy), sorted: the terms a
    log names beside its total."""
    return sorted(n for n in run.names if n not in LOSS_NAMES and per_rank(n) is None
                  and role(n).kind == "loss" and role(n).split in ("train", "val"))


def _declared(run: RunData) -> str:
    """'likelihood' or 'non-negative' when the config or the run's loss type says so, else ''."""
    declared = str(cfg(run, "loss.name", "") or run.meta.get("loss_type", "") or "").lower()
    if any(token in declared for token in LIKELIHOOD):
        return "likelihood"
    return "non-negative" if declared in NON_NEGATIVE else ""


def _loss_kind(run: RunData, series: Series) -> str:
    """'likelihood' (may be negative), 'non-negative', or 'unknown', from config, meta and name."""
    declared = str(cfg(run, "loss.name", "") or run.meta.get("loss_type", "") or "").lower()
    name = series.original.lower()
    if any(token in declared for token in LIKELIHOOD) or any(token in name for token in LIKELIHOOD):
        return "likelihood"
    if declared not in NON_NEGATIVE and any(m in n.lower() for n in run.names for m in RL_MARKERS):
        return "likelihood"  # an RL loss: the policy-gradient surrogate may be negative
    x, y = series.finite()
    by_design = len(y) and (y < 0).mean() >= NEGATIVE_FROM_START and np.median(y) < SOFTMAX_NLL_FLOOR
    if declared not in NON_NEGATIVE and by_design:
        return "likelihood"  # negative by design from the start (negated SI-SNR, log-likelihood), beyond -1
    if declared in NON_NEGATIVE:
        return "non-negative"
    return "unknown"
