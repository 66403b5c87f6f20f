"""Plain-text console logs: Keras ``fit`` output, tqdm bars, ``[TRAIN]/[VALID]`` lines, ``key=value`` lines.

Which style a log uses is decided once per file from its lines (``style``); every style
ends in the same tidy rows. Progress bars redraw with ``\\r`` and backspaces, so the text
is split on both and ANSI colours are dropped before matching.

* Keras: ``Epoch 3/50`` then ``... - loss: 0.41 - accuracy: 0.88 - val_loss: 0.52``; the last
  line of each epoch holds its result (one row per epoch).
* Bracketed (the seed documents): ``2024-02-26 04:26:01[TRAIN]epoch 3, iter 200, output loss: 0.4123``
  and ``[VALID]...``; ``iter`` counts inside the epoch, validation batches are averaged per epoch.
* tqdm: ``Epoch 3: 45%|████▌ | 45/100 [00:10<00:12, 4.5it/s, loss=0.412]``; bars are chained
  into one global step.
* key=value / key: value: any line with numbers after names; ``step``/``iter`` or ``epoch``
  give the x-axis, else the line order does (``Epoch 1/200, Train Loss: 1.05, Val Acc: 52.0%``:
  multi-word keys become ``Train_Loss``, a percentage is read as a fraction).

Lightning under DDP prefixes every line with the process rank (``[rank: 0] Epoch 3: 100%|...``);
the prefix is dropped before any style is decided (``strip_rank``).
"""

from __future__ import annotations

import re
from datetime import datetime

import pandas as pd

from runner.importers import bare as bare_values
from runner.importers.base import PERCENT, ImportFailed, Limits, Parsed
from traindoc.core.vocabulary import role

NUM = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|nan|NaN|inf|Inf|infinity)"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_KERAS_EPOCH = re.compile(r"^\s*Epoch (\d+)/(\d+)\s*$")
_KERAS_LINE = re.compile(r"\d+/\d+ .*?(?: - |\s)(?:\w+: " + NUM + ")")
_KERAS_PAIR = re.compile(r"(?:^|\s-\s|\s)([A-Za-z_][\w/]*): \[?(" + NUM + r")\]?")
_BRACKET = re.compile(r"^(?P<ts>\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d)?\s*"
                      r"\[(?P<mode>TRAIN|VALID|VAL|EVAL|TEST)\]\s*(?P<rest>.*)", re.IGNORECASE)
# the rate (``9.8it/s``) is optional: a bar saved at its last redraw may show only the times
_TQDM = re.compile(r"(?:(?:[Ee]poch)\s*(?P<epoch>\d+)\D.*?)?\|\s*(?P<n>\d+)/(?P<total>\d+)\s*\[[^\],]*"
                   r"(?:,\s*[\d.?]+\s*(?:it/s|s/it))?(?P<post>[^\]]*)\]")
_KV = re.compile(r"(?P<key>[A-Za-z_][\w./\-]*(?:(?: [A-Za-z_]\w*){1,2}(?=\s*[:=]))?)\s*(?:=|: ?)\s*\[?\s*(?P<val>"
                 + NUM + r")\s*\]?(?P<pct>%)?(?![\w.:/%])")
_COUNTERS = ("epoch", "step", "iter", "iteration", "global_step", "batch")  # x-axis keys, not metrics
MIN_PIPE_FIELDS = 2  # a counter and a metric at least: one ``name number`` field alone may be prose
_REPR = re.compile(r"^\{\s*'[A-Za-z_]")  # a printed Python dict: ``{'loss': 0.52, ...}``
_QUOTED_KEY = re.compile(r"['\"]([A-Za-z_][\w./\-]*)['\"](\s*:)")
# ``epoch 3 | loss 0.41 | val_loss 0.52 | time 12.3s``: a field of one name and one number between pipes
_PIPE_FIELD = re.compile(r"(?:^|\|)\s*([A-Za-z_][\w./\-]*(?: [A-Za-z_][\w./\-]*){0,2})\s+(" + NUM
                         + r")(?:\s*[a-z%]+)?\s*(?=\||$)")  # ``| Train Loss 0.67 |``, ``| Time 1041.3 sec |``
# ``step 500: train loss 2.36, val loss 2.41`` (nanoGPT and many hand-written loops): fields of one to three
# words and a number, split by commas or a colon; at least two on a line, so prose with one number is not read
_WORDS_FIELD = re.compile(r"(?:^|[,;:])\s*([A-Za-z_][\w./\-]*(?: [A-Za-z_][\w./\-]*){0,2})\s+(" + NUM
                          + r")(?=\s*(?:[,;:]|$))")
# ``Epoch 0 Loss 6.73`` after a timestamp: one-word names each followed by a number, spaces between
_SPACED_FIELD = re.compile(r"(?:^|\s)([A-Za-z_][\w/\-]*)\s+(" + NUM + r")(?=\s|$)")
# ``Epoch 3: 1.9113``: a counter and a value with no name; read as the training loss (``bare.LONE_SERIES``)
_COUNTER_VALUE = re.compile(r"^(epoch|step|iter|iteration)\s*(\d+)\s*[:=]\s*(" + NUM + r")\s*$", re.IGNORECASE)
_RANK = re.compile(r"^\[rank: ?\d+\]\s?")  # Lightning's rank prefix under DDP (``rank_zero_info``)
# ``[INFO] epoch``, ``[2024-05-08 04:06:12,127 INFO]  * src vocab``: text after the closing bracket, which a JSON
# array's first line never has (a comma, another bracket or the line's end follow its values)
_TAG = re.compile(r"^\[[^\[\]{}\"\n]*\][ \t]*[^\s,\]\[{}:\"\d.+-]")
_PAIR_TOTAL = re.compile(r"(?P<key>[A-Za-z_]+)\s*[:\[]?\s*(?P<n>\d+)\s*\]?\s*/\s*\[?\s*(?P<total>\d+)\s*\]?")
_FILLER = {"output", "avg", "average", "mean", "running", "current", "batch", "the", "total", "phase", "set"}
# a word naming the split of a whole line ("Validation Phase Loss: 0.06  Accuracy: 0.69")
_LINE_SPLIT = re.compile(r"\b(train|training|val|valid|validation|validate|eval|evaluation|test)\b", re.IGNORECASE)
_SPLIT_WORDS = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
                "validate": "val", "eval": "val", "evaluation": "val", "test": "val"}
# ``Epoch 3 Training - Loss: 0.41`` / ``epoch 0 | step 2 | train_loss: ...``: an epoch or step named by a bare
# number (no ``:``/``=``); ``Epoch 3/50`` is read by ``_PAIR_TOTAL``
_BARE_COUNTER = re.compile(r"\b(epoch|step|iter|iteration|global_step)\s+(\d+)\b(?![./\d])", re.IGNORECASE)
_STEP_KEYS = ("step", "global_step", "iter", "iteration", "it", "batch", "update", "steps")
_BAR_FIELDS = {"v_num"}  # Lightning's bar shows the logger version: not a metric
_VAL_KEY = re.compile(r"^(val|valid|validation|eval|test)[_/]", re.IGNORECASE)
_VAL_MODES = {"valid": "val_", "val": "val_", "eval": "val_", "test": "val_"}


def split_lines(text: str) -> list[str]:
    text = _ANSI.sub("", text)
    text = re.sub(r"\x08+", "\n", text)
    text = _QUOTED_KEY.sub(r"\1\2", text)  # ``{'loss': 0.52}`` (a printed dict) reads as ``loss: 0.52``
    return [strip_rank(line) for line in re.split(r"\r\n|\r|\n", text)]


def strip_rank(line: str) -> str:
    """A line without Lightning's ``[rank: N]`` prefix (kept as it is when it has none)."""
    return _RANK.sub("", line, count=1)


def opens_with_tag(body: str) -> bool:
    """Whether a text starts like a console log with a bracketed tag (``[rank: 0] Epoch 3``, ``[INFO] ...``,
    ``[TRAIN]epoch 1``), not a JSON array: text follows the closing bracket on the first line; or with a
    printed Python dict (``{'loss': 0.52, 'epoch': 1.0}``, the HF Trainer's console): JSON never quotes a
    key with ``'``."""
    return bool(_RANK.match(body) or _TAG.match(body) or _REPR.match(body))


def kv_pairs(text: str) -> list[tuple[str, float]]:
    """``(key, value)`` for each ``name: number`` / ``name=number`` pair; ``52%`` is read as 0.52; and, on a
    line of pipe-separated fields, each ``name number`` field; else, on a line of two or more comma- or
    colon-separated ``words number`` fields (``step 500: train loss 2.36, val loss 2.41``), each of them."""
    pairs = [(key, float(val) / PERCENT if pct else float(val)) for key, val, pct in _KV.findall(text)]
    if pairs:  # ``Train Loss: 2.5 Validate Loss 2.7``: a metric's words and number beside the pairs, no colon
        rest = _WORDS_FIELD.findall(_KV.sub(",", text).strip())
        pairs += [(_name(key), float(val)) for key, val in rest if _names_a_metric(_name(key))]
    if "|" in text and not pairs:
        # a field of several words is a metric only when its words name one (``| Saving checkpoint 3 |`` is prose)
        pairs = [(_name(key), float(val)) for key, val in _PIPE_FIELD.findall(text)
                 if " " not in key.strip() or _names_a_metric(_name(key))]
    if not pairs:
        fields = _WORDS_FIELD.findall(text.strip())
        if len(fields) >= MIN_PIPE_FIELDS:
            pairs = [(_name(key), float(val)) for key, val in fields]
    if not pairs:  # ``2025-11-12 13:49:11 Epoch 0 Loss 6.73``: words and numbers with only spaces between
        fields = _SPACED_FIELD.findall(text.strip())
        if len(fields) >= MIN_PIPE_FIELDS and any(_names_a_metric(_name(key)) for key, _ in fields):
            pairs = [(_name(key), float(val)) for key, val in fields]
    if not pairs:  # ``Epoch 3: 1.9113``: a counter and one unnamed value, the loss a log like this tracks
        bare = _COUNTER_VALUE.match(text.strip())
        if bare:
            pairs = [(bare.group(1), float(bare.group(2))), (bare_values.LONE_SERIES, float(bare.group(3)))]
    return pairs


def style(lines: list[str]) -> str | None:
    """Which console style the lines are in, or None when no line carries a metric."""
    sample = lines[:5000]
    if any(_KERAS_EPOCH.match(x) for x in sample) and any(_KERAS_LINE.search(x) for x in sample):
        return "keras"
    if any(_BRACKET.match(x.strip()) for x in sample):
        return "bracketed"
    if any("=" in (m.group("post") or "") for m in map(_TQDM.search, sample) if m):
        return "tqdm"
    if any(_KV.search(x) or ("|" in x and len(_PIPE_FIELD.findall(x)) >= MIN_PIPE_FIELDS)
           or len(kv_pairs(x)) >= MIN_PIPE_FIELDS for x in sample):
        return "key-value"
    return None


def read(source: str, text: str, limits: Limits) -> Parsed:
    lines = split_lines(text)
    kind = style(lines)
    if kind is None:
        raise ImportFailed(source, "no metric values found in this text (expected lines like 'loss: 0.41', "
                                   "'step=10 loss=0.41', Keras 'Epoch 1/10' output or tqdm bars)")
    reader = {"keras": _keras, "bracketed": _bracketed, "tqdm": _tqdm, "key-value": _key_value}[kind]
    frame, axis, *rest = reader(lines)
    notes = tuple(rest[0]) if rest else ()
    counted = len(rest) > 1 and bool(rest[1])  # the key-value reader numbered lines without a step itself
    return Parsed(frame, axis=axis, meta={"console_style": kind}, warnings=notes, counted=counted)


def _names_a_metric(name: str) -> bool:
    """A name the vocabulary reads as a loss or a scored metric (prose with a number in it is neither)."""
    r = role(name)
    return r.kind == "loss" or bool(r.better)


def _name(key: str) -> str:
    words = [w for w in key.strip().split() if w.lower() not in _FILLER]
    return "_".join(words) or key.strip()


def _frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["step", "epoch", "name", "value", "wall_time", "line"])


def _keras(lines: list[str]) -> tuple[pd.DataFrame, str]:
    """One row per epoch, in file order; ``Epoch 1/N`` again after ``Epoch 5/N`` is the next ``fit`` call."""
    last: dict[tuple[int, int], tuple[int, str]] = {}
    epoch, fit = None, 0
    for number, line in enumerate(lines, 1):
        match = _KERAS_EPOCH.match(line)
        if match:
            fit += epoch is not None and int(match.group(1)) <= epoch  # a later fit() printing its epochs again
            epoch = int(match.group(1))
        elif epoch is not None and _KERAS_LINE.search(line):
            last[(fit, epoch)] = (number, line)  # the bar redraws; the epoch's final line wins
    rows = []
    for (_, ep), (number, line) in sorted(last.items()):
        tail = line.split(" - ", 1)[1] if " - " in line else line
        for key, val in _KERAS_PAIR.findall(tail):
            if key not in ("ETA",):
                rows.append((ep, ep, key, float(val), None, number))
    return _frame(rows), "epoch"


def _timestamp(text: str | None) -> float | None:
    """A log line's wall time, or None when it has none or it is not a real date (2024-02-31)."""
    try:
        return datetime.fromisoformat(text.replace(" ", "T")).timestamp() if text else None
    except ValueError:
        return None


def _bracketed(lines: list[str]) -> tuple[pd.DataFrame, str]:
    raw = []
    for number, line in enumerate(lines, 1):
        match = _BRACKET.match(line.strip())
        if not match:
            continue
        pairs = {_name(k).lower(): v for k, v in kv_pairs(match.group("rest"))}
        pairs.update({k.lower(): float(n) for k, n, _ in _PAIR_TOTAL.findall(match.group("rest"))})
        pairs.update({k.lower(): float(v) for k, v in re.findall(r"\b(epoch|iter|step)\s+(\d+)", match.group("rest"),
                                                                  re.IGNORECASE)})
        raw.append((number, match.group("mode").lower(), _timestamp(match.group("ts")), pairs))
    train_iters = [p.get("iter", 0) for _, m, _, p in raw if m == "train"]
    gaps = sorted({b - a for a, b in zip(train_iters, train_iters[1:], strict=False) if b > a})
    per_epoch = max(train_iters, default=0) + (gaps[0] if gaps else 1)
    rows, val = [], {}
    for number, mode, wall, pairs in raw:
        epoch, it = pairs.pop("epoch", 0.0), pairs.pop("iter", pairs.pop("step", 0.0))
        prefix = _VAL_MODES.get(mode, "")
        for key, value in pairs.items():
            if prefix:  # per-batch validation losses: averaged per epoch below
                val.setdefault((epoch, prefix + key), []).append((value, wall, number))
            else:
                rows.append((epoch * per_epoch + it, epoch + it / per_epoch, key, value, wall, number))
    for (epoch, key), items in val.items():
        mean = sum(v for v, _, _ in items) / len(items)
        rows.append(((epoch + 1) * per_epoch, epoch + 1, key, mean, items[-1][1], items[0][2]))
    return _frame(rows), "step"


def _tqdm(lines: list[str]) -> tuple[pd.DataFrame, str]:
    """Bars chained into one global step.

    A Lightning bar repeats the last validation values on every redraw of the next epoch,
    so a validation key is read once per bar, from its last redraw (where it is new). A bar
    drawn at 0/N has run no batch: its postfix is what the loop initialised it with.
    """
    rows, offset, last_n, last_total, last_epoch = [], 0, -1, 0, None
    val_rows: dict[int, list[tuple]] = {}  # bar offset → the validation rows of its latest redraw
    for number, line in enumerate(lines, 1):
        match = _TQDM.search(line)
        if not match or "=" not in (match.group("post") or ""):
            # a summary line between the bars (``Epoch 3: train_loss=0.41 val_loss=0.52``) at the step its
            # bar reached: without it the validation values printed only there are lost
            summary = [(k, v) for k, v in kv_pairs(line) if k.lower() not in _COUNTERS] if last_n >= 0 else []
            counter = _BARE_COUNTER.search(line)
            at_epoch = float(counter.group(2)) if counter and counter.group(1).lower() == "epoch" else (
                float(last_epoch) if last_epoch else None)
            rows.extend((offset + last_n, at_epoch, key, val, None, number) for key, val in summary)
            continue
        n, total, epoch = int(match.group("n")), int(match.group("total")), match.group("epoch")
        if n < last_n or (epoch is not None and epoch != last_epoch and last_epoch is not None):
            offset += last_total  # a new bar (the next epoch) continues the global step
        last_n, last_total, last_epoch = n, total, epoch
        if n == 0:
            continue  # no batch has run in this bar yet: its postfix holds placeholders (``loss=inf``), not values
        latest = []
        for key, val in re.findall(r"([A-Za-z_][\w/]*)=\[?(" + NUM + ")", match.group("post")):
            if key in _BAR_FIELDS:
                continue
            row = (offset + n, float(epoch) if epoch else None, key, float(val), None, number)
            (latest if _VAL_KEY.match(key) else rows).append(row)
        if latest:
            val_rows[offset] = latest
    return _frame(rows + [r for bar in val_rows.values() for r in bar]), "step"


def _key_value(lines: list[str]) -> tuple[pd.DataFrame, str, list[str]]:
    """Lines of ``name: number`` pairs; the x-axis from a step/iter key, else epoch, else the line order.

    Two real layouts mix granularities: per-batch lines whose counter restarts every epoch
    (``Current batch:200/1600 loss: 0.59``) beside one ``Epoch [3]/[199] Training Loss: ...``
    summary per epoch. The restarting counter cannot be placed on one axis, so when such
    epoch summaries exist they are the run and the batch lines are left out (with a note).
    """
    parsed = []
    for number, line in enumerate(lines, 1):
        pairs, totals = {}, {}
        for key, val in kv_pairs(line):
            pairs[_name(key)] = val
        for key, n, total in _PAIR_TOTAL.findall(line):
            pairs.setdefault(key, float(n))
            totals[key.lower()] = int(total)
        low = {k.lower(): k for k in pairs}
        for word, count in _BARE_COUNTER.findall(line):
            if word.lower() not in low:
                pairs[word.lower()], low[word.lower()] = float(count), word.lower()
        step_key = next((low[k] for k in _STEP_KEYS if k in low), None)
        epoch_key = low.get("epoch")
        metrics = {k: v for k, v in pairs.items() if k not in (step_key, epoch_key)}
        if not metrics:
            continue
        split = _line_split(line, metrics)
        if split:
            metrics = {k if _LINE_SPLIT.search(k.replace("_", " ")) else f"{split}_{k}": v for k, v in metrics.items()}
        parsed.append((number, pairs, totals, step_key, epoch_key, metrics))
    stepped_lines = [p for p in parsed if p[3] is not None]
    epoch_lines = [p for p in parsed if p[3] is None and p[4] is not None]
    notes = []
    if epoch_lines and stepped_lines and len(stepped_lines) < len(epoch_lines):
        # a header such as ``batch: 64, lr: 0.1`` does not make every ``Epoch 1/200, Train Loss: ...`` prose
        notes.append(f"{len(stepped_lines)} line(s) with a step or batch key beside {len(epoch_lines)} per-epoch "
                     "lines were left out (settings or per-batch lines; the per-epoch lines are the run)")
        parsed = [p for p in parsed if p[3] is None]
        stepped_lines = []
    stepped = bool(stepped_lines)
    if stepped_lines and len({p[1][p[4]] for p in epoch_lines}) >= 2 and _restarts(stepped_lines):
        notes.append(f"{len(stepped_lines)} per-batch line(s) whose counter restarts each epoch were left out; "
                     f"the {len(epoch_lines)} per-epoch summary lines are the run")
        parsed, stepped = epoch_lines, False
    plain = [p for p in parsed if p[3] is None and p[4] is None]
    if not stepped and plain and len(plain) < len(epoch_lines) and len({p[1][p[4]] for p in epoch_lines}) >= 2:
        # ``Training samples: 8000`` / ``Batch size: 1024`` at each launch, beside ``Epoch 3 ... Loss: 0.41``
        notes.append(f"{len(plain)} line(s) with neither a step nor an epoch beside {len(epoch_lines)} per-epoch "
                     "lines were left out (settings, not the run)")
        parsed = [p for p in parsed if p[4] is not None]
    rows, counter, has_step, only_epochs, counted = [], 0, False, True, False
    per_epoch = None  # the steps in an epoch, from ``Batch 100/972`` beside an epoch: where a summary line goes
    on_batches = {k for p in parsed if p[3] is not None for k in p[5]}  # metrics the batch lines log
    for number, pairs, totals, step_key, epoch_key, metrics in parsed:
        epoch = pairs.get(epoch_key) if epoch_key else None
        if stepped and step_key is None:
            if epoch is not None and per_epoch:  # ``Epoch 1 | Train Loss .. | Valid Loss ..`` after its batches
                # an epoch mean of a metric the batches log too is its epoch-level curve, not one more batch
                rows += [(epoch * per_epoch, epoch, f"{k}_epoch" if k in on_batches else k, v, None, number)
                         for k, v in metrics.items()]
            continue  # prose ("starting with lr=0.1") in a log whose metric lines carry a step
        counter += 1
        if step_key:  # "Epoch [2/5], Step [100/600]": the step counts inside the epoch
            step, has_step, only_epochs = pairs[step_key], True, False
            if epoch is not None and step_key.lower() in totals:
                per_epoch = totals[step_key.lower()]
                step += (epoch - 1) * per_epoch
        elif epoch is not None and not has_step:
            step = epoch
        else:
            step, only_epochs, counted = counter, False, True
        rows += [(step, epoch, k, v, None, number) for k, v in metrics.items()]
    if any(_COUNTER_VALUE.match(lines[p[0] - 1].strip()) for p in parsed):
        notes.append("lines like 'Epoch 3: 1.91' hold one unnamed value: read as the training loss")
    return _frame(rows), "epoch" if only_epochs and rows else "step", notes, counted


def _line_split(line: str, metrics: dict[str, float]) -> str | None:
    """The split a line names once for all its pairs, when some pair names none itself."""
    if all(_LINE_SPLIT.search(k.replace("_", " ")) for k in metrics):
        return None
    found = {_SPLIT_WORDS[m.lower()] for m in _LINE_SPLIT.findall(line)}
    return next(iter(found)) if len(found) == 1 else None


def _restarts(lines: list[tuple]) -> bool:
    """Whether the step counter of these lines goes back (restarts each epoch) without an epoch beside it."""
    steps = [p[1][p[3]] for p in lines if p[4] is None]
    return sum(b < a for a, b in zip(steps, steps[1:], strict=False)) >= 2
