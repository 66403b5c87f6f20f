"""Golden documents for importer output: tidy rows, mapping with roles, config, notes.

``TRAINDOC_REGEN_GOLDEN=1 python -m pytest tests/test_import_golden.py`` writes them; a
human then reads the diff. Without it a missing document fails the test: a golden file
never writes itself. Wall times of TensorBoard files are the writer's clock, so
they are left out of TensorBoard documents (the value-for-value test checks them).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from runner.importers import ImportedRun

FIXTURES = Path(__file__).resolve().parent / "fixtures_import"
GOLDEN = Path(__file__).resolve().parent / "golden" / "import"
REGEN = os.environ.get("TRAINDOC_REGEN_GOLDEN") == "1"


def _num(x: float) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return x


def document(run: ImportedRun) -> dict[str, Any]:
    with_wall = run.format != "tensorboard"
    rows = [[int(r.step), _num(float(r.epoch)) if r.epoch == r.epoch else None, r.name, _num(float(r.value)),
             *([float(r.wall_time)] if with_wall else [])] for r in run.frame.itertuples()]
    return {
        "name": run.name, "format": run.format, "axis": run.axis, "config": dict(sorted(run.config.items())),
        "mapping": run.mapping_table().to_dict("records"), "notes": list(run.warnings),
        "columns": ["step", "epoch", "name", "value", *(["wall_time"] if with_wall else [])], "rows": rows,
    }


def check(case: str, docs: list[dict[str, Any]]) -> None:
    path = GOLDEN / f"{case}.json"
    text = json.dumps(docs, indent=1, sort_keys=False)
    if REGEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    assert path.exists(), f"{path} is missing: TRAINDOC_REGEN_GOLDEN=1 writes it (then read the diff)"
    assert json.loads(path.read_text()) == json.loads(text), f"{path} differs; TRAINDOC_REGEN_GOLDEN=1 rewrites it"
