"""Start-up cost of a diagnosis: ``python -m diagnostics FILE --json`` vs the peer ``trainspotter``.

    python bench/cli_speed.py [--reps 5] [FILE ...]

Both CLIs run on the same files in the same run, alternating, each as a fresh process
(what a user or a CI step pays): the median wall time over ``--reps``, the median CPU time
(user + system: less moved by other load on a shared machine than the wall time) and the peak
resident memory of the process (``ru_maxrss`` from ``wait4``). Without files, a small
Keras-style CSV (60 epochs) is written, and the corpus' small CSVs are added when the
corpus is beside the checkout. ``pip install -r requirements-bench.txt`` brings trainspotter.

Both run with compiled bytecode, as after a ``pip install``: the children get a private
``PYTHONPYCACHEPREFIX`` (nothing is written into the checkout) and one untimed warm-up
run each, even where ``PYTHONDONTWRITEBYTECODE`` is set (it is on the build machine, where
it would otherwise charge traindoc, run from source, a recompile of its own modules every time).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "logs"
CORPUS_FILES = ("csv_0003.csv", "keras_0001.log")


def small_csv(folder: Path) -> Path:
    """A Keras CSVLogger-like file: falling train loss, a val loss that turns up (overfitting)."""
    path = folder / "metrics.csv"
    rows = [f"{e},{1.0 / (e + 1) + 0.05:.5f},{0.4 + abs(e - 20) / 50:.5f}" for e in range(60)]
    path.write_text("epoch,loss,val_loss\n" + "\n".join(rows) + "\n")
    return path


def commands(path: Path) -> dict[str, list[str]]:
    spotter = shutil.which("trainspotter")
    return {
        "traindoc": [sys.executable, "-m", "diagnostics", str(path), "--json"],
        "trainspotter": ([spotter] if spotter else [sys.executable, "-m", "trainspotter.cli"])
        + ["analyze", str(path), "--output", "json"],
    }


def measure(cmd: list[str], env: dict[str, str]) -> tuple[float, float, int, float]:
    """(wall seconds, peak RSS in MiB, exit code, CPU seconds) of one fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, proc.returncode, usage.ru_utime + usage.ru_stime


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="*", type=Path)
    p.add_argument("--reps", type=int, default=5)
    args = p.parse_args()
    if not shutil.which("trainspotter"):
        try:
            import trainspotter  # noqa: F401
        except ImportError:
            print("trainspotter is not installed: pip install -r requirements-bench.txt", file=sys.stderr)
            return 2
    tmp = tempfile.TemporaryDirectory()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(Path(tmp.name) / "pycache")
    files = list(args.files) or [small_csv(Path(tmp.name)), *(CORPUS / f for f in CORPUS_FILES
                                                               if (CORPUS / f).is_file())]
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; median of {args.reps} fresh processes after a warm-up, peak RSS")
    print("| file | traindoc wall | trainspotter wall | ratio | traindoc CPU | trainspotter CPU | CPU ratio "
          "| traindoc peak RSS | trainspotter peak RSS |")
    print("|---|---|---|---|---|---|---|---|---|")
    ratios = []
    for path in files:
        results: dict[str, list[tuple[float, float, int, float]]] = {"traindoc": [], "trainspotter": []}
        cmds = commands(path)
        for cmd in cmds.values():
            measure(cmd, env)  # warm-up: bytecode written, files in the page cache
        for _ in range(args.reps):
            for tool, cmd in cmds.items():  # alternate, so load on the machine hits both alike
                results[tool].append(measure(cmd, env))
        wall = {t: statistics.median(r[0] for r in rs) for t, rs in results.items()}
        rss = {t: max(r[1] for r in rs) for t, rs in results.items()}
        cpu = {t: statistics.median(r[3] for r in rs) for t, rs in results.items()}
        failed = {t for t, rs in results.items() if any(r[2] not in (0, 1) for r in rs)}
        ratio = wall["traindoc"] / wall["trainspotter"]
        ratios.append(ratio)
        note = f" (exit code ≠ 0 for {', '.join(sorted(failed))})" if failed else ""
        print(f"| {path.name}{note} | {wall['traindoc']:.2f} s | {wall['trainspotter']:.2f} s | {ratio:.2f}× "
              f"| {cpu['traindoc']:.2f} s | {cpu['trainspotter']:.2f} s | {cpu['traindoc'] / cpu['trainspotter']:.2f}× "
              f"| {rss['traindoc']:.0f} MiB | {rss['trainspotter']:.0f} MiB |")
    print(f"\ntraindoc / trainspotter wall time: {statistics.median(ratios):.2f}× (median over {len(files)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
