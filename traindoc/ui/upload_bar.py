"""The upload page's per-file progress bar: drawn once an import has taken over a second, then moved by it.

Why: a small log imports in a blink, and a bar that flashes for it is noise; a big CSV takes
tens of seconds, and its bar follows the bytes the reader has parsed, then the rows written
(``runner.importers.upload.import_upload``'s ``progress``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from traindoc.ui.shared import md

# Seconds an import runs before its bar appears: under this, the file is done before a bar would help.
SHOW_AFTER_SECONDS = 1.0


class FileProgress:
    """``progress(fraction, what)`` for one file: nothing for its first second, then a bar in ``slot``."""

    def __init__(self, slot: Any, file_name: str, clock: Callable[[], float] = time.monotonic,
                 after: float = SHOW_AFTER_SECONDS) -> None:
        self.slot, self.file_name, self.clock, self.after = slot, file_name, clock, after
        self.start = clock()
        self.bar: Any = None

    def __call__(self, fraction: float, what: str) -> None:
        if self.bar is None and self.clock() - self.start < self.after:
            return
        fraction, text = min(max(float(fraction), 0.0), 1.0), f"{md(self.file_name)}: {md(what)}"
        if self.bar is None:
            self.bar = self.slot.progress(fraction, text=text)
        else:
            self.bar.progress(fraction, text=text)

    def close(self) -> None:
        """Take the bar away (the file's outcome is shown in its place)."""
        self.slot.empty()
