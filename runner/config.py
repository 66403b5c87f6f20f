"""Run configuration: frozen dataclasses addressed by dotted keys (``optim.lr``).

The same keys are used everywhere: ``--set``/``--grid`` on the CLI, config patches
on findings, the launch form and the JSON stored with each run. Every field carries
its allowed values in ``metadata`` so that a bad value is rejected, with the range
in the message, before any process starts.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

from runner.budget import check_fits


class ConfigError(ValueError):
    """A config key or value that the runner cannot use; the message says how to fix it."""


def _choice(default: str, choices: tuple[str, ...], why: str) -> Any:
    return field(default=default, metadata={"choices": choices, "help": why})


def _num(default: float, lo: float, hi: float, why: str) -> Any:
    return field(default=default, metadata={"min": lo, "max": hi, "help": why})


def _flag(default: bool, why: str) -> Any:
    return field(default=default, metadata={"help": why})


@dataclass(frozen=True)
class DataConfig:
    name: str = _choice(
        "digits",
        ("digits", "breast_cancer", "wine", "classification", "moons"),
        "scikit-learn datasets ship with the package: no downloads at run time",
    )
    n_samples: int = _num(2000, 50, 1_000_000, "size knob for the synthetic generators")
    n_features: int = _num(20, 2, 4096, "features for make_classification")
    noise: float = _num(0.2, 0.0, 5.0, "label/feature noise for the synthetic generators")
    val_fraction: float = _num(0.25, 0.05, 0.9, "share of samples held out for validation")
    train_limit: int = _num(0, 0, 1_000_000, "cap on training samples (0 = all); small caps overfit")
    shuffle_split: bool = _flag(True, "False keeps the native order: the tail becomes validation")


@dataclass(frozen=True)
class ModelConfig:
    depth: int = _num(2, 0, 64, "hidden layers of the MLP")
    width: int = _num(64, 1, 8192, "units per hidden layer")
    activation: str = _choice(
        "relu", ("relu", "leaky_relu", "sigmoid", "tanh"), "sigmoid/tanh saturate in deep nets"
    )
    dropout: float = _num(0.0, 0.0, 0.95, "dropout after each hidden layer (0 = off)")
    batch_norm: bool = _flag(False, "BatchNorm1d after each hidden linear layer")
    head: str = _choice(
        "logits",
        ("logits", "log_softmax", "softmax"),
        "what the last layer emits; softmax before NLLLoss is the classic negative-loss bug",
    )


@dataclass(frozen=True)
class LossConfig:
    name: str = _choice(
        "cross_entropy",
        ("cross_entropy", "nll", "bce", "mse", "gaussian_nll"),
        "nll expects log-probabilities; gaussian_nll may legitimately go below zero",
    )


@dataclass(frozen=True)
class OptimConfig:
    name: str = _choice(
        "adam",
        ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "adam_sgd"),
        "torch.optim optimizers; momentum/nesterov are SGD with momentum; adam_sgd is Adam, then SGD with "
        "momentum from optim.switch_epoch on (SWATS-style)",
    )
    lr: float = _num(1e-3, 1e-8, 100.0, "the most important hyper-parameter")
    momentum: float = _num(0.9, 0.0, 0.999, "for momentum/nesterov/rmsprop")
    beta1: float = _num(0.9, 0.0, 0.9999, "Adam's first-moment decay")
    beta2: float = _num(0.999, 0.0, 0.99999, "Adam's second-moment decay")
    eps: float = _num(1e-8, 1e-12, 10.0, "Adam's epsilon; 1e-8..1e-6 unless shown otherwise")
    weight_decay: float = _num(0.0, 0.0, 10.0, "L2 penalty; too much underfits")
    amsgrad: bool = _flag(False, "AMSGrad variant of Adam/AdamW")
    # 10 epochs: Adam's fast early progress is mostly spent by then on the built-in tasks (30 epochs by default)
    switch_epoch: int = _num(10, 1, 100_000, "adam_sgd: epochs of Adam before SGD with momentum takes over, "
                                             "its lr estimated from Adam's last steps")


@dataclass(frozen=True)
class SchedConfig:
    name: str = _choice(
        "none",
        ("none", "exponential", "step", "cosine", "warmup", "noam", "plateau"),
        "torch.optim.lr_scheduler schedules; exponential/step/cosine/plateau step per epoch",
    )
    gamma: float = _num(0.96, 0.01, 1.0, "decay factor (exponential per epoch, step per step_size)")
    step_size: int = _num(10, 1, 100_000, "epochs between StepLR decays")
    warmup_steps: int = _num(100, 1, 1_000_000, "linear warm-up length (warmup, noam)")
    d_model: int = _num(512, 1, 65_536, "Noam schedule: lr = factor * d^-0.5 * min(...)")
    factor: float = _num(0.5, 1e-3, 100.0, "Noam factor, or ReduceLROnPlateau factor")
    patience: int = _num(5, 0, 10_000, "ReduceLROnPlateau patience in evaluations")


@dataclass(frozen=True)
class TrainConfig:
    batch_size: int = _num(64, 1, 1_000_000, "too small jitters, too large plateaus early")
    epochs: int = _num(30, 1, 100_000, "passes over the training set")
    max_steps: int = _num(0, 0, 100_000_000, "stop after this many steps (0 = no limit)")
    eval_every: int = _num(0, 0, 1_000_000, "evaluate every N steps (0 = once per epoch)")
    clip_grad: float = _num(0.0, 0.0, 1e6, "max global grad norm (0 = no clipping)")
    seed: int = _num(0, 0, 2**31 - 1, "seeds data split, init and batching")
    device: str = _choice("auto", ("auto", "cpu", "cuda"), "auto = cuda when available")
    nan_policy: str = _choice(
        "stop", ("stop", "continue", "fail"), "on a NaN loss: stop, keep going, or mark failed"
    )


@dataclass(frozen=True)
class EarlyStoppingConfig:
    patience: int = _num(0, 0, 100_000, "evaluations without improvement before stopping (0 = off)")
    min_delta: float = _num(0.0, 0.0, 1e6, "improvement smaller than this does not count")
    monitor: str = _choice("val/loss", ("val/loss", "val/acc", "val/auc"), "metric watched")
    mode: str = _choice("auto", ("auto", "min", "max"), "which way is better; auto reads it from the metric's name")
    restore_best: bool = _flag(True, "put the best evaluation's weights back when training stops: the model "
                                     "kept is the best one seen (what the overfitting fix promises)")


@dataclass(frozen=True)
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    sched: SchedConfig = field(default_factory=SchedConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)

    def to_flat(self) -> dict[str, Any]:
        """Dotted keys to values, the form stored with a run and shown in the UI."""
        return {key: getattr(getattr(self, key.split(".")[0]), key.split(".")[1]) for key in schema()}

    def to_json(self) -> str:
        return json.dumps(self.to_flat(), sort_keys=True)

    def replace(self, overrides: dict[str, Any]) -> RunConfig:
        """A new config with dotted-key overrides applied and validated."""
        return from_flat({**self.to_flat(), **overrides})


def _section_type(name: str) -> type:
    return {f.name: f.default_factory for f in dataclasses.fields(RunConfig)}[name]  # type: ignore[return-value]


def schema() -> dict[str, dataclasses.Field]:
    """Every dotted key with its dataclass field (type, default, allowed values, help)."""
    out: dict[str, dataclasses.Field] = {}
    for section in dataclasses.fields(RunConfig):
        for f in dataclasses.fields(_section_type(section.name)):
            out[f"{section.name}.{f.name}"] = f
    return out



def bounds() -> dict[str, tuple[float, float]]:
    """The allowed range of every numeric key: what the diagnostics keep a suggested patch inside."""
    return {key: (f.metadata["min"], f.metadata["max"]) for key, f in schema().items() if "min" in f.metadata}

def _field_type(f: dataclasses.Field) -> type:
    return {"int": int, "float": float, "str": str, "bool": bool}[str(f.type)]


def coerce(key: str, value: Any) -> Any:
    """Turn a CLI/UI value (often a string) into the key's type, validating it."""
    fields = schema()
    if key not in fields:
        raise ConfigError(f"unknown config key {key!r}; known keys: {', '.join(sorted(fields))}")
    f = fields[key]
    kind = _field_type(f)
    try:
        if kind is bool:
            value = _parse_bool(value)
        elif kind is int:
            as_float = float(value)
            if not as_float.is_integer():
                raise ValueError
            value = int(as_float)
        elif kind is float:
            value = float(value)
        else:
            value = str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}={value!r}: expected {kind.__name__}") from None
    _check_range(key, f, value)
    return value


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


def _check_range(key: str, f: dataclasses.Field, value: Any) -> None:
    meta = f.metadata
    if "choices" in meta and value not in meta["choices"]:
        raise ConfigError(f"{key}={value!r}: allowed values are {', '.join(meta['choices'])}")
    if "min" in meta:
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{key}={value!r}: must be a finite number")
        if not meta["min"] <= value <= meta["max"]:
            raise ConfigError(f"{key}={value!r}: allowed range is {meta['min']:g} to {meta['max']:g}")


def from_flat(flat: dict[str, Any]) -> RunConfig:
    """Build a validated RunConfig from dotted keys; unknown keys are an error."""
    sections: dict[str, dict[str, Any]] = {}
    for key, value in flat.items():
        section, _, name = key.partition(".")
        sections.setdefault(section, {})[name] = coerce(key, value)
    cfg = RunConfig(**{s: _section_type(s)(**kw) for s, kw in sections.items()})
    try:
        check_fits(cfg)  # the per-key ranges cannot see that width x depth no longer fits the machine
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return cfg


def parse_assignments(pairs: list[str]) -> dict[str, Any]:
    """``["optim.lr=0.1", ...]`` from ``--set`` into validated overrides."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError(f"{pair!r}: expected key=value, e.g. optim.lr=0.01")
        out[key.strip()] = coerce(key.strip(), value.strip())
    return out
