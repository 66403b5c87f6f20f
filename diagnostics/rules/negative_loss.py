"""A loss that cannot be negative went below zero (and the Softmax + NLLLoss classic)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from diagnostics import curves
from diagnostics.base import Rule, register
from diagnostics.findings import Evidence, Finding, Fix
from diagnostics.rules._common import cfg
from diagnostics.rundata import RunData, Series
from traindoc.core.vocabulary import LOSS_NAMES, partners, per_rank, role

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
# What the log holds beside the loss. -p(correct) belongs to a classifier, and a classifier logs how often it is
# right: an accuracy, top-k, AUC, F1, precision/recall or a detector's mAP (word prefixes, as the vocabulary reads
# them). IoU and Dice are left out: a negated Dice is a legitimate similarity loss that tracks its own score.
CLASSIFICATION_SCORES = ("acc", "top1", "top5", "auc", "auroc", "f1", "precision", "recall", "map")
# Regression and density metrics (whole words): a run that reports them fits a continuous target, the home of
# a Gaussian NLL or a flow's likelihood, which may be negative.
REGRESSION_METRICS = ("mse", "mae", "rmse", "msle", "mape", "smape", "r2", "bpd", "bits")
MIN_TRACK_POINTS = 5  # evaluations at which both the loss and the score are known: fewer cannot rank a trend
PERCENT = 100.0  # a score above 1 is logged in percent
_WORD = re.compile(r"[a-z0-9]+")


@register
@dataclass(frozen=True)
class NegativeLoss(Rule):
    """What it detects:
    A cross-entropy, NLL, BCE or MSE loss below zero, graded by the evidence the log holds,
    not by the metric's name. nn.Softmax fed to nn.NLLLoss makes the loss -p(correct): never
    positive nor below -1, heading to -1 as the model learns, and close to the share of examples
    it gets right. That bug is critical only when the log establishes it: a config with a softmax
    head and NLLLoss, or every curve of the objective in [-1, 0] beside a classification score
    (accuracy, top-k, AUC, F1, precision/recall, mAP) that -loss follows, in trend or in level,
    with the loss heading to -1 or sitting at the score's level. The same shape with no
    classification score is a question (info): a Gaussian NLL with a learned variance can take it
    too, so the finding says what to check. A loss that is unbounded below (it goes under -1),
    that was positive before it went negative, or whose partner curves leave [-1, 0] (the
    validation loss, the per-step loss: -p(correct) bounds every one of them) cannot be
    -p(correct): it has the shape of a log-likelihood (Gaussian NLL, a normalizing flow, an ELBO
    on continuous data), which may be negative legitimately: info. So is a loss in [-1, 0] in a
    run that logs only regression metrics (MAE, RMSE, R2, bits per dim) or no score at all and
    does not head to -1, a loss declared a likelihood in the config or the run's loss type, and
    the total loss of a reinforcement-learning run (it logs rewards or episodes), which holds a
    policy-gradient surrogate. A loss declared non-negative (config ``loss.name`` mse,
    cross_entropy...) below zero is critical whatever its shape; a negative loss beside a score
    it does not follow is a warning (a standard loss cannot go below zero, yet it is not
    -p(correct)). When no canonical loss is negative, the components a log names beside its
    total (Ultralytics' ``train/cls_loss``, a detector's ``loss_cls``) are judged the same way,
    each against its own train/validation pair: a total of positive box and distribution terms
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
    min_tracking: rank correlation (Spearman, over the evaluations where both are known) between -loss and the
        classification score from which the loss tracks the score: -p(correct) rises with accuracy.
    max_level_gap: median distance between -loss and the score (as a fraction) within which the loss sits at
        the score's level: the mean probability of the right class is close to how often the class is right,
        which is what a classifier stuck at chance shows (-1/K beside an accuracy of 1/K) when there is no trend
        to rank.

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
    min_tracking: float = 0.5
    max_level_gap: float = 0.25

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
        score = _classification_score(run, series.name)
        regression = _regression_metric(run)
        tracking, gap = self._tracking(run, x, y, score) if score else (None, None)
        values = {
            "shape": shape,
            "first_negative_step": first,
            "min_value": float(y[low]),
            "final_value": end,
            "share_negative": float(negative.mean()),
            "loss_kind": kind,
            "original_name": series.original,
            "outside_unit": left,
            "classification_score": score,
            "tracking": tracking,
            "level_gap": gap,
            "regression_metric": regression,
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
        # a loss in [-1, 0] with nothing that says "classifier" (no score, or a regression metric only) is as
        # much a likelihood as -p(correct): the log cannot tell them apart
        unclassified = score is None
        legitimate = declared == "likelihood" or rl or (shape == "unbounded" and declared != "non-negative") or (
            shape == "bounded" and (kind == "likelihood" or unclassified)) or (
            in_unit and unclassified and regression is not None and declared != "non-negative")
        if legitimate and not softmax_cfg:
            partner = f", and {left} leaves [-1, 0] as -p(correct) never does" if left and left != series.name else ""
            beside = f", and the run reports {regression}, a regression metric" if regression and not score else ""
            return self.finding(
                f"{series.name} goes below zero from {run.when(first)} (min {curves.fmt(y[low])}){partner}{beside}; "
                "for a log-likelihood-type loss (Gaussian NLL, ELBO, a flow), a policy-gradient or Wasserstein-critic "
                "objective or a negated similarity (SI-SNR) that is legitimate, not a bug.",
                evidence,
                (),
                severity="info",
                title="Negative loss (legitimate for a likelihood loss)",
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
        # the loss follows the score in trend or in level; with no evaluation of the score inside the loss's
        # span nothing is established either way (the question below, never the verdict)
        comparable = gap is not None
        tracks = (tracking is not None and tracking >= self.min_tracking) or (comparable and gap <= self.max_level_gap)
        # established: a classification score logged, every loss curve in [-1, 0], and the loss heading to -1 with
        # nothing against it, or sitting at the score's level (a classifier that learns little does not head anywhere)
        at_level = gap is not None and gap <= self.max_level_gap
        established = bool(score) and in_unit and declared != "non-negative" and (
            (shape == "softmax_nll" and tracks) or at_level)
        if softmax_cfg or established:
            if softmax_cfg:
                why = "the config feeds a softmax head into NLLLoss"
            elif shape == "bounded":
                why = (f"every value lies in [-1, 0], at the level of {score} (median gap {gap:.2f}), as "
                       "-p(correct) sits at the share of examples the model gets right")
            else:
                follows = "" if tracking is None or gap is None else (
                    f", and -loss follows it (rank correlation {tracking:.2f}, median gap {gap:.2f})")
                why = (f"every value lies in [-1, 0] and it heads to -1 (now {curves.fmt(end)}) while the run "
                       f"logs {score}{follows}")
            summary = (
                f"{series.name} is negative from {run.when(first)} and reaches {curves.fmt(y[low])}: "
                f"{why}, the signature of nn.Softmax + nn.NLLLoss, which optimises -p(correct)."
            )
            return self.finding(summary, evidence, fixes, title="Negative loss: Softmax fed to NLLLoss")
        if shape == "softmax_nll" and (unclassified or not comparable) and declared != "non-negative":
            # the shape of -p(correct), with no score to say the model is a classifier: a question, not a verdict
            missing = ("logs no accuracy or other classification score to confirm it" if unclassified else
                       f"has no evaluation of {score} within the loss's steps to confirm it")
            return self.finding(
                f"{series.name} stays in [-1, 0] and heads to -1 (now {curves.fmt(end)}), the shape of -p(correct), "
                f"but the run {missing}: if this is a classifier "
                "with nn.Softmax before nn.NLLLoss, use nn.LogSoftmax (or logits into CrossEntropyLoss); if it is a "
                "likelihood (a Gaussian NLL, a flow), nothing to do.",
                evidence,
                fixes,
                severity="info",
                title="Negative loss: Softmax + NLLLoss, or a likelihood?",
            )
        against = (f"; -loss does not follow {score} (rank correlation {tracking:.2f}, median gap {gap:.2f})"
                   if score and tracking is not None and gap is not None and not tracks else "")
        summary = (
            f"{series.name} is negative from {run.when(first)} (min {curves.fmt(y[low])}, "
            f"{negative.mean():.0%} of points), yet a {kind if kind != 'unknown' else 'standard'} loss "
            f"cannot go below zero{against}."
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

    def _tracking(self, run: RunData, x: np.ndarray, y: np.ndarray, score: str) -> tuple[float | None, float | None]:
        """How -loss follows ``score`` at the score's evaluations inside the loss's span: their rank correlation
        (None with fewer than MIN_TRACK_POINTS evaluations) and the median distance between their levels
        (None with no evaluation inside the span).
        -p(correct) rises as the model gets more examples right, and sits near the share it gets right."""
        sx, sy = curves.finite(run.get(score))
        inside = (sx >= x[0]) & (sx <= x[-1])
        if not inside.any():
            return None, None
        at, sy = -np.interp(sx[inside], x, y), sy[inside]
        if np.max(np.abs(sy)) > 1 + self.tolerance:
            sy = sy / PERCENT
        gap = float(np.median(np.abs(at - sy)))  # the level says something from one evaluation on
        return (_rank_correlation(at, sy) if inside.sum() >= MIN_TRACK_POINTS else None), gap


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


def _words(name: str) -> list[str]:
    return _WORD.findall(name.lower())


def _classification_score(run: RunData, loss: str) -> str | None:
    """The run's classification score to set the loss against: an accuracy first, then on the loss's own
    split, then any (a higher-is-better metric whose words start with a CLASSIFICATION_SCORES word)."""
    found = [n for n in sorted(run.names) if per_rank(n) is None and role(n).kind == "metric"
             and role(n).better == "higher" and not any(w in REGRESSION_METRICS for w in _words(n))
             and any(w.startswith(CLASSIFICATION_SCORES) for w in _words(n))]
    split = role(loss).split
    found.sort(key=lambda n: (not any(w.startswith("acc") for w in _words(n)), role(n).split != split))
    return found[0] if found else None


def _regression_metric(run: RunData) -> str | None:
    """The first metric (not a loss) the run logs that only a regression or a density model reports, or None."""
    return next((n for n in sorted(run.names) if per_rank(n) is None and role(n).kind == "metric"
                 and any(w in REGRESSION_METRICS for w in _words(n))), None)


def _rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties); 0 when either side is constant."""
    ra, rb = _ranks(a), _ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def _ranks(v: np.ndarray) -> np.ndarray:
    """Ranks of ``v`` with ties given their mean rank."""
    order = np.argsort(v, kind="mergesort")
    ranks = np.empty(len(v))
    ranks[order] = np.arange(len(v), dtype=float)
    _, inverse, counts = np.unique(v, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]
