"""What a run's inputs are (images, a table, sequences), from its config or metric names, and the
augmentation advice that fits them: the overfitting fixes must not suggest flips and crops for a table."""

from __future__ import annotations

import re

from diagnostics.findings import Fix
from diagnostics.rules._common import cfg
from diagnostics.rundata import RunData

# What the inputs are, from the config's data set name or the metric names: the augmentation
# advice must fit the data (no flips and crops for a table of numbers).
_IMAGE_DATA = ("digits", "mnist", "cifar", "imagenet", "coco", "voc", "celeba", "svhn", "image", "img")
_TABULAR_DATA = ("breast_cancer", "wine", "classification", "moons", "iris", "titanic", "housing", "adult",
                 "tabular", "csv")
_IMAGE_METRICS = re.compile(r"(map50|map|bbox|box_loss|giou|iou|dice|ssim|psnr|top1|top5|mask|keypoint|seg)")
_SPEECH_TEXT_METRICS = re.compile(r"(wer|cer|bleu|rouge|perplexity|ppl|bpb|token|snr|sdr)")


def data_kind(run: RunData) -> str:
    """'image', 'tabular', 'sequence' (text/speech) or 'unknown', from config and metric names."""
    name = str(cfg(run, "data.name", "") or cfg(run, "data.dataset", "") or "").lower()
    if any(t in name for t in _IMAGE_DATA):
        return "image"
    if any(t in name for t in _TABULAR_DATA):
        return "tabular"
    names = " ".join(run.names).lower()
    if _IMAGE_METRICS.search(names) or run.meta.get("format") in ("ultralytics",):
        return "image"
    if _SPEECH_TEXT_METRICS.search(names):
        return "sequence"
    return "unknown"


def augmentation(kind: str) -> Fix | None:
    if kind == "image":
        return Fix("Augment the data (mirror, flip, random crop)", "augmentation multiplies the examples")
    if kind == "sequence":
        return Fix("Augment the data (SpecAugment or speed perturbation for audio, token dropout or "
                   "back-translation for text)", "augmentation multiplies the examples")
    if kind == "tabular":
        return None  # flips and crops mean nothing for a table; regularisation and more rows do
    return Fix("Augment the data where the inputs allow it (flips/crops for images, noise or time shifts "
               "for signals)", "augmentation multiplies the examples")
