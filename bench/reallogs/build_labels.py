"""Build ``labels.json``, the labels calibration and scoring read, from the blind ratings.

    python bench/reallogs/build_labels.py

Rater 1 (who collected the file) wrote ``manifest_*.json``; rater 2 labelled the same files
blind (``ratings/rater2_*.json``), from the file and the corpus label guide alone; every file
where they disagreed was settled from its numbers by a third reader (``ratings/adjudicated*.json``).
Every copy was checked against its repository (``ratings/verified*.json``, one per collection batch): ``exact`` when the
bytes at the recorded commit match; ``index_reread`` when no snapshot of the repository could be
had and a second read of the indexed text matched instead (``index_reread_eol``: matched once the
line ends the index does not keep are set aside; the numbers are the same). A copy that differs is left out.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
LABELS = ("overfitting", "underfitting", "oscillation", "negative_loss", "val_better_than_train", "divergence",
          "healthy")
TRUSTED_COPIES = {"exact", "eol_only", "index_reread", "index_reread_eol"}


def _by_file(paths: list[Path]) -> dict[str, dict]:
    return {e["file"]: e for p in paths for e in json.loads(p.read_text(encoding="utf-8"))}


def build() -> list[dict]:
    rater1 = _by_file(sorted(HERE.glob("manifest_*.json")))
    rater2 = _by_file(sorted((HERE / "ratings").glob("rater2_*.json")))
    settled = _by_file(sorted((HERE / "ratings").glob("adjudicated*.json")))
    verified = _by_file(sorted((HERE / "ratings").glob("verified*.json")))
    out = []
    for name, first in sorted(rater1.items()):
        second = rater2.get(name)
        if second is None:
            raise SystemExit(f"{name}: no second rating")
        copy = verified.get(name, {}).get("status", "unchecked")
        if verified and copy not in TRUSTED_COPIES:
            continue
        agreed = all(first["labels"].get(k) == second["labels"].get(k) for k in LABELS)
        if agreed:
            labels = first["labels"]
        elif name in settled:
            labels = settled[name]["labels"]
        else:
            raise SystemExit(f"{name}: the raters disagree and nobody settled it")
        entry = {k: v for k, v in first.items() if k not in ("labels", "notes", "rater")}
        entry.update(labels=labels, copy_check=copy, agreement="both raters" if agreed else "adjudicated",
                     notes=first.get("notes", ""), notes_rater2=second.get("notes", ""),
                     adjudication=settled.get(name, {}).get("adjudication", "") if not agreed else "")
        out.append(entry)
    return out


if __name__ == "__main__":
    entries = build()
    (HERE / "labels.json").write_text(json.dumps(entries, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(entries)} files, {sum(e['agreement'] == 'adjudicated' for e in entries)} adjudicated")
