"""Names of uploaded runs: the one the user gives, else the log's folder path inside the upload
(``lightning_logs/version_0``), not the file's stem ("metrics", "tfevents 1796183786")."""

from __future__ import annotations

from pathlib import PurePosixPath

from runner.store import Store


def folder_name(file: str, upload: str) -> str | None:
    """The log's folder inside the upload (the zip's own name dropped); None for a bare file.

    ``file`` is the log file's path, or the folder's when a reader took a whole folder (TensorBoard).
    """
    parts = list(PurePosixPath(file).parts)
    if parts and parts[0] == PurePosixPath(upload).name and upload.lower().endswith(".zip"):
        parts = parts[1:]
    if parts and "." not in parts[-1]:  # the importer read a whole folder (TensorBoard): it is the run
        return "/".join(parts) or None
    folder = "/".join(parts[:-1])
    return folder or None


def name_uploaded(store: Store, run_ids: list[int], upload: str, given: str = "") -> None:
    """Rename freshly uploaded runs: ``given`` (suffixed by the folder when one upload made several runs),
    else the folder path; a bare file without a given name keeps the importer's name."""
    given = " ".join(given.split())
    for run_id in run_ids:
        run = store.run(run_id)
        folder = folder_name(str(run["meta"].get("file", "")), upload)
        if given:
            name = f"{given} · {folder or run['name']}" if len(run_ids) > 1 else given
        elif folder:
            name = folder
        else:
            continue
        if name != run["name"]:
            store.rename_run(run_id, name)
