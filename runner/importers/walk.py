"""Files to import from a path, a folder or a zip, with the hostile cases refused before any parsing.

A zip member whose path is absolute or climbs out with ``..`` refuses the whole archive
(nothing is ever written to disk, but such a zip is not a log export). Sizes are checked
against ``Limits`` from the headers *and* while reading, because a zip bomb's headers may
lie. In folders only files named like logs are read, so checkpoints beside them are skipped.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path, PurePosixPath

from runner.importers.base import Entry, ImportFailed, Limits

ZIP_MAGIC = b"PK\x03\x04"
LOG_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".log", ".txt", ".yaml", ".yml", ".out")
_SKIP_PARTS = ("__MACOSX", ".git", "__pycache__", ".ipynb_checkpoints")


def is_log_name(name: str) -> bool:
    """Names worth reading inside a folder or zip: event files and text-like logs and sidecars."""
    low = name.lower()
    return "tfevents" in low or low.endswith(LOG_SUFFIXES)


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB"


def check_size(source: str, size: int, limits: Limits) -> None:
    if size > limits.max_file_bytes:
        raise ImportFailed(source, f"is {_mb(size)}, over the import limit of {_mb(limits.max_file_bytes)} "
                                   "(raise TRAINDOC_MAX_IMPORT_MB to allow it)")


def from_upload(name: str, data: bytes, limits: Limits | None = None) -> list[Entry]:
    """An uploaded file: itself, or the log files inside when it is a zip."""
    limits = limits or Limits()
    check_size(name, len(data), limits)
    if data.startswith(ZIP_MAGIC):
        return from_zip(name, data, limits)
    return [Entry(PurePosixPath(name).name or "upload", data)]


def from_path(path: Path, limits: Limits | None = None) -> list[Entry]:
    """A file (a zip is opened), or every log-like file under a folder (symlinks not followed)."""
    limits = limits or Limits()
    if not path.exists():
        raise ImportFailed(str(path), "no such file or folder")
    if path.is_file():
        check_size(str(path), path.stat().st_size, limits)
        data = path.read_bytes()
        if data.startswith(ZIP_MAGIC):
            return from_zip(str(path), data, limits)
        return [Entry(path.name, data), *_sidecars_beside(path, limits)]
    entries: list[Entry] = []
    total = 0
    for folder, dirs, files in os.walk(path, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_PARTS)
        for name in sorted(files):
            full = Path(folder) / name
            if name.startswith(".") or not is_log_name(name) or full.is_symlink():
                continue
            size = full.stat().st_size
            check_size(str(full), size, limits)
            total += size
            if total > limits.max_total_bytes or len(entries) >= limits.max_members:
                raise ImportFailed(str(path), f"holds more logs than one import may read "
                                              f"({limits.max_members} files / {_mb(limits.max_total_bytes)})")
            entries.append(Entry(full.relative_to(path).as_posix(), full.read_bytes()))
    if not entries:
        raise ImportFailed(str(path), "folder holds no log files (event files, .csv, .json, .jsonl, .log, .txt)")
    return entries


def _sidecars_beside(path: Path, limits: Limits) -> list[Entry]:
    """The hyper-parameter files next to a single log file (they make its config)."""
    from runner.importers.sidecar import FOLDER_SIDECARS, HF_SIDECARS

    names = [*FOLDER_SIDECARS, f"{path.name}.hparams.json", *(HF_SIDECARS if path.suffix == ".json" else ())]
    out = []
    for name in names:
        candidate = path.with_name(name)
        if candidate.is_file() and candidate != path and candidate.stat().st_size <= limits.max_json_bytes:
            out.append(Entry(name, candidate.read_bytes()))
    return out


def _safe_member(archive: str, name: str) -> str:
    """The member's relative path, or ImportFailed when it is absolute or climbs out with ``..``."""
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or (parts and len(parts[0]) == 2 and parts[0][1] == ":") or ".." in parts:
        raise ImportFailed(archive, f"zip member {name!r} points outside the archive (absolute or '..' path); "
                                    "the whole zip is refused")
    return "/".join(p for p in parts if p not in ("", "."))


def from_zip(archive: str, data: bytes, limits: Limits) -> list[Entry]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ImportFailed(archive, f"not a readable zip ({exc})") from None
    if len(infos) > limits.max_members:
        raise ImportFailed(archive, f"zip has {len(infos)} members, more than the {limits.max_members} allowed")
    wanted = []
    for info in infos:
        path = _safe_member(archive, info.filename)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise ImportFailed(archive, f"zip member {info.filename!r} is a symbolic link; the zip is refused")
        if info.is_dir() or any(p in _SKIP_PARTS or p.startswith(".") for p in path.split("/")):
            continue
        if is_log_name(path):
            wanted.append((info, path))
    declared = sum(info.file_size for info, _ in wanted)
    if declared > limits.max_total_bytes:
        raise ImportFailed(archive, f"zip would expand to {_mb(declared)}, over the {_mb(limits.max_total_bytes)} "
                                    "limit (a zip bomb?); refused")
    entries = []
    for info, path in wanted:
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.max_ratio and info.file_size > 1024 * 1024:
            raise ImportFailed(archive, f"zip member {path!r} expands {ratio:.0f}x ({_mb(info.file_size)}): "
                                        "looks like a zip bomb; refused")
        check_size(f"{archive}/{path}", info.file_size, limits)
        entries.append(Entry(path, _read_capped(archive, zf, info, path, limits)))
    if not entries:
        raise ImportFailed(archive, "zip holds no log files (event files, .csv, .json, .jsonl, .log, .txt)")
    return entries


def _read_capped(archive: str, zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: str, limits: Limits) -> bytes:
    """Read a member, stopping as soon as it yields more than its header promised (lying headers)."""
    cap = min(info.file_size, limits.max_file_bytes)
    out = bytearray()
    try:
        with zf.open(info) as fh:
            while chunk := fh.read(1 << 20):
                out += chunk
                if len(out) > cap:
                    raise ImportFailed(archive, f"zip member {path!r} expands past its declared size; refused")
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as exc:
        raise ImportFailed(archive, f"zip member {path!r} cannot be read ({exc})") from None
    return bytes(out)
