"""Config keys as everyone reads them: the one flatten of a nested config into dotted keys
(``{"optim": {"lr": 1}}`` → ``{"optim.lr": 1}``), the one table of the frameworks' hyper-parameter
names onto traindoc's keys (``adam_epsilon`` → ``optim.eps``), and which keys live on a log scale.

A leaf module like the vocabulary: the importers (hparams files, Keras/TensorBoard/MMEngine
params) and the pages (a run's config as a table) both use it, so a key reads the same
wherever it is shown or compared.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# Keys whose useful values span orders of magnitude: log-spaced in a sweep form, a log axis on a chart.
LOG_KEYS = ("optim.eps", "optim.lr", "optim.weight_decay")
MAX_DEPTH = 8  # deeper than any real config; a hostile file cannot recurse without end
MAX_TEXT = 2000  # a list or an odd value is kept as JSON text, cut to this many characters


# A framework's hyper-parameter name (the last dotted part, lower case) → traindoc's config key: HF
# TrainingArguments, Lightning/Keras hparams, Ultralytics' args.yaml (``lr0``, ``batch``), optimizers' own names.
HPARAM_KEYS = {
    "lr": "optim.lr", "learning_rate": "optim.lr", "lr0": "optim.lr", "eps": "optim.eps", "epsilon": "optim.eps",
    "adam_epsilon": "optim.eps", "weight_decay": "optim.weight_decay", "momentum": "optim.momentum",
    "beta1": "optim.beta1", "beta_1": "optim.beta1", "adam_beta1": "optim.beta1", "beta2": "optim.beta2",
    "beta_2": "optim.beta2", "adam_beta2": "optim.beta2", "amsgrad": "optim.amsgrad", "optimizer": "optim.name",
    "optim": "optim.name", "batch_size": "train.batch_size", "per_device_train_batch_size": "train.batch_size",
    "batch": "train.batch_size", "epochs": "train.epochs", "max_epochs": "train.epochs",
    "num_train_epochs": "train.epochs", "max_steps": "train.max_steps", "seed": "train.seed",
    "warmup_steps": "sched.warmup_steps", "lr_scheduler_type": "sched.name", "max_grad_norm": "train.clip_grad",
    "gradient_clip_val": "train.clip_grad", "dropout": "model.dropout",
}


def config_key(name: str) -> str | None:
    """traindoc's key for a framework's hyper-parameter name (``trainer.adam_epsilon`` → ``optim.eps``), if known."""
    return HPARAM_KEYS.get(name.rsplit(".", 1)[-1].lower())


def flatten(data: Mapping[str, Any], prefix: str = "", depth: int = 0) -> dict[str, Any]:
    """Nested mappings to dotted keys; lists and deep values kept as JSON text so configs stay flat."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and depth < MAX_DEPTH:
            out.update(flatten(value, f"{name}.", depth + 1))
        elif isinstance(value, (str, int, float, bool)) or value is None:
            out[name] = value
        else:
            out[name] = json.dumps(value, default=str)[:MAX_TEXT]
    return out
