"""CRC32C (Castagnoli) of many byte ranges at once, in numpy, in TFRecord's masked form.

Why not a library: no CRC32C package is installed or required here (``crc32c`` and
``google-crc32c`` are absent), and the one TensorBoard ships (``tensorboard.compat.
tensorflow_stub.pywrap_tensorflow.crc32c``) is a pure-Python byte loop at about 2 MB/s, so
checking every record of a 40 MB event file that way would take longer than the import. This
is the same table-driven CRC, run one byte column at a time over all records together.

How: each range is split into a leading partial chunk of ``len % W`` bytes and ``len // W``
whole chunks of ``W`` bytes. The partial chunks, grouped by length, are run from the initial
register; the whole chunks from a zero register, all at once; then each range's register is
carried over its whole chunks with ``reg = shift_W(reg) ^ chunk``, where ``shift_W`` (W zero
bytes through the CRC) is linear over GF(2) and so four 256-entry lookup tables.
``tests/test_import_tensorboard.py`` checks it against TensorBoard's own implementation.
"""

from __future__ import annotations

from functools import cache

import numpy as np

_POLY = 0x82F63B78  # CRC32C, reflected (iSCSI, RFC 3720): what TFRecord uses
_MASK_DELTA = 0xA282EAD8  # TFRecord's masking constant (tensorflow/core/lib/hash/crc32c.h)
_ALL = 0xFFFFFFFF
# Bytes per whole chunk: the carry loop runs (longest range / W) times over small arrays and the
# partial-chunk pass runs W*W/2 column steps, so 64 keeps both small for records of 20 B to 1 MB.
CHUNK = 64
# Ranges from 16 KiB on (histograms, images) are cut into 4 KiB chunks instead, so a 10 MB record
# carries over 2,500 chunks, not 160,000; their 4 KiB chunks and leading parts go through the 64s.
LONG_RANGE = 16 * 1024
LONG_CHUNK = CHUNK * CHUNK


def _table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(_POLY), table >> 1).astype(np.uint32)
    return table


TABLE = _table()


@cache
def _shift_tables(width: int) -> np.ndarray:
    """(4, 256) tables: the register after ``width`` zero bytes, for each byte lane of the register before."""
    reg = (np.arange(256, dtype=np.uint32)[None, :] << (np.arange(4, dtype=np.uint32)[:, None] * 8)).ravel()
    for _ in range(width):
        reg = TABLE[reg & 0xFF] ^ (reg >> np.uint32(8))
    return reg.reshape(4, 256)


def _shift(reg: np.ndarray, tables: np.ndarray) -> np.ndarray:
    return (tables[0][reg & 0xFF] ^ tables[1][(reg >> np.uint32(8)) & 0xFF]
            ^ tables[2][(reg >> np.uint32(16)) & 0xFF] ^ tables[3][reg >> np.uint32(24)])


def _columns(buf: np.ndarray, at: np.ndarray, width: int, reg: np.ndarray) -> np.ndarray:
    for j in range(width):
        reg = TABLE[(reg ^ buf[at + j]) & 0xFF] ^ (reg >> np.uint32(8))
    return reg


def _run(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray, reg: np.ndarray, width: int) -> np.ndarray:
    """The registers ``reg`` after feeding each range through the CRC, cut into ``width``-byte chunks."""
    reg = reg.copy()
    head = lengths % width
    if width == CHUNK:
        for size in np.unique(head[head > 0]).tolist():
            rows = np.flatnonzero(head == size)
            reg[rows] = _columns(buf, starts[rows], size, reg[rows])
    else:
        reg = _run(buf, starts, head, reg, CHUNK)
    whole = lengths // width
    if not whole.any():
        return reg
    order = np.argsort(-whole, kind="stable")  # the ranges still carrying at round k are a prefix
    counts = whole[order]
    base = np.concatenate(([0], np.cumsum(counts)[:-1]))
    owner = np.repeat(np.arange(len(order)), counts)
    chunk_at = starts[order][owner] + head[order][owner] + (np.arange(len(owner)) - base[owner]) * width
    zero = np.zeros(len(owner), dtype=np.uint32)
    chunks = (_columns(buf, chunk_at, CHUNK, zero) if width == CHUNK
              else _run(buf, chunk_at, np.full(len(owner), width, dtype=np.int64), zero, CHUNK))
    tables = _shift_tables(width)
    carried = reg[order]
    active = len(order)
    for k in range(int(counts[0])):
        while counts[active - 1] <= k:
            active -= 1
        carried[:active] = _shift(carried[:active], tables) ^ chunks[base[:active] + k]
    reg[order] = carried
    return reg


def crc32c_many(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Plain CRC32C of ``buf[s:s+l]`` for each (s, l), as uint32; ``buf`` is a uint8 array."""
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    reg = np.full(len(starts), _ALL, dtype=np.uint32)
    long = lengths >= LONG_RANGE
    for rows, width in ((np.flatnonzero(~long), CHUNK), (np.flatnonzero(long), LONG_CHUNK)):
        if len(rows):
            reg[rows] = _run(buf, starts[rows], lengths[rows], reg[rows], width)
    return reg ^ np.uint32(_ALL)


def mask(crc: np.ndarray) -> np.ndarray:
    """TFRecord's masked CRC: rotate right by 15 and add a constant (so CRCs of CRCs stay distinct)."""
    crc = crc.astype(np.uint64)
    return ((((crc >> 15) | (crc << 17)) + _MASK_DELTA) & _ALL).astype(np.uint32)


def masked_crc32c_many(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """TFRecord's masked CRC32C of each range (what follows a record's length and its data)."""
    return mask(crc32c_many(buf, starts, lengths))


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC32C of one byte string."""
    buf = np.frombuffer(data, dtype=np.uint8)
    return int(masked_crc32c_many(buf, np.array([0]), np.array([len(data)]))[0])
