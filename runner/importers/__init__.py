"""Importers of foreign training logs: each format to the same tidy rows as the runner.

``read_path`` (CLI: a file, folder or zip) and ``read_upload`` (the upload page) return
``ImportedRun`` values; ``save`` writes them in one transaction, ``remap`` applies a
corrected name mapping, ``to_rundata`` hands one to the diagnostics engine.
"""

from runner.importers.base import ImportedRun, ImportFailed, Limits
from runner.importers.registry import FORMATS, read_path, read_upload
from runner.importers.save import remap, save, to_rundata

__all__ = ["FORMATS", "ImportFailed", "ImportedRun", "Limits", "read_path", "read_upload", "remap", "save",
           "to_rundata"]
