"""Text that leaves traindoc safely: into a terminal (no control sequences) and a spreadsheet
(no formulas).

Why: run names, metric names and errors come from users' files and scripts. A name holding
a newline and ESC forges rows of ``runner list`` and sends raw ANSI/OSC codes to the
terminal; a cell starting with ``=`` runs as a formula when a CSV download is opened.
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls, DEL, C1 controls (ESC starts ANSI/OSC sequences; CSI is also one C1 byte)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# OWASP CSV injection: these first characters make a spreadsheet read a cell as a formula
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def terminal(text: Any, keep_lines: bool = False) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``, ``\\n``), never sent raw.

    ``keep_lines`` leaves newlines and tabs for a multi-line report; one table row escapes them all,
    so a name cannot forge a row.
    """
    pattern = _CONTROL_BUT_LINES if keep_lines else _CONTROL
    return pattern.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text: a string starting like a formula gets a leading ``'``.

    Numbers pass untouched (a negative number is not a formula), so the file stays numeric.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_text(frame: Any) -> str:
    """A DataFrame as CSV text with every cell and header neutralised (:func:`csv_cell`)."""
    safe = frame.map(csv_cell)
    safe.columns = [csv_cell(str(c)) for c in safe.columns]
    return safe.to_csv(index=False)
