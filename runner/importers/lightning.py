"""PyTorch Lightning ``CSVLogger`` ``metrics.csv``: sparse rows keyed by ``epoch`` and ``step``.

Each ``self.log`` call fills its own cells, so a row holds only what was logged at that
step (``train_loss_step`` every few steps, ``val_loss`` once per epoch). The
``hparams.yaml`` beside it is picked up as the run config by the sidecar logic.
"""

from __future__ import annotations

from runner.importers.base import Limits, Parsed
from runner.importers.tabular import read_table, sniff_sep, wide_to_long


def read(source: str, text: str, limits: Limits) -> Parsed:
    return wide_to_long(source, read_table(source, text, sniff_sep(text)), axis="step")
