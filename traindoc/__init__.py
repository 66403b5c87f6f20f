"""traindoc: a training doctor for PyTorch. The public API lives here; importing it is cheap.

    import traindoc

    with traindoc.start_run("exp", config={"optim.lr": 1e-3}, stop_on=("divergence",)) as run:
        lr = run.config["optim.lr"]          # the swept or patched value when traindoc launched the script
        ...
        run.log({"train/loss": loss}, step=step)

    findings = traindoc.diagnose("lightning_logs/version_0/metrics.csv")

Integrations: ``traindoc.lightning.TraindocLogger``, ``traindoc.hf.TraindocCallback``,
``traindoc.keras.TraindocCallback``. Nothing heavy (torch, pandas, a framework) loads until
one of these names is used: attributes resolve on first access.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.store.base import DiskFullError  # a write the disk had no room for (strict logging raises it)
    from traindoc.doctor import diagnose, load
    from traindoc.session import Run, RunStopped, start_run

__all__ = ["DiskFullError", "Run", "RunStopped", "diagnose", "hf", "keras", "lightning", "load", "start_run",
           "core"]

_ATTRIBUTES = {"DiskFullError": "runner.store.base",
               "Run": "traindoc.session", "RunStopped": "traindoc.session", "start_run": "traindoc.session",
               "diagnose": "traindoc.doctor", "load": "traindoc.doctor"}
_SUBMODULES = ("hf", "keras", "lightning", "core", "cli")


def __getattr__(name: str) -> Any:
    if name in _ATTRIBUTES:
        return getattr(importlib.import_module(_ATTRIBUTES[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"traindoc.{name}")
    raise AttributeError(f"module 'traindoc' has no attribute {name!r}")
