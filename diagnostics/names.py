"""Foreign metric names (Keras, Lightning, HF) onto the canonical ones the rules read.

Only the obvious cases live here; the importers (another module) will bring their own
maps. A name that is not recognised is kept as it is, so nothing logged is lost.
"""

from __future__ import annotations

import re

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
}
# Training loss: per iteration when logged every step, epoch mean when logged per epoch.
_TRAIN_LOSS = ("loss", "train_loss", "training_loss", "loss/train")
_KERAS_SUFFIX = re.compile(r"^(val_)?(auc|precision|recall)_\d+$")  # Keras numbers repeated metrics


def canonical(name: str, epoch_level: bool) -> str:
    """The canonical name for ``name``; ``epoch_level`` says whether the log is one row per epoch."""
    key = name.strip()
    low = key.lower()
    if low in _FIXED:
        return _FIXED[low]
    if low in _TRAIN_LOSS:
        return "train/loss_epoch" if epoch_level else "train/loss"
    match = _KERAS_SUFFIX.match(low)
    if match:
        return canonical(f"{match.group(1) or ''}{match.group(2)}", epoch_level)
    return key
