"""Built-in datasets: scikit-learn's bundled sets and generators, so nothing downloads."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn import datasets
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from runner.config import DataConfig


@dataclass(frozen=True)
class Split:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    n_classes: int


def _raw(cfg: DataConfig, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if cfg.name == "digits":
        return datasets.load_digits(return_X_y=True)
    if cfg.name == "breast_cancer":
        return datasets.load_breast_cancer(return_X_y=True)
    if cfg.name == "wine":
        return datasets.load_wine(return_X_y=True)
    if cfg.name == "classification":
        # shuffle=False keeps the generator's native order (by class, then cluster), the
        # kind of ordering a file sorted by collection time has; the split decides.
        return datasets.make_classification(
            n_samples=cfg.n_samples, n_features=cfg.n_features, n_informative=min(cfg.n_features, 8),
            n_redundant=0, flip_y=min(cfg.noise, 0.5), class_sep=1.0, shuffle=False, random_state=seed,
        )
    if cfg.name == "moons":
        return datasets.make_moons(n_samples=cfg.n_samples, noise=cfg.noise, shuffle=False, random_state=seed)
    raise ValueError(f"unknown dataset {cfg.name!r}")


def _unshuffled_split(y: np.ndarray, val_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """The tail of each class in native order goes to validation: stratified, not shuffled."""
    train_idx, val_idx = [], []
    for label in np.unique(y):
        idx = np.flatnonzero(y == label)
        cut = len(idx) - max(1, round(len(idx) * val_fraction))
        train_idx.append(idx[:cut])
        val_idx.append(idx[cut:])
    return np.concatenate(train_idx), np.concatenate(val_idx)


def load(cfg: DataConfig, seed: int) -> Split:
    """Split, cap and standardise (scaler fit on the training part only) one dataset."""
    x, y = _raw(cfg, seed)
    x = x.astype(np.float32)
    y = y.astype(np.int64)
    if cfg.shuffle_split:
        train_idx, val_idx = train_test_split(
            np.arange(len(y)), test_size=cfg.val_fraction, stratify=y, shuffle=True, random_state=seed
        )
    else:
        train_idx, val_idx = _unshuffled_split(y, cfg.val_fraction)
    if cfg.train_limit:
        rng = np.random.default_rng(seed)
        train_idx = rng.permutation(train_idx)[: cfg.train_limit]
    scaler = StandardScaler().fit(x[train_idx])
    return Split(
        x_train=scaler.transform(x[train_idx]).astype(np.float32),
        y_train=y[train_idx],
        x_val=scaler.transform(x[val_idx]).astype(np.float32),
        y_val=y[val_idx],
        n_classes=int(y.max()) + 1,
    )
