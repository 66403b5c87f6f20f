"""Presets: each catalog pathology reproduced in seconds on a CPU, each with its fixed twin.

A preset is a set of config overrides plus what it is expected to show, so the tests
and the accuracy benchmark can check the doctor against known ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runner.config import RunConfig, from_flat


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    overrides: dict[str, Any]
    shows: tuple[str, ...] = ()  # rule ids this run should trigger
    twin: str | None = None  # the preset that fixes it

    def config(self, extra: dict[str, Any] | None = None) -> RunConfig:
        return from_flat({**RunConfig().to_flat(), **self.overrides, **(extra or {})})


_BINARY = {"data.name": "moons", "data.n_samples": 1000, "data.noise": 0.25}

PRESETS: dict[str, Preset] = {p.name: p for p in [
    Preset("healthy", "A well-tuned MLP on noisy moons: loss falls, val tracks train.",
           {**_BINARY, "optim.lr": 3e-3, "train.epochs": 25}),
    Preset("overfitting", "80 digits, a wide net, no regularisation: val loss turns up while train loss falls.",
           {"data.name": "digits", "data.train_limit": 80, "model.width": 512, "model.depth": 2,
            "optim.lr": 1e-3, "train.batch_size": 16, "train.epochs": 120},
           shows=("overfitting",), twin="overfitting_fixed"),
    Preset("overfitting_fixed", "The same, with early stopping at the best epoch and dropout.",
           {"data.name": "digits", "data.train_limit": 80, "model.width": 512, "model.depth": 2,
            "model.dropout": 0.5, "optim.lr": 1e-3, "optim.weight_decay": 1e-3, "train.batch_size": 16,
            "train.epochs": 120, "early_stopping.patience": 5}),
    Preset("underfitting", "Heavy weight decay pins the weights near zero: train loss stays high.",
           {**_BINARY, "optim.name": "sgd", "optim.lr": 0.05, "optim.weight_decay": 2.0, "train.epochs": 25},
           shows=("underfitting",), twin="underfitting_fixed"),
    Preset("underfitting_fixed", "The same without the weight decay.",
           {**_BINARY, "optim.name": "sgd", "optim.lr": 0.05, "train.epochs": 25}),
    Preset("oscillation", "SGD with a too-high lr on batches of 4: the loss swings step to step.",
           {**_BINARY, "optim.name": "momentum", "optim.lr": 0.5, "train.batch_size": 4, "train.epochs": 6},
           shows=("loss_oscillation",), twin="oscillation_fixed"),
    Preset("oscillation_fixed", "The same net with lr 0.05, batches of 32 and exponential decay.",
           {**_BINARY, "optim.name": "momentum", "optim.lr": 0.05, "train.batch_size": 32, "train.epochs": 20,
            "sched.name": "exponential", "sched.gamma": 0.9}),
    Preset("softmax_nll", "nn.Softmax feeding nn.NLLLoss: the loss is -p(correct) and heads to -1.",
           {"data.name": "digits", "model.head": "softmax", "loss.name": "nll", "train.epochs": 15},
           shows=("negative_loss",), twin="softmax_nll_fixed"),
    Preset("softmax_nll_fixed", "LogSoftmax before NLLLoss: a proper, positive cross-entropy.",
           {"data.name": "digits", "model.head": "log_softmax", "loss.name": "nll", "train.epochs": 15}),
    Preset("unshuffled_split", "Moons in native order, split without shuffling: validation is the easy tail.",
           {**_BINARY, "data.shuffle_split": False, "optim.lr": 3e-3, "train.epochs": 20},
           shows=("val_above_train",), twin="unshuffled_split_fixed"),
    Preset("unshuffled_split_fixed", "The same data, shuffled and stratified before splitting.",
           {**_BINARY, "data.shuffle_split": True, "optim.lr": 3e-3, "train.epochs": 20}),
    Preset("adam_eps_large", "Adam with eps=0.1: eps swamps sqrt(v), Adam crawls like tiny-step SGD.",
           {"data.name": "classification", "data.n_samples": 1000, "data.noise": 0.05,
            "optim.eps": 0.1, "optim.lr": 1e-3, "train.epochs": 10},
           shows=("epsilon_sensitivity",), twin="adam_eps_small"),
    Preset("adam_eps_small", "The same with the default eps=1e-8.",
           {"data.name": "classification", "data.n_samples": 1000, "data.noise": 0.05,
            "optim.eps": 1e-8, "optim.lr": 1e-3, "train.epochs": 10}),
    Preset("divergence", "SGD with lr=5 on MSE: the loss explodes to inf/NaN within a few steps.",
           {**_BINARY, "optim.name": "momentum", "optim.lr": 5.0, "loss.name": "mse", "train.epochs": 5,
            "train.nan_policy": "continue"},
           shows=("divergence",), twin="divergence_fixed"),
    Preset("divergence_fixed", "The same with lr=0.05.",
           {**_BINARY, "optim.name": "momentum", "optim.lr": 0.05, "loss.name": "mse", "train.epochs": 5}),
    Preset("vanishing_gradients", "Ten sigmoid layers with SGD: gradients vanish toward the input, loss stuck.",
           {"data.name": "digits", "model.depth": 10, "model.width": 64, "model.activation": "sigmoid",
            "optim.name": "sgd", "optim.lr": 0.05, "train.epochs": 10},
           shows=("vanishing_gradients",), twin="vanishing_gradients_fixed"),
    Preset("vanishing_gradients_fixed", "The same depth with ReLU.",
           {"data.name": "digits", "model.depth": 10, "model.width": 64, "model.activation": "relu",
            "optim.name": "sgd", "optim.lr": 0.05, "train.epochs": 10}),
]}


def get(name: str) -> Preset:
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}")
    return PRESETS[name]


