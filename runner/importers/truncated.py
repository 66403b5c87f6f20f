"""A log cut off mid-row: its partial last row is dropped, and a note says so (issue 20).

A CSV or JSON-lines log copied while the trainer was still writing, or left by a killed
process, ends in the middle of a row: fewer fields than the header, a number cut after its
exponent sign, or a JSON object with no closing brace. Read as it is, that row adds a false
value (or, for JSON lines, fails the whole file). Only the *last* row is judged, and only when
the file shows it was cut (no newline after it, for a table); a bad row elsewhere is still an
error or a skipped cell with its own note.
"""

from __future__ import annotations

import csv
import json
import re

# The start of a number that stops before its digits do: ``0.``, ``1e``, ``2.5e-``, ``-`` (no writer
# ends a whole number with a dot or an exponent sign).
_CUT_NUMBER = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)?[eE][-+]?$|^[-+]?\d+\.$|^[-+.]$")


def _fields(line: str, sep: str) -> list[str]:
    """The cells of one table line (quotes respected: a tensor printed with commas is one cell)."""
    try:
        return next(csv.reader([line], delimiter=sep), [])
    except csv.Error:  # a stray carriage return inside the line: count the plain separators
        return line.split(sep)


def table_tail(text: str, sep: str, lines_before: int = 0) -> tuple[str, str | None]:
    """``(text, note)``: the table without a last row that was cut mid-row, and the note saying so.

    The last row is cut when the file does not end with a newline and that row has fewer cells
    than the header, an empty last cell, or a last cell that is the start of a number.
    ``lines_before``: lines of the file left out of ``text`` (a big file judged by its header and tail).
    """
    if not text or text.endswith(("\n", "\r")):
        return text, None
    head, _, last = text.rpartition("\n")
    lines = [line for line in head.splitlines() if line.strip()]
    if not lines or not last.strip():
        return text, None  # a header alone, or trailing blanks: nothing was cut
    header, cells = _fields(lines[0].lstrip("\ufeff"), sep), _fields(last, sep)
    cut_cell = not cells or not cells[-1].strip() or bool(_CUT_NUMBER.match(cells[-1].strip()))
    if len(cells) >= len(header) and not cut_cell:
        return text, None
    number = text.count("\n") + 1 + lines_before
    why = (f"{len(cells)} of {len(header)} fields" if len(cells) < len(header)
           else f"its last cell {cells[-1].strip()!r} is cut short")
    return head + "\n", (f"line {number} is cut off mid-row ({why}, and no newline ends the file): the file was "
                         "still being written or was copied part-way; that row was dropped")


def jsonl_tail(text: str, lines_before: int = 0) -> tuple[str, str | None]:
    """``(text, note)``: JSON lines without a last line that is an object cut off before its end.

    ``lines_before``: lines of the file left out of ``text`` (a big file judged by its last line).
    """
    body = text.rstrip()
    head, _, last = body.rpartition("\n")
    if not head.strip() or not last.lstrip().startswith("{"):
        return text, None
    try:
        json.loads(last)
    except json.JSONDecodeError:
        number = body.count("\n") + 1 + lines_before
        return head + "\n", (f"line {number} is a JSON object cut off before its end: the file was still being "
                             "written or was copied part-way; that line was dropped")
    except RecursionError:
        return text, None  # nested too deeply: the reader names that error
    return text, None
