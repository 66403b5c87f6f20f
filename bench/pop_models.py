"""The model families of the generated population (bench/population.py): data and networks.

Four families, each tiny enough to train in well under a second on one CPU thread: an MLP and a
small CNN on sklearn's digits (8x8 images, 10 classes), a one-layer causal transformer on
character text generated here from a seeded word chain, and a heteroscedastic regression whose
network predicts a mean and a variance trained with ``nn.GaussianNLLLoss`` (its loss is
legitimately negative once the variance is learned). ``Data`` holds tensors ready for a loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from torch import nn

FAMILIES = ("mlp", "cnn", "charlm", "gaussnll")
CLASSES = 10  # digits
VAL_N = 300  # held-out examples: enough for a smooth val curve, cheap enough to evaluate 500 times
CONTEXT = 12  # characters the language model sees
ALPHABET = "abcdefghijklmnopqrstuvwxyz ."
VAR_FLOOR = 1e-6  # the predicted variance never reaches 0, so the NLL stays finite
NOISE_STD = 0.1  # the regression's noise floor: Gaussian NLL ends near 0.5*(log 0.01 + 1) = -1.8


@dataclass
class Data:
    """Train and validation tensors; ``classes`` is 0 for the regression family."""

    xt: torch.Tensor
    yt: torch.Tensor
    xv: torch.Tensor
    yv: torch.Tensor
    classes: int


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return (x / 16.0).astype("float32"), y.astype("int64")


@lru_cache(maxsize=1)
def _text() -> str:
    """A few thousand characters from a seeded word chain: structure a tiny LM can learn."""
    rng = np.random.default_rng(1234)
    words = ["the", "model", "loss", "falls", "when", "data", "is", "clean", "and", "rate", "small",
             "a", "net", "learns", "slowly", "fast", "val", "rises", "train", "step"]
    nxt = {w: rng.choice(len(words), size=3, replace=False) for w in words}  # each word has 3 successors
    out, w = [], "the"
    for i in range(3000):
        out.append(w)
        if i % 9 == 8:
            out.append(".")
        w = words[int(rng.choice(nxt[w]))]
    return " ".join(out)


def load(family: str, train_n: int, seed: int, label_noise: float = 0.0, random_labels: bool = False,
         easy_val: bool = False) -> Data:
    """The family's data: ``train_n`` training examples (labels noised on train only), ``VAL_N`` clean held out.

    ``random_labels`` makes labels independent of inputs on both splits (nothing generalises, so val
    sits at chance while a wide net memorises train); ``easy_val`` draws val from the clean training
    inputs themselves (a leaked, easier split).
    """
    rng = np.random.default_rng(seed)
    if family in ("mlp", "cnn"):
        x, y = _digits()
        order = rng.permutation(len(y))
        x, y = x[order], y[order].copy()
        if family == "cnn":
            x = x.reshape(-1, 1, 8, 8)
        classes = CLASSES
    elif family == "charlm":
        text = _text()
        idx = np.array([ALPHABET.index(c) for c in text], dtype="int64")
        starts = rng.integers(0, len(idx) - CONTEXT - 1, size=train_n + VAL_N)
        x = np.stack([idx[s:s + CONTEXT] for s in starts])
        y = np.stack([idx[s + 1:s + CONTEXT + 1] for s in starts])
        classes = len(ALPHABET)
    else:
        n = train_n + VAL_N
        x = rng.uniform(-2, 2, size=(n, 4)).astype("float32")
        w = np.array([1.0, -0.5, 0.3, 0.8], dtype="float32")
        scale = NOISE_STD * (1 + np.abs(x[:, 0]))  # heteroscedastic: the variance is worth learning
        y = (np.sin(x @ w) + scale * rng.standard_normal(n)).astype("float32")[:, None]
        classes = 0
    xv, yv = x[:VAL_N], y[:VAL_N].copy()
    xt, yt = x[VAL_N:VAL_N + train_n], y[VAL_N:VAL_N + train_n].copy()
    if classes and random_labels:
        yt = rng.integers(0, classes, size=yt.shape).astype("int64")
        yv = rng.integers(0, classes, size=yv.shape).astype("int64")
    if classes and label_noise > 0:
        flip = rng.random(yt.shape) < label_noise
        yt[flip] = rng.integers(0, classes, int(flip.sum()))
    if easy_val:
        pick = rng.choice(len(xt), size=min(VAL_N, len(xt)), replace=False)
        xv, yv = xt[pick], y[VAL_N:VAL_N + train_n][pick]  # the clean labels of training inputs
    t = torch.from_numpy
    return Data(t(np.ascontiguousarray(xt)), t(np.ascontiguousarray(yt)), t(np.ascontiguousarray(xv)),
                t(np.ascontiguousarray(yv)), classes)


class CharLM(nn.Module):
    """One causal transformer layer over ``CONTEXT`` characters."""

    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.emb = nn.Embedding(len(ALPHABET), width)
        self.pos = nn.Parameter(torch.zeros(CONTEXT, width))
        self.layer = nn.TransformerEncoderLayer(width, nhead=2, dim_feedforward=2 * width, dropout=dropout,
                                                batch_first=True)
        self.head = nn.Linear(width, len(ALPHABET))
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(CONTEXT))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.layer(self.emb(x) + self.pos, src_mask=self.mask, is_causal=True)
        return self.head(h)  # (batch, context, vocab)


class GaussHead(nn.Module):
    """Mean and variance of y given x (the variance through softplus, kept positive)."""

    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, width), nn.Tanh(), nn.Dropout(dropout), nn.Linear(width, width),
                                  nn.Tanh(), nn.Dropout(dropout), nn.Linear(width, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def build(family: str, width: int, dropout: float) -> nn.Module:
    """The family's network at ``width`` (hidden units, channels or model dimension)."""
    if family == "mlp":
        return nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Dropout(dropout), nn.Linear(width, CLASSES))
    if family == "cnn":
        c = max(1, width // 8)
        return nn.Sequential(nn.Conv2d(1, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(c, 2 * c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Dropout(dropout), nn.Linear(8 * c, CLASSES))
    if family == "charlm":
        return CharLM(max(2, width // 2 * 2), dropout)
    return GaussHead(width, dropout)


def outputs(family: str, model: nn.Module, x: torch.Tensor) -> Any:
    """Logits flattened to (n, classes) for classifiers; (mean, variance) for the regression."""
    out = model(x)
    if family == "charlm":
        return out.reshape(-1, out.shape[-1])
    if family == "gaussnll":
        return out[:, :1], nn.functional.softplus(out[:, 1:]) + VAR_FLOOR
    return out
