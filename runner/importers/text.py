"""Bytes to text for the text formats: UTF-8 (with or without BOM), BOM-marked UTF-16, else a legacy code page.

Windows PowerShell's ``>`` writes UTF-16 with a BOM, so console logs saved there still
read. Text that is not UTF-8 (a Windows console's cp1252/cp936, a latin-1 file) is still
a log: metric names and numbers are ASCII in practice, so it is decoded as cp1252 (or
latin-1, which never fails) and ``decode_notes`` says so, naming the line of the first
byte that was not UTF-8.
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
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def decode_note(data: bytes) -> str | None:
    """A note for the user when ``data`` was not UTF-8 and was read in a legacy code page."""
    if data.startswith(tuple(bom for bom, _ in _BOMS)):
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        codec = "cp1252"
        try:
            data.decode("cp1252")
        except UnicodeDecodeError:
            codec = "latin-1"
        return (f"not UTF-8 (byte 0x{data[exc.start]:02x} at line {line}); read as {codec}, so a non-ASCII "
                "character may show differently")
    return None
