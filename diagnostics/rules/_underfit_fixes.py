"""What an unfitted run is offered: the fixes of the ``underfitting`` rule, from the run's own config where it
has one (a weight decay to remove, a dropout to lower, an activation that saturates)."""

from __future__ import annotations

from diagnostics.findings import Fix
from diagnostics.rules._common import cfg, clamp, scaled_lr
from diagnostics.rundata import RunData

WD_HEAVY, DROPOUT_HEAVY, DROPOUT_FIX = 1e-4, 0.3, 0.1  # regularisation worth lowering, and the lower dropout
SATURATING_DEPTH, RESIDUAL_DEPTH = 3, 8  # sigmoid/tanh starve this many layers; deeper plain nets need skips
LR_UP, SCALE_UP = 3.0, 2  # the lr (x3) and the epochs/width (x2) the fixes propose


def fixes(run: RunData) -> list[Fix]:
    fixes: list[Fix] = []
    wd = float(cfg(run, "optim.weight_decay", 0.0) or 0.0)
    if wd >= WD_HEAVY:
        fixes.append(
            Fix(
                f"Remove the excess weight decay ({wd:g})",
                "weight decay pulls the weights to zero; one seed's 5e-4 took test AUC 0.88 → 0.68",
                {"optim.weight_decay": 0.0},
            )
        )
    dropout = float(cfg(run, "model.dropout", 0.0) or 0.0)
    if dropout >= DROPOUT_HEAVY:
        fixes.append(
            Fix(
                f"Lower dropout ({dropout:g})",
                "heavy dropout also limits fitting",
                {"model.dropout": DROPOUT_FIX},
            )
        )
    act, depth = cfg(run, "model.activation"), int(cfg(run, "model.depth", 0) or 0)
    if act in ("sigmoid", "tanh") and depth >= SATURATING_DEPTH:
        fixes.append(
            Fix(
                "Use ReLU instead of " + act,
                f"{act} saturates and starves {depth} layers of gradient",
                {"model.activation": "relu"},
            )
        )
    epochs = cfg(run, "train.epochs")
    fixes.append(
        Fix(
            "Train longer",
            "the loss may still come down with more steps",
            {"train.epochs": int(clamp("train.epochs", int(epochs) * SCALE_UP))} if epochs else None,
        )
    )
    fixes.append(
        Fix("Raise the learning rate (×3)", "bigger steps reach a better fit sooner", scaled_lr(run, LR_UP))
    )
    width = cfg(run, "model.width")
    fixes.append(
        Fix(
            "Use a bigger model",
            "more capacity can fit more of the training set",
            {"model.width": int(clamp("model.width", int(width) * SCALE_UP))} if width else None,
        )
    )
    if depth >= RESIDUAL_DEPTH:
        fixes.append(
            Fix("Add residual connections", "deep plain nets are harder to optimise than shallow ones")
        )
    fixes.append(Fix("Check labels and inputs", "shuffled labels or unscaled inputs also look like this"))
    return fixes


def rl_fixes(run: RunData) -> list[Fix]:
    return [
        Fix("Raise the learning rate (×3)", "the policy may be moving too little to find better actions",
            scaled_lr(run, LR_UP)),
        Fix("Check the reward and the observations", "a reward that never varies, or inputs at the wrong "
            "scale, leave nothing to learn from"),
        Fix("Train longer", "sparse rewards can take many episodes before the first success"),
    ]
