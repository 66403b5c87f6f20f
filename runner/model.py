"""The MLP the presets train, built from ``model.*`` config keys."""

from __future__ import annotations

import torch
from torch import nn

from runner.config import ModelConfig

ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
HEADS = {"logits": nn.Identity, "log_softmax": lambda: nn.LogSoftmax(dim=1), "softmax": lambda: nn.Softmax(dim=1)}


class MLP(nn.Module):
    """Linear → [BatchNorm] → activation → [Dropout], ``depth`` times, then a linear head.

    ``log_var`` is a learned scalar used only by the Gaussian NLL loss, so that loss can
    legitimately go below zero as the model grows confident.
    """

    def __init__(self, cfg: ModelConfig, n_in: int, n_out: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width_in = n_in
        for _ in range(cfg.depth):
            layers.append(nn.Linear(width_in, cfg.width))
            if cfg.batch_norm:
                layers.append(nn.BatchNorm1d(cfg.width))
            layers.append(ACTIVATIONS[cfg.activation]())
            if cfg.dropout:
                layers.append(nn.Dropout(cfg.dropout))
            width_in = cfg.width
        layers.append(nn.Linear(width_in, n_out))
        layers.append(HEADS[cfg.head]())
        self.net = nn.Sequential(*layers)
        self.log_var = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def linear_layers(self) -> dict[str, nn.Linear]:
        """Linear layers by readable name (``layer0`` nearest the input), for per-layer metrics."""
        linears = [m for m in self.net if isinstance(m, nn.Linear)]
        return {f"layer{i}": m for i, m in enumerate(linears)}

    def activations(self) -> dict[str, nn.Module]:
        acts = [m for m in self.net if isinstance(m, tuple(ACTIVATIONS.values()))]
        return {f"layer{i}": m for i, m in enumerate(acts)}
