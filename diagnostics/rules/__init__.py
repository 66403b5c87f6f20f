"""One module per rule; importing this package registers them all (ids as in RULES.md)."""

from diagnostics.rules import (  # noqa: F401
    dead_relu,
    divergence,
    early_stop_point,
    epsilon_sensitivity,
    exploding_gradients,
    loss_oscillation,
    lr_too_high,
    lr_too_low,
    missing_warmup,
    negative_loss,
    overfitting,
    plateau,
    underfitting,
    val_above_train,
    vanishing_gradients,
)
