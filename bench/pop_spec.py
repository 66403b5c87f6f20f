"""One generated run, fully described: what is trained, how, with which fault, written by which writer.

``RunSpec`` is plain data (a frozen dataclass), so a run is reproduced from its fields alone and
its id is a hash of them; bench/pop_draw.py draws specs, bench/pop_train.py trains them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

SEVERITIES = ("mild", "clear", "severe")
LABELS = ("overfitting", "underfitting", "oscillation", "negative_loss", "val_better_than_train",
          "divergence", "healthy")  # the corpus's label fields (../shared/corpus/labels.json)


@dataclass(frozen=True)
class RunSpec:
    """Every knob of one run. ``fault`` names the mechanism, ``label`` the label it is meant to produce."""

    id: str
    family: str
    fault: str  # "healthy" or a mechanism such as "tiny_lr", "bad_batches"
    label: str | None  # intended label; None: healthy
    strength: int  # 0 mild, 1 clear, 2 severe (construction; the written numbers decide the severity)
    writer: str
    optimizer: str
    schedule: str
    cadence: str  # "epoch", "steps" (train mean + val every k steps), "step_sparse" (train every step)
    n_evals: int
    every: int  # optimizer steps between evaluations
    width: int
    lr: float
    batch: int
    train_n: int
    seed: int
    dropout: float = 0.0
    momentum: float = 0.9
    weight_decay: float = 0.0
    label_noise: float = 0.0
    random_labels: bool = False
    easy_val: bool = False
    augment: float = 0.0  # std of input noise on training batches only
    freeze: str = ""  # "" | "all_but_bias" | "all_but_head"
    softmax_nll: bool = False  # Softmax fed to NLLLoss: the loss is -p(correct), in [-1, 0]
    lr_growth: float = 1.0  # lr multiplied by this over the whole run (a schedule gone wrong)
    spike_prob: float = 0.0  # share of steps whose batch is corrupted
    spike_scale: float = 1.0  # how much a corrupted batch scales the outputs
    clip: float = 0.0  # gradient-norm clipping (0: none)
    val_nan_evals: int = 0  # first evaluations whose val set holds a non-finite example
    twin_of: str = ""  # the faulty run this healthy twin mirrors
    group: str = ""

    def meta(self) -> dict[str, Any]:
        return asdict(self)
