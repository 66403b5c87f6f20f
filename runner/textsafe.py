"""Text that leaves traindoc safely: into a terminal (no control sequences) and a spreadsheet
(no formulas).

Why: run names, metric names and errors come from users' files and scripts. A name holding
a newline and ESC forges rows of ``runner list`` and sends raw ANSI/OSC codes to the
terminal; a cell starting with ``=`` runs as a formula when a CSV download is opened.
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls except none (newline and tab are row/column breaks in our tables too), DEL, C1 controls
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# OWASP CSV injection: these first characters make a spreadsheet read a cell as a formula
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def terminal(text: Any) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``, ``\\n``), never sent raw."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text: a string starting like a formula gets a leading ``'``.

    Numbers pass untouched (a negative number is not a formula), so the file stays numeric.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
