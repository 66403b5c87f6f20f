"""Importers of foreign training logs: each format to the same tidy rows as the runner.

``read_path`` (CLI: a file, folder or zip) and ``read_upload`` (the upload page) return
``ImportedRun`` values (tidy frames with the logged names, the name mapping and the config
found); ``save`` writes them in one transaction, ``remap`` applies a corrected name mapping.
They know nothing of diagnostics: ``traindoc.handoff.from_imported`` hands a run over.
"""

from runner.importers.base import ImportedRun, ImportFailed, Limits
from runner.importers.registry import FORMATS, read_path, read_upload
from runner.importers.save import remap, save

__all__ = ["FORMATS", "ImportFailed", "ImportedRun", "Limits", "read_path", "read_upload", "remap", "save"]
