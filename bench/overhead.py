"""Training overhead of logging: traindoc vs TensorBoard vs MLflow vs ``loss.item()`` vs nothing.

The same loop, same seed, 4 scalars per step (loss, grad norm, batch accuracy, lr), the
loggers interleaved in every repetition so machine noise hits them alike; the table shows
the median per logger and its overhead over the bare loop.

    python bench/overhead.py [--reps 5] [--quick]

Targets: traindoc <= 2 % over bare on the small MLP, <= 10 % on the tiny one; on CUDA,
<= 1 % and zero host-device syncs per step (counted with torch.cuda.set_sync_debug_mode).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import random
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import traindoc as traindoc_api  # noqa: E402


@dataclass(frozen=True)
class Workload:
    name: str
    sizes: tuple[int, ...]  # input, hidden..., classes
    batch: int
    steps: int


WORKLOADS = (Workload("small MLP 784-256-256-10, batch 128", (784, 256, 256, 10), 128, 400),
             Workload("tiny MLP 20-32-2, batch 32", (20, 32, 2), 32, 1500))

Log = Callable[[dict, int], None]


def _mlp(sizes: tuple[int, ...]) -> nn.Module:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def train_loop(work: Workload, device: torch.device, log: Log | None) -> None:
    """The loop every logger shares; ``log`` receives device tensors and a float."""
    torch.manual_seed(0)
    model = _mlp(work.sizes).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(work.batch * 16, work.sizes[0], device=device)
    y = torch.randint(0, work.sizes[-1], (work.batch * 16,), device=device)
    for step in range(work.steps):
        start = (step % 16) * work.batch
        xb, yb = x[start:start + work.batch], y[start:start + work.batch]
        out = model(xb)
        loss = nn.functional.cross_entropy(out, yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(model.parameters(), float("inf"))
        opt.step()
        # the metrics are computed in every variant, bare included: only the logging differs
        metrics = {"train/loss": loss.detach(), "grad_norm": grad_norm,
                   "train/acc": (out.argmax(1) == yb).float().mean(), "lr": 1e-3}
        if log is not None:
            log(metrics, step)


# -- one context manager per logger: yields the per-step log function -------------------
@contextlib.contextmanager
def bare(_tmp: Path) -> Iterator[Log | None]:
    yield None


@contextlib.contextmanager
def item_list(_tmp: Path) -> Iterator[Log]:
    kept: list[tuple[int, dict]] = []
    yield lambda m, s: kept.append((s, {k: float(v) for k, v in m.items()}))


@contextlib.contextmanager
def traindoc(tmp: Path) -> Iterator[Log]:
    with traindoc_api.start_run("bench", db=tmp / "traindoc.db") as run:
        yield lambda m, s: run.log(m, step=s)


@contextlib.contextmanager
def traindoc_system(tmp: Path) -> Iterator[Log]:
    """traindoc with the system signals the runner's loop turns on (step time, samples/s, RSS, CUDA
    memory at each flush): what they cost on top of the metrics."""
    from runner.sysmetrics import SystemSampler

    with traindoc_api.start_run("bench", db=tmp / "traindoc.db") as run:
        cuda = torch.cuda.current_device() if torch.cuda.is_available() else None
        run._inner._sink.system = SystemSampler(samples_per_step=128, cuda_device=cuda)  # the loop's one line
        yield lambda m, s: run.log(m, step=s)


@contextlib.contextmanager
def tensorboard(tmp: Path) -> Iterator[Log]:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(tmp / "tb"))

    def log(m: dict, s: int) -> None:
        for k, v in m.items():
            writer.add_scalar(k, float(v), s)

    yield log
    writer.close()


@contextlib.contextmanager
def mlflow_sqlite(tmp: Path) -> Iterator[Log]:
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
    with mlflow.start_run():
        yield lambda m, s: mlflow.log_metrics({k: float(v) for k, v in m.items()}, step=s)


LOGGERS: dict[str, Callable] = {"bare": bare, "traindoc": traindoc, "traindoc + system": traindoc_system,
                                "loss.item() list": item_list, "tensorboard": tensorboard}
if importlib.util.find_spec("mlflow"):
    LOGGERS["mlflow (sqlite)"] = mlflow_sqlite


def measure(work: Workload, device: torch.device, logger: Callable) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        if logger is mlflow_sqlite:  # MLflow's schema set-up is not training time
            import mlflow

            mlflow.set_tracking_uri(f"sqlite:///{Path(tmp) / 'mlflow.db'}")
            mlflow.search_experiments()
        start = time.perf_counter()
        with logger(Path(tmp)) as log:
            train_loop(work, device, log)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start


def count_syncs(work: Workload, device: torch.device, logger: Callable = traindoc) -> int:
    """Host-device syncs during traindoc's logged loop (CUDA only), as torch reports them."""
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            with logger(Path(tmp)) as log:
                train_loop(work, device, log)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    bare_syncs = 0  # the bare loop: clip_grad_norm_ and Adam issue none with foreach kernels
    return sum("synchroniz" in str(w.message) for w in caught) - bare_syncs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="fewer steps, for a smoke run")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2)) if device.type == "cpu" else None
    print(f"device: {device} ({torch.cuda.get_device_name() if device.type == 'cuda' else os.cpu_count()} "
          f"cpus), torch {torch.__version__}, median of {args.reps} interleaved repetitions\n")
    summary = []
    for work in WORKLOADS:
        if args.quick:
            work = Workload(work.name, work.sizes, work.batch, work.steps // 5)
        times: dict[str, list[float]] = {name: [] for name in LOGGERS}
        measure(work, device, bare)  # warm-up: allocator, kernels, imports
        for _ in range(args.reps):
            order = list(LOGGERS)
            random.shuffle(order)
            for name in order:
                times[name].append(measure(work, device, LOGGERS[name]))
        base = statistics.median(times["bare"])
        print(f"{work.name}, {work.steps} steps, 4 scalars/step")
        print(f"  {'logger':18s} {'median s':>9s} {'overhead':>9s} {'vs traindoc':>12s}")
        ours = statistics.median(times["traindoc"])
        for name, samples in times.items():
            med = statistics.median(samples)
            print(f"  {name:18s} {med:9.3f} {100 * (med / base - 1):+8.1f}% {med / ours:11.2f}x")
        if device.type == "cuda":
            print(f"  host-device syncs in traindoc's loop: {count_syncs(work, device)}, "
                  f"with system signals: {count_syncs(work, device, traindoc_system)}")
        system = statistics.median(times["traindoc + system"])
        summary.append(f"{work.name.split(',')[0]}: traindoc {100 * (ours / base - 1):+.1f}%, "
                       f"+ system {100 * (system / base - 1):+.1f}%")
        print()
    print("summary: " + "; ".join(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
