"""A lean decoder of TensorBoard event files (TFRecord framing + the few Event/Summary protobuf fields).

Why not the official reader: ``EventAccumulator`` and tbparse read ~60,000 scalars/s
(17 s for a million); an import should take about a second. Scalar events written by one
writer repeat one byte layout per (tag length, step width), so records are grouped by
length, one record per group is decoded field by field to learn the layout, and the whole
group is then checked byte-for-byte against it and decoded with numpy. Any record that does
not fit its group's layout (TF2 tensor scalars, hparams, a step of 0, odd writers) goes
through the plain field-by-field decoder. ``tests/test_import_tensorboard.py`` checks the
result value for value against ``EventAccumulator``.

Field numbers (tensorflow/core/util/event.proto, framework/summary.proto, tensor.proto):
Event{1 wall_time double, 2 step int64, 5 summary}; Summary{1 value}; Value{1 tag, 2 simple_value
float, 8 tensor, 9 metadata}; SummaryMetadata{1 plugin_data{1 plugin_name, 2 content}};
TensorProto{1 dtype, 2 shape{2 dim{1 size}}, 4 tensor_content, 5 float_val, 6 double_val,
7 int_val, 10 int64_val}. The hparams plugin's SessionStartInfo{1 map<string, Value>} gives the config.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from runner.importers.crc32c import masked_crc32c, masked_crc32c_many

_U64 = struct.Struct("<Q")
_F64 = struct.Struct("<d")
_F32 = struct.Struct("<f")
_DTYPES = {1: ("<f4", 4), 2: ("<f8", 8), 3: ("<i4", 4), 9: ("<i8", 8), 19: ("<f2", 2)}
_SCALAR_PLUGINS = (None, "", "scalars")
_HEADER = 12  # a record opens with its uint64 length and the masked CRC32C of those 8 bytes
_FOOTER = 4  # and closes with the masked CRC32C of its data
# Records framed between two checks of their length CRCs: a corrupted length sends the walk into
# garbage, and this bounds the walking wasted before the check finds it (and the memory it takes).
WALK_BATCH = 1 << 16
# Candidate positions tested at once when looking for the next valid length header after a bad one.
RESYNC_WINDOW = 1 << 16
# Bad records named one by one in the notes; past this many, one line counts the rest.
NAMED_BAD_RECORDS = 10


class NotEvents(ValueError):
    """The bytes are not a TensorBoard event file (the message says why)."""


def looks_like_events(data: bytes) -> bool:
    """A TFRecord stream: its first record is intact, or (a damaged first header) a whole record follows."""
    return first_record_at(data) is not None


def first_record_at(data: bytes) -> int | None:
    """Where the first record starts: 0 when its length header carries its own valid checksum, else the
    first offset within ``RESYNC_WINDOW`` bytes that opens a whole record (length and data checksums
    both pass, about 2**-64 by chance: other binary data does not pass for an event file); None when none.

    Why: a damaged first header used to make the whole file "not an event file", while the same
    damage one record later was skipped with a note.
    """
    if len(data) < _HEADER:
        return None
    if masked_crc32c(data[:8]) == struct.unpack_from("<I", data, 8)[0]:
        return 0
    buf = np.frombuffer(data, dtype=np.uint8)
    pos, limit = 1, min(len(data), RESYNC_WINDOW)
    while pos + _HEADER <= limit:
        pos = _resync(buf[:limit], pos)
        if pos + _HEADER > limit:
            return None
        (length,) = _U64.unpack_from(data, pos)
        end = pos + _HEADER + length
        if end + _FOOTER <= len(data) and \
                masked_crc32c(data[pos + _HEADER:end]) == struct.unpack_from("<I", data, end)[0]:
            return pos
        pos += 1
    return None


@dataclass
class Scalars:
    """Decoded scalars of one file, in record order, with the hparams found and notes for the user."""

    steps: list[np.ndarray] = field(default_factory=list)
    walls: list[np.ndarray] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)
    tags: list[np.ndarray] = field(default_factory=list)  # object arrays of str
    records: list[np.ndarray] = field(default_factory=list)
    hparams: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def concat(self) -> dict[str, np.ndarray]:
        def cat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
            return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)

        out = {"step": cat(self.steps, np.int64), "wall_time": cat(self.walls, float),
               "value": cat(self.values, float), "name": cat(self.tags, object), "line": cat(self.records, np.int64)}
        order = np.argsort(out["line"], kind="stable")
        return {k: v[order] for k, v in out.items()}


def _walk(data: bytes, pos: int, limit: int) -> tuple[list[int], list[int], int]:
    """Data start and length of up to ``limit`` records from ``pos``, trusting their lengths; where it stopped."""
    unpack, n = _U64.unpack_from, len(data)
    starts, lengths = [], []
    append_s, append_l = starts.append, lengths.append
    while pos + _HEADER <= n and len(starts) < limit:
        (length,) = unpack(data, pos)
        end = pos + _HEADER + length + _FOOTER
        if end > n:
            break
        append_s(pos + _HEADER)
        append_l(length)
        pos = end
    return starts, lengths, pos


def _stored_crc(buf: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The little-endian uint32 at each offset."""
    return (buf[at].astype(np.uint32) | (buf[at + 1].astype(np.uint32) << 8)
            | (buf[at + 2].astype(np.uint32) << 16) | (buf[at + 3].astype(np.uint32) << 24))


def _headers_ok(buf: np.ndarray, at: np.ndarray, lengths: list[int] | None = None) -> np.ndarray:
    """Whether the length header at each offset carries its own valid checksum.

    With the ``lengths`` those headers hold (the walk read them), only each distinct length is
    checksummed: a log repeats a few record lengths a million times.
    """
    if lengths is None:
        return masked_crc32c_many(buf, at, np.full(len(at), 8)) == _stored_crc(buf, at + 8)
    distinct, which = np.unique(np.asarray(lengths, dtype="<u8"), return_inverse=True)
    crcs = masked_crc32c_many(distinct.view(np.uint8), np.arange(len(distinct)) * 8, np.full(len(distinct), 8))
    return crcs[which] == _stored_crc(buf, at + 8)


def _resync(buf: np.ndarray, pos: int) -> int:
    """The first offset from ``pos`` holding a length header with a valid checksum, else the file's end."""
    n = len(buf)
    while pos + _HEADER <= n:
        at = np.arange(pos, min(pos + RESYNC_WINDOW, n - _HEADER + 1), dtype=np.int64)
        hits = np.flatnonzero(_headers_ok(buf, at))
        if len(hits):
            return int(at[hits[0]])
        pos = int(at[-1]) + 1
    return n


def frame_records(data: bytes, progress: Callable[[float], None] | None = None
                  ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Start and length of each record whose length header passes its checksum, with notes for the user.

    A header that fails its checksum (or claims more bytes than are left) cannot be trusted to
    say where the next record starts, so the bytes from it are scanned for the next position
    whose header passes, and reading goes on from there; a header that passes but runs past
    the end is a file cut short.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    n, pos = len(data), 0
    starts: list[int] = []
    lengths: list[int] = []
    notes: list[str] = []
    while pos + _HEADER <= n:
        batch_s, batch_l, stop = _walk(data, pos, WALK_BATCH)
        ok = _headers_ok(buf, np.asarray(batch_s, dtype=np.int64) - _HEADER, batch_l)
        good = len(ok) if ok.all() else int(np.argmin(ok))
        starts += batch_s[:good]
        lengths += batch_l[:good]
        bad = batch_s[good] - _HEADER if good < len(ok) else stop
        if good == len(ok) and len(ok) == WALK_BATCH:
            pos = stop
        elif bad + _HEADER <= n and (good < len(ok) or not _headers_ok(buf, np.array([bad]))[0]):
            pos = _resync(buf, bad + 1)
            where = f"reading resumed at the next valid record (byte {pos})" if pos < n else "no valid record follows"
            notes.append(f"the record length at byte {bad} failed its checksum; bytes {bad}-{pos - 1} skipped, "
                         f"{where}")
        else:
            pos = bad
            break
        if progress is not None:
            progress(pos / n)
    if pos < n:
        notes.append(f"truncated: the file ends inside record {len(starts) + 1} (byte {pos} of {n}); "
                     f"the {len(starts)} complete records before it were read")
    return np.asarray(starts, dtype=np.int64), np.asarray(lengths, dtype=np.int64), notes


def _data_ok(data: bytes, buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Which records' data pass their checksum; a note for each that fails (its offset and, if readable, step)."""
    ok = masked_crc32c_many(buf, starts, lengths) == _stored_crc(buf, starts + lengths)
    bad = np.flatnonzero(~ok)
    notes = []
    for i in bad[:NAMED_BAD_RECORDS].tolist():
        step = _readable_step(data, int(starts[i]), int(lengths[i]))
        at = f"step {step}" if step is not None else "step unreadable"
        notes.append(f"record {i + 1} at byte {int(starts[i]) - _HEADER} ({at}) failed its data checksum; skipped")
    if len(bad) > NAMED_BAD_RECORDS:
        notes.append(f"{len(bad) - NAMED_BAD_RECORDS} more records failed their data checksum; skipped")
    return ok, notes


def _readable_step(data: bytes, start: int, length: int) -> int | None:
    """The Event's step field, when the damaged record still parses far enough to hold one."""
    try:
        for number, wire, value in _fields(data, start, start + length):
            if number == 2 and wire == 0:
                return value - (1 << 64) if value >= 1 << 63 else value
    except (ValueError, IndexError):
        return None
    return None


def decode(data: bytes, progress: Callable[[float], None] | None = None) -> Scalars:
    """All scalar summaries of an event file, plus hparams; NotEvents when it is not one.

    Records whose length or data fail their CRC are left out, each with a note.
    """
    if not looks_like_events(data):
        raise NotEvents("not a TensorBoard event file (no valid TFRecord header)")
    starts, lengths, notes = frame_records(data, progress)
    buf = np.frombuffer(data, dtype=np.uint8)
    intact, bad_notes = _data_ok(data, buf, starts, lengths)
    out = Scalars(notes=notes + bad_notes)
    plugins: dict[str, str | None] = {}
    slow: list[int] = []
    for length in np.unique(lengths[intact]):
        members = np.flatnonzero((lengths == length) & intact)
        if len(members) < 4:
            slow.extend(members.tolist())
            continue
        slow.extend(_fast_group(data, buf, starts, members, int(length), out))
    for i in sorted(slow):
        _slow_record(data, int(starts[i]), int(lengths[i]), i, out, plugins)
    return out


def _layout(rec: bytes) -> tuple[int, int, int, int, int] | None:
    """(step_off, step_len, tag_off, tag_len, value_off) when ``rec`` is the plain one-scalar layout, else None.

    The layout: 0x09 wall(8) 0x10 step(varint) 0x2a len [0x0a len [0x0a len tag 0x15 value(4)]].
    """
    try:
        if rec[0] != 0x09 or rec[9] != 0x10:
            return None
        pos = 10
        while rec[pos] & 0x80:
            pos += 1
        step_len = pos - 9
        pos += 1
        if step_len > 9 or rec[pos] != 0x2A or rec[pos + 1] >= 0x80 or rec[pos + 2] != 0x0A:
            return None
        if rec[pos + 3] >= 0x80 or rec[pos + 4] != 0x0A or rec[pos + 5] >= 0x80:
            return None
        tag_len, tag_off = rec[pos + 5], pos + 6
        value_off = tag_off + tag_len + 1
        if rec[tag_off + tag_len] != 0x15 or value_off + 4 != len(rec):
            return None
        if rec[pos + 1] != len(rec) - pos - 2 or rec[pos + 3] != len(rec) - pos - 4:
            return None
        return 10, step_len, tag_off, tag_len, value_off
    except IndexError:
        return None


def _gather(buf: np.ndarray, at: np.ndarray, width: int) -> np.ndarray:
    out = np.empty((len(at), width), dtype=np.uint8)
    for j in range(width):
        out[:, j] = buf[at + j]
    return out


def _fast_group(data: bytes, buf: np.ndarray, starts: np.ndarray, members: np.ndarray, length: int,
                out: Scalars) -> list[int]:
    """Decode the records of one length that share the first one's layout; return the others."""
    at = starts[members]
    first = data[int(at[0]): int(at[0]) + length]
    layout = _layout(first)
    if layout is None:
        return members.tolist()
    step_off, step_len, tag_off, tag_len, value_off = layout
    variable = np.zeros(length, dtype=bool)
    variable[1:9] = True
    variable[step_off: step_off + step_len] = True
    variable[tag_off: tag_off + tag_len] = True
    variable[value_off: value_off + 4] = True
    ok = np.ones(len(at), dtype=bool)
    template = np.frombuffer(first, dtype=np.uint8)
    for j in np.flatnonzero(~variable):
        ok &= buf[at + j] == template[j]
    step_bytes = _gather(buf, at + step_off, step_len)
    ok &= (step_bytes[:, :-1] >= 0x80).all(axis=1) & (step_bytes[:, -1] < 0x80)
    good = at[ok]
    if len(good):
        sb = step_bytes[ok].astype(np.uint64) & np.uint64(0x7F)
        steps = np.zeros(len(good), dtype=np.uint64)
        for k in range(step_len):
            steps |= sb[:, k] << np.uint64(7 * k)
        walls = _gather(buf, good + 1, 8).view("<f8").ravel()
        values = _gather(buf, good + value_off, 4).view("<f4").ravel().astype(np.float64)
        raw_tags = _gather(buf, good + tag_off, tag_len).view(f"S{tag_len}").ravel() if tag_len else \
            np.full(len(good), b"", dtype="S1")
        uniq, inverse = np.unique(raw_tags, return_inverse=True)
        names = np.array([t.decode("utf-8", "replace") for t in uniq] if tag_len else [""] * len(uniq), dtype=object)
        out.steps.append(steps.astype(np.int64))
        out.walls.append(walls.astype(np.float64))
        out.values.append(values)
        out.tags.append(names[inverse])
        out.records.append(members[ok])
    return members[~ok].tolist()


# -- the plain field-by-field decoder -----------------------------------------------------------
def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(data: bytes, pos: int, end: int):  # noqa: ANN202 - a generator of (field, wire, value)
    """Top-level fields of one message: varints as int, fixed as bytes, length-delimited as (start, end)."""
    while pos < end:
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos: pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos: pos + 4], pos + 4
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = (pos, pos + size), pos + size
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if pos > end:
            raise ValueError("field runs past its message")
        yield number, wire, value


def _slow_record(data: bytes, start: int, length: int, index: int, out: Scalars,
                 plugins: dict[str, str | None]) -> None:
    end = start + length
    wall, step, summary = 0.0, 0, None
    try:
        for number, wire, value in _fields(data, start, end):
            if number == 1 and wire == 1:
                wall = _F64.unpack(value)[0]
            elif number == 2 and wire == 0:
                step = value - (1 << 64) if value >= 1 << 63 else value
            elif number == 5 and wire == 2:
                summary = value
        if summary is None:
            return
        for number, wire, value in _fields(data, *summary):
            if number == 1 and wire == 2:  # only a length-delimited field is a Summary.Value
                _value(data, *value, step, wall, index, out, plugins)
    except (ValueError, IndexError, struct.error) as exc:
        out.notes.append(f"record {index + 1} could not be decoded ({exc}); skipped")


def _value(data: bytes, start: int, end: int, step: int, wall: float, index: int, out: Scalars,
           plugins: dict[str, str | None]) -> None:
    tag, simple, tensor, plugin, content = "", None, None, None, None
    for number, wire, value in _fields(data, start, end):
        if number == 1 and wire == 2:
            tag = data[value[0]: value[1]].decode("utf-8", "replace")
        elif number == 2 and wire == 5:
            simple = _F32.unpack(value)[0]
        elif number == 8 and wire == 2:
            tensor = value
        elif number == 9 and wire == 2:
            plugin, content = _plugin(data, *value)
    if plugin is not None:
        plugins[tag] = plugin
    if plugins.get(tag) == "hparams" and content is not None:
        out.hparams.update(_hparams(data, *content))
        return
    if simple is None and tensor is not None and plugins.get(tag) in _SCALAR_PLUGINS:
        simple = _tensor_scalar(data, *tensor)
    if simple is not None:
        out.steps.append(np.array([step], dtype=np.int64))
        out.walls.append(np.array([wall]))
        out.values.append(np.array([simple], dtype=np.float64))
        out.tags.append(np.array([tag], dtype=object))
        out.records.append(np.array([index], dtype=np.int64))


def _plugin(data: bytes, start: int, end: int) -> tuple[str | None, tuple[int, int] | None]:
    name, content = None, None
    for number, wire, value in _fields(data, start, end):
        if number == 1 and wire == 2:
            for n2, w2, v2 in _fields(data, *value):
                if n2 == 1 and w2 == 2:
                    name = data[v2[0]: v2[1]].decode("utf-8", "replace")
                elif n2 == 2 and w2 == 2:
                    content = v2
    return name, content


def _tensor_scalar(data: bytes, start: int, end: int) -> float | None:
    dtype, numel, content, values = None, 1, None, []
    for number, wire, value in _fields(data, start, end):
        if number == 1 and wire == 0:
            dtype = value
        elif number == 2 and wire == 2:
            for n2, w2, v2 in _fields(data, *value):
                if n2 == 2 and w2 == 2:
                    size = next((v for n3, w3, v in _fields(data, *v2) if n3 == 1 and w3 == 0), 0)
                    numel *= size
        elif number == 4 and wire == 2:
            content = data[value[0]: value[1]]
        elif number in (5, 6) and wire == 2:
            fmt = "<f" if number == 5 else "<d"
            values += [v[0] for v in struct.iter_unpack(fmt, data[value[0]: value[1]])]
        elif number == 5 and wire == 5:
            values.append(_F32.unpack(value)[0])
        elif number == 6 and wire == 1:
            values.append(_F64.unpack(value)[0])
        elif number in (7, 10) and wire == 0:
            values.append(value - (1 << 64) if value >= 1 << 63 else value)
    if numel != 1 or dtype not in _DTYPES:
        return None
    if values:
        return float(values[0])
    if content is not None and len(content) == _DTYPES[dtype][1]:
        return float(np.frombuffer(content, dtype=_DTYPES[dtype][0])[0])
    return None


def _hparams(data: bytes, start: int, end: int) -> dict[str, Any]:
    """HParamsPluginData{3 session_start_info{1 map<string, google.protobuf.Value>}} → {name: value}."""
    out: dict[str, Any] = {}
    for number, wire, value in _fields(data, start, end):
        if number != 3 or wire != 2:
            continue
        for n2, w2, entry in _fields(data, *value):
            if n2 != 1 or w2 != 2:
                continue
            key, item = "", None
            for n3, w3, v3 in _fields(data, *entry):
                if n3 == 1 and w3 == 2:
                    key = data[v3[0]: v3[1]].decode("utf-8", "replace")
                elif n3 == 2 and w3 == 2:
                    item = _pb_value(data, *v3)
            if key:
                out[key] = item
    return out


def _pb_value(data: bytes, start: int, end: int) -> Any:
    for number, wire, value in _fields(data, start, end):
        if number == 2 and wire == 1:
            return _F64.unpack(value)[0]
        if number == 3 and wire == 2:
            return data[value[0]: value[1]].decode("utf-8", "replace")
        if number == 4 and wire == 0:
            return bool(value)
    return None
