"""Which format a file is in, from its content (the extension only breaks ties).

Order: empty → TensorBoard (a TFRecord header with a valid checksum) → compressed or
binary (refused) → text: one JSON document (HF ``log_history``, Keras history), JSON
lines (MMEngine markers, else generic), Stable-Baselines3's boxed tables, a table (Ultralytics,
Lightning, Keras CSVLogger, generic CSV/TSV by their headers) → a console log (also when it opens with a bracketed
tag: Lightning's ``[rank: 0]`` prefix, ``[INFO]``, ``[TRAIN]``). Returns the format and what was already parsed (text or
JSON), so nothing is decoded twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from runner.importers import bare, console, hf, keras, mmengine, sb3, truncated
from runner.importers.base import Entry, ImportFailed, Limits
from runner.importers.sidecar import load_json
from runner.importers.tabular import json_lines, sniff_sep
from runner.importers.tbevents import looks_like_events
from runner.importers.text import decode, looks_binary

SUPPORTED = ("TensorBoard event files, Lightning metrics.csv, Keras CSVLogger/History JSON, HF trainer_state.json, "
             "Ultralytics results.csv, MMEngine JSON lines, CSV/TSV/JSON lines with a step or epoch column, "
             "Stable-Baselines3 console tables, console logs, bare lists of values named by their file")


# A log truncated in place while its writer kept its offset (logrotate's copytruncate) starts with as many
# NUL bytes as were written before: kilobytes. A few NULs before control bytes are a binary file.
MIN_NUL_PADDING = 64
_TEXT_CONTROLS = frozenset(b"\t\n\r\x0c\x08\x1b")


def _plain_text(head: bytes) -> bool:
    """No control byte but whitespace, backspace and ANSI escapes: what a console log holds."""
    return bool(head) and all(b >= 32 or b in _TEXT_CONTROLS for b in head)


@dataclass(frozen=True)
class Detected:
    format: str
    payload: Any  # text for table/console formats, the JSON document, or the records for JSON lines
    notes: tuple[str, ...] = ()  # what was repaired on the way (a last row cut mid-row, dropped)


def detect(entry: Entry, limits: Limits) -> Detected:
    data, src = entry.data, entry.path
    if not data:
        raise ImportFailed(src, "is empty (0 bytes)")
    if looks_like_events(data):
        return Detected("tensorboard", data)
    if data.startswith(b"\x1f\x8b"):
        raise ImportFailed(src, "is gzip-compressed; unpack it (gunzip) and import the file inside")
    if data.startswith(b"PK\x03\x04"):
        raise ImportFailed(src, "is a zip inside a zip; unpack the outer zip and import the inner one")
    padding = len(data) - len(data.lstrip(b"\x00"))
    if MIN_NUL_PADDING <= padding < len(data) and _plain_text(data[padding:padding + 8192]):
        found = detect(Entry(entry.path, data[padding:]), limits)
        return replace(found, notes=(f"{padding} NUL bytes at the start skipped (a log truncated in place while "
                                     "its writer kept its offset, as logrotate's copytruncate leaves it)",
                                     *found.notes))
    if looks_binary(data):
        if "tfevents" in entry.name:
            raise ImportFailed(src, "named like an event file but has no valid TFRecord header (corrupt?)")
        raise ImportFailed(src, f"binary data, not a training log (supported: {SUPPORTED})")
    text = decode(src, data)
    body = text.lstrip("\ufeff \t\r\n")
    if not body:
        raise ImportFailed(src, "holds only whitespace")
    if body[0] in "{[" and not console.opens_with_tag(body):  # ``[rank: 0] Epoch 3: ...`` is text
        return _json(entry, text, body, limits)
    if sb3.looks_like_monitor(body):
        return Detected("sb3_monitor", body)
    if sb3.looks_like(body):  # boxed ``| rollout/ |`` tables: pipes that a table sniffer would take for columns
        return Detected("sb3", text)
    if bare.looks_like(body) and bare.one_per_line(body):  # a .csv of one number per line is a value list
        return Detected("values", text)
    table, cut = truncated.table_tail(text, sniff_sep(body))
    named_table = entry.name.lower().endswith((".csv", ".tsv")) and "\n" in body and not _pairs_first(body)
    if is_table(body) or is_table(table) or named_table:
        return Detected(table_format(entry, body), table, (cut,) if cut else ())
    if bare.looks_like(body):  # np.savetxt / one value per line: the file name names the series
        return Detected("values", text)
    return Detected("console", text)


def _json(entry: Entry, text: str, body: str, limits: Limits) -> Detected:
    lines = [line for line in body.splitlines() if line.strip()]
    if len(lines) > 1 and _one_object(lines[0]) and lines[1].lstrip().startswith("{"):
        text, cut = truncated.jsonl_tail(text)
        records = json_lines(entry.path, text)
        return Detected("mmengine" if mmengine.looks_like(records) else "jsonl", records, (cut,) if cut else ())
    doc = load_json(entry.path, text, limits)
    if hf.is_trainer_state(doc):
        return Detected("hf_trainer_state", doc)
    if keras.is_history(doc):
        return Detected("keras_history", doc)
    nested = _nested_records(doc)
    if nested is not None:  # a summary object holding the per-epoch records
        return Detected("jsonl", list(enumerate(nested[0], 1)), nested[1])
    if isinstance(doc, dict) and len(lines) == 1 and _one_object(lines[0]):
        return Detected("jsonl", [(1, doc)])
    if isinstance(doc, list) and doc and all(isinstance(r, dict) for r in doc):
        return Detected("jsonl", list(enumerate(doc, 1)))  # a list of per-epoch records: JSON lines in one array
    if bare.is_value_list(doc):  # json.dump(losses)
        return Detected("values", doc)
    raise ImportFailed(entry.path, "JSON without a 'log_history' list (HF trainer_state.json), a Keras history "
                                   "(metric → list of values) or a list of records; nothing to import")


def _nested_records(doc: Any) -> tuple[list[dict], tuple[str, ...]] | None:
    """The list of per-epoch records inside a summary object (``{"config": {...}, "history": [{...}]}``), and a
    note when it was chosen among several: the one list whose records count epochs and nothing finer
    (``epoch_summaries`` beside ``batch_metrics``), the curve a person reads; None when that is not written."""
    if not isinstance(doc, dict):
        return None
    lists = {k: v for k, v in doc.items() if isinstance(v, list) and v and all(isinstance(r, dict) for r in v)
             and all(any(isinstance(x, int | float) and not isinstance(x, bool) for x in r.values()) for r in v)}
    if len(lists) == 1:
        return next(iter(lists.values())), ()
    per_epoch = [k for k, v in lists.items() if all("epoch" in r and not _FINER.intersection(r) for r in v)]
    if len(per_epoch) != 1:
        return None  # none, or several (which one is the curve is not written)
    others = ", ".join(f"'{k}'" for k in lists if k != per_epoch[0])
    return lists[per_epoch[0]], (f"several lists of records: read '{per_epoch[0]}', the one per epoch ({others} "
                                 "left out)",)


_FINER = frozenset({"batch", "step", "iter", "iteration", "global_step"})  # counters finer than the epoch


def _one_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (json.JSONDecodeError, RecursionError):
        return False


def _pairs_first(body: str) -> bool:
    """The first line holds ``name: number`` pairs (``Epoch: [1/100], training loss: 1.64, ...``): a console log
    saved as .csv, whose commas do not make it a table."""
    head = body.split("\n", 1)[0]
    return len(console.kv_pairs(head)) >= console.MIN_PIPE_FIELDS


def is_table(body: str) -> bool:
    head = [line for line in body.splitlines()[:6] if line.strip()]
    sep = sniff_sep(body)
    if len(head) < 2 or head[0].count(sep) < 1:
        return False
    cells = [c.strip() for c in head[0].split(sep)]
    if any(":" in c or "=" in c or len(c) > 80 for c in cells):
        return False
    return all(line.count(sep) == head[0].count(sep) for line in head[1:])


def table_format(entry: Entry, body: str) -> str:
    cols = [c.strip().strip('"').lower() for c in body.splitlines()[0].split(sniff_sep(body))]
    if any(c.startswith("metrics/") or c.endswith("box_loss") for c in cols):
        return "ultralytics"
    if "epoch" in cols and "step" in cols:
        sparse = ",," in body[:20000] or body.splitlines()[1].rstrip().endswith(",")
        if entry.name.lower() == "metrics.csv" or sparse:
            return "lightning"
    if "\t" in body.splitlines()[0]:
        return "tsv"
    if cols and cols[0] == "epoch" and "step" not in cols:
        return "keras_csv"
    return "csv"

