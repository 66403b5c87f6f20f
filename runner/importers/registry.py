"""The registry of formats and the one entry point: files (a path, a folder, a zip, an upload) → runs.

Each format module has a reader ``(source, payload, limits) -> Parsed``; ``FORMATS`` maps the
detected format to it with a label and how it is recognised (shown in the README and
the upload page). Sidecars are attached by folder (see ``sidecar``), event files grouped by
folder (see ``tensorboard``). A failure anywhere raises ImportFailed naming the file: the
caller writes nothing of that upload.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from runner.importers import (
    bare,
    console,
    hf,
    keras,
    lightning,
    mmengine,
    sb3,
    sidecar,
    tabular,
    tensorboard,
    ultralytics,
)
from runner.importers import stream as streamed
from runner.importers.base import Entry, ImportedRun, ImportFailed, Limits, Parsed
from runner.importers.detect import detect
from runner.importers.text import decode_note
from runner.importers.tidy import finish
from runner.importers.walk import from_path, from_upload

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Format:
    name: str
    label: str
    recognised_by: str
    read: Callable[[str, Any, Limits], Parsed] | None


FORMATS: dict[str, Format] = {f.name: f for f in [
    Format("tensorboard", "TensorBoard event file", "TFRecord header with a valid CRC (any file name)", None),
    Format("lightning", "Lightning CSVLogger metrics.csv", "CSV with epoch and step columns, sparse rows",
           lightning.read),
    Format("keras_csv", "Keras CSVLogger", "CSV whose first column is epoch, no step column", keras.read_csv),
    Format("keras_history", "Keras History JSON", "JSON object of metric → list of numbers", keras.read_history),
    Format("hf_trainer_state", "Hugging Face trainer_state.json", "JSON with a log_history list", hf.read),
    Format("ultralytics", "Ultralytics results.csv", "CSV with metrics/… or *box_loss columns", ultralytics.read),
    Format("mmengine", "MMEngine/MMDetection JSON lines", "JSON lines with data_time/memory and iter/step",
           mmengine.read),
    Format("csv", "CSV with a step or epoch column", "a comma-separated header and rows", tabular.read_csv),
    Format("tsv", "TSV with a step or epoch column", "a tab-separated header and rows", tabular.read_csv),
    Format("jsonl", "JSON lines with a step or epoch field", "one JSON object per line", None),
    Format("values", "A bare list of values (json.dump(losses), np.savetxt)",
           "numbers only; the file name names the series", bare.read),
    Format("sb3", "Stable-Baselines3 console tables", "boxed tables with section rows (| rollout/ |)", sb3.read),
    Format("sb3_monitor", "Stable-Baselines3 monitor.csv", "a #{\"t_start\": ...} line, then r,l,t columns",
           sb3.read_monitor),
    Format("console", "Console log (Keras fit, tqdm, [TRAIN]/[VALID], key=value)", "text with name: number pairs",
           console.read),
]}
GENERIC_STEMS = {"metrics", "results", "trainer_state", "scalars", "history", "log", "train", "output", "events"}


def read_path(path: str | Path, limits: Limits | None = None, progress: Progress | None = None) -> list[ImportedRun]:
    """Every run in a log file, a folder of logs or a zip (CLI)."""
    limits = limits or Limits()
    path = Path(path)
    return read_entries(from_path(path, limits), str(path), limits, progress, is_file=path.is_file())


def read_upload(name: str, data: bytes, limits: Limits | None = None,
                progress: Progress | None = None, stream: bool = False) -> list[ImportedRun]:
    """Every run in one uploaded file (a zip may hold several).

    ``stream``: a big CSV/TSV comes back with its rows left in its bytes, read again as the store
    writes them (``runner.importers.stream``; for ``save``, not for reading ``frame``).
    """
    limits = limits or Limits()
    entries = from_upload(name, data, limits)
    zipped = len(entries) != 1 or entries[0].path != PurePosixPath(name).name
    return read_entries(entries, name, limits, progress, is_file=not zipped, stream=stream)


def read_entries(entries: list[Entry], base: str, limits: Limits, progress: Progress | None = None,
                 is_file: bool = True, stream: bool = False) -> list[ImportedRun]:
    def label(entry_path: str) -> str:
        return base if is_file else f"{base}/{entry_path}"

    by_path = {e.path: e for e in entries}
    logs = [e for e in entries if not sidecar.is_sidecar(e.name)]
    if not logs:
        raise ImportFailed(base, "holds hyper-parameters only (a sidecar such as hparams.json), no metrics; "
                                 "import it together with its log")
    events, others, big = [], [], []
    for entry in logs:
        table = streamed.sniff(entry.data, entry.name) if stream else None
        if table is not None:
            big.append((entry, table))
            continue
        relabeled = Entry(label(entry.path), entry.data)
        found = detect(relabeled, limits)
        (events if found.format == "tensorboard" else others).append((entry, found))
    runs: list[ImportedRun] = []
    total = len(events) + len(others) + len(big)
    for k, (entry, (table, cut)) in enumerate(big):
        source = label(entry.path)

        def told(fraction: float, start: float = k / total, what: str = entry.path,
                 size: float = len(entry.data) / 1e6) -> None:  # the bytes read so far: a bar that moves
            _tell(progress, start + fraction / total, f"{what} ({fraction * size:,.0f} of {size:,.0f} MB)")

        config = sidecar.for_log(entry, by_path, limits)
        run = streamed.read(source, table, run_name(entry.path, base), config, (cut,) if cut else (), told)
        if run is None:  # a layout the whole frame judges (a restart, no step column): read it that way
            others.append((entry, detect(Entry(source, entry.data), limits)))
        else:
            runs.append(run)
    for i, (entry, found) in enumerate(others, len(big)):
        _tell(progress, i / total, entry.path)
        source = label(entry.path)
        fmt = found.format
        parsed = _jsonl(source, found.payload) if fmt == "jsonl" else FORMATS[fmt].read(source, found.payload, limits)
        notes = tuple(n for n in (decode_note(entry.data), *found.notes) if n)
        if notes:
            parsed = replace(parsed, warnings=(*notes, *parsed.warnings))
        config = {**parsed.config, **sidecar.for_log(entry, by_path, limits, hf=fmt == "hf_trainer_state")}
        runs.append(finish(source, fmt, run_name(entry.path, base), parsed, config))
    groups = tensorboard.group([e for e, _ in events])
    for j, (folder, files) in enumerate(groups.items()):
        start = (len(others) + len(big) + j) / total

        def tick(fraction: float, start: float = start, n: int = len(files), what: str = folder or base) -> None:
            _tell(progress, start + fraction * n / total, what)

        relabeled = [(sub, Entry(label(e.path), e.data)) for sub, e in files]
        parsed = ultralytics.with_part_sums(tensorboard.read_run(folder, relabeled, tick), twins_only=True)
        anchor = files[0][1]
        extra = sidecar.for_log(Entry(f"{folder}/x" if folder else "x", b""), by_path, limits)
        source = label(folder) if folder else (relabeled[0][1].path if len(files) == 1 else base)
        name = _leaf(folder) if folder else _tb_name(anchor.name, base, is_file)
        runs.append(finish(source, "tensorboard", name, parsed, {**parsed.config, **extra}))
    _tell(progress, 1.0, base)
    return runs


def _jsonl(source: str, records: list[tuple[int, dict]]) -> Parsed:
    frame = tabular.records_frame(records)
    parsed = tabular.wide_to_long(source, frame)
    lines = [n for n, _ in records]
    return Parsed(parsed.frame.assign(line=[lines[int(i) - 2] for i in parsed.frame["line"]]), axis=parsed.axis,
                  warnings=parsed.warnings, counted=parsed.counted)


def _tell(progress: Progress | None, fraction: float, what: str) -> None:
    if progress is not None:
        progress(min(max(fraction, 0.0), 1.0), what)


def _leaf(folder: str) -> str:
    return folder.rstrip("/").rsplit("/", 1)[-1]


def run_name(path: str, base: str) -> str:
    """The file's stem, or its folder's name when the stem is generic (``version_0/metrics.csv`` → version_0)."""
    p = PurePosixPath(path)
    stem = p.name.split(".")[0] if p.name.endswith(".log.json") else p.stem
    if stem.lower() in GENERIC_STEMS:
        if p.parent.name:
            return p.parent.name
        base_stem = PurePosixPath(base).name.split(".")[0]
        return base_stem if base_stem.lower() not in GENERIC_STEMS else stem
    return stem


def _tb_name(file_name: str, base: str, is_file: bool) -> str:
    if not is_file:
        return PurePosixPath(base).name.split(".")[0] or "tensorboard"
    parts = file_name.split(".")
    return f"tfevents {parts[3]}" if len(parts) > 3 and parts[2] == "tfevents" else PurePosixPath(file_name).stem
