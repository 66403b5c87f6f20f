"""TensorBoard logs: event files grouped into runs the way TensorBoard groups them, then decoded.

A run is a folder holding event files. Two writers split one logical run over folders,
and those are merged back: ``SummaryWriter.add_hparams``/``add_scalars`` write into
sub-folders of the run (the hparams become the config; ``add_scalars``' ``Loss_train``
folder holding tag ``Loss`` becomes ``Loss/train``), and Keras' TensorBoard callback writes
``train/`` and ``validation/`` siblings (tags become ``validation/epoch_loss``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import numpy as np
import pandas as pd

from runner.importers.base import Entry, ImportFailed, Parsed
from runner.importers.sidecar import flatten, with_aliases
from runner.importers.tbevents import NotEvents, Scalars, decode

SPLIT_FOLDERS = ("train", "training", "validation", "val", "valid", "eval", "test")


def _parent(folder: str) -> str:
    return folder.rsplit("/", 1)[0] if "/" in folder else ""


def _leaf(folder: str) -> str:
    return folder.rsplit("/", 1)[-1]


def group(entries: list[Entry]) -> dict[str, list[tuple[str, Entry]]]:
    """Run folder → [(sub-folder it came from, event file)], with the merges described above."""
    folders = sorted({e.folder for e in entries}, key=lambda f: (f.count("/"), f))
    owner: dict[str, str] = {}
    for folder in folders:
        ancestor = _parent(folder)
        while folder and ancestor not in owner and ancestor:
            ancestor = _parent(ancestor)
        if folder and ancestor in owner:
            owner[folder] = owner[ancestor]
        elif folder and _leaf(folder).lower() in SPLIT_FOLDERS:
            owner[folder] = _parent(folder)  # Keras: <run>/train and <run>/validation
        else:
            owner[folder] = folder
    runs: dict[str, list[tuple[str, Entry]]] = defaultdict(list)
    for entry in sorted(entries, key=lambda e: e.path):
        run = owner[entry.folder]
        sub = entry.folder[len(run):].strip("/") if entry.folder != run else ""
        runs[run].append((sub, entry))
    return dict(runs)


def read_run(run: str, files: list[tuple[str, Entry]], progress: Callable[[float], None] | None = None) -> Parsed:
    parts, hparams, notes = [], {}, []
    total = sum(len(e.data) for _, e in files) or 1
    done = 0
    for sub, entry in files:
        def tick(fraction: float, base: int = done, size: int = len(entry.data)) -> None:
            if progress is not None:
                progress((base + fraction * size) / total)

        try:
            scalars: Scalars = decode(entry.data, tick)
        except NotEvents as exc:
            raise ImportFailed(entry.path, str(exc)) from None
        done += len(entry.data)
        cols = scalars.concat()
        hparams.update(scalars.hparams)
        notes += [f"{entry.path}: {n}" for n in scalars.notes]
        if not len(cols["step"]):
            continue
        names = cols["name"]
        if sub:
            labels = {t: _merged_tag(sub, t, bool(scalars.hparams)) for t in pd.unique(names)}
            names = np.array([labels[t] for t in names], dtype=object)
        parts.append(pd.DataFrame({"step": cols["step"], "name": names, "value": cols["value"],
                                   "wall_time": cols["wall_time"], "line": cols["line"] + 1}))
    if not parts:
        what = "hyper-parameters only" if hparams else "no scalar summaries"
        raise ImportFailed(files[0][1].path if len(files) == 1 else run or "event files",
                           f"TensorBoard log with {what} (histograms, images and graphs are not imported)")
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    config = with_aliases(flatten(hparams)) if hparams else {}
    return Parsed(frame, config=config, warnings=tuple(notes), where="record",
                  meta={"event_files": [e.path for _, e in files]})


def _merged_tag(sub: str, tag: str, hparams_folder: bool) -> str:
    if hparams_folder:
        return tag  # add_hparams' metric tags are complete names already
    leaf = sub.replace("/", "_")
    if leaf.startswith(f"{tag}_"):
        return f"{tag}/{leaf[len(tag) + 1:]}"  # add_scalars: folder "Loss_train", tag "Loss"
    return f"{sub}/{tag}"
