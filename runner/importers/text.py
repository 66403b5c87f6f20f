"""Bytes to text for the text formats: UTF-8 (with or without BOM) or BOM-marked UTF-16.

Windows PowerShell's ``>`` writes UTF-16 with a BOM, so console logs saved there still
read. Anything else that is not UTF-8 is refused with the line of the first bad byte,
rather than guessed at, so a metric name is never silently garbled.
"""

from __future__ import annotations

import codecs

from runner.importers.base import ImportFailed

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def looks_binary(data: bytes) -> bool:
    """NUL bytes or many control characters in the head: not text (UTF-16 with a BOM excepted)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    head = data[:8192]
    if b"\x00" in head:
        return True
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13, 8, 27))
    return control > max(8, len(head) // 50)


def decode(source: str, data: bytes) -> str:
    """The text of ``data``; ImportFailed naming the line of the first byte that is not UTF-8."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as exc:
                raise ImportFailed(source, f"broken {codec} text ({exc.reason})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ImportFailed(
            source, f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); save it as UTF-8", line
        ) from None
