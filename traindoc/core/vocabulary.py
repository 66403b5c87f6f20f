"""The metric vocabulary: canonical names, what a name means, which way is better, and the score.

A leaf module (it imports nothing of traindoc's), so the runner, the importers, the rules,
the verdicts and the pages all share one answer. ``canonical`` names a foreign series
(Keras, Lightning, HF, TensorBoard, Ultralytics...) the way the rules read it; ``role``
says what a name means (train vs validation, loss vs metric, which way is better) so
importers can show and let the user correct the mapping; ``Monitor`` is the metric a run
is judged by, in the Keras/Lightning sense (``mode="auto"`` reads the direction from the
name). A name that is not recognised is kept as it is, so nothing logged is lost.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

RunT = TypeVar("RunT")  # whatever a caller calls a run (first_score_logged only hands it back)

# Names that mean the same thing whatever the granularity.
_FIXED: dict[str, str] = {
    "val_loss": "val/loss",
    "valid_loss": "val/loss",
    "validation_loss": "val/loss",
    "eval_loss": "val/loss",
    "loss/validation": "val/loss",
    "test_loss": "val/loss",
    "val/loss": "val/loss",
    "accuracy": "train/acc",
    "acc": "train/acc",
    "train_acc": "train/acc",
    "train_accuracy": "train/acc",
    "val_accuracy": "val/acc",
    "val_acc": "val/acc",
    "valid_acc": "val/acc",
    "eval_accuracy": "val/acc",
    "validation_accuracy": "val/acc",
    "test_acc": "val/acc",
    "test_accuracy": "val/acc",
    "auc": "train/auc",
    "train_auc": "train/auc",
    "val_auc": "val/auc",
    "eval_auc": "val/auc",
    "test_auc": "val/auc",
    "learning_rate": "lr",
    "lr": "lr",
    "epoch_learning_rate": "lr",
    "grad_norm": "grad_norm",
    **{alias: name for name, aliases in {
        "sys/samples_per_sec": ("train_samples_per_second", "train|samples_per_sec", "train/samples_per_sec",
                                "samples_per_sec"),
        "sys/data_time": ("data_time",),
        "sys/cuda_peak_mb": ("memory",),
    }.items() for alias in aliases},
}
# System signals (kind "system"): what the runner's sink samples at its flush cadence, and the
# foreign names that mean exactly one of them. HF's ``train_samples_per_second`` (the closing
# throughput), Lightning ThroughputMonitor's ``train|samples_per_sec``, MMEngine's ``data_time``
# (seconds waiting for data per iteration) and ``memory`` (MB, ``torch.cuda.max_memory_allocated``
# since the last log line: a peak). A bare ``time`` is left alone: per-iteration seconds in
# MMEngine, cumulative seconds in Ultralytics' results.csv and Lightning's ``train|time``; the
# MMEngine importer names its own (``Parsed.names``).
STEP_TIME = "sys/step_time"  # seconds of wall time per optimizer step
SAMPLES_PER_SEC = "sys/samples_per_sec"
DATA_TIME = "sys/data_time"
RSS_MB = "sys/rss_mb"  # host resident set size of the training process
RAM_TOTAL_MB = "sys/ram_total_mb"  # the host's physical memory: the limit RSS runs into
CUDA_ALLOC_MB = "sys/cuda_alloc_mb"  # torch.cuda.memory_allocated
CUDA_RESERVED_MB = "sys/cuda_reserved_mb"  # torch.cuda.memory_reserved (the caching allocator's pool)
CUDA_PEAK_MB = "sys/cuda_peak_mb"  # a peak of allocated memory per log interval (MMEngine's ``memory``)
CUDA_TOTAL_MB = "sys/cuda_total_mb"  # the device's memory: the limit CUDA memory runs into
SYSTEM_PREFIX = "sys/"
# Memory series and the limit each runs into, in the order a chart or a rule prefers them.
MEMORY_LIMITS: dict[str, str] = {CUDA_RESERVED_MB: CUDA_TOTAL_MB, CUDA_ALLOC_MB: CUDA_TOTAL_MB,
                                 CUDA_PEAK_MB: CUDA_TOTAL_MB, RSS_MB: RAM_TOTAL_MB}


# Training loss: per iteration when logged every step, epoch mean when logged per epoch.
_TRAIN_LOSS = ("loss", "train_loss", "training_loss", "loss/train", "total_loss", "train/total_loss")
_KERAS_SUFFIX = re.compile(r"^(val_)?(auc|precision|recall)_\d+$")  # Keras numbers repeated metrics
# Split words as real logs spell them, abbreviations included (``tr_loss``, ``trn_loss``, ``va_loss``,
# ``vld_acc``, ``te_loss``, ``tst_acc``); a test set scored during training is the validation curve.
_SPLIT = {"train": "train", "training": "train", "tr": "train", "trn": "train",
          "val": "val", "valid": "val", "validation": "val", "va": "val", "vl": "val", "vld": "val",
          "eval": "val", "evaluation": "val", "test": "val", "testing": "val", "te": "val", "tst": "val",
          "dev": "val", "validate": "val", "validating": "val"}
_KIND = {"loss": "loss", "acc": "acc", "accuracy": "acc", "auc": "auc", "auroc": "auc"}
_ALT = "|".join


# --- Plural history keys (issue 17): ``train_losses``, ``val_accs``, ``train_acc_history`` ---
# Hand-written JSON histories name each list by its plural or add a ``_history`` suffix; read
# as their singular they reach the same canonical name (``val_losses`` → ``val_loss`` → val/loss).
_PLURAL_KINDS = {"losses": "loss", "accs": "acc", "accuracies": "accuracy", "aucs": "auc"}
_LIST_SUFFIX = re.compile(r"[_/.\-](?:history|hist|list|values)$")


def _singular(low: str) -> str:
    """``train_losses`` → ``train_loss``, ``val_acc_history`` → ``val_acc``; other names unchanged."""
    low = _LIST_SUFFIX.sub("", low)
    head, sep, last = low.rpartition("_") if "_" in low else ("", "", low)
    return f"{head}{sep}{_PLURAL_KINDS.get(last, last)}"
# --- end of plural history keys ---


# --- The spellings of one name: ``TrainLoss``, ``Val Acc``, ``loss/train``, ``avg_val_loss`` ---
# A name is read as its words, whatever their case, order or separator: one split word (optional for
# a loss), one kind word, at most one granularity word, and words that only say the value is an
# average (``avg_train_loss`` is the training loss). Any other word makes it another metric, kept under
# its own name: ``val_loss_best`` is a running best, ``train_loss_bbox`` one term of a loss.
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")  # TrainLoss, valAcc, TRAINLoss
_WORD_SEP = re.compile(r"[\s_/.\-]+")
_GRAN = {"epoch": "epoch", "step": "step", "batch": "step", "iter": "step"}
_AVERAGE = frozenset({"avg", "average", "mean", "running", "total", "overall"})
_FILLER = frozenset({"roc", "history", "hist", "list", "values"})  # roc_auc is the AUC; a list of values is the curve
# Keras names its accuracy by the loss it pairs with (``sparse_categorical_accuracy``, ``val_binary_accuracy``).
_KERAS_ACCURACY = frozenset({"sparse", "categorical", "binary"})
_FUSED = re.compile(rf"^(?P<split>{_ALT(_SPLIT)})(?P<kind>{_ALT(_KIND)})$")  # trainloss, testacc


def words(name: str) -> list[str]:
    """``TrainLoss`` → [train, loss], ``Val Acc`` → [val, acc], ``loss/train`` → [loss, train]."""
    return [w for w in _WORD_SEP.split(_CAMEL.sub("_", name.strip()).lower()) if w]


def _read_words(words: list[str]) -> tuple[str | None, str, str | None] | None:
    """``(split, kind, granularity)`` that a name's words spell; None when a word makes it another metric."""
    split = kind = gran = None
    averaged = keras = False
    for word in words:
        fused = _FUSED.match(word)
        for piece in (fused.group("split"), fused.group("kind")) if fused else (_PLURAL_KINDS.get(word, word),):
            if piece in _SPLIT and split is None:
                split = _SPLIT[piece]
            elif piece in _KIND and kind is None:
                kind = _KIND[piece]
            elif piece in _GRAN and gran is None:
                gran = _GRAN[piece]
            elif piece in _AVERAGE:
                averaged = True
            elif piece in _KERAS_ACCURACY:
                keras = True
            elif piece not in _FILLER:
                return None
    if kind is None or (split is None and kind != "loss" and averaged) or (keras and kind != "acc"):
        return None  # ``mean_acc`` is often a per-class mean on the validation set: not guessed
    return split, kind, gran


ACC_WORDS = ("acc", "accuracy")  # an accuracy by any writer's name: Keras' sparse_categorical_accuracy, Train_Acc


def names_accuracy(name: str) -> bool:
    """Whether one of the name's words says accuracy (``val_sparse_categorical_accuracy``, ``Train_Acc``)."""
    return any(w in ACC_WORDS for w in words(name))


def split_only(name: str) -> str | None:
    """The split a name spells and nothing else (``Training``, ``Validation``, ``test``), else None: a
    pandas frame of two loss lists saved as ``pd.DataFrame({"Training": ..., "Validation": ...})`` names
    its columns so; what they measure is for the reader to say from the values (``runner.importers.tidy``)."""
    found = words(name)
    return _SPLIT[found[0]] if len(found) == 1 and found[0] in _SPLIT else None


def canonical(name: str, epoch_level: bool) -> str:
    """The canonical name for ``name``; ``epoch_level`` says whether the log is one row per epoch."""
    key = name.strip()
    low = key.lower()
    if per_rank(key) is not None:
        return key  # one rank's series keeps its name (``RANK_SEP``)
    singular = _singular(low)
    if singular != low and (singular in _FIXED or canonical(singular, epoch_level) != singular):
        return canonical(singular, epoch_level)  # a plural or ``_history`` key of a known name
    spelled = words(key)
    for spelling in (low, "_".join(spelled)):  # ``LearningRate``, ``Train Loss``: a known name spelled so
        if spelling in _FIXED:
            return _FIXED[spelling]
        if spelling in _TRAIN_LOSS:
            return "train/loss_epoch" if epoch_level else "train/loss"
    match = _KERAS_SUFFIX.match(low)
    if match:
        return canonical(f"{match.group(1) or ''}{match.group(2)}", epoch_level)
    read = _read_words(spelled)
    if read is None:
        return key
    split, kind, gran = read
    split = split or "train"  # a bare loss (``epoch_loss``, ``avg_loss``) is the training loss
    if split == "train" and kind == "loss":
        return "train/loss_epoch" if gran == "epoch" or (gran is None and epoch_level) else "train/loss"
    if gran == "step":  # Lightning's per-batch validation value: the epoch one is the curve
        return f"{split}/{kind}_step"
    return f"{split}/{kind}"



EVERY_STEP = 1.0  # a median gap of one step between values: the series was logged at every step


def loss_per_epoch(points: int, *, axis: str = "step", epochs: int = 0, val_points: int = 0,
                   gap: float | None = None) -> bool:
    """Whether a bare training loss logged ``points`` times is the epoch mean rather than per iteration.

    It is when the log is one row per epoch (``axis="epoch"``), or when it was logged about once
    per epoch: not more often than the epochs seen (plus one), or than the validation loss (×1.5,
    for a final evaluation or a mid-epoch one) — a mean over the steps between evaluations. Not
    when it was logged at every step (``gap``, the median step between its values, is 1: issue 23):
    a mean over one step is that step's loss, however often the validation ran. The one place this
    is decided: the importers and ``RunData`` both ask it.
    """
    if axis == "epoch" or (epochs >= 2 and points <= epochs + 1):
        return True
    if gap is not None and gap <= EVERY_STEP:
        return False
    return val_points > 0 and points <= 1.5 * val_points


def map_names(counts: Mapping[str, int], *, axis: str = "step", epochs: int = 0,
              epoch_level: bool | None = None, gaps: Mapping[str, float] | None = None) -> dict[str, str]:
    """Original → canonical name for a run's metrics (``counts``: points per original name).

    One canonical name per run: a name logged as such wins over aliases, then the longest
    series (``val_loss`` over a one-row ``test_loss``), and an alias whose canonical name is
    taken keeps its own. ``epoch_level`` forces the granularity of a bare
    loss; None decides it per name with ``loss_per_epoch`` (``gaps``: the median step between a
    name's values, where the caller knows its steps).
    """
    val_points = max((n for o, n in counts.items() if canonical(o, True) == "val/loss"), default=0)
    mapping: dict[str, str] = {}
    taken: set[str] = set(counts)  # names that are already canonical keep their place
    for original in sorted(counts, key=lambda o: (canonical(o, False) != o, -int(counts[o]), o)):
        per_epoch = epoch_level if epoch_level is not None else loss_per_epoch(
            int(counts[original]), axis=axis, epochs=epochs, val_points=val_points,
            gap=(gaps or {}).get(original))
        target = canonical(original, per_epoch)
        if target != original and target in taken:
            target = original  # another series already holds that canonical name
        mapping[original] = target
        taken.add(target)
    return dict(sorted(mapping.items()))


@dataclass(frozen=True)
class Role:
    """What a metric is: ``split`` train/val/other, ``kind`` loss/metric/lr/grad/system/rank (one rank's
    series, ``RANK_SEP``), ``better`` lower/higher/''."""

    split: str
    kind: str
    better: str


_LOWER = ("loss", "err", "error", "mae", "mape", "smape", "mse", "rmse", "perplexity", "ppl", "wer", "cer", "nll",
          "xent")
_LOSS_WORDS = ("xent",)  # a loss by another name: OpenNMT logs its cross-entropy as ``xent``
_HIGHER = ("acc", "accuracy", "auc", "auroc", "map", "f1", "precision", "recall", "iou", "miou", "dice", "bleu",
           "rouge", "r2", "top1", "top5", "fitness", "return", "reward", "rew", "ssim", "psnr")
_SYSTEM = ("time", "runtime", "memory", "mem", "per_second", "flos", "flops", "throughput", "eta", "data_time")
_TOKEN = re.compile(r"[a-z0-9]+")


# One rank's series in a many-process run: ``train/loss@1`` is rank 1's training loss (rank 0's is
# the plain name, the run's curve). Its role has kind ``rank`` (no direction), so no rule reads it as
# the run's loss or score; the charts still show it.
RANK_SEP = "@"
_PER_RANK = re.compile(rf"^(?P<base>.+){RANK_SEP}(?P<rank>\d+)$")


def rank_name(name: str, rank: int) -> str:
    """The stored name of ``rank``'s series of ``name`` (``train/loss@1``)."""
    return f"{name}{RANK_SEP}{int(rank)}"


def per_rank(name: str) -> tuple[str, int] | None:
    """``(base name, rank)`` of a per-rank series, None for a run's own series."""
    match = _PER_RANK.match(name.strip())
    return None if match is None else (match.group("base"), int(match.group("rank")))


def rank_series(name: str, names: Iterable[str]) -> dict[int, str]:
    """Rank → series of ``name`` among ``names`` in a many-process run: ``name@<rank>`` for each rank
    and, unless an explicit ``name@0`` exists, the plain ``name`` as rank 0's (the run's own curve).
    A single entry is a one-process run."""
    found = {r: n for n in names if (ranked := per_rank(n)) is not None and ranked[0] == name
             for r in (ranked[1],)}
    if 0 not in found and name in set(names) and found:
        found[0] = name
    return dict(sorted(found.items()))


def _tokens(name: str) -> list[str]:
    """A name's alphanumeric words, also split at camelCase and fused split+kind words (``valAcc``, ``testloss``)."""
    words = _TOKEN.findall(name.strip().lower().replace("map50", "map"))
    words += _TOKEN.findall(_CAMEL.sub("_", name.strip()).lower())
    found: list[str] = []
    for word in words:
        fused = _FUSED.match(word)
        found += [fused.group("split"), fused.group("kind")] if fused else [word]
    return list(dict.fromkeys(found))


def role(name: str) -> Role:
    """The role of a (canonical or foreign) name, from its tokens; unknown parts stay empty or ``other``."""
    ranked = per_rank(name)
    if ranked is not None:
        return Role(role(ranked[0]).split, "rank", "")
    low = name.strip().lower()
    tokens = _tokens(name)
    split = next((_SPLIT[t] for t in tokens if t in _SPLIT), "other")
    if low.startswith("metrics/") and split == "other":
        split = "val"  # Ultralytics computes its metrics/* on the validation set
    if low == "lr" or low.startswith(("lr/", "lr-", "lr_")) or "learning_rate" in low:
        return Role(split, "lr", "")
    if low.startswith(SYSTEM_PREFIX):
        return Role(split, "system", "")
    if low.startswith(("grad_norm", "grad/")):
        return Role(split, "grad", "lower")
    if any(t in _SYSTEM for t in tokens) or any(s in low for s in ("per_second", "data_time")):
        return Role(split, "system", "")
    if any(t.startswith(_LOWER) for t in tokens if t not in _SPLIT):
        return Role(split, "loss" if any("loss" in t or t in _LOSS_WORDS for t in tokens) else "metric", "lower")
    if any(t in _HIGHER or t.startswith(("map", "acc", "auc", "top")) for t in tokens):
        return Role(split, "metric", "higher")
    return Role(split, "metric" if tokens else "other", "")


# The metric a run is judged by, in order of preference: the one the user cares about
# (a ranking score), then accuracy, then the validation loss. Everyone that picks "the score"
# (verdicts, sweep table, sensitivity rules, compare page, the overview's key metric) reads it here.
SCORE_PREFERENCE: tuple[str, ...] = ("val/auc", "val/acc", "val/loss")
# The validation curves to find a best on: the loss first (the smoothest), then the scores.
VAL_CURVES: tuple[str, ...] = ("val/loss", *(n for n in SCORE_PREFERENCE if n != "val/loss"))


def higher_is_better(name: str) -> bool:
    """Direction of ``name`` (canonical or foreign); a name with no known direction is a loss-like one."""
    return role(name).better == "higher"


@dataclass(frozen=True)
class Monitor:
    """A watched metric and its direction, as Keras' ``EarlyStopping(monitor, mode)`` and Lightning mean it.

    ``mode="auto"`` reads the direction from the name (``val/acc`` max, ``val/loss`` min).
    """

    name: str
    mode: str = "auto"

    def __post_init__(self) -> None:
        if self.mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be auto, min or max, not {self.mode!r}")
        if self.mode == "auto":
            object.__setattr__(self, "mode", "max" if higher_is_better(self.name) else "min")

    @property
    def higher_is_better(self) -> bool:
        return self.mode == "max"

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` is strictly better than ``b``."""
        return a > b if self.higher_is_better else a < b

    def best(self, values: Iterable[float] | np.ndarray) -> float:
        """The best finite value of ``values`` (NaN when there is none)."""
        finite = np.asarray(values, dtype=float)
        finite = finite[np.isfinite(finite)]
        if not finite.size:
            return float("nan")
        return float(finite.max() if self.higher_is_better else finite.min())

    def signed(self, delta: float) -> float:
        """A change ``after - before`` signed so that positive is better."""
        return delta if self.higher_is_better else -delta


def score_monitor(
    available: Collection[str] | Iterable[Collection[str]], preference: tuple[str, ...] = SCORE_PREFERENCE
) -> Monitor | None:
    """The score a set of runs is compared on: the first preferred name in every one of ``available``.

    ``available`` is one collection of metric names, or several (one per run): then the
    score must be logged by all of them.
    """
    items = list(available)
    sets = [set(items)] if not items or isinstance(items[0], str) else [set(a) for a in items]
    for name in preference:
        if all(name in s for s in sets):
            return Monitor(name)
    return None


def first_score_logged(
    runs: Iterable[RunT], best: Callable[[RunT, Monitor], float | None], enough: int,
    preference: tuple[str, ...] = SCORE_PREFERENCE,
) -> tuple[Monitor, list[tuple[RunT, float]]] | None:
    """The first preferred score that at least ``enough`` of ``runs`` logged, with those runs and their bests.

    Unlike ``score_monitor`` (a score every run logged), runs without it are left out: ``best(run, monitor)``
    is a run's best value of the score, None when it logged none. None when no score reaches ``enough``.
    """
    runs = list(runs)
    for name in preference:
        monitor = Monitor(name)
        scored = [(run, value) for run in runs if (value := best(run, monitor)) is not None]
        if len(scored) >= enough:
            return monitor, scored
    return None


# --- the training-loss family -------------------------------------------------------------
# One declaration, finest first: the per-iteration loss (train mode, weights moving), the mean of
# an epoch's batch losses (train mode, what the optimizer saw), and the training set re-evaluated
# in eval mode at the epoch end (same weights and mode as val/loss).
STEP_LOSS = "train/loss"
EPOCH_LOSS = "train/loss_epoch"
EVAL_LOSS = "train/loss_eval"
TRAIN_LOSSES: tuple[str, ...] = (STEP_LOSS, EPOCH_LOSS, EVAL_LOSS)
VAL_LOSS = "val/loss"
LOSS_NAMES: tuple[str, ...] = (*TRAIN_LOSSES, VAL_LOSS)


def reads_as_train_loss(name: str) -> bool:
    """Whether a (foreign) name reads as a training loss: a loss, not a validation one, and not a
    Lightning ``_step`` duplicate of an epoch curve (``train/loss_critic``, ``mean_loss``)."""
    r = role(name)
    return r.kind == "loss" and r.split != "val" and not name.endswith("_step")


def train_losses(use: str) -> tuple[str, ...]:
    """The training-loss names in the order ``use`` needs; the orders differ on purpose.

    ``"step"``: finest first (the per-iteration curve, else an epoch-level one) — the curve shape.
    ``"beside_val"``: eval-mode first, then the epoch mean, then per step — the one to set against
    ``val/loss`` (same mode, same weights: dropout and batch norm do not open a false gap).
    ``"epoch"``: the epoch-level ones, eval-mode first (the same comparison, epoch-level only).
    ``"optimizer"``: the epoch-level ones, epoch mean first — what the optimizer saw while it
    stepped; its swings are the optimizer's, an eval-mode pass at the end smooths them away.
    """
    orders = {
        "step": TRAIN_LOSSES,
        "beside_val": (EVAL_LOSS, EPOCH_LOSS, STEP_LOSS),
        "epoch": (EVAL_LOSS, EPOCH_LOSS),
        "optimizer": (EPOCH_LOSS, EVAL_LOSS),
    }
    if use not in orders:
        raise ValueError(f"use must be one of {sorted(orders)}, not {use!r}")
    return orders[use]


# --- train <-> validation partners --------------------------------------------------------
_VAL_WORDS = ("val", "valid", "validation", "eval", "test")
_PREFIX = re.compile(rf"^(?P<split>train|training|{_ALT(_VAL_WORDS)})(?P<sep>[_/.\-])(?P<rest>.+)$", re.I)
_SUFFIX = re.compile(rf"^(?P<rest>.+?)(?P<sep>[_/.\-])(?P<split>train|training|{_ALT(_VAL_WORDS)})$", re.I)


def partners(name: str, use: str = "beside_val") -> tuple[str, ...]:
    """The train↔validation counterparts of ``name`` (canonical or foreign), the closest first.

    ``val/loss`` → the training losses in ``train_losses(use)`` order (``"beside_val"``: the one to
    compare against, eval-mode first; a chart passes ``"step"``: the finest curve); ``train/acc`` ↔
    ``val/acc``; ``train/loss_epoch`` → ``val/loss``; Keras ``loss`` ↔ ``val_loss``; ``Loss/train``
    ↔ ``Loss/val``. Empty for names with no split partner (``lr``, ``epoch``).
    """
    key = name.strip()
    if key == VAL_LOSS:
        return train_losses(use)
    if key in TRAIN_LOSSES:
        return (VAL_LOSS,)
    if key.startswith("val/"):
        return (f"train/{key[4:]}", f"train/{key[4:]}_epoch")
    if key.startswith("train/"):
        return (f"val/{key[6:].removesuffix('_epoch').removesuffix('_step')}",)
    for pattern, build in ((_PREFIX, lambda s, sep, r: f"{s}{sep}{r}"), (_SUFFIX, lambda s, sep, r: f"{r}{sep}{s}")):
        match = pattern.match(key)
        if match:
            split, sep, rest = match.group("split"), match.group("sep"), match.group("rest")
            if split.lower() in ("train", "training"):
                return tuple(build(v, sep, rest) for v in ("val", "valid", "validation", "eval", "test"))
            train = (build("train", sep, rest), build("training", sep, rest))
            return (rest, *train) if pattern is _PREFIX else train
    if role(key).kind in ("loss", "metric") and role(key).better:  # Keras' bare train name: loss, accuracy
        return (f"val_{key}", f"val/{key}", f"eval_{key}")
    return ()


def partner(name: str, available: Collection[str] | None = None, use: str = "beside_val") -> str | None:
    """The train↔validation counterpart of ``name``: the first of ``partners`` in ``available``
    (or the closest one when ``available`` is None); None when there is none."""
    found = partners(name, use)
    if available is None:
        return found[0] if found else None
    return next((p for p in found if p in available), None)
