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
_DEEP = {"data.name": "digits", "model.depth": 6, "model.width": 128, "optim.name": "momentum", "train.epochs": 12}
_TINY_TRAIN = {"data.name": "breast_cancer", "data.train_limit": 40, "model.width": 512, "optim.lr": 3e-4,
               "train.batch_size": 8}

PRESETS: dict[str, Preset] = {p.name: p for p in [
    Preset("healthy", "A well-tuned MLP on noisy moons: loss falls, val tracks train.",
           {**_BINARY, "optim.lr": 3e-3, "train.epochs": 25}),
    Preset("overfitting", "40 breast_cancer samples, a wide net, no regularisation: val loss bottoms out "
           "early, then climbs while train loss falls to ~0.",
           {**_TINY_TRAIN, "train.epochs": 60},
           shows=("overfitting",), twin="overfitting_fixed"),
    Preset("overfitting_fixed", "The same, with dropout 0.5, weight decay and early stopping (patience 5).",
           {**_TINY_TRAIN, "train.epochs": 60, "model.dropout": 0.5, "optim.weight_decay": 1e-3,
            "early_stopping.patience": 5}),
    Preset("underfitting", "Adam with weight decay 0.1 on digits: the penalty wins, train loss stays high.",
           {"data.name": "digits", "optim.weight_decay": 0.1, "train.epochs": 20},
           shows=("underfitting",), twin="underfitting_fixed"),
    Preset("underfitting_fixed", "The same without the weight decay.",
           {"data.name": "digits", "train.epochs": 20}),
    Preset("oscillation", "Adam with lr 0.05 on batches of 4: the loss swings from step to step.",
           {**_BINARY, "data.n_samples": 600, "model.activation": "leaky_relu", "optim.lr": 0.05,
            "train.batch_size": 4, "train.epochs": 3},
           shows=("loss_oscillation",), twin="oscillation_fixed"),
    Preset("oscillation_fixed", "lr 0.005, batches of 32 and exponential lr decay (gamma 0.9 per epoch).",
           {**_BINARY, "data.n_samples": 600, "model.activation": "leaky_relu", "optim.lr": 0.005,
            "train.batch_size": 32, "train.epochs": 12, "sched.name": "exponential", "sched.gamma": 0.9}),
    Preset("softmax_nll", "nn.Softmax feeding nn.NLLLoss: the loss is -p(correct) and heads to -1.",
           {"data.name": "digits", "model.head": "softmax", "loss.name": "nll", "train.epochs": 15},
           shows=("negative_loss",), twin="softmax_nll_fixed"),
    Preset("softmax_nll_fixed", "LogSoftmax before NLLLoss: a proper, positive cross-entropy.",
           {"data.name": "digits", "model.head": "log_softmax", "loss.name": "nll", "train.epochs": 15}),
    Preset("unshuffled_split", "breast_cancer split in file order, not shuffled: the tail is easier, "
           "so validation AUC/accuracy beat training all along.",
           {"data.name": "breast_cancer", "data.shuffle_split": False, "data.val_fraction": 0.3,
            "optim.lr": 3e-4, "train.epochs": 20},
           shows=("val_above_train",), twin="unshuffled_split_fixed"),
    Preset("unshuffled_split_fixed", "The same data, shuffled and stratified before splitting.",
           {"data.name": "breast_cancer", "data.shuffle_split": True, "data.val_fraction": 0.3,
            "optim.lr": 3e-4, "train.epochs": 20}),
    Preset("adam_eps_large", "Adam with eps=0.1: eps swamps sqrt(v), Adam crawls like tiny-step SGD.",
           {"data.name": "classification", "data.n_samples": 1000, "data.noise": 0.05,
            "optim.eps": 0.1, "optim.lr": 1e-3, "train.epochs": 10},
           shows=("epsilon_sensitivity",), twin="adam_eps_small"),
    Preset("adam_eps_small", "The same with the default eps=1e-8.",
           {"data.name": "classification", "data.n_samples": 1000, "data.noise": 0.05,
            "optim.eps": 1e-8, "optim.lr": 1e-3, "train.epochs": 10}),
    Preset("divergence", "SGD with lr=5 on MSE: the loss explodes to inf/NaN within a few steps.",
           {**_BINARY, "optim.name": "momentum", "optim.lr": 5.0, "loss.name": "mse", "train.epochs": 20,
            "train.nan_policy": "continue"},
           shows=("divergence",), twin="divergence_fixed"),
    Preset("divergence_fixed", "The same with lr=0.05.",
           {**_BINARY, "optim.name": "momentum", "optim.lr": 0.05, "loss.name": "mse", "train.epochs": 20}),
    Preset("exploding_gradients", "Six layers, SGD+momentum at lr 0.3, no clipping: gradient norms grow by orders "
           "of magnitude until the loss is NaN.",
           {**_DEEP, "optim.lr": 0.3, "train.nan_policy": "continue"},
           shows=("exploding_gradients",), twin="exploding_gradients_fixed"),
    Preset("exploding_gradients_fixed", "The same with the global gradient norm clipped at 1.",
           {**_DEEP, "optim.lr": 0.3, "train.clip_grad": 1.0}),
    Preset("lr_too_high", "Adam at lr 0.1 on digits: a fast first drop, then noise and a loss that drifts up.",
           {"data.name": "digits", "optim.lr": 0.1, "train.epochs": 15},
           shows=("lr_too_high",), twin="lr_too_high_fixed"),
    Preset("lr_too_high_fixed", "The same at Adam's default lr 1e-3.",
           {"data.name": "digits", "optim.lr": 1e-3, "train.epochs": 15}),
    Preset("plateau", "SGD whose lr is cut 20x every 2 epochs: after the first drop the loss sits flat, far from 0.",
           {"data.name": "digits", "optim.name": "sgd", "optim.lr": 0.05, "sched.name": "step", "sched.step_size": 2,
            "sched.gamma": 0.05, "train.epochs": 30},
           shows=("plateau",), twin="plateau_fixed"),
    Preset("plateau_fixed", "The same without the premature decay.",
           {"data.name": "digits", "optim.name": "sgd", "optim.lr": 0.05, "train.epochs": 30}),
    Preset("vanishing_gradients", "Eight sigmoid layers: gradients shrink ~10x per layer toward the input, "
           "loss stuck at ln(10).",
           {"data.name": "digits", "model.depth": 8, "model.activation": "sigmoid", "train.epochs": 8},
           shows=("vanishing_gradients",), twin="vanishing_gradients_fixed"),
    Preset("vanishing_gradients_fixed", "The same depth with ReLU.",
           {"data.name": "digits", "model.depth": 8, "model.activation": "relu", "train.epochs": 8}),
]}


def get(name: str) -> Preset:
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}")
    return PRESETS[name]


